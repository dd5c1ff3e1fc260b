/*
 * sema.h -- semantic analysis of a parsed .live file.
 *
 * sema_check() resolves every name, gives every expression its type (the
 * `ty` slot of struct ast_expr), points `sym` slots at the struct sym a name
 * resolved to, folds constants, and reports every semantic error through
 * diag (one per cause: an expression of type TY_ERROR never causes a second
 * error).  The emitter (emit.c) relies only on trees that passed sema with no
 * errors, and reads the whole-program facts from struct sema_prog.
 *
 * Everything sema allocates lives in the file's arena.
 */
#ifndef LIVE_SEMA_H
#define LIVE_SEMA_H

#include <stdbool.h>
#include <stdint.h>
#include "ast.h"
#include "diag.h"

/* Limits of the language (LANGUAGE.md §2). */
#define SEMA_MIN_PLAYERS 1
#define SEMA_MAX_PLAYERS 64
#define SEMA_MAX_ARRAY 4096
/* Implicit `max` of every string message field, in code points. */
#define SEMA_DEFAULT_MAX_LEN 1000

/* A folded constant value. */
struct cval {
    enum type_kind kind;        /* TY_INT, TY_FLOAT, TY_BOOL, TY_STRING, TY_ARRAY */
    int64_t i;                  /* int, bool */
    double f;
    const char *s;              /* string bytes (arena), slen of them */
    size_t slen;
    enum type_kind elem;        /* TY_ARRAY */
    int n;                      /* TY_ARRAY: number of elements */
    struct cval *elems;         /* TY_ARRAY: n values */
};

/* The builtin functions. */
enum builtin {
    B_NONE, B_LEN, B_MIN, B_MAX, B_ABS, B_COUNT, B_NOW, B_RANDOM,
    B_FLOAT, B_INT, B_STR
};

/* What a name or a field resolved to. */
enum sym_kind {
    SYM_CONST,          /* decl; val */
    SYM_VIEW,           /* decl; uses_me */
    SYM_TABLE,          /* decl; index */
    SYM_MESSAGE,        /* decl; index */
    SYM_FN,             /* decl */
    SYM_BUILTIN,        /* builtin */
    SYM_MSG,            /* the name `msg` in a handler: decl = its message */
    SYM_LOCAL,          /* let: cname */
    SYM_PARAM,          /* fn parameter: cname */
    SYM_FOR_INT,        /* for i in A..B: cname */
    SYM_FOR_PLAYER,     /* for p in players: cname (holds the player id) */
    SYM_FOR_ROW,        /* for r in T: cname (a row pointer); decl = table */
    SYM_GROUP_FIELD,    /* field */
    SYM_PLAYER_FIELD,   /* field */
    SYM_MSG_FIELD,      /* field; index in its message */
    SYM_ROW_FIELD,      /* field; decl = table */
    SYM_PLAYER_ID,      /* p.id / me.id */
    SYM_PLAYER_PAGE,    /* p.page / me.page */
    SYM_ROW_ID          /* r.id */
};

struct call_edge;
struct nmap;

struct sym {
    enum sym_kind kind;
    const char *name;
    struct loc loc;             /* where declared */
    struct ast_type ty;
    struct ast_decl *decl;
    struct ast_field *field;
    struct cval *val;           /* SYM_CONST */
    enum builtin builtin;
    int index;                  /* message/table/timer index; field index in its record */
    const char *cname;          /* C name of a local, parameter or loop variable */
    int state;                  /* 0 unchecked, 1 in progress, 2 done (consts, views) */
    struct call_edge *out, *out_tail;   /* fns: calls made, for the recursion check */
    bool uses_me;               /* SYM_VIEW: mentions `me` (directly or through a view) */
    bool used;                  /* read at least once */
    struct sym *next;           /* in its scope */
    struct sym *outer;          /* a local: the local of the same name it hides */
    struct scope *scope;        /* a local: its scope */
};

/* A group timer (declared by use). */
struct sema_timer {
    const char *name;
    struct ast_decl *handler;   /* `on timer NAME`, or NULL */
};

/* A page with its template read at compile time. */
struct sema_page {
    struct ast_decl *decl;
    const char *html;           /* NUL-terminated, arena */
    size_t len;
};

/* An array type used somewhere as a value (needs a C typedef). */
struct sema_arrtype {
    enum type_kind elem;
    int64_t size;
    struct sema_arrtype *next;
};

/* A field of the group, player, a message or a table, with its folded
 * initializer (or message default) and message constraints. */
struct sema_field {
    struct ast_field *field;
    struct cval *init;          /* initializer / default; NULL if none */
    bool has_range;             /* in lo..hi */
    struct cval *lo, *hi;
    struct cval *choices;       /* in [..]: a TY_ARRAY value, or NULL */
    int64_t max_len;            /* string message fields */
};

/* The fields of one struct-like declaration, in source order. */
struct sema_record {
    struct ast_decl *decl;      /* NULL for an absent group/player block */
    struct sema_field *fields;
    int n;
    struct nmap *index;         /* field name -> index + 1 (sema's own) */
};

/* Whole-program facts for the emitter.  Owned by the file's arena. */
struct sema_prog {
    struct ast_decl *game;
    const char *name;           /* `game NAME` */
    const char *title;          /* title, or the name */
    int64_t players;
    struct sema_record group;
    struct sema_record player;
    struct sema_record *msgfields;  /* msgfields[i]: fields of messages[i] */
    struct sema_record *tabfields;  /* tabfields[i]: columns of tables[i] */
    struct ast_decl **messages; /* in source order */
    int n_messages;
    struct ast_decl **handlers; /* handlers[i]: `on messages[i]`, or NULL */
    struct ast_decl **tables;
    int n_tables;
    struct sema_timer *timers;
    int n_timers;
    struct sema_page *pages;
    int n_pages;
    struct ast_decl *on_load, *on_start;
    struct sema_arrtype *arrtypes;  /* distinct array value types */
};

/* Checks f (parsed without errors) and annotates it.  Reports every error
 * and warning through d.  Returns the number of errors (warnings are not
 * counted).  Page templates are read relative to the directory of f->path. */
int sema_check(struct ast_file *f, struct diag *d);
/* After syntax errors (PROTOCOL.md: every error in the file is reported):
 * checks what the parser kept, reporting only the errors that cannot come
 * from the syntax errors -- none inside a declaration that holds one, no
 * unknown or missing names, no warnings.  Returns how many it reported; the
 * file is not usable for emit_c either way. */
int sema_check_after_syntax_errors(struct ast_file *f, struct diag *d);

/* The program facts of a file that passed sema_check() with no errors;
 * NULL otherwise.  Owned by f's arena. */
const struct sema_prog *sema_prog(const struct ast_file *f);

/* The name of a type as diagnostics spell it: "int", "int[9]", "object".
 * Returns a pointer into buf (of size n) or a static string. */
const char *sema_type_name(const struct ast_type *t, char *buf, size_t n);

#endif /* LIVE_SEMA_H */
