/*
 * ast.h -- the abstract syntax tree of a .live file.
 *
 * The parser (dsl/parser.y) builds it; sema (compiler/sema.c) resolves names
 * and fills in the `ty` and `sym` slots; emit (compiler/emit.c) walks it to
 * write C.  Every node lives in one arena (struct arena) that is freed once
 * with the whole tree: no node is freed on its own.
 *
 * Lists are singly linked through `next`, in source order.
 * Every node carries the location of its first token (1-based line and
 * column, columns counted in bytes) and the length of the token span on that
 * line, for carets.
 */
#ifndef LIVE_AST_H
#define LIVE_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ------------------------------------------------------------ */

struct arena_block;
struct arena {
    struct arena_block *head;
};
/* Returns zeroed memory owned by the arena; aborts on out of memory. */
void *arena_alloc(struct arena *a, size_t size);
/* Copies n bytes of s into the arena and adds a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Frees every allocation at once; the arena may be reused afterwards. */
void arena_free(struct arena *a);

/* ---- locations -------------------------------------------------------- */

struct loc {
    int line;   /* 1-based */
    int col;    /* 1-based, in bytes */
    int len;    /* length of the span on that line, >= 1 */
};

/* ---- types -------------------------------------------------------------- */

enum type_kind {
    TY_ERROR = 0,   /* already reported: never report again */
    TY_VOID,
    TY_INT,
    TY_FLOAT,
    TY_BOOL,
    TY_STRING,
    TY_ARRAY,       /* elem: a scalar kind; size: length */
    TY_OBJECT,      /* JSON object (object literal, view, row as value) */
    TY_JSON_ARRAY,  /* JSON array (table value, array literal of objects) */
    TY_PLAYER,      /* a player (me, p in players, player(i)) */
    TY_ROW,         /* a table row (loop variable); table: its table */
    TY_TABLE        /* a table name used as a value */
};

/* A written type in the source (`int`, `float[4]`, `int[N]`) and, after
 * sema, a resolved type. */
struct ast_type {
    enum type_kind kind;
    enum type_kind elem;        /* for TY_ARRAY */
    struct ast_expr *size_expr; /* as written, for TY_ARRAY; NULL otherwise */
    int64_t size;               /* resolved by sema */
    struct ast_decl *table;     /* for TY_ROW / TY_TABLE, set by sema */
    struct loc loc;
};

/* ---- expressions ------------------------------------------------------ */

enum expr_kind {
    E_INT,          /* ival */
    E_FLOAT,        /* fval */
    E_STRING,       /* sval: the decoded UTF-8 bytes, slen of them */
    E_BOOL,         /* ival 0/1 */
    E_DURATION,     /* ival: milliseconds; an int */
    E_NAME,         /* name: local, param, const, view, table, msg, ... */
    E_GROUP,        /* `group` */
    E_ME,           /* `me` */
    E_PLAYERS,      /* `players` (in len(players), for p in players) */
    E_PLAYER,       /* `player(E)`: a = index expression */
    E_FIELD,        /* a.name */
    E_INDEX,        /* a[b] */
    E_CALL,         /* name(args): fn helper, builtin, or float()/int()/str() */
    E_UNARY,        /* op a: '-' or '!' */
    E_BINARY,       /* a op b */
    E_COND,         /* a ? b : c */
    E_OBJECT,       /* { entries } */
    E_ARRAY,        /* [ args ] */
    E_QUERY         /* table where COND order by KEY asc|desc:
                       name = table, a = where (or NULL),
                       order_key (or NULL), order_desc */
};

enum binop {
    OP_OR, OP_AND, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD
};

/* One entry of an object literal or view: `key: value` or `...value`. */
struct ast_entry {
    const char *key;            /* NULL for a spread */
    struct ast_expr *value;
    struct loc loc;
    struct ast_entry *next;
};

struct ast_expr {
    enum expr_kind kind;
    struct loc loc;
    int64_t ival;
    double fval;
    const char *sval;
    size_t slen;
    const char *name;           /* E_NAME, E_FIELD, E_CALL, E_QUERY */
    int op;                     /* enum binop for E_BINARY; '-' or '!' for E_UNARY;
                                 * '-' for the E_INT -9223372036854775808 */
    struct ast_expr *a, *b, *c;
    struct ast_expr *args;      /* E_CALL, E_ARRAY: list through next */
    struct ast_entry *entries;  /* E_OBJECT */
    const char *order_key;      /* E_QUERY */
    struct loc order_loc;
    bool order_desc;
    struct ast_expr *next;      /* next argument / element */

    /* Filled by sema. */
    struct ast_type ty;
    void *sym;                  /* what a name resolved to (sema's own struct) */
};

/* ---- statements ------------------------------------------------------- */

enum stmt_kind {
    S_LET,          /* let name (: type)? = a */
    S_ASSIGN,       /* target op= a; op is '=', '+', '-', '*' */
    S_IF,           /* if a { body } else { els } ; else-if is an S_IF alone in els */
    S_FOR_RANGE,    /* for name in a..b { body } */
    S_FOR_PLAYERS,  /* for name in players { body } */
    S_FOR_TABLE,    /* for name in query { body }: a is an E_QUERY (or E_NAME of a table) */
    S_REQUIRE,      /* require a else "msg" (sval), or else a string expression (b) */
    S_REJECT,       /* reject a  (a string expression; usually a literal) */
    S_SEND,         /* send to [target] a */
    S_INSERT,       /* insert name { entries } */
    S_DELETE,       /* delete a */
    S_FINISH,
    S_START_TIMER,  /* start timer name after a */
    S_STOP_TIMER,   /* stop timer name */
    S_RETURN,       /* return a? */
    S_BREAK,
    S_CONTINUE,
    S_EXPR,         /* a call as a statement */
    S_BLOCK         /* { body } */
};

enum send_to { TO_ME, TO_ALL, TO_OTHERS, TO_PLAYER };

struct ast_stmt {
    enum stmt_kind kind;
    struct loc loc;             /* of the statement's first token */
    int end_line;               /* last line of the statement (for quoting) */
    const char *name;           /* let, for, insert, timer */
    struct loc name_loc;
    struct ast_type *decl_type; /* let x: T = ... (NULL if inferred) */
    int op;                     /* S_ASSIGN */
    enum send_to to;            /* S_SEND */
    struct ast_expr *target;    /* S_ASSIGN lvalue; S_SEND player(E) index */
    struct ast_expr *a, *b;
    const char *sval;           /* S_REQUIRE message */
    struct ast_entry *entries;  /* S_INSERT */
    struct ast_stmt *body, *els;
    struct ast_stmt *next;

    void *sym;                  /* filled by sema (the local declared, ...) */
};

/* ---- test blocks (livec test) ---------------------------------------- */

/* One step of a `test "name" { ... }` block (docs/testing.md). */
enum test_step_kind {
    T_SEED,         /* seed a;   a: int constant (sema folds it into a->ival) */
    T_SEND,         /* player(P) sends OBJ [rejected ["why"]];  a: E_OBJECT */
    T_RECEIVE,      /* player(P) receives OBJ;        a: E_OBJECT; subset */
    T_NOTHING,      /* player(P) receives nothing; */
    T_LOAD,         /* player(P) loads; */
    T_NEXT,         /* player(P) advances;            (the page's Next button) */
    T_FINISHED,     /* player(P) finished; */
    T_EXPECT,       /* expect a;                      a: bool expression */
    T_AFTER         /* after a;                       a: duration (int ms) */
};

struct ast_test_step {
    enum test_step_kind kind;
    struct loc loc;             /* of the first token */
    int end_line;               /* last line of the step */
    struct ast_expr *player;    /* P of player(P), or NULL; sema folds
                                   it to an E_INT in 1..players */
    struct ast_expr *a;         /* see the kinds above */
    bool rejected;              /* T_SEND: `rejected` was written */
    const char *reason;         /* T_SEND: `rejected "why"`, or NULL */
    size_t reason_len;
    bool subset;                /* T_RECEIVE: the pattern ends with `...` */
    const char *text;           /* the step's source text, as written */
    struct ast_test_step *next;
};

/* ---- declarations ----------------------------------------------------- */

enum decl_kind {
    D_GAME,         /* game name { items }: items are `key value;` props */
    D_GROUP,        /* group { fields } */
    D_PLAYER,       /* player { fields } */
    D_CONST,        /* const name = init; */
    D_MESSAGE,      /* message name { fields with constraints } */
    D_TABLE,        /* table name { fields } */
    D_VIEW,         /* view name { entries } */
    D_FN,           /* fn name(params) -> ret { body } */
    D_ON,           /* on EVENT { body } */
    D_PAGE,         /* page name { props } */
    D_TEST          /* test "name" { ... }: body kept as raw tokens text */
};

enum on_kind { ON_LOAD, ON_START, ON_MESSAGE, ON_TIMER };

/* A property `key value;` inside `game {}` or `page {}`:
 * `players 2;`, `title "x";`, `template "a.html";`. */
struct ast_prop {
    const char *key;
    struct loc loc;
    struct ast_expr *value;
    struct ast_prop *next;
};

/* A constraint on a message field. */
enum constraint_kind {
    C_RANGE,        /* in lo..hi */
    C_ONE_OF,       /* in [v, ...]: lo is the E_ARRAY */
    C_MAX           /* max N: lo is N */
};
struct ast_constraint {
    enum constraint_kind kind;
    struct loc loc;
    struct ast_expr *lo, *hi;
    struct ast_constraint *next;
};

/* A field of group, player, table or message, or a fn parameter. */
struct ast_field {
    const char *name;
    struct loc loc;
    struct ast_type type;
    struct ast_expr *init;              /* `= CONST`, or NULL */
    struct ast_constraint *constraints; /* messages only */
    struct ast_field *next;
};

struct ast_decl {
    enum decl_kind kind;
    struct loc loc;             /* of the keyword */
    const char *name;           /* game, const, message, table, view, fn,
                                   page, test (the string), on (message or
                                   timer name; NULL for load/start) */
    struct loc name_loc;
    enum on_kind on;            /* D_ON */
    struct ast_prop *props;     /* D_GAME, D_PAGE */
    struct ast_field *fields;   /* D_GROUP, D_PLAYER, D_MESSAGE, D_TABLE; D_FN params */
    struct ast_expr *init;      /* D_CONST */
    struct ast_entry *entries;  /* D_VIEW */
    struct ast_type *ret;       /* D_FN: NULL when it returns nothing */
    struct ast_stmt *body;      /* D_FN, D_ON */
    const char *test_text;      /* D_TEST: the source between the braces */
    struct ast_test_step *test_steps;   /* D_TEST: the steps, in order */
    struct loc end_loc;         /* the closing brace */
    struct ast_decl *next;

    void *sym;                  /* filled by sema */
};

/* A whole file. */
struct ast_file {
    const char *path;           /* as given on the command line */
    const char *src;            /* the whole source text, NUL-terminated */
    size_t src_len;
    struct ast_decl *decls;     /* in source order */
    struct arena arena;         /* owns every node and string above */
    /* The parser met nesting past its limits (reported): the tree may be
     * deeper than any recursive walk can go, so nothing checks it. */
    bool too_deep;
};

#endif /* LIVE_AST_H */
