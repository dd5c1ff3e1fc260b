/*
 * sema.c -- names, types and every semantic check of a .live file.
 *
 * Passes, in order:
 *   1. declarations: the game block, duplicate names, group/player/table/
 *      message fields (types, constant initializers, constraints), pages
 *      (templates are read here), handlers, timers (declared by use);
 *   2. bodies: views, fns and handlers are checked statement by statement,
 *      with a chain of scopes for `let`, parameters and loop variables;
 *      every expression gets its type in e->ty and names their struct sym;
 *   3. whole-program checks: recursion through the call graph, messages
 *      without a handler.
 *
 * Error discipline: every check reports at most once per cause; an
 * expression whose type is TY_ERROR was already reported, and every rule
 * that sees one stays silent.  Constants are folded lazily (a constant may
 * name another, in any order) with cycle detection.
 *
 * Everything allocated here lives in the file's arena.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sema.h"

/* Longest candidate list for `did you mean` suggestions. */
#define MAX_CANDS 256
/* Most fields in one group, player, table or message block.  Each field of
 * a group, player or table is a column of an SQLite table, next to a few
 * fixed columns (runtime/store.c), and SQLite's default limit is 2000
 * columns per table (SQLITE_MAX_COLUMN); a round limit well under it. */
#define LIVE_MAX_FIELDS 1000
/* Longest string value (bytes): runtime/live.h LV_STRING_MAX, which the
 * compiler does not include; a constant `+` past it is an error, as the
 * same `+` at run time is (the lexer checks literals: STRING_VALUE_MAX). */
#define SEMA_STRING_MAX (1 << 20)
/* Largest page template we embed (the runtime keeps it in memory). */
#define MAX_TEMPLATE_BYTES (4 * 1024 * 1024)

struct scope {
    struct sym *syms;
    struct scope *up;
};

/* A call from one fn (or handler) to a fn, for the recursion check. */
struct call_edge {
    struct ast_decl *from, *to;
    struct loc loc;
    struct call_edge *next;
    struct call_edge *next_out; /* next edge with the same `from` (find_cycles) */
};

/* A name -> pointer map with open addressing, in the arena: global names and
 * the fields of each record are looked up once per use, so lookups must not
 * walk lists (sema stays linear in the program's size). */
struct nmap {
    const char **keys;
    void **vals;
    size_t cap, n;  /* cap is a power of two; n < cap / 2 */
};

struct sema {
    struct ast_file *f;
    struct diag *d;
    struct arena *A;
    struct sema_prog *prog;
    struct sym *globals;        /* consts, views, tables, messages, fns */
    struct sym *globals_tail;   /* last of globals, for appending */
    struct nmap global_index;   /* name -> struct sym * of globals (not messages) */
    struct nmap message_index;  /* name -> struct sym * of messages: their own
                                   namespace (`on NAME` and "type" name them) */

    /* The body being checked. */
    struct ast_decl *cur;       /* the view, fn or handler */
    const char *where;          /* "'on start'", "fn 'x'", ... for messages */
    bool has_me, has_msg;
    bool assigning;             /* checking a bare name assigned with '=' */
    bool in_view;
    struct sym *cur_view;       /* the view being checked (for uses_me) */
    struct ast_decl *cur_msg;   /* message of the current handler */
    struct scope *scope;
    struct nmap locals;         /* name -> the innermost visible local (NULL: none) */
    int loops;
    int nlocals;                /* for unique C names */
    struct call_edge *calls;
    int nrows;                  /* queries so far: row_N names, file-wide */
    struct nmap started;        /* NAME of each `start timer NAME` -> its stmt */
    struct nmap stopped;        /* NAME of each `stop timer NAME` -> its first stmt */
};

/* ---- small helpers -------------------------------------------------------- */

static struct ast_type mkty(enum type_kind k)
{
    struct ast_type t;
    memset(&t, 0, sizeof t);
    t.kind = k;
    return t;
}

static struct ast_type mkarr(enum type_kind elem, int64_t size)
{
    struct ast_type t = mkty(TY_ARRAY);
    t.elem = elem;
    t.size = size;
    return t;
}

static bool is_scalar(enum type_kind k)
{
    return k == TY_INT || k == TY_FLOAT || k == TY_BOOL || k == TY_STRING;
}

static bool is_num(enum type_kind k)
{
    return k == TY_INT || k == TY_FLOAT;
}

static bool type_eq(const struct ast_type *a, const struct ast_type *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == TY_ARRAY)
        return a->elem == b->elem && a->size == b->size;
    if (a->kind == TY_ROW || a->kind == TY_TABLE)
        return a->table == b->table;
    return true;
}

static const char *kind_name(enum type_kind k)
{
    switch (k) {
    case TY_ERROR: return "<error>";
    case TY_VOID: return "nothing";
    case TY_INT: return "int";
    case TY_FLOAT: return "float";
    case TY_BOOL: return "bool";
    case TY_STRING: return "string";
    case TY_ARRAY: return "array";
    case TY_OBJECT: return "object";
    case TY_JSON_ARRAY: return "json array";
    case TY_PLAYER: return "player";
    case TY_ROW: return "row";
    case TY_TABLE: return "table";
    }
    return "?";
}

const char *sema_type_name(const struct ast_type *t, char *buf, size_t n)
{
    if (t->kind == TY_ARRAY) {
        snprintf(buf, n, "%s[%" PRId64 "]", kind_name(t->elem), t->size);
        return buf;
    }
    if ((t->kind == TY_ROW || t->kind == TY_TABLE) && t->table) {
        snprintf(buf, n, "%s %s", t->kind == TY_ROW ? "row of" : "table",
                 t->table->name);
        return buf;
    }
    return kind_name(t->kind);
}

/* Type names for messages: two rotating buffers so that two names can be
 * used in one diagnostic. */
static const char *tn(const struct ast_type *t)
{
    static char bufs[4][64];
    static int i;
    i = (i + 1) % 4;
    return sema_type_name(t, bufs[i], sizeof bufs[i]);
}

#define ERR(s, loc, ...) diag_error((s)->d, (loc), __VA_ARGS__)

static void *zalloc(struct sema *s, size_t n)
{
    return arena_alloc(s->A, n);
}

static struct sym *new_sym(struct sema *s, enum sym_kind k, const char *name, struct loc loc)
{
    struct sym *y = zalloc(s, sizeof *y);
    y->kind = k;
    y->name = name;
    y->loc = loc;
    return y;
}

static void register_arrtype(struct sema *s, const struct ast_type *t)
{
    struct sema_arrtype *a;
    if (t->kind != TY_ARRAY)
        return;
    for (a = s->prog->arrtypes; a; a = a->next)
        if (a->elem == t->elem && a->size == t->size)
            return;
    a = zalloc(s, sizeof *a);
    a->elem = t->elem;
    a->size = t->size;
    /* Append, to keep first-use order (deterministic output). */
    if (!s->prog->arrtypes) {
        s->prog->arrtypes = a;
    } else {
        struct sema_arrtype *l = s->prog->arrtypes;
        while (l->next)
            l = l->next;
        l->next = a;
    }
}

static void set_ty(struct sema *s, struct ast_expr *e, struct ast_type t)
{
    e->ty = t;
    register_arrtype(s, &t);
}

/* What to say of an unknown name that is a word of another language
 * (Python, JavaScript, oTree), or NULL. */
static const char *name_habit(const char *name)
{
    static const char BOOLS[] = "the boolean values are 'true' and 'false'";
    static const char NULLS[] = "there is no null: every field and local holds a value of its "
                                "type (a field starts at its initial value)";
    static const char SELF[] = "the sender of the message is 'me', its group 'group'";
    static const char SCOPE[] = "a handler sees its 'group', the sender 'me' and 'player(ID)'";
    static const struct { const char *word, *help; } habits[] = {
        { "True", BOOLS }, { "False", BOOLS }, { "TRUE", BOOLS }, { "FALSE", BOOLS },
        { "None", NULLS }, { "null", NULLS }, { "nil", NULLS }, { "undefined", NULLS },
        { "self", SELF }, { "this", SELF },
        { "subsession", SCOPE }, { "session", SCOPE },
    };
    for (size_t i = 0; i < sizeof habits / sizeof habits[0]; i++)
        if (strcmp(name, habits[i].word) == 0)
            return habits[i].help;
    return NULL;
}

/* Suggests the closest of cands (NULL-terminated) to name. */
static void suggest(struct sema *s, const char *name, const char **cands)
{
    const char *m = diag_suggest(name, cands);
    if (m)
        diag_help(s->d, "did you mean '%s'?", m);
}

/* After a "cannot assign/pass 'int' as 'float'" error: nothing converts
 * implicitly (LANGUAGE.md), so say how to write the value as a float --
 * `write '3.0'` for an int literal (or its negation), else
 * `convert with float(...)`.  Does nothing unless want is float and v an
 * int expression. */
static void int_to_float_help(struct sema *s, const struct ast_type *want, const struct ast_expr *v)
{
    const struct ast_expr *lit = v;
    bool neg = false;
    if (want->kind != TY_FLOAT || v->ty.kind != TY_INT)
        return;
    if (lit->kind == E_UNARY && lit->op == '-' && lit->a) {
        neg = true;
        lit = lit->a;
    }
    if (lit->kind == E_INT)
        diag_help(s->d, "write '%s%" PRId64 ".0'", neg ? "-" : "", lit->ival);
    else
        diag_help(s->d, "convert with float(...)");
}

/* Suggests the closest of the globals of kind k to name. */
static void suggest_global(struct sema *s, const char *name, enum sym_kind k)
{
    const char *c[MAX_CANDS];
    int n = 0;
    for (struct sym *z = s->globals; z && n < MAX_CANDS - 1; z = z->next)
        if (z->kind == k)
            c[n++] = z->name;
    c[n] = NULL;
    suggest(s, name, c);
}

static const char *builtin_names[] = {
    "len", "min", "max", "abs", "count", "now", "random", "float", "int", "str", NULL
};
static const enum builtin builtin_ids[] = {
    B_LEN, B_MIN, B_MAX, B_ABS, B_COUNT, B_NOW, B_RANDOM, B_FLOAT, B_INT, B_STR
};

static enum builtin find_builtin(const char *name)
{
    for (int i = 0; builtin_names[i]; i++)
        if (strcmp(builtin_names[i], name) == 0)
            return builtin_ids[i];
    return B_NONE;
}

/* FNV-1a of a NUL-terminated name. */
static size_t name_hash(const char *k)
{
    size_t h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

/* The value stored under k, or NULL. */
static void *nmap_get(const struct nmap *m, const char *k)
{
    if (!m || m->cap == 0)
        return NULL;
    for (size_t i = name_hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return NULL;
        if (strcmp(m->keys[i], k) == 0)
            return m->vals[i];
    }
}

/* Stores v under k (k must not be present yet); k is not copied. */
static void nmap_put(struct sema *s, struct nmap *m, const char *k, void *v)
{
    if (2 * (m->n + 1) > m->cap) {
        struct nmap old = *m;
        m->cap = old.cap ? 2 * old.cap : 16;
        m->keys = arena_alloc(s->A, m->cap * sizeof *m->keys);
        m->vals = arena_alloc(s->A, m->cap * sizeof *m->vals);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i])
                nmap_put(s, m, old.keys[i], old.vals[i]);
    }
    size_t i = name_hash(k) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = k;
    m->vals[i] = v;
    m->n++;
}

static struct sym *find_global(struct sema *s, const char *name)
{
    return nmap_get(&s->global_index, name);
}

/* Stores v under k, replacing what k held. */
static void nmap_set(struct sema *s, struct nmap *m, const char *k, void *v)
{
    if (m->cap) {
        for (size_t i = name_hash(k) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
            if (strcmp(m->keys[i], k) == 0) {
                m->vals[i] = v;
                return;
            }
        }
    }
    nmap_put(s, m, k, v);
}

/* The innermost visible local named name, or NULL (a map, not a walk of
 * the scopes: a body with thousands of locals took quadratic time). */
static struct sym *find_local(struct sema *s, const char *name)
{
    return nmap_get(&s->locals, name);
}

static void push_scope(struct sema *s)
{
    struct scope *sc = zalloc(s, sizeof *sc);
    sc->up = s->scope;
    s->scope = sc;
}

/* Puts y in the innermost scope, hiding any local of its name. */
static void bind_in_scope(struct sema *s, struct sym *y)
{
    y->outer = find_local(s, y->name);
    y->scope = s->scope;
    y->next = s->scope->syms;
    s->scope->syms = y;
    nmap_set(s, &s->locals, y->name, y);
}

/* Leaves the innermost scope: its locals' names mean what they meant
 * before (newest first, so a name declared twice in it unwinds in order). */
static void pop_scope(struct sema *s)
{
    for (struct sym *y = s->scope->syms; y; y = y->next)
        nmap_set(s, &s->locals, y->name, y->outer);
    s->scope = s->scope->up;
}

/* Declares a local in the innermost scope; reports a duplicate in that
 * same scope.  Returns the symbol (also on a duplicate). */
static struct sym *declare_local(struct sema *s, enum sym_kind k, const char *name,
                                 struct loc loc, struct ast_type ty)
{
    struct sym *y;
    /* "v_" + name + "_" + a counter: room for any name. */
    size_t cap = strlen(name) + 32;
    char *buf = arena_alloc(s->A, cap);
    struct sym *outer = find_local(s, name);
    if (outer && outer->scope == s->scope) {
        ERR(s, loc, "'%s' is already declared in this scope", name);
        diag_note(s->d, "'%s' was first declared on line %d", name, outer->loc.line);
    }
    /* A local may be named like a builtin (`let count = 0;`) or `msg`:
     * LANGUAGE.md reserves only its keywords.  Like any local it hides the
     * global meaning of its name in its scope (there, `count(...)` is an
     * error and `msg.f` a field of the local). */
    y = new_sym(s, k, name, loc);
    y->ty = ty;
    s->nlocals++;
    snprintf(buf, cap, "v_%s", name);
    /* The first local of a name in a body keeps the plain name; later ones
     * (shadowing, or reuse in sibling blocks) get a number so that a C
     * initializer never sees its own variable: "v3_x", which no plain name
     * ("v_" + identifier) can be, so a renamed local never hides another
     * (a user's local `x_3` is v_x_3). */
    if (outer)
        snprintf(buf, cap, "v%d_%s", s->nlocals, name);
    y->cname = buf;
    bind_in_scope(s, y);
    register_arrtype(s, &ty);
    return y;
}

/* Collects the names visible at this point for suggestions. */
static int visible_names(struct sema *s, const char **out, int max, bool values_only)
{
    int n = 0;
    for (struct scope *sc = s->scope; sc; sc = sc->up)
        for (struct sym *y = sc->syms; y && n < max - 1; y = y->next)
            out[n++] = y->name;
    for (struct sym *y = s->globals; y && n < max - 1; y = y->next) {
        if (values_only && (y->kind == SYM_FN || y->kind == SYM_MESSAGE))
            continue;
        out[n++] = y->name;
    }
    out[n] = NULL;
    return n;
}

/* ---- constants --------------------------------------------------------------- */

static struct cval *check_const_sym(struct sema *s, struct sym *y);

static struct cval *new_cval(struct sema *s, enum type_kind k)
{
    struct cval *v = zalloc(s, sizeof *v);
    v->kind = k;
    return v;
}

/* Code points of a string constant (what `max` counts). */
static int64_t code_points(const struct cval *v)
{
    int64_t n = 0;
    for (size_t k = 0; k < v->slen; k++)
        n += ((unsigned char)v->s[k] & 0xC0) != 0x80;
    return n;
}

static struct ast_type cval_type(const struct cval *v)
{
    if (v->kind == TY_ARRAY)
        return mkarr(v->elem, v->n);
    return mkty(v->kind);
}

/* Folds a constant expression.  Reports what is not constant or invalid and
 * returns NULL then (reported).  Sets e->ty. */
/* True (and reported) for the literal 9223372036854775808 not negated: the
 * lexer lets it through for `-9223372036854775808` (see lexer.re). */
static bool int_out_of_range(struct sema *s, const struct ast_expr *e)
{
    if (e->kind != E_INT || e->ival != INT64_MIN || e->op == '-')
        return false;
    ERR(s, e->loc, "integer literal '9223372036854775808' is out of range");
    diag_note(s->d, "the largest int is %" PRId64 "; the smallest, -9223372036854775808", INT64_MAX);
    return true;
}

/* The kind of value constant expression e would have, without evaluating
 * it and without reporting anything (TY_ERROR if it is not a valid constant
 * or has no simple kind): the type of the branch of a constant `?:` that is
 * not taken.  A constant it names is folded (reporting its own errors at
 * its own declaration, once). */
static enum type_kind const_kind(struct sema *s, struct ast_expr *e)
{
    enum type_kind a, b;
    switch (e->kind) {
    case E_INT:
    case E_DURATION:
        return TY_INT;
    case E_FLOAT:
        return TY_FLOAT;
    case E_BOOL:
        return TY_BOOL;
    case E_STRING:
        return TY_STRING;
    case E_NAME: {
        struct sym *y = find_global(s, e->name);
        struct cval *v = y && y->kind == SYM_CONST ? check_const_sym(s, y) : NULL;
        return v ? v->kind : TY_ERROR;
    }
    case E_UNARY:
        a = const_kind(s, e->a);
        if (e->op == '-' && is_num(a))
            return a;
        return e->op == '!' && a == TY_BOOL ? TY_BOOL : TY_ERROR;
    case E_BINARY:
        a = const_kind(s, e->a);
        b = const_kind(s, e->b);
        if (a == TY_ERROR || b == TY_ERROR)
            return TY_ERROR;
        switch (e->op) {
        case OP_AND: case OP_OR:
            return a == TY_BOOL && b == TY_BOOL ? TY_BOOL : TY_ERROR;
        case OP_EQ: case OP_NE:
            return (is_num(a) && is_num(b)) || (a == TY_BOOL && b == TY_BOOL) ? TY_BOOL : TY_ERROR;
        case OP_LT: case OP_LE: case OP_GT: case OP_GE:
            return is_num(a) && is_num(b) ? TY_BOOL : TY_ERROR;
        case OP_MOD:
            return a == TY_INT && b == TY_INT ? TY_INT : TY_ERROR;
        case OP_ADD:
            if (a == TY_STRING && b == TY_STRING)
                return TY_STRING;
            /* fallthrough */
        case OP_SUB: case OP_MUL: case OP_DIV:
            if (a == TY_INT && b == TY_INT)
                return TY_INT;
            return is_num(a) && is_num(b) ? TY_FLOAT : TY_ERROR;
        default:
            return TY_ERROR;
        }
    case E_COND:
        a = const_kind(s, e->b);
        b = const_kind(s, e->c);
        if (a == b)
            return a;
        return is_num(a) && is_num(b) ? TY_FLOAT : TY_ERROR;
    case E_CALL:
        if (find_builtin(e->name) == B_FLOAT)
            return TY_FLOAT;
        return find_builtin(e->name) == B_INT ? TY_INT : TY_ERROR;
    default:
        return TY_ERROR;    /* arrays: the branch taken gives the type */
    }
}

static struct cval *const_eval(struct sema *s, struct ast_expr *e)
{
    struct cval *v, *a, *b;
    switch (e->kind) {
    case E_INT:
        if (int_out_of_range(s, e)) {
            e->ty = mkty(TY_ERROR);
            return NULL;
        }
        /* fallthrough */
    case E_DURATION:
        v = new_cval(s, TY_INT);
        v->i = e->ival;
        e->ty = mkty(TY_INT);
        return v;
    case E_FLOAT:
        v = new_cval(s, TY_FLOAT);
        v->f = e->fval;
        e->ty = mkty(TY_FLOAT);
        return v;
    case E_BOOL:
        v = new_cval(s, TY_BOOL);
        v->i = e->ival != 0;
        e->ty = mkty(TY_BOOL);
        return v;
    case E_STRING:
        v = new_cval(s, TY_STRING);
        v->s = e->sval;
        v->slen = e->slen;
        e->ty = mkty(TY_STRING);
        return v;
    case E_NAME: {
        struct sym *y = find_global(s, e->name);
        if (!y) {
            ERR(s, e->loc, "unknown constant '%s'", e->name);
            suggest_global(s, e->name, SYM_CONST);
            return NULL;
        }
        if (y->kind != SYM_CONST) {
            ERR(s, e->loc, "'%s' is not a constant", e->name);
            return NULL;
        }
        e->sym = y;
        v = check_const_sym(s, y);
        if (v)
            set_ty(s, e, cval_type(v));
        return v;
    }
    case E_UNARY:
        a = const_eval(s, e->a);
        if (!a)
            return NULL;
        if (e->op == '-' && a->kind == TY_INT) {
            if (a->i == INT64_MIN) {
                ERR(s, e->loc, "integer overflow in constant expression");
                return NULL;
            }
            v = new_cval(s, TY_INT);
            v->i = -a->i;
        } else if (e->op == '-' && a->kind == TY_FLOAT) {
            v = new_cval(s, TY_FLOAT);
            v->f = -a->f;
        } else if (e->op == '!' && a->kind == TY_BOOL) {
            v = new_cval(s, TY_BOOL);
            v->i = !a->i;
        } else {
            ERR(s, e->loc, "operator '%c' cannot be applied to '%s'", e->op, kind_name(a->kind));
            return NULL;
        }
        e->ty = mkty(v->kind);
        return v;
    case E_BINARY: {
        static const char *ops[] = { "||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%" };
        a = const_eval(s, e->a);
        b = const_eval(s, e->b);
        if (!a || !b)
            return NULL;
        if (a->kind == TY_INT && b->kind == TY_INT) {
            int64_t r = 0;
            bool ovf = false, cmp = false;
            switch (e->op) {
            case OP_ADD: ovf = __builtin_add_overflow(a->i, b->i, &r); break;
            case OP_SUB: ovf = __builtin_sub_overflow(a->i, b->i, &r); break;
            case OP_MUL: ovf = __builtin_mul_overflow(a->i, b->i, &r); break;
            case OP_DIV:
            case OP_MOD:
                if (b->i == 0) {
                    ERR(s, e->b->loc, "%s by zero in constant expression",
                        e->op == OP_DIV ? "division" : "modulo");
                    return NULL;
                }
                if (a->i == INT64_MIN && b->i == -1)
                    ovf = e->op == OP_DIV;
                else
                    r = e->op == OP_DIV ? a->i / b->i : a->i % b->i;
                break;
            case OP_EQ: cmp = true; r = a->i == b->i; break;
            case OP_NE: cmp = true; r = a->i != b->i; break;
            case OP_LT: cmp = true; r = a->i < b->i; break;
            case OP_LE: cmp = true; r = a->i <= b->i; break;
            case OP_GT: cmp = true; r = a->i > b->i; break;
            case OP_GE: cmp = true; r = a->i >= b->i; break;
            default:
                goto bad;
            }
            if (ovf) {
                ERR(s, e->loc, "integer overflow in constant expression");
                return NULL;
            }
            v = new_cval(s, cmp ? TY_BOOL : TY_INT);
            v->i = r;
            e->ty = mkty(v->kind);
            return v;
        }
        if (is_num(a->kind) && is_num(b->kind)) {
            double x = a->kind == TY_INT ? (double)a->i : a->f;
            double y = b->kind == TY_INT ? (double)b->i : b->f;
            double r = 0;
            bool cmp = false;
            switch (e->op) {
            case OP_ADD: r = x + y; break;
            case OP_SUB: r = x - y; break;
            case OP_MUL: r = x * y; break;
            case OP_DIV:        /* by 0.0: not finite, as lv_fchk says */
                r = x / y;
                break;
            case OP_EQ: cmp = true; r = x == y; break;
            case OP_NE: cmp = true; r = x != y; break;
            case OP_LT: cmp = true; r = x < y; break;
            case OP_LE: cmp = true; r = x <= y; break;
            case OP_GT: cmp = true; r = x > y; break;
            case OP_GE: cmp = true; r = x >= y; break;
            default:
                goto bad;
            }
            if (cmp) {
                v = new_cval(s, TY_BOOL);
                v->i = r != 0;
            } else {
                if (!isfinite(r)) {
                    /* the runtime's words (live.h lv_fchk) */
                    ERR(s, e->loc, "float result is not a finite number in constant expression");
                    return NULL;
                }
                v = new_cval(s, TY_FLOAT);
                v->f = r;
            }
            e->ty = mkty(v->kind);
            return v;
        }
        if (a->kind == TY_BOOL && b->kind == TY_BOOL &&
            (e->op == OP_AND || e->op == OP_OR || e->op == OP_EQ || e->op == OP_NE)) {
            v = new_cval(s, TY_BOOL);
            v->i = e->op == OP_AND ? (a->i && b->i) : e->op == OP_OR ? (a->i || b->i)
                 : e->op == OP_EQ ? a->i == b->i : a->i != b->i;
            e->ty = mkty(TY_BOOL);
            return v;
        }
        if (a->kind == TY_STRING && b->kind == TY_STRING && e->op == OP_ADD) {
            if (a->slen + b->slen > SEMA_STRING_MAX) {
                /* the runtime's words (ctx.c lv_str_cat) */
                ERR(s, e->loc, "a string longer than %d bytes (%zu) in constant expression",
                    SEMA_STRING_MAX, a->slen + b->slen);
                return NULL;
            }
            char *p = arena_alloc(s->A, a->slen + b->slen + 1);
            memcpy(p, a->s, a->slen);
            memcpy(p + a->slen, b->s, b->slen);
            v = new_cval(s, TY_STRING);
            v->s = p;
            v->slen = a->slen + b->slen;
            e->ty = mkty(TY_STRING);
            return v;
        }
    bad:
        ERR(s, e->loc, "operator '%s' cannot be applied to '%s' and '%s'",
            ops[e->op], kind_name(a->kind), kind_name(b->kind));
        return NULL;
    }
    case E_COND: {
        a = const_eval(s, e->a);
        if (!a)
            return NULL;
        if (a->kind != TY_BOOL) {
            ERR(s, e->a->loc, "condition must be 'bool', not '%s'", kind_name(a->kind));
            return NULL;
        }
        /* The value of the branch taken; the type of both, as check_expr
         * gives it at run time: an int and a float make a float. */
        v = const_eval(s, a->i ? e->b : e->c);
        if (!v)
            return NULL;
        enum type_kind other = const_kind(s, a->i ? e->c : e->b);
        if (v->kind == TY_INT && other == TY_FLOAT) {
            b = new_cval(s, TY_FLOAT);
            b->f = (double)v->i;
            v = b;
        } else if (other != TY_ERROR && other != v->kind && !(v->kind == TY_FLOAT && other == TY_INT)) {
            ERR(s, e->loc, "the branches of '?:' have different types '%s' and '%s'",
                kind_name(a->i ? v->kind : other), kind_name(a->i ? other : v->kind));
            return NULL;
        }
        e->ty = cval_type(v);
        return v;
    }
    case E_ARRAY: {
        int n = 0, i = 0;
        enum type_kind elem = TY_ERROR;
        struct ast_expr *x;
        for (x = e->args; x; x = x->next)
            n++;
        if (n == 0) {
            ERR(s, e->loc, "an empty array is not a constant");
            return NULL;
        }
        if (n > SEMA_MAX_ARRAY) {
            ERR(s, e->loc, "array size must be in 1..%d, not %d", SEMA_MAX_ARRAY, n);
            return NULL;
        }
        v = new_cval(s, TY_ARRAY);
        v->elems = arena_alloc(s->A, sizeof *v->elems * (size_t)n);
        v->n = n;
        for (x = e->args; x; x = x->next, i++) {
            struct cval *c = const_eval(s, x);
            if (!c)
                return NULL;
            if (!is_scalar(c->kind)) {
                ERR(s, x->loc, "array elements must be int, float, bool or string");
                return NULL;
            }
            if (elem == TY_ERROR)
                elem = c->kind;
            else if (elem == TY_INT && c->kind == TY_FLOAT)
                elem = TY_FLOAT;
            else if (!(elem == TY_FLOAT && c->kind == TY_INT) && elem != c->kind) {
                ERR(s, x->loc, "array element of type '%s' in an array of '%s'",
                    kind_name(c->kind), kind_name(elem));
                return NULL;
            }
            v->elems[i] = *c;
        }
        v->elem = elem;
        if (elem == TY_FLOAT)
            for (i = 0; i < n; i++)
                if (v->elems[i].kind == TY_INT) {
                    v->elems[i].kind = TY_FLOAT;
                    v->elems[i].f = (double)v->elems[i].i;
                }
        set_ty(s, e, mkarr(elem, n));
        return v;
    }
    case E_CALL:
        if (find_builtin(e->name) == B_FLOAT || find_builtin(e->name) == B_INT) {
            if (!e->args || e->args->next) {
                ERR(s, e->loc, "'%s' takes 1 argument", e->name);
                return NULL;
            }
            a = const_eval(s, e->args);
            if (!a)
                return NULL;
            if (!is_num(a->kind)) {
                ERR(s, e->args->loc, "'%s' needs an int or a float, not '%s'", e->name, kind_name(a->kind));
                return NULL;
            }
            if (find_builtin(e->name) == B_FLOAT) {
                v = new_cval(s, TY_FLOAT);
                v->f = a->kind == TY_INT ? (double)a->i : a->f;
            } else {
                v = new_cval(s, TY_INT);
                if (a->kind == TY_FLOAT) {
                    /* the runtime's test and words (ctx.c lv_ftoi) */
                    if (!(a->f >= -9223372036854775808.0 && a->f < 9223372036854775808.0)) {
                        ERR(s, e->loc, "float value out of int range in constant expression");
                        return NULL;
                    }
                    v->i = (int64_t)a->f;
                } else {
                    v->i = a->i;
                }
            }
            e->ty = mkty(v->kind);
            return v;
        }
        /* fallthrough */
    default:
        ERR(s, e->loc, "expected a constant expression");
        return NULL;
    }
}

/* The value of const y, folding it on first use.  NULL if it is invalid
 * (reported once). */
static struct cval *check_const_sym(struct sema *s, struct sym *y)
{
    if (y->state == 2)
        return y->val;
    if (y->state == 1) {
        ERR(s, y->decl->name_loc, "constant '%s' is defined in terms of itself", y->name);
        y->state = 2;
        return NULL;
    }
    y->state = 1;
    y->val = const_eval(s, y->decl->init);
    if (y->state == 1) {
        y->state = 2;
        if (y->val)
            y->ty = cval_type(y->val);
        else
            y->ty = mkty(TY_ERROR);
    }
    return y->val;
}

/* Converts an int constant to float where a float is expected (constant
 * contexts only: initializers, defaults and constraint bounds).  *pv may be
 * a named constant's own value: a converted copy replaces it, so that the
 * constant stays an int everywhere else. */
static bool const_fits(struct sema *s, struct cval **pv, const struct ast_type *t)
{
    const struct cval *v = *pv;
    if (t->kind == TY_FLOAT && v->kind == TY_INT) {
        struct cval *c = new_cval(s, TY_FLOAT);
        c->f = (double)v->i;
        *pv = c;
        return true;
    }
    if (t->kind == TY_ARRAY && v->kind == TY_ARRAY) {
        if (v->n != t->size)
            return false;
        if (t->elem == TY_FLOAT && v->elem == TY_INT) {
            struct cval *c = new_cval(s, TY_ARRAY);
            c->elem = TY_FLOAT;
            c->n = v->n;
            c->elems = arena_alloc(s->A, sizeof *c->elems * (size_t)v->n);
            for (int i = 0; i < v->n; i++) {
                c->elems[i] = v->elems[i];
                c->elems[i].kind = TY_FLOAT;
                c->elems[i].f = (double)v->elems[i].i;
            }
            *pv = c;
            return true;
        }
        return v->elem == t->elem;
    }
    return v->kind == t->kind;
}

/* ---- declared types ------------------------------------------------------ */

/* Resolves a written type (array size).  Returns false if reported. */
static bool resolve_type(struct sema *s, struct ast_type *t)
{
    if (t->kind != TY_ARRAY)
        return true;
    if (!t->size_expr) {
        if (t->size >= 1 && t->size <= SEMA_MAX_ARRAY)
            return true;
        ERR(s, t->loc, "array size must be in 1..%d", SEMA_MAX_ARRAY);
        t->kind = TY_ERROR;
        return false;
    }
    struct cval *v = const_eval(s, t->size_expr);
    if (!v) {
        t->kind = TY_ERROR;
        return false;
    }
    if (v->kind != TY_INT) {
        ERR(s, t->size_expr->loc, "array size must be an 'int', not '%s'", kind_name(v->kind));
        t->kind = TY_ERROR;
        return false;
    }
    if (v->i < 1 || v->i > SEMA_MAX_ARRAY) {
        ERR(s, t->size_expr->loc, "array size must be in 1..%d, not %" PRId64, SEMA_MAX_ARRAY, v->i);
        t->kind = TY_ERROR;
        return false;
    }
    t->size = v->i;
    register_arrtype(s, t);
    return true;
}

/* ---- declarations -------------------------------------------------------- */

static const char *decl_word(enum decl_kind k)
{
    switch (k) {
    case D_CONST: return "constant";
    case D_MESSAGE: return "message";
    case D_TABLE: return "table";
    case D_VIEW: return "view";
    case D_FN: return "fn";
    default: return "declaration";
    }
}

/* Checks the fields of a group/player/table/message block into rec. */
static void check_fields(struct sema *s, struct ast_decl *d, struct sema_record *rec, bool is_msg)
{
    int n = 0, i = 0;
    struct ast_field *f;
    char what[80];
    for (f = d->fields; f; f = f->next)
        n++;
    rec->decl = d;
    rec->n = n;
    rec->fields = arena_alloc(s->A, sizeof *rec->fields * (size_t)(n ? n : 1));
    rec->index = arena_alloc(s->A, sizeof *rec->index);
    for (f = d->fields; f; f = f->next, i++) {
        struct sema_field *sf = &rec->fields[i];
        sf->field = f;
        if (i == LIVE_MAX_FIELDS) {
            if (d->kind == D_GROUP || d->kind == D_PLAYER)
                ERR(s, f->loc, "too many fields in the %s block: at most %d",
                    d->kind == D_GROUP ? "group" : "player", LIVE_MAX_FIELDS);
            else
                ERR(s, f->loc, "too many fields in %s '%s': at most %d",
                    decl_word(d->kind), d->name, LIVE_MAX_FIELDS);
            if (!is_msg)
                diag_help(s->d, "each field is a column of a database table");
        }
        void *first = nmap_get(rec->index, f->name);
        if (first) {
            struct ast_field *g = rec->fields[(intptr_t)first - 1].field;
            ERR(s, f->loc, "duplicate field '%s'", f->name);
            diag_note(s->d, "'%s' was first declared on line %d", f->name, g->loc.line);
        } else {
            nmap_put(s, rec->index, f->name, (void *)(intptr_t)(i + 1));
        }
        if (strcmp(f->name, "id") == 0 && (d->kind == D_TABLE || d->kind == D_PLAYER))
            ERR(s, f->loc, "'id' is reserved: every %s already has an 'id'",
                d->kind == D_TABLE ? "row" : "player");
        if (strcmp(f->name, "page") == 0 && d->kind == D_PLAYER)
            ERR(s, f->loc, "'page' is reserved: every player already has a 'page'");
        if (strcmp(f->name, "type") == 0 && is_msg)
            ERR(s, f->loc, "'type' is reserved in messages");
        if (!resolve_type(s, &f->type))
            continue;
        if (is_msg && !is_scalar(f->type.kind)) {
            ERR(s, f->type.loc, "message fields must be int, float, bool or string");
            f->type.kind = TY_ERROR;
            continue;
        }
        if (f->type.kind == TY_STRING && is_msg)
            sf->max_len = SEMA_DEFAULT_MAX_LEN;
        snprintf(what, sizeof what, "%s", tn(&f->type));
        if (f->init) {
            struct cval *v = const_eval(s, f->init);
            if (v && !const_fits(s, &v, &f->type)) {
                ERR(s, f->init->loc, "cannot initialize '%s' field '%s' with '%s'",
                    what, f->name, tn(&f->init->ty));
                v = NULL;
            }
            sf->init = v;
        }
        unsigned seen = 0;      /* kinds of constraint met so far */
        for (struct ast_constraint *c = f->constraints; c; c = c->next) {
            struct cval *lo, *hi;
            static const char *const cname[] = { "in A..B", "in [..]", "max" };
            if (seen & (1u << c->kind)) {
                /* which would hold: the first, the last, both? */
                ERR(s, c->loc, "field '%s' has a second '%s' constraint", f->name, cname[c->kind]);
                continue;
            }
            seen |= 1u << c->kind;
            switch (c->kind) {
            case C_RANGE:
                if (!is_num(f->type.kind)) {
                    ERR(s, c->loc, "'in A..B' needs an int or float field, not '%s'", what);
                    break;
                }
                lo = const_eval(s, c->lo);
                hi = const_eval(s, c->hi);
                if (!lo || !hi)
                    break;
                if (!const_fits(s, &lo, &f->type) || !const_fits(s, &hi, &f->type)) {
                    ERR(s, c->loc, "range bounds of '%s' field '%s' must be '%s'", what, f->name, what);
                    break;
                }
                if (f->type.kind == TY_INT ? lo->i > hi->i : lo->f > hi->f) {
                    if (f->type.kind == TY_INT)
                        ERR(s, c->loc, "range %" PRId64 "..%" PRId64 " is empty", lo->i, hi->i);
                    else
                        ERR(s, c->loc, "range %g..%g is empty", lo->f, hi->f);
                    break;
                }
                sf->has_range = true;
                sf->lo = lo;
                sf->hi = hi;
                break;
            case C_ONE_OF:
                if (f->type.kind != TY_INT && f->type.kind != TY_STRING) {
                    ERR(s, c->loc, "'in [..]' needs an int or string field, not '%s'", what);
                    break;
                }
                lo = const_eval(s, c->lo);
                if (!lo)
                    break;
                if (lo->kind != TY_ARRAY || lo->elem != f->type.kind) {
                    ERR(s, c->lo->loc, "choices of '%s' field '%s' must be '%s' values", what, f->name, what);
                    break;
                }
                sf->choices = lo;
                break;
            case C_MAX:
                if (f->type.kind != TY_STRING) {
                    ERR(s, c->loc, "'max' applies to string fields, not '%s'", what);
                    break;
                }
                lo = const_eval(s, c->lo);
                if (!lo)
                    break;
                if (lo->kind != TY_INT || lo->i < 1) {
                    ERR(s, c->lo->loc, "'max' must be a positive int");
                    break;
                }
                sf->max_len = lo->i;
                if (lo->i > 65536)      /* PROTOCOL.md: 413 for a body over 64 KiB */
                    diag_warning(s->d, c->lo->loc, "'max %lld' cannot be reached: a message "
                                 "body is at most 64 KiB (65536 bytes), so a longer one is "
                                 "refused (413) before this check", (long long)lo->i);
                break;
            }
        }
        /* A choice the other constraints refuse could never be sent. */
        if (sf->choices && (sf->has_range || (f->type.kind == TY_STRING && (seen & (1u << C_MAX))))) {
            for (int k = 0; k < sf->choices->n; k++) {
                const struct cval *c = &sf->choices->elems[k];
                if (f->type.kind == TY_INT && sf->has_range &&
                    (c->i < sf->lo->i || c->i > sf->hi->i)) {
                    ERR(s, f->loc, "choice %" PRId64 " of field '%s' is outside its range "
                        "%" PRId64 "..%" PRId64, c->i, f->name, sf->lo->i, sf->hi->i);
                    break;
                }
                if (f->type.kind == TY_STRING && code_points(c) > sf->max_len) {
                    ERR(s, f->loc, "choice \"%.*s\" of field '%s' is longer than its max %" PRId64,
                        (int)c->slen, c->s, f->name, sf->max_len);
                    break;
                }
            }
        }
        /* A default must satisfy the field's own constraints. */
        if (is_msg && sf->init) {
            struct cval *v = sf->init;
            bool ok = true;
            if (sf->has_range)
                ok = f->type.kind == TY_INT ? (v->i >= sf->lo->i && v->i <= sf->hi->i)
                                            : (v->f >= sf->lo->f && v->f <= sf->hi->f);
            if (ok && sf->choices) {
                ok = false;
                for (int k = 0; k < sf->choices->n; k++) {
                    struct cval *c = &sf->choices->elems[k];
                    if (f->type.kind == TY_INT ? c->i == v->i
                        : (c->slen == v->slen && memcmp(c->s, v->s, v->slen) == 0))
                        ok = true;
                }
            }
            if (ok && f->type.kind == TY_STRING)
                ok = code_points(v) <= sf->max_len;
            if (!ok)
                ERR(s, f->init->loc, "default of '%s' breaks its own constraint", f->name);
        }
    }
}

/* Declares d.  Messages have a namespace of their own: a message may share
 * its name with a table, a view, a constant or a fn (`table offer` beside
 * `message offer`), since a message is named only by `on NAME` and by the
 * "type" of what a client sends, never as a value. */
static struct sym *add_global(struct sema *s, enum sym_kind k, struct ast_decl *d)
{
    struct nmap *index = k == SYM_MESSAGE ? &s->message_index : &s->global_index;
    struct sym *old = nmap_get(index, d->name);
    if (old) {
        ERR(s, d->name_loc, "'%s' is already declared", d->name);
        diag_note(s->d, "'%s' was first declared on line %d as a %s",
                  d->name, old->loc.line, decl_word(old->decl->kind));
        return NULL;
    }
    /* A builtin's name would be hidden by a global value of that name (as
     * by a local), which a whole file should not do; a message is no value
     * and may take it (`message count`, `on count`). */
    if (k != SYM_MESSAGE && (find_builtin(d->name) != B_NONE || strcmp(d->name, "msg") == 0)) {
        ERR(s, d->name_loc, "'%s' is a reserved name", d->name);
        return NULL;
    }
    /* A table is exported as NAME.csv beside PROTOCOL.md's own exports
     * (`players` is a keyword; livec's log of random draws yields its name
     * `draws.csv` to a table so named and stays random-draws.csv). */
    if (k == SYM_TABLE && (strcmp(d->name, "groups") == 0 || strcmp(d->name, "messages") == 0)) {
        ERR(s, d->name_loc, "a table cannot be named '%s'", d->name);
        diag_help(s->d, "'%s.csv' is already the export of the session's %s", d->name,
                  d->name[0] == 'g' ? "groups" : "message log");
        /* Declared all the same, so its uses are not reported again. */
    }
    struct sym *y = new_sym(s, k, d->name, d->name_loc);
    y->decl = d;
    d->sym = y;
    /* Append to keep source order in suggestions. */
    if (!s->globals)
        s->globals = y;
    else
        s->globals_tail->next = y;
    s->globals_tail = y;
    nmap_put(s, index, y->name, y);
    return y;
}

/* Directory part of path (arena), "." when none. */
static const char *dir_of(struct sema *s, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    if (slash == path)
        return "/";
    return arena_strndup(s->A, path, (size_t)(slash - path));
}

/* Reads a page template relative to the .live file into the arena
 * (pg->html, pg->len).  Only a regular file will do: it is opened without
 * blocking (a FIFO would wait for a writer forever) and checked with fstat
 * before anything is read (a directory, /dev/zero or a FIFO is an error at
 * the template string, not a hang nor an empty page). */
static void read_template(struct sema *s, struct sema_page *pg, struct ast_prop *p)
{
    const char *dir = dir_of(s, s->f->path);
    const char *name = p->value->sval;
    size_t need = strlen(dir) + strlen(name) + 2;
    char *path = arena_alloc(s->A, need);
    FILE *fp;
    struct stat st;
    off_t sz;
    int fd;
    if (name[0] == '/')
        snprintf(path, need, "%s", name);
    else
        snprintf(path, need, "%s/%s", dir, name);
    if (strlen(name) != p->value->slen) {
        ERR(s, p->value->loc, "template path contains a NUL byte");
        return;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        ERR(s, p->value->loc, "cannot read template '%s': %s", name, strerror(errno));
        return;
    }
    if (fstat(fd, &st) != 0) {
        ERR(s, p->value->loc, "cannot read template '%s': %s", name, strerror(errno));
        close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        ERR(s, p->value->loc, "template '%s' is not a regular file", name);
        close(fd);
        return;
    }
    fp = fdopen(fd, "rb");
    if (!fp) {
        ERR(s, p->value->loc, "cannot read template '%s': %s", name, strerror(errno));
        close(fd);
        return;
    }
    sz = st.st_size;
    if (sz > MAX_TEMPLATE_BYTES) {
        ERR(s, p->value->loc, "template '%s' is larger than %d bytes", path, MAX_TEMPLATE_BYTES);
        fclose(fp);
        return;
    }
    char *buf = arena_alloc(s->A, (size_t)sz + 1);
    if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
        ERR(s, p->value->loc, "cannot read template '%s'", path);
        fclose(fp);
        return;
    }
    fclose(fp);
    buf[sz] = 0;
    if (memchr(buf, 0, (size_t)sz)) {
        ERR(s, p->value->loc, "template '%s' contains a NUL byte", path);
        return;
    }
    pg->html = buf;
    pg->len = (size_t)sz;
}

static void check_game(struct sema *s, struct ast_decl *g)
{
    bool have_players = false;
    s->prog->name = g->name;
    s->prog->title = g->name;
    for (struct ast_prop *p = g->props; p; p = p->next) {
        for (struct ast_prop *q = g->props; q != p; q = q->next)
            if (strcmp(q->key, p->key) == 0) {
                ERR(s, p->loc, "duplicate '%s'", p->key);
                diag_note(s->d, "'%s' was first given on line %d", p->key, q->loc.line);
                goto next;
            }
        if (strcmp(p->key, "players") == 0) {
            struct cval *v;
            have_players = true;
            if (!p->value)
                continue;
            v = const_eval(s, p->value);
            if (!v)
                continue;
            if (v->kind != TY_INT) {
                ERR(s, p->value->loc, "'players' must be an 'int', not '%s'", kind_name(v->kind));
                continue;
            }
            if (v->i < SEMA_MIN_PLAYERS || v->i > SEMA_MAX_PLAYERS) {
                ERR(s, p->value->loc, "'players' must be in %d..%d, not %" PRId64,
                    SEMA_MIN_PLAYERS, SEMA_MAX_PLAYERS, v->i);
                continue;
            }
            s->prog->players = v->i;
        } else if (strcmp(p->key, "title") == 0) {
            /* a string literal or constant (constants go where literals do) */
            struct cval *v = p->value ? const_eval(s, p->value) : NULL;
            if (!v)
                continue;
            if (v->kind != TY_STRING) {
                ERR(s, p->value->loc, "'title' must be a 'string', not '%s'", kind_name(v->kind));
                continue;
            }
            if (memchr(v->s, '\0', v->slen)) {
                ERR(s, p->value->loc, "'title' contains a NUL character");
                continue;
            }
            char *t = arena_alloc(s->A, v->slen + 1);
            memcpy(t, v->s, v->slen);
            t[v->slen] = '\0';
            s->prog->title = t;
        } else {
            static const char *keys[] = { "players", "title", NULL };
            ERR(s, p->loc, "unknown game property '%s'", p->key);
            suggest(s, p->key, keys);
        }
    next:;
    }
    if (!have_players)
        ERR(s, g->name_loc, "game '%s' has no 'players'", g->name);
}

static void check_page(struct sema *s, struct ast_decl *d, struct sema_page *pg)
{
    bool have = false;
    pg->decl = d;
    if (strcmp(d->name, "finished") == 0)
        ERR(s, d->name_loc, "'finished' is reserved: every game ends with a 'finished' page");
    for (struct ast_prop *p = d->props; p; p = p->next) {
        if (strcmp(p->key, "template") == 0) {
            if (have) {
                ERR(s, p->loc, "duplicate 'template'");
                continue;
            }
            have = true;
            if (!p->value || p->value->kind != E_STRING) {
                ERR(s, p->value ? p->value->loc : p->loc, "'template' must be a string literal");
                continue;
            }
            read_template(s, pg, p);
        } else {
            static const char *keys[] = { "template", NULL };
            ERR(s, p->loc, "unknown page property '%s'", p->key);
            suggest(s, p->key, keys);
        }
    }
    if (!have)
        ERR(s, d->name_loc, "page '%s' has no 'template'", d->name);
}

/* ---- expressions ------------------------------------------------------------ */

static void check_expr(struct sema *s, struct ast_expr *e);
static void check_view(struct sema *s, struct sym *v);

static void need_me(struct sema *s, struct loc loc)
{
    if (s->in_view) {
        if (s->cur_view)
            s->cur_view->uses_me = true;
        return;
    }
    if (!s->has_me)
        ERR(s, loc, "'me' is not available in %s", s->where);
}

static bool json_able(enum type_kind k)
{
    return is_scalar(k) || k == TY_ARRAY || k == TY_OBJECT || k == TY_JSON_ARRAY ||
           k == TY_ROW || k == TY_TABLE;
}

/* Reports a value that cannot go into JSON.  Returns false then. */
static bool check_json(struct sema *s, struct ast_expr *e)
{
    if (e->ty.kind == TY_ERROR)
        return false;
    if (!json_able(e->ty.kind)) {
        ERR(s, e->loc, "a '%s' cannot be sent as JSON", tn(&e->ty));
        return false;
    }
    return true;
}

static struct sema_record *record_of_table(struct sema *s, struct ast_decl *t)
{
    for (int i = 0; i < s->prog->n_tables; i++)
        if (s->prog->tables[i] == t)
            return &s->prog->tabfields[i];
    return NULL;
}

/* Looks a field up in a record; sets e->sym/ty.  Returns false if absent. */
static bool field_in(struct sema *s, struct ast_expr *e, struct sema_record *rec, enum sym_kind k)
{
    if (!rec)
        return false;
    intptr_t at = (intptr_t)nmap_get(rec->index, e->name);
    if (at > 0) {
        int i = (int)(at - 1);
        struct ast_field *f = rec->fields[i].field;
        struct sym *y = new_sym(s, k, f->name, f->loc);
        y->field = f;
        y->index = i;
        y->decl = rec->decl;
        y->ty = f->type;
        e->sym = y;
        set_ty(s, e, f->type);
        return true;
    }
    return false;
}

static void unknown_field(struct sema *s, struct ast_expr *e, struct sema_record *rec,
                          const char *what, const char *extra1, const char *extra2)
{
    const char *c[MAX_CANDS];
    int n = 0;
    if (extra1)
        c[n++] = extra1;
    if (extra2)
        c[n++] = extra2;
    for (int i = 0; rec && i < rec->n && n < MAX_CANDS - 1; i++)
        c[n++] = rec->fields[i].field->name;
    c[n] = NULL;
    ERR(s, e->loc, "unknown field '%s' on %s", e->name, what);
    suggest(s, e->name, c);
}

static void check_field(struct sema *s, struct ast_expr *e)
{
    struct ast_expr *b = e->a;
    char what[128];
    e->ty = mkty(TY_ERROR);
    if (b->kind == E_GROUP) {
        b->ty = mkty(TY_VOID);
        if (!field_in(s, e, &s->prog->group, SYM_GROUP_FIELD))
            unknown_field(s, e, &s->prog->group, "group", NULL, NULL);
        return;
    }
    if (b->kind == E_NAME && strcmp(b->name, "msg") == 0 && !find_local(s, "msg")) {
        if (!s->has_msg) {
            ERR(s, b->loc, "'msg' is not available in %s", s->where);
            return;
        }
        struct sym *y = new_sym(s, SYM_MSG, "msg", b->loc);
        y->decl = s->cur_msg;
        b->sym = y;
        b->ty = mkty(TY_VOID);
        int idx = 0;
        for (int i = 0; i < s->prog->n_messages; i++)
            if (s->prog->messages[i] == s->cur_msg)
                idx = i;
        if (!field_in(s, e, &s->prog->msgfields[idx], SYM_MSG_FIELD)) {
            snprintf(what, sizeof what, "message '%s'", s->cur_msg->name);
            unknown_field(s, e, &s->prog->msgfields[idx], what, NULL, NULL);
        }
        return;
    }
    check_expr(s, b);
    switch (b->ty.kind) {
    case TY_ERROR:
        return;
    case TY_PLAYER:
        if (strcmp(e->name, "id") == 0 || strcmp(e->name, "page") == 0) {
            bool id = e->name[0] == 'i';
            e->sym = new_sym(s, id ? SYM_PLAYER_ID : SYM_PLAYER_PAGE, e->name, e->loc);
            e->ty = mkty(id ? TY_INT : TY_STRING);
            return;
        }
        if (!field_in(s, e, &s->prog->player, SYM_PLAYER_FIELD)) {
            if (strcmp(e->name, "id_in_group") == 0) {
                ERR(s, e->loc, "unknown field '%s' on player", e->name);
                diag_help(s->d, "a player's number in its group (1, 2, ...) is '.id'");
            } else {
                unknown_field(s, e, &s->prog->player, "player", "id", "page");
            }
        }
        return;
    case TY_ROW: {
        struct sema_record *rec = record_of_table(s, b->ty.table);
        if (strcmp(e->name, "id") == 0) {
            e->sym = new_sym(s, SYM_ROW_ID, "id", e->loc);
            e->ty = mkty(TY_INT);
            return;
        }
        if (!field_in(s, e, rec, SYM_ROW_FIELD)) {
            snprintf(what, sizeof what, "table '%s'", b->ty.table->name);
            unknown_field(s, e, rec, what, "id", NULL);
        }
        return;
    }
    default:
        ERR(s, e->loc, "a '%s' has no fields", tn(&b->ty));
        return;
    }
}

/* The span of a call's function name (a call's own span covers its
 * arguments too): what a diagnostic about the name underlines. */
static struct loc call_name_loc(const struct ast_expr *e)
{
    struct loc l = e->loc;
    size_t n = strlen(e->name);
    if (n >= 1 && (size_t)l.len > n)
        l.len = (int)n;
    return l;
}

static void check_args_count(struct sema *s, struct ast_expr *e, int want, int have)
{
    ERR(s, call_name_loc(e), "'%s' takes %d argument%s, not %d", e->name, want, want == 1 ? "" : "s", have);
}

static int count_args(struct ast_expr *e)
{
    int n = 0;
    for (struct ast_expr *a = e->args; a; a = a->next)
        n++;
    return n;
}

static void check_query(struct sema *s, struct ast_expr *q, struct ast_type *rowty,
                        const char *rowname);

static void check_builtin(struct sema *s, struct ast_expr *e, enum builtin b)
{
    static const int nargs[] = {
        [B_LEN] = 1, [B_MIN] = 2, [B_MAX] = 2, [B_ABS] = 1, [B_COUNT] = 1,
        [B_NOW] = 0, [B_RANDOM] = 2, [B_FLOAT] = 1, [B_INT] = 1, [B_STR] = 1
    };
    int n = count_args(e);
    struct ast_expr *x = e->args, *y = x ? x->next : NULL;
    struct sym *sy = new_sym(s, SYM_BUILTIN, e->name, e->loc);
    sy->builtin = b;
    e->sym = sy;
    e->ty = mkty(TY_ERROR);
    if (n != nargs[b]) {
        check_args_count(s, e, nargs[b], n);
        return;
    }
    if (b == B_COUNT) {
        struct ast_type rt;
        if (x->kind != E_QUERY && x->kind != E_NAME) {
            ERR(s, x->loc, "'count' needs a table, as in 'count(T where COND)'");
            return;
        }
        check_query(s, x, &rt, NULL);
        if (x->ty.kind != TY_ERROR)
            e->ty = mkty(TY_INT);
        return;
    }
    if (b == B_LEN && x->kind == E_PLAYERS) {
        x->ty = mkty(TY_VOID);
        e->ty = mkty(TY_INT);
        return;
    }
    for (struct ast_expr *a = e->args; a; a = a->next)
        check_expr(s, a);
    for (struct ast_expr *a = e->args; a; a = a->next)
        if (a->ty.kind == TY_ERROR)
            return;
    switch (b) {
    case B_LEN:
        if (x->ty.kind == TY_STRING || x->ty.kind == TY_ARRAY || x->ty.kind == TY_JSON_ARRAY ||
            x->ty.kind == TY_TABLE) {
            e->ty = mkty(TY_INT);
        } else {
            ERR(s, x->loc, "'len' needs a string, an array, a table or 'players', not '%s'", tn(&x->ty));
        }
        return;
    case B_MIN:
    case B_MAX:
        if (!is_num(x->ty.kind) || !is_num(y->ty.kind)) {
            ERR(s, e->loc, "'%s' needs int or float arguments, not '%s' and '%s'",
                e->name, tn(&x->ty), tn(&y->ty));
            return;
        }
        e->ty = mkty(x->ty.kind == TY_INT && y->ty.kind == TY_INT ? TY_INT : TY_FLOAT);
        return;
    case B_ABS:
        if (!is_num(x->ty.kind)) {
            ERR(s, x->loc, "'abs' needs an int or a float, not '%s'", tn(&x->ty));
            return;
        }
        e->ty = x->ty;
        return;
    case B_NOW:
        e->ty = mkty(TY_INT);
        return;
    case B_RANDOM:
        if (x->ty.kind != TY_INT || y->ty.kind != TY_INT) {
            ERR(s, e->loc, "'random' needs int arguments, not '%s' and '%s'", tn(&x->ty), tn(&y->ty));
            return;
        }
        e->ty = mkty(TY_INT);
        return;
    case B_FLOAT:
    case B_INT:
        if (!is_num(x->ty.kind)) {
            ERR(s, x->loc, "cannot convert '%s' to '%s'", tn(&x->ty), e->name);
            return;
        }
        e->ty = mkty(b == B_FLOAT ? TY_FLOAT : TY_INT);
        return;
    case B_STR:
        if (!is_scalar(x->ty.kind)) {
            ERR(s, x->loc, "cannot convert '%s' to 'string'", tn(&x->ty));
            return;
        }
        e->ty = mkty(TY_STRING);
        return;
    default:
        return;
    }
}

static void check_call(struct sema *s, struct ast_expr *e)
{
    struct sym *y = find_local(s, e->name);
    enum builtin b;
    e->ty = mkty(TY_ERROR);
    if (!y)
        y = find_global(s, e->name);
    if (!y && (b = find_builtin(e->name)) != B_NONE) {
        check_builtin(s, e, b);
        return;
    }
    if (!y) {
        const char *c[MAX_CANDS];
        int n = 0;
        for (int i = 0; builtin_names[i]; i++)
            c[n++] = builtin_names[i];
        for (struct sym *z = s->globals; z && n < MAX_CANDS - 1; z = z->next)
            if (z->kind == SYM_FN)
                c[n++] = z->name;
        c[n] = NULL;
        ERR(s, call_name_loc(e), "unknown function '%s'", e->name);
        suggest(s, e->name, c);
        for (struct ast_expr *a = e->args; a; a = a->next)
            check_expr(s, a);
        return;
    }
    if (y->kind != SYM_FN) {
        ERR(s, call_name_loc(e), "'%s' is not a function", e->name);
        return;
    }
    struct ast_decl *fn = y->decl;
    e->sym = y;
    y->used = true;
    if (s->in_view) {
        ERR(s, e->loc, "a view cannot call fn '%s'", e->name);
        return;
    }
    int want = 0, have = count_args(e), i = 1;
    for (struct ast_field *p = fn->fields; p; p = p->next)
        want++;
    for (struct ast_expr *a = e->args; a; a = a->next)
        check_expr(s, a);
    if (want != have) {
        check_args_count(s, e, want, have);
        return;
    }
    struct ast_field *p = fn->fields;
    for (struct ast_expr *a = e->args; a; a = a->next, p = p->next, i++) {
        if (a->ty.kind == TY_ERROR || p->type.kind == TY_ERROR)
            continue;
        if (!type_eq(&a->ty, &p->type)) {
            ERR(s, a->loc, "argument %d of '%s' must be '%s', not '%s'",
                i, e->name, tn(&p->type), tn(&a->ty));
            int_to_float_help(s, &p->type, a);
        }
    }
    /* Record the edge for the recursion check. */
    struct call_edge *c = zalloc(s, sizeof *c);
    c->from = s->cur;
    c->to = fn;
    c->loc = e->loc;
    c->next = s->calls;
    s->calls = c;
    if (fn->ret)
        e->ty = *fn->ret;
    else
        e->ty = mkty(TY_VOID);
}

/* The innermost table loop variable in scope whose table has a column
 * `name` (bare column names are in scope only in where / order by), or
 * NULL. */
static struct sym *loop_row_with_column(struct sema *s, const char *name)
{
    for (struct scope *sc = s->scope; sc; sc = sc->up)
        for (struct sym *y = sc->syms; y; y = y->next) {
            if (y->kind != SYM_FOR_ROW || y->ty.kind != TY_ROW || !y->ty.table)
                continue;
            struct sema_record *rec = record_of_table(s, y->ty.table);
            if (strcmp(name, "id") == 0 || (rec && nmap_get(rec->index, name)))
                return y;
        }
    return NULL;
}

static void check_name(struct sema *s, struct ast_expr *e)
{
    struct sym *y = find_local(s, e->name);
    e->ty = mkty(TY_ERROR);
    if (y) {
        e->sym = y;
        y->used = true;
        set_ty(s, e, y->ty);
        return;
    }
    if (strcmp(e->name, "msg") == 0) {
        if (!s->has_msg)
            ERR(s, e->loc, "'msg' is not available in %s", s->where);
        else
            ERR(s, e->loc, "use 'msg.FIELD' to read a field of the message");
        return;
    }
    y = find_global(s, e->name);
    if (!y && nmap_get(&s->message_index, e->name)) {
        ERR(s, e->loc, "'%s' is a message, not a value", e->name);
        return;
    }
    if (!y) {
        const char *c[MAX_CANDS];
        int n = visible_names(s, c, MAX_CANDS - 5, true);
        /* the words a value may also be spelled with */
        c[n++] = "true";
        c[n++] = "false";
        c[n++] = "group";
        if (s->has_me)
            c[n++] = "me";
        c[n] = NULL;
        ERR(s, e->loc, "unknown name '%s'", e->name);
        struct sym *row = loop_row_with_column(s, e->name);
        const char *habit = name_habit(e->name);
        if (row)
            diag_help(s->d, "did you mean '%s.%s'?", row->name, e->name);
        else if (habit)
            diag_help(s->d, "%s", habit);
        else if (s->assigning && !diag_suggest(e->name, c))
            diag_help(s->d, "a new local is declared with 'let %s = VALUE;'", e->name);
        else
            suggest(s, e->name, c);
        return;
    }
    e->sym = y;
    y->used = true;
    switch (y->kind) {
    case SYM_CONST: {
        struct cval *v = check_const_sym(s, y);
        if (v)
            set_ty(s, e, cval_type(v));
        return;
    }
    case SYM_VIEW:
        check_view(s, y);
        if (y->state != 2)
            return;
        if (y->uses_me && s->in_view)
            need_me(s, e->loc);
        else if (y->uses_me && !s->has_me)
            ERR(s, e->loc, "view '%s' uses 'me', which is not available in %s", y->name, s->where);
        e->ty = mkty(TY_OBJECT);
        return;
    case SYM_TABLE:
        e->ty = mkty(TY_TABLE);
        e->ty.table = y->decl;
        return;
    case SYM_MESSAGE:
        ERR(s, e->loc, "'%s' is a message, not a value", e->name);
        return;
    case SYM_FN:
        ERR(s, e->loc, "'%s' is a function: call it with '%s(...)'", e->name, e->name);
        return;
    default:
        return;
    }
}

static const char *binop_str(int op)
{
    static const char *ops[] = { "||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%" };
    return ops[op];
}

static void check_page_literal(struct sema *s, const struct ast_expr *pg, const struct ast_expr *lit);

static void check_binary(struct sema *s, struct ast_expr *e)
{
    struct ast_type *a, *b;
    check_expr(s, e->a);
    check_expr(s, e->b);
    a = &e->a->ty;
    b = &e->b->ty;
    e->ty = mkty(TY_ERROR);
    if (a->kind == TY_ERROR || b->kind == TY_ERROR)
        return;
    switch (e->op) {
    case OP_OR:
    case OP_AND:
        if (a->kind == TY_BOOL && b->kind == TY_BOOL) {
            e->ty = mkty(TY_BOOL);
            return;
        }
        break;
    case OP_EQ:
    case OP_NE:
        if ((is_num(a->kind) && is_num(b->kind)) ||
            (is_scalar(a->kind) && type_eq(a, b)) ||
            (a->kind == TY_ARRAY && type_eq(a, b)) ||
            (a->kind == TY_PLAYER && b->kind == TY_PLAYER)) {
            e->ty = mkty(TY_BOOL);
            if (a->kind == TY_STRING && b->kind == TY_STRING) {
                check_page_literal(s, e->a, e->b);
                check_page_literal(s, e->b, e->a);
            }
            return;
        }
        break;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        if ((is_num(a->kind) && is_num(b->kind)) ||
            (a->kind == TY_STRING && b->kind == TY_STRING)) {
            e->ty = mkty(TY_BOOL);
            return;
        }
        break;
    case OP_ADD:
        if (a->kind == TY_STRING && b->kind == TY_STRING) {
            e->ty = mkty(TY_STRING);
            return;
        }
        /* fallthrough */
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
        if (is_num(a->kind) && is_num(b->kind)) {
            e->ty = mkty(a->kind == TY_INT && b->kind == TY_INT ? TY_INT : TY_FLOAT);
            return;
        }
        break;
    case OP_MOD:
        if (a->kind == TY_INT && b->kind == TY_INT) {
            e->ty = mkty(TY_INT);
            return;
        }
        break;
    }
    ERR(s, e->loc, "operator '%s' cannot be applied to '%s' and '%s'",
        binop_str(e->op), tn(a), tn(b));
    if (e->op == OP_ADD && (a->kind == TY_STRING || b->kind == TY_STRING) &&
        (is_num(a->kind) || is_num(b->kind) || a->kind == TY_BOOL || b->kind == TY_BOOL))
        diag_help(s->d, "nothing converts implicitly: write the number as text with str(...)");
}

/* `me.page == "contibute"`: a string that is no page of the game (nor
 * "finished") can never be equal -- a typo.  Warns at the string. */
static void check_page_literal(struct sema *s, const struct ast_expr *pg, const struct ast_expr *lit)
{
    if (pg->kind != E_FIELD || !pg->sym || ((struct sym *)pg->sym)->kind != SYM_PLAYER_PAGE ||
        lit->kind != E_STRING || s->prog->n_pages == 0)
        return;
    for (int i = 0; i < s->prog->n_pages; i++) {
        const char *name = s->prog->pages[i].decl->name;
        if (strlen(name) == lit->slen && memcmp(name, lit->sval, lit->slen) == 0)
            return;
    }
    if (lit->slen == 8 && memcmp(lit->sval, "finished", 8) == 0)
        return;
    const char *c[MAX_CANDS];
    int n = 0;
    for (int i = 0; i < s->prog->n_pages && n < MAX_CANDS - 2; i++)
        c[n++] = s->prog->pages[i].decl->name;
    c[n++] = "finished";
    c[n] = NULL;
    /* shown: at most 40 bytes, whole characters, no control characters */
    char shown[48];
    size_t k = 0;
    for (size_t i = 0; i < lit->slen && k < 40; i++) {
        unsigned char ch = (unsigned char)lit->sval[i];
        if ((ch & 0xC0) == 0x80 || ch >= 0x80) {
            size_t len = 1;             /* a whole UTF-8 sequence or nothing */
            while (i + len < lit->slen && ((unsigned char)lit->sval[i + len] & 0xC0) == 0x80)
                len++;
            if (ch < 0xC0 || k + len > 40)
                break;
            memcpy(shown + k, lit->sval + i, len);
            k += len;
            i += len - 1;
        } else {
            shown[k++] = ch < 0x20 || ch == 0x7F ? '?' : (char)ch;
        }
    }
    shown[k] = '\0';
    diag_warning(s->d, lit->loc, "\"%s%s\" names no page of this game (a player's page is "
                 "one of its pages, or \"finished\")", shown, k < lit->slen ? "..." : "");
    suggest(s, lit->sval, c);
}

static void check_object(struct sema *s, struct ast_expr *e)
{
    e->ty = mkty(TY_OBJECT);
    for (struct ast_entry *en = e->entries; en; en = en->next) {
        check_expr(s, en->value);
        if (en->value->ty.kind == TY_ERROR)
            continue;
        if (!en->key) {
            if (en->value->ty.kind != TY_OBJECT && en->value->ty.kind != TY_ROW)
                ERR(s, en->value->loc, "only an object can be spread, not a '%s'", tn(&en->value->ty));
        } else {
            check_json(s, en->value);
        }
    }
}

static void check_array_lit(struct sema *s, struct ast_expr *e)
{
    int n = 0;
    enum type_kind elem = TY_VOID;
    bool json = false, err = false;
    for (struct ast_expr *x = e->args; x; x = x->next) {
        n++;
        check_expr(s, x);
        if (x->ty.kind == TY_ERROR) {
            err = true;
            continue;
        }
        if (!check_json(s, x)) {
            err = true;
            continue;
        }
        if (!is_scalar(x->ty.kind)) {
            json = true;
        } else if (elem == TY_VOID) {
            elem = x->ty.kind;
        } else if (elem != x->ty.kind) {
            if (is_num(elem) && is_num(x->ty.kind))
                elem = TY_FLOAT;
            else
                json = true;
        }
    }
    if (err) {
        e->ty = mkty(TY_ERROR);
        return;
    }
    if (n > SEMA_MAX_ARRAY) {
        ERR(s, e->loc, "array size must be in 1..%d, not %d", SEMA_MAX_ARRAY, n);
        e->ty = mkty(TY_ERROR);
        return;
    }
    if (n == 0 || json) {
        e->ty = mkty(TY_JSON_ARRAY);
        return;
    }
    set_ty(s, e, mkarr(elem, n));
}

/* A table name, or a query, used as a value or loop source.  Fills
 * *rowty with the row type and sets q->ty to TY_TABLE (the JSON array).
 * A query (E_QUERY) gets its own SYM_TABLE symbol in q->sym whose cname is
 * the C variable holding the row under test: `rowname` (a for loop's
 * variable) or a fresh `row_N`; the bare field names of its where clause
 * resolve to SYM_ROW_FIELD symbols with that same cname.  A bare table name
 * (E_NAME) points at the table's global symbol. */
static void check_query(struct sema *s, struct ast_expr *q, struct ast_type *rowty,
                        const char *rowname)
{
    struct sym *y = find_global(s, q->name);
    q->ty = mkty(TY_ERROR);
    if (!y || y->kind != SYM_TABLE) {
        if (y || find_local(s, q->name))
            ERR(s, q->loc, "'%s' is not a table", q->name);
        else {
            ERR(s, q->loc, "unknown table '%s'", q->name);
            suggest_global(s, q->name, SYM_TABLE);
        }
        return;
    }
    q->sym = y;
    y->used = true;
    *rowty = mkty(TY_ROW);
    rowty->table = y->decl;
    if (q->kind == E_QUERY) {
        /* Inside where/order by, the row's fields are in scope by name. */
        struct sema_record *rec = record_of_table(s, y->decl);
        struct sym *qs = new_sym(s, SYM_TABLE, y->name, q->loc);
        char buf[64];
        qs->decl = y->decl;
        qs->index = y->index;
        if (rowname) {
            qs->cname = rowname;
        } else {
            snprintf(buf, sizeof buf, "row_%d", ++s->nrows);
            qs->cname = arena_strdup(s->A, buf);
        }
        q->sym = qs;
        push_scope(s);
        struct sym *r = new_sym(s, SYM_ROW_FIELD, "id", y->decl->name_loc);
        r->ty = mkty(TY_INT);
        r->index = -1;
        r->decl = y->decl;
        r->cname = qs->cname;
        bind_in_scope(s, r);
        for (int i = 0; rec && i < rec->n; i++) {
            struct sym *fy = new_sym(s, SYM_ROW_FIELD, rec->fields[i].field->name, rec->fields[i].field->loc);
            fy->ty = rec->fields[i].field->type;
            fy->index = i;
            fy->field = rec->fields[i].field;
            fy->decl = y->decl;
            fy->cname = qs->cname;
            bind_in_scope(s, fy);
        }
        if (q->a) {
            check_expr(s, q->a);
            if (q->a->ty.kind != TY_ERROR && q->a->ty.kind != TY_BOOL)
                ERR(s, q->a->loc, "condition must be 'bool', not '%s'", tn(&q->a->ty));
        }
        if (q->order_key) {
            struct sym *k = NULL;
            for (struct sym *z = s->scope->syms; z; z = z->next)
                if (strcmp(z->name, q->order_key) == 0)
                    k = z;
            if (!k) {
                const char *c[MAX_CANDS];
                int n = 0;
                c[n++] = "id";
                for (int i = 0; rec && i < rec->n && n < MAX_CANDS - 1; i++)
                    c[n++] = rec->fields[i].field->name;
                c[n] = NULL;
                ERR(s, q->order_loc, "unknown field '%s' on table '%s'", q->order_key, y->name);
                suggest(s, q->order_key, c);
            } else if (!is_scalar(k->ty.kind)) {
                ERR(s, q->order_loc, "cannot order by a '%s'", tn(&k->ty));
            }
        }
        pop_scope(s);
    }
    q->ty = mkty(TY_TABLE);
    q->ty.table = y->decl;
}

static void check_expr(struct sema *s, struct ast_expr *e)
{
    switch (e->kind) {
    case E_INT:
    case E_DURATION:
        e->ty = mkty(int_out_of_range(s, e) ? TY_ERROR : TY_INT);
        return;
    case E_FLOAT:
        e->ty = mkty(TY_FLOAT);
        return;
    case E_STRING:
        e->ty = mkty(TY_STRING);
        return;
    case E_BOOL:
        e->ty = mkty(TY_BOOL);
        return;
    case E_NAME:
        check_name(s, e);
        return;
    case E_GROUP:
        ERR(s, e->loc, "'group' is not a value: use 'group.FIELD'");
        e->ty = mkty(TY_ERROR);
        return;
    case E_ME:
        need_me(s, e->loc);
        e->ty = mkty(s->has_me || s->in_view ? TY_PLAYER : TY_ERROR);
        return;
    case E_PLAYERS:
        ERR(s, e->loc, "'players' is only allowed in 'len(players)' and 'for p in players'");
        e->ty = mkty(TY_ERROR);
        return;
    case E_PLAYER:
        check_expr(s, e->a);
        e->ty = mkty(TY_ERROR);
        if (e->a->ty.kind == TY_ERROR)
            return;
        if (e->a->ty.kind != TY_INT) {
            ERR(s, e->a->loc, "player id must be an 'int', not '%s'", tn(&e->a->ty));
            return;
        }
        e->ty = mkty(TY_PLAYER);
        return;
    case E_FIELD:
        check_field(s, e);
        return;
    case E_INDEX:
        check_expr(s, e->a);
        check_expr(s, e->b);
        e->ty = mkty(TY_ERROR);
        if (e->a->ty.kind == TY_ERROR || e->b->ty.kind == TY_ERROR)
            return;
        if (e->a->ty.kind != TY_ARRAY) {
            ERR(s, e->a->loc, "cannot index a '%s'", tn(&e->a->ty));
            return;
        }
        if (e->b->ty.kind != TY_INT) {
            ERR(s, e->b->loc, "array index must be an 'int', not '%s'", tn(&e->b->ty));
            return;
        }
        e->ty = mkty(e->a->ty.elem);
        return;
    case E_CALL:
        check_call(s, e);
        return;
    case E_UNARY:
        check_expr(s, e->a);
        e->ty = mkty(TY_ERROR);
        if (e->a->ty.kind == TY_ERROR)
            return;
        if (e->op == '-' && is_num(e->a->ty.kind))
            e->ty = e->a->ty;
        else if (e->op == '!' && e->a->ty.kind == TY_BOOL)
            e->ty = e->a->ty;
        else
            ERR(s, e->loc, "operator '%c' cannot be applied to '%s'", e->op, tn(&e->a->ty));
        return;
    case E_BINARY:
        check_binary(s, e);
        return;
    case E_COND:
        check_expr(s, e->a);
        check_expr(s, e->b);
        check_expr(s, e->c);
        e->ty = mkty(TY_ERROR);
        if (e->a->ty.kind != TY_ERROR && e->a->ty.kind != TY_BOOL)
            ERR(s, e->a->loc, "condition must be 'bool', not '%s'", tn(&e->a->ty));
        if (e->a->ty.kind != TY_BOOL || e->b->ty.kind == TY_ERROR || e->c->ty.kind == TY_ERROR)
            return;
        if ((e->b->ty.kind == TY_TABLE || e->b->ty.kind == TY_JSON_ARRAY) &&
            (e->c->ty.kind == TY_TABLE || e->c->ty.kind == TY_JSON_ARRAY))
            e->ty = mkty(TY_JSON_ARRAY);
        else if (type_eq(&e->b->ty, &e->c->ty) && e->b->ty.kind != TY_TABLE && e->b->ty.kind != TY_ROW)
            set_ty(s, e, e->b->ty);
        else if (is_num(e->b->ty.kind) && is_num(e->c->ty.kind))
            e->ty = mkty(TY_FLOAT);
        else
            ERR(s, e->loc, "the branches of '?:' have different types '%s' and '%s'",
                tn(&e->b->ty), tn(&e->c->ty));
        return;
    case E_OBJECT:
        check_object(s, e);
        return;
    case E_ARRAY:
        check_array_lit(s, e);
        return;
    case E_QUERY: {
        struct ast_type rt;
        check_query(s, e, &rt, NULL);
        return;
    }
    }
}

/* Checks a condition: must be bool. */
static void check_cond(struct sema *s, struct ast_expr *e)
{
    check_expr(s, e);
    if (e->ty.kind != TY_ERROR && e->ty.kind != TY_BOOL)
        ERR(s, e->loc, "condition must be 'bool', not '%s'", tn(&e->ty));
}

/* ---- views -------------------------------------------------------------------- */

static void check_view(struct sema *s, struct sym *v)
{
    struct sema save;
    if (v->state == 2)
        return;
    if (v->state == 1) {
        ERR(s, v->decl->name_loc, "view '%s' includes itself", v->name);
        v->state = 3;
        return;
    }
    if (v->state == 3)
        return;
    v->state = 1;
    save = *s;
    s->locals = (struct nmap){ 0 };     /* the caller's locals are not visible */
    s->cur = v->decl;
    s->in_view = true;
    s->cur_view = v;
    s->has_me = false;
    s->has_msg = false;
    s->scope = NULL;
    s->loops = 0;
    s->where = arena_alloc(s->A, strlen(v->name) + 16);
    sprintf((char *)s->where, "view '%s'", v->name);
    for (struct ast_entry *en = v->decl->entries; en; en = en->next) {
        check_expr(s, en->value);
        if (en->value->ty.kind == TY_ERROR)
            continue;
        if (!en->key) {
            if (en->value->ty.kind != TY_OBJECT && en->value->ty.kind != TY_ROW)
                ERR(s, en->value->loc, "only an object can be spread, not a '%s'", tn(&en->value->ty));
        } else {
            check_json(s, en->value);
        }
    }
    {
        struct call_edge *calls = s->calls;
        int nrows = s->nrows;
        *s = save;
        s->calls = calls;
        s->nrows = nrows;
    }
    if (v->state == 1)
        v->state = 2;
}

/* ---- statements -------------------------------------------------------------- */

static void check_block(struct sema *s, struct ast_stmt *body);

static bool storable(enum type_kind k)
{
    return is_scalar(k) || k == TY_ARRAY || k == TY_PLAYER;
}

/* Checks an assignment target; returns its description for messages in
 * what (e.g. "'int' field 'total'"), or false if it is not assignable
 * (reported). */
static bool check_target(struct sema *s, struct ast_expr *t, char *what, size_t n)
{
    struct ast_expr *base = t;
    check_expr(s, t);
    if (t->ty.kind == TY_ERROR)
        return false;
    if (t->kind == E_INDEX) {
        base = t->a;
        while (base->kind == E_INDEX)
            base = base->a;
    }
    if (base->kind == E_NAME) {
        struct sym *y = base->sym;
        if (!y)
            return false;
        switch (y->kind) {
        case SYM_LOCAL:
        case SYM_PARAM:
            break;
        case SYM_FOR_INT:
        case SYM_FOR_PLAYER:
        case SYM_FOR_ROW:
            ERR(s, base->loc, "cannot assign to loop variable '%s'", y->name);
            return false;
        case SYM_CONST:
            ERR(s, base->loc, "cannot assign to constant '%s'", y->name);
            return false;
        default:
            ERR(s, base->loc, "cannot assign to '%s'", y->name);
            return false;
        }
        if (t == base)
            snprintf(what, n, "'%s' variable '%s'", tn(&t->ty), y->name);
        else
            snprintf(what, n, "'%s' element of '%s'", tn(&t->ty), y->name);
        return true;
    }
    if (base->kind == E_FIELD && base->sym) {
        struct sym *y = base->sym;
        switch (y->kind) {
        case SYM_GROUP_FIELD:
        case SYM_PLAYER_FIELD:
        case SYM_ROW_FIELD:
            break;
        case SYM_MSG_FIELD:
            ERR(s, base->loc, "cannot assign to message field 'msg.%s'", y->name);
            return false;
        case SYM_PLAYER_ID:
        case SYM_ROW_ID:
        case SYM_PLAYER_PAGE:
            ERR(s, base->loc, "cannot assign to read-only field '%s'", y->name);
            return false;
        default:
            ERR(s, base->loc, "cannot assign to this expression");
            return false;
        }
        if (t == base)
            snprintf(what, n, "'%s' field '%s'", tn(&t->ty), y->name);
        else
            snprintf(what, n, "'%s' element of '%s'", tn(&t->ty), y->name);
        return true;
    }
    ERR(s, t->loc, "cannot assign to this expression");
    return false;
}

static void check_assign(struct sema *s, struct ast_stmt *st)
{
    char what[160];
    /* Writing a local (`x = 1;`, `c[0] = 2;`, `n += 1;`) is not reading it:
     * a local only ever written gets `(void)x;` in the C (gcc would warn
     * that it is set but not used). */
    struct ast_expr *base = st->target;
    while (base && base->kind == E_INDEX)
        base = base->a;
    struct sym *local = base && base->kind == E_NAME ? find_local(s, base->name) : NULL;
    bool was_read = local && local->used;
    s->assigning = st->op == '=' && st->target && st->target->kind == E_NAME;
    bool ok = check_target(s, st->target, what, sizeof what);
    s->assigning = false;
    if (local && local->kind == SYM_LOCAL)
        local->used = was_read;
    check_expr(s, st->a);
    if (!ok || st->a->ty.kind == TY_ERROR)
        return;
    struct ast_type *t = &st->target->ty, *v = &st->a->ty;
    if (st->op == '=') {
        if (!type_eq(t, v)) {
            ERR(s, st->a->loc, "cannot assign '%s' to %s", tn(v), what);
            int_to_float_help(s, t, st->a);
        }
        return;
    }
    /* Compound assignment: t op v must have t's type. */
    if (st->op == '+' && t->kind == TY_STRING && v->kind == TY_STRING)
        return;
    if (!is_num(t->kind) || !is_num(v->kind)) {
        ERR(s, st->loc, "operator '%c=' cannot be applied to '%s' and '%s'", st->op, tn(t), tn(v));
        return;
    }
    if (t->kind == TY_INT && v->kind == TY_FLOAT)
        ERR(s, st->a->loc, "cannot assign 'float' to %s", what);
}

/* Does the statement list always end by returning (or rejecting)? */
static bool always_returns(struct ast_stmt *st)
{
    for (; st; st = st->next) {
        switch (st->kind) {
        case S_RETURN:
        case S_REJECT:
            return true;
        case S_IF:
            if (st->els && always_returns(st->body) && always_returns(st->els))
                return true;
            break;
        case S_BLOCK:
            if (always_returns(st->body))
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

static void check_stmt(struct sema *s, struct ast_stmt *st)
{
    switch (st->kind) {
    case S_LET: {
        struct ast_type t;
        check_expr(s, st->a);
        t = st->a->ty;
        if (st->decl_type) {
            if (!resolve_type(s, st->decl_type)) {
                t = mkty(TY_ERROR);
            } else if (st->a->ty.kind != TY_ERROR && !type_eq(st->decl_type, &st->a->ty)) {
                ERR(s, st->a->loc, "cannot initialize '%s' variable '%s' with '%s'",
                    tn(st->decl_type), st->name, tn(&st->a->ty));
                int_to_float_help(s, st->decl_type, st->a);
                t = *st->decl_type;
            } else {
                t = *st->decl_type;
            }
        }
        if (t.kind != TY_ERROR && !storable(t.kind)) {
            ERR(s, st->a->loc, "a '%s' cannot be stored in a variable", tn(&t));
            t = mkty(TY_ERROR);
        }
        if (t.kind == TY_VOID) {
            t = mkty(TY_ERROR);
        }
        st->sym = declare_local(s, SYM_LOCAL, st->name, st->name_loc, t);
        return;
    }
    case S_ASSIGN:
        check_assign(s, st);
        return;
    case S_IF:
        check_cond(s, st->a);
        check_block(s, st->body);
        if (st->els)
            check_block(s, st->els);
        return;
    case S_FOR_RANGE:
        check_expr(s, st->a);
        check_expr(s, st->b);
        if (st->a->ty.kind != TY_ERROR && st->a->ty.kind != TY_INT)
            ERR(s, st->a->loc, "range bounds must be 'int', not '%s'", tn(&st->a->ty));
        if (st->b->ty.kind != TY_ERROR && st->b->ty.kind != TY_INT)
            ERR(s, st->b->loc, "range bounds must be 'int', not '%s'", tn(&st->b->ty));
        push_scope(s);
        st->sym = declare_local(s, SYM_FOR_INT, st->name, st->name_loc, mkty(TY_INT));
        s->loops++;
        check_block(s, st->body);
        s->loops--;
        pop_scope(s);
        return;
    case S_FOR_PLAYERS:
        push_scope(s);
        st->sym = declare_local(s, SYM_FOR_PLAYER, st->name, st->name_loc, mkty(TY_PLAYER));
        s->loops++;
        check_block(s, st->body);
        s->loops--;
        pop_scope(s);
        return;
    case S_FOR_TABLE: {
        /* The loop variable is declared first (its type is known from the
         * table's name alone) so that the query's row is that variable:
         * `for r in offer where r.price < 10` works, and bare field names
         * in the where clause read the same row. */
        struct ast_type rt = mkty(TY_ERROR);
        struct sym *ty = NULL, *lv;
        if (st->a->kind == E_QUERY || st->a->kind == E_NAME)
            ty = find_global(s, st->a->name);
        if (ty && ty->kind == SYM_TABLE) {
            rt = mkty(TY_ROW);
            rt.table = ty->decl;
        }
        push_scope(s);
        lv = declare_local(s, SYM_FOR_ROW, st->name, st->name_loc, rt);
        st->sym = lv;
        if (st->a->kind != E_QUERY && st->a->kind != E_NAME) {
            check_expr(s, st->a);
            if (st->a->ty.kind != TY_ERROR)
                ERR(s, st->a->loc, "expected a range 'A..B', 'players' or a table after 'in'");
        } else {
            struct ast_type rt2;
            check_query(s, st->a, &rt2, lv->cname);
            if (st->a->ty.kind == TY_ERROR)
                lv->ty = mkty(TY_ERROR);
        }
        s->loops++;
        check_block(s, st->body);
        s->loops--;
        pop_scope(s);
        return;
    }
    case S_REQUIRE:
        check_cond(s, st->a);
        if (st->b) {
            check_expr(s, st->b);
            if (st->b->ty.kind != TY_ERROR && st->b->ty.kind != TY_STRING)
                ERR(s, st->b->loc, "'require ... else' needs a 'string' reason, not '%s'",
                    tn(&st->b->ty));
        }
        return;
    case S_REJECT:
        check_expr(s, st->a);
        if (st->a->ty.kind != TY_ERROR && st->a->ty.kind != TY_STRING)
            ERR(s, st->a->loc, "'reject' needs a 'string' reason, not '%s'", tn(&st->a->ty));
        return;
    case S_SEND:
        if (st->to == TO_ME || st->to == TO_OTHERS) {
            if (!s->has_me)
                ERR(s, st->loc, "'send %s' is not available in %s",
                    st->to == TO_ME ? "me" : "others", s->where);
        } else if (st->to == TO_PLAYER && st->target) {
            struct ast_expr *t = st->target;
            check_expr(s, t);
            if (t->ty.kind != TY_ERROR && t->ty.kind != TY_INT && t->ty.kind != TY_PLAYER)
                ERR(s, t->loc, "player id must be an 'int', not '%s'", tn(&t->ty));
        }
        check_expr(s, st->a);
        check_json(s, st->a);
        return;
    case S_INSERT: {
        struct sym *y = find_global(s, st->name);
        if (!y || y->kind != SYM_TABLE) {
            ERR(s, st->name_loc, "unknown table '%s'", st->name);
            suggest_global(s, st->name, SYM_TABLE);
            for (struct ast_entry *en = st->entries; en; en = en->next)
                check_expr(s, en->value);
            return;
        }
        st->sym = y;
        struct sema_record *rec = record_of_table(s, y->decl);
        for (struct ast_entry *en = st->entries; en; en = en->next) {
            check_expr(s, en->value);
            if (!en->key) {
                ERR(s, en->loc, "'insert' takes 'column: value' entries, not a spread");
                continue;
            }
            struct ast_field *col = NULL;
            if (strcmp(en->key, "id") == 0) {
                ERR(s, en->loc, "cannot set 'id': rows are numbered 1, 2, 3... as they are inserted");
                continue;
            }
            intptr_t at = (intptr_t)nmap_get(rec ? rec->index : NULL, en->key);
            if (at > 0)
                col = rec->fields[at - 1].field;
            if (!col) {
                const char *c[MAX_CANDS];
                int n = 0;
                for (int i = 0; rec && i < rec->n && n < MAX_CANDS - 1; i++)
                    c[n++] = rec->fields[i].field->name;
                c[n] = NULL;
                ERR(s, en->loc, "unknown field '%s' on table '%s'", en->key, y->name);
                suggest(s, en->key, c);
                continue;
            }
            for (struct ast_entry *o = st->entries; o != en; o = o->next)
                if (o->key && strcmp(o->key, en->key) == 0) {
                    ERR(s, en->loc, "duplicate field '%s'", en->key);
                    break;
                }
            if (en->value->ty.kind != TY_ERROR && col->type.kind != TY_ERROR &&
                !type_eq(&col->type, &en->value->ty)) {
                ERR(s, en->value->loc, "cannot assign '%s' to '%s' field '%s'",
                    tn(&en->value->ty), tn(&col->type), col->name);
                int_to_float_help(s, &col->type, en->value);
            }
        }
        return;
    }
    case S_DELETE:
        check_expr(s, st->a);
        if (st->a->ty.kind != TY_ERROR &&
            !(st->a->kind == E_NAME && st->a->sym &&
              ((struct sym *)st->a->sym)->kind == SYM_FOR_ROW))
            ERR(s, st->a->loc, "'delete' needs a table loop variable");
        return;
    case S_FINISH:
        return;
    case S_START_TIMER:
        check_expr(s, st->a);
        if (st->a->ty.kind != TY_ERROR && st->a->ty.kind != TY_INT)
            ERR(s, st->a->loc, "a timer delay must be an 'int' duration, not '%s'", tn(&st->a->ty));
        /* fallthrough */
    case S_STOP_TIMER: {
        int i;
        for (i = 0; i < s->prog->n_timers; i++)
            if (strcmp(s->prog->timers[i].name, st->name) == 0)
                break;
        if (i == s->prog->n_timers) {
            const char *c[MAX_CANDS];
            int n = 0;
            for (int k = 0; k < s->prog->n_timers && n < MAX_CANDS - 1; k++)
                c[n++] = s->prog->timers[k].name;
            c[n] = NULL;
            ERR(s, st->name_loc, "unknown timer '%s'", st->name);
            suggest(s, st->name, c);
        }
        return;
    }
    case S_RETURN:
        if (s->cur->kind == D_ON) {
            if (st->a) {
                ERR(s, st->a->loc, "a handler cannot return a value");
                check_expr(s, st->a);
            }
            return;
        }
        if (!s->cur->ret) {
            if (st->a) {
                ERR(s, st->a->loc, "fn '%s' does not return a value", s->cur->name);
                check_expr(s, st->a);
            }
            return;
        }
        if (!st->a) {
            ERR(s, st->loc, "fn '%s' must return a value of type '%s'", s->cur->name, tn(s->cur->ret));
            return;
        }
        check_expr(s, st->a);
        if (st->a->ty.kind != TY_ERROR && s->cur->ret->kind != TY_ERROR &&
            !type_eq(&st->a->ty, s->cur->ret)) {
            ERR(s, st->a->loc, "fn '%s' returns '%s', not '%s'", s->cur->name,
                tn(s->cur->ret), tn(&st->a->ty));
            int_to_float_help(s, s->cur->ret, st->a);
        }
        return;
    case S_BREAK:
    case S_CONTINUE:
        if (s->loops == 0)
            ERR(s, st->loc, "'%s' outside a loop", st->kind == S_BREAK ? "break" : "continue");
        return;
    case S_EXPR:
        check_expr(s, st->a);
        if (st->a->kind != E_CALL && st->a->ty.kind != TY_ERROR)
            ERR(s, st->a->loc, "this expression does nothing as a statement");
        return;
    case S_BLOCK:
        check_block(s, st->body);
        return;
    }
}

static void check_block(struct sema *s, struct ast_stmt *body)
{
    push_scope(s);
    for (struct ast_stmt *st = body; st; st = st->next)
        check_stmt(s, st);
    pop_scope(s);
}

/* Sets up the context for a fn or handler body. */
static void begin_body(struct sema *s, struct ast_decl *d, const char *where, bool me, struct ast_decl *msg)
{
    s->cur = d;
    s->where = where;
    s->has_me = me;
    s->has_msg = msg != NULL;
    s->cur_msg = msg;
    s->in_view = false;
    s->cur_view = NULL;
    s->scope = NULL;
    s->locals = (struct nmap){ 0 };
    s->loops = 0;
    s->nlocals = 0;
    push_scope(s);
}

static void check_fn(struct sema *s, struct ast_decl *d)
{
    char *where = arena_alloc(s->A, strlen(d->name) + 8);
    sprintf(where, "fn '%s'", d->name);
    begin_body(s, d, where, false, NULL);
    for (struct ast_field *p = d->fields; p; p = p->next) {
        for (struct ast_field *q = d->fields; q != p; q = q->next)
            if (strcmp(q->name, p->name) == 0) {
                ERR(s, p->loc, "duplicate parameter '%s'", p->name);
                break;
            }
        struct sym *y = declare_local(s, SYM_PARAM, p->name, p->loc, p->type);
        y->field = p;
        y->used = true;
    }
    check_block(s, d->body);
    if (d->ret && d->ret->kind != TY_ERROR && !always_returns(d->body))
        ERR(s, d->name_loc, "fn '%s' can end without returning a value", d->name);
    pop_scope(s);
}

static void check_handler(struct sema *s, struct ast_decl *d)
{
    char *where = arena_alloc(s->A, (d->name ? strlen(d->name) : 0) + 24);
    struct ast_decl *msg = NULL;
    bool me = true;
    switch (d->on) {
    case ON_LOAD:
        sprintf(where, "'on load'");
        break;
    case ON_START:
        sprintf(where, "'on start'");
        me = false;
        break;
    case ON_TIMER:
        sprintf(where, "'on timer %s'", d->name);
        me = false;
        break;
    case ON_MESSAGE:
        sprintf(where, "'on %s'", d->name);
        msg = d->sym ? ((struct sym *)d->sym)->decl : NULL;
        if (!msg)
            return;     /* unknown message, reported */
        break;
    }
    begin_body(s, d, where, me, msg);
    check_block(s, d->body);
    pop_scope(s);
}

/* ---- test blocks (livec test) --------------------------------------------------- */

/* Folds `player(E)`'s E in a test step to an int literal in 1..players, or
 * reports why it cannot be.  Returns false after an error. */
static bool check_test_player(struct sema *s, struct ast_test_step *t)
{
    struct cval *v = const_eval(s, t->player);
    if (!v)
        return false;
    if (v->kind != TY_INT) {
        ERR(s, t->player->loc, "player id must be an 'int', not '%s'", kind_name(v->kind));
        return false;
    }
    if (s->prog->players && (v->i < 1 || v->i > s->prog->players)) {
        ERR(s, t->player->loc, "player %" PRId64 " does not exist: the group has players 1..%" PRId64,
            v->i, s->prog->players);
        return false;
    }
    struct ast_expr *e = zalloc(s, sizeof *e);
    e->kind = E_INT;
    e->loc = t->player->loc;
    e->ival = v->i;
    e->ty = mkty(TY_INT);
    t->player = e;
    return true;
}

/*
 * test ::= 'test' STRING '{' step* '}'   (parser.y; docs/testing.md)
 * Each step's expression is checked like one in a handler: `group`,
 * `player(i)`, constants, views and fns are in scope; `me` is player P in
 * `player(P) sends/receives` (so `...state` works for a view with `me`)
 * and absent elsewhere; there is no `msg`.  `seed` must come first and be
 * a constant; player ids are constants in 1..players.
 */
static void check_test(struct sema *s, struct ast_decl *d, struct nmap *seen)
{
    char *where = arena_alloc(s->A, strlen(d->name) + 16);
    bool started = false;
    sprintf(where, "test \"%s\"", d->name);
    struct ast_decl *first = nmap_get(seen, d->name);
    if (first) {
        ERR(s, d->name_loc, "duplicate test \"%s\"", d->name);
        diag_note(s->d, "the first is on line %d", first->loc.line);
    } else {
        nmap_put(s, seen, d->name, d);
    }
    for (struct ast_test_step *t = d->test_steps; t; t = t->next) {
        bool me = t->kind == T_SEND || t->kind == T_RECEIVE;
        if (t->player && !check_test_player(s, t))
            continue;
        begin_body(s, d, where, me, NULL);
        switch (t->kind) {
        case T_SEED: {
            if (started)
                ERR(s, t->loc, "'seed' must come before the other steps of a test");
            started = true;
            struct cval *v = const_eval(s, t->a);
            if (v && v->kind != TY_INT)
                ERR(s, t->a->loc, "the seed must be an 'int', not '%s'", kind_name(v->kind));
            else if (v)
                t->a->ival = v->i;      /* emit reads the folded seed here */
            break;
        }
        case T_SEND:
        case T_RECEIVE:
            check_expr(s, t->a);
            break;
        case T_EXPECT:
            check_cond(s, t->a);
            break;
        case T_AFTER:
            check_expr(s, t->a);
            if (t->a->ty.kind != TY_ERROR && t->a->ty.kind != TY_INT)
                ERR(s, t->a->loc, "'after' takes a duration (an 'int' of milliseconds), not '%s'",
                    tn(&t->a->ty));
            break;
        default:
            break;
        }
        pop_scope(s);
        started = true;
    }
}

/* ---- whole program ------------------------------------------------------------ */

/* DFS over the call graph from fn `at`; path holds the fns on the stack. */
static void find_cycles(struct sema *s, struct ast_decl *at, struct ast_decl **path, int depth, int nfns)
{
    struct sym *y = at->sym;
    y->state = 1;
    path[depth] = at;
    for (struct call_edge *c = y->out; c; c = c->next_out) {
        struct sym *t = c->to->sym;
        if (t->state == 1) {
            /* Report the cycle from the callee back to itself. */
            size_t len = 64;
            int start = depth;
            while (start > 0 && path[start] != c->to)
                start--;
            for (int i = start; i <= depth; i++)
                len += strlen(path[i]->name) + 4;
            len += strlen(c->to->name);
            char *msg = arena_alloc(s->A, len);
            strcpy(msg, "recursive call cycle: ");
            for (int i = start; i <= depth; i++) {
                strcat(msg, path[i]->name);
                strcat(msg, " -> ");
            }
            strcat(msg, c->to->name);
            ERR(s, c->loc, "%s", msg);
        } else if (t->state == 0 && depth + 1 < nfns) {
            find_cycles(s, c->to, path, depth + 1, nfns);
        }
    }
    y->state = 2;
}

static void collect_timers_stmt(struct sema *s, struct ast_stmt *st, struct sema_timer *buf, int *n);

static void add_timer(struct sema_timer *buf, int *n, const char *name, struct ast_decl *h)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(buf[i].name, name) == 0) {
            if (h && !buf[i].handler)
                buf[i].handler = h;
            return;
        }
    buf[*n].name = name;
    buf[*n].handler = h;
    (*n)++;
}

static void collect_timers_stmt(struct sema *s, struct ast_stmt *st, struct sema_timer *buf, int *n)
{
    for (; st; st = st->next) {
        if (st->kind == S_START_TIMER && st->name) {
            add_timer(buf, n, st->name, NULL);
            if (!nmap_get(&s->started, st->name))
                nmap_put(s, &s->started, st->name, st);
        }
        if (st->kind == S_STOP_TIMER && st->name) {    /* declared by use, too */
            add_timer(buf, n, st->name, NULL);
            if (!nmap_get(&s->stopped, st->name))
                nmap_put(s, &s->stopped, st->name, st);
        }
        collect_timers_stmt(s, st->body, buf, n);
        collect_timers_stmt(s, st->els, buf, n);
    }
}

static int count_timer_stmts(struct ast_stmt *st)
{
    int n = 0;
    for (; st; st = st->next)
        n += (st->kind == S_START_TIMER || st->kind == S_STOP_TIMER) + count_timer_stmts(st->body) +
             count_timer_stmts(st->els);
    return n;
}

/* The names of the program's timers other than timer i (only those with an
 * `on timer` when handled), NULL-terminated in c[MAX_CANDS], for a
 * did-you-mean. */
static void other_timers(struct sema *s, int i, bool handled, const char **c)
{
    int n = 0;
    for (int k = 0; k < s->prog->n_timers && n < MAX_CANDS - 1; k++)
        if (k != i && (!handled || s->prog->timers[k].handler))
            c[n++] = s->prog->timers[k].name;
    c[n] = NULL;
}

int sema_check(struct ast_file *f, struct diag *d)
{
    struct sema S, *s = &S;
    struct ast_decl *x, *game = NULL;
    int errors0 = d->errors, nmsg = 0, ntab = 0, npage = 0, ntimer = 0, nfn = 0;

    memset(s, 0, sizeof *s);
    s->f = f;
    s->d = d;
    s->A = &f->arena;
    s->prog = zalloc(s, sizeof *s->prog);

    /* The game block: exactly one, first. */
    for (x = f->decls; x; x = x->next) {
        if (x->kind != D_GAME)
            continue;
        if (game) {
            ERR(s, x->loc, "duplicate 'game' declaration");
            diag_note(d, "the game was first declared on line %d", game->loc.line);
            continue;
        }
        game = x;
        if (x != f->decls)
            ERR(s, x->loc, "'game' must be the first declaration");
    }
    if (!game) {
        struct loc l = { 1, 1, 1 };
        if (f->decls)
            l = f->decls->loc;
        ERR(s, l, "missing 'game' declaration");
        diag_help(d, "start the file with 'game NAME { players N; }'");
    }

    /* Pass 1: names and counts. */
    for (x = f->decls; x; x = x->next) {
        switch (x->kind) {
        case D_CONST: add_global(s, SYM_CONST, x); break;
        case D_VIEW: add_global(s, SYM_VIEW, x); break;
        case D_FN: if (add_global(s, SYM_FN, x)) nfn++; break;
        case D_MESSAGE: if (add_global(s, SYM_MESSAGE, x)) nmsg++; break;
        case D_TABLE: if (add_global(s, SYM_TABLE, x)) ntab++; break;
        case D_PAGE: npage++; break;
        case D_ON:
            if (x->on == ON_TIMER)
                ntimer++;
            ntimer += count_timer_stmts(x->body);
            break;
        default:
            break;
        }
        if (x->kind == D_FN)
            ntimer += count_timer_stmts(x->body);
    }
    s->prog->game = game;
    s->prog->messages = arena_alloc(s->A, sizeof(void *) * (size_t)(nmsg + 1));
    s->prog->handlers = arena_alloc(s->A, sizeof(void *) * (size_t)(nmsg + 1));
    s->prog->msgfields = arena_alloc(s->A, sizeof(struct sema_record) * (size_t)(nmsg + 1));
    s->prog->tables = arena_alloc(s->A, sizeof(void *) * (size_t)(ntab + 1));
    s->prog->tabfields = arena_alloc(s->A, sizeof(struct sema_record) * (size_t)(ntab + 1));
    s->prog->pages = arena_alloc(s->A, sizeof(struct sema_page) * (size_t)(npage + 1));
    s->prog->timers = arena_alloc(s->A, sizeof(struct sema_timer) * (size_t)(ntimer + 1));

    for (x = f->decls; x; x = x->next) {
        struct sym *y = x->sym;
        if (x->kind == D_MESSAGE && y && y->decl == x) {
            y->index = s->prog->n_messages;
            s->prog->messages[s->prog->n_messages++] = x;
        } else if (x->kind == D_TABLE && y && y->decl == x) {
            y->index = s->prog->n_tables;
            s->prog->tables[s->prog->n_tables++] = x;
        }
    }

    if (game)
        check_game(s, game);

    /* Consts first (they may be used by array sizes anywhere). */
    for (x = f->decls; x; x = x->next)
        if (x->kind == D_CONST && x->sym)
            check_const_sym(s, x->sym);

    /* Blocks of fields. */
    for (x = f->decls; x; x = x->next) {
        struct sema_record *rec = NULL;
        if (x->kind == D_GROUP)
            rec = &s->prog->group;
        else if (x->kind == D_PLAYER)
            rec = &s->prog->player;
        if (rec) {
            if (rec->decl) {
                ERR(s, x->loc, "duplicate '%s' block", x->kind == D_GROUP ? "group" : "player");
                diag_note(d, "the first is on line %d", rec->decl->loc.line);
                continue;
            }
            check_fields(s, x, rec, false);
        } else if (x->kind == D_MESSAGE && x->sym && ((struct sym *)x->sym)->decl == x) {
            check_fields(s, x, &s->prog->msgfields[((struct sym *)x->sym)->index], true);
        } else if (x->kind == D_TABLE && x->sym && ((struct sym *)x->sym)->decl == x) {
            check_fields(s, x, &s->prog->tabfields[((struct sym *)x->sym)->index], false);
        } else if (x->kind == D_PAGE) {
            struct sema_page *pg = &s->prog->pages[s->prog->n_pages];
            for (int i = 0; i < s->prog->n_pages; i++)
                if (strcmp(s->prog->pages[i].decl->name, x->name) == 0) {
                    ERR(s, x->name_loc, "page '%s' is already declared", x->name);
                    diag_note(d, "'%s' was first declared on line %d", x->name,
                              s->prog->pages[i].decl->name_loc.line);
                    goto next_decl;
                }
            s->prog->n_pages++;
            check_page(s, x, pg);
        }
    next_decl:;
    }

    /* fn signatures. */
    for (x = f->decls; x; x = x->next) {
        if (x->kind != D_FN)
            continue;
        for (struct ast_field *p = x->fields; p; p = p->next) {
            resolve_type(s, &p->type);
            if (p->type.kind != TY_ERROR && !is_scalar(p->type.kind) && p->type.kind != TY_ARRAY)
                ERR(s, p->type.loc, "a parameter must be int, float, bool, string or an array");
        }
        if (x->ret)
            resolve_type(s, x->ret);
    }

    /* Handlers: messages, duplicates, timers. */
    struct nmap seen_handlers = { 0 };  /* "load", "start", "m:NAME", "t:NAME" -> decl */
    for (x = f->decls; x; x = x->next) {
        if (x->kind != D_ON)
            continue;
        {
            const char *key = x->on == ON_LOAD ? "load" : x->on == ON_START ? "start" : NULL;
            if (!key) {
                size_t n = strlen(x->name ? x->name : "") + 3;
                char *k = arena_alloc(s->A, n);
                snprintf(k, n, "%c:%s", x->on == ON_TIMER ? 't' : 'm', x->name ? x->name : "");
                key = k;
            }
            struct ast_decl *o = nmap_get(&seen_handlers, key);
            if (!o) {
                nmap_put(s, &seen_handlers, key, x);
            } else {
                if (x->on == ON_LOAD || x->on == ON_START)
                    ERR(s, x->loc, "duplicate handler 'on %s'", x->on == ON_LOAD ? "load" : "start");
                else
                    ERR(s, x->name_loc, "duplicate handler 'on %s%s'",
                        x->on == ON_TIMER ? "timer " : "", x->name);
                diag_note(d, "the first is on line %d", o->loc.line);
                x->kind = D_TEST;       /* skip it from now on (a test */
                x->name = NULL;         /* without a name is no test) */
                x->sym = NULL;
            }
        }
        if (x->kind != D_ON)
            continue;
        if (x->on == ON_LOAD)
            s->prog->on_load = x;
        else if (x->on == ON_START)
            s->prog->on_start = x;
        else if (x->on == ON_TIMER)
            add_timer(s->prog->timers, &s->prog->n_timers, x->name, x);
        else {
            struct sym *y = nmap_get(&s->message_index, x->name);
            if (!y || y->kind != SYM_MESSAGE) {
                ERR(s, x->name_loc, "unknown message '%s'", x->name);
                suggest_global(s, x->name, SYM_MESSAGE);
                x->sym = NULL;
                continue;
            }
            x->sym = y;
            s->prog->handlers[y->index] = x;
        }
    }
    for (x = f->decls; x; x = x->next)
        if (x->kind == D_ON || x->kind == D_FN)
            collect_timers_stmt(s, x->body, s->prog->timers, &s->prog->n_timers);

    /* Pass 2: bodies, in source order. */
    struct nmap seen_tests = { 0 };     /* test name -> its first decl */
    for (x = f->decls; x; x = x->next) {
        if (x->kind == D_VIEW && x->sym && ((struct sym *)x->sym)->decl == x)
            check_view(s, x->sym);
        else if (x->kind == D_FN && x->sym && ((struct sym *)x->sym)->decl == x)
            check_fn(s, x);
        else if (x->kind == D_ON)
            check_handler(s, x);
        else if (x->kind == D_TEST && x->name)
            check_test(s, x, &seen_tests);
    }

    /* Pass 3: recursion, unhandled messages. */
    if (nfn > 0) {
        struct ast_decl **path = arena_alloc(s->A, sizeof(void *) * (size_t)(nfn + 1));
        for (x = f->decls; x; x = x->next)
            if (x->kind == D_FN && x->sym && ((struct sym *)x->sym)->decl == x)
                ((struct sym *)x->sym)->state = 0;
        /* Each fn's outgoing calls, in the order of s->calls. */
        for (struct call_edge *c = s->calls; c; c = c->next) {
            struct sym *from = c->from ? c->from->sym : NULL;
            if (!from || c->from->kind != D_FN || from->decl != c->from)
                continue;
            if (from->out_tail)
                from->out_tail->next_out = c;
            else
                from->out = c;
            from->out_tail = c;
        }
        for (x = f->decls; x; x = x->next)
            if (x->kind == D_FN && x->sym && ((struct sym *)x->sym)->decl == x &&
                ((struct sym *)x->sym)->state == 0)
                find_cycles(s, x, path, 0, nfn);
    }
    /* A handler for a timer nothing starts is dead code. */
    for (int i = 0; i < s->prog->n_timers; i++) {
        const struct sema_timer *t = &s->prog->timers[i];
        if (t->handler && !nmap_get(&s->started, t->name)) {
            diag_warning(d, t->handler->name_loc, "timer '%s' is never started", t->name);
            diag_help(d, "start it in a handler or fn: 'start timer %s after 10s;'", t->name);
        } else if (!t->handler && !nmap_get(&s->started, t->name)) {
            struct ast_stmt *stop = nmap_get(&s->stopped, t->name);
            const char *c[MAX_CANDS];
            other_timers(s, i, false, c);
            diag_warning(d, stop->name_loc, "timer '%s' is never started: stopping it does nothing",
                         t->name);
            suggest(s, t->name, c);
        } else if (!t->handler) {
            /* started, but nothing runs when it fires */
            struct ast_stmt *start = nmap_get(&s->started, t->name);
            const char *c[MAX_CANDS];
            other_timers(s, i, true, c);
            diag_warning(d, start->name_loc, "timer '%s' has no 'on timer %s': it fires and "
                         "nothing happens", t->name, t->name);
            const char *m = diag_suggest(t->name, c);
            if (m)
                diag_help(d, "did you mean '%s'?", m);
            else
                diag_help(d, "add 'on timer %s { ... }'", t->name);
        }
    }
    for (int i = 0; i < s->prog->n_messages; i++)
        if (!s->prog->handlers[i])
            diag_warning(d, s->prog->messages[i]->name_loc, "message '%s' has no handler",
                         s->prog->messages[i]->name);
    if (d->errors == errors0 && game)
        game->sym = s->prog;
    return d->errors - errors0;
}

/* The diag_keep filter of sema_check_after_syntax_errors. */
struct after_syntax {
    const struct ast_file *f;
    int lines[DIAG_ERROR_LINES_MAX];    /* lines of the syntax errors */
    int n;
    /* the words (identifiers, keywords) in the source of the declarations
     * that hold syntax errors, sorted: text the parser may have dropped */
    struct word { const char *p; size_t n; } *words;
    size_t n_words;
};

/* The lines [*start, *end) of the declaration that line is in: up to the
 * next one (a declaration the parser dropped belongs to the one before). */
static void decl_lines(const struct ast_file *f, int line, int *start, int *end)
{
    *start = 1;
    *end = INT_MAX;
    for (const struct ast_decl *x = f->decls; x; x = x->next) {
        if (x->loc.line <= line) {
            *start = x->loc.line;
        } else {
            *end = x->loc.line;
            break;
        }
    }
}

static int word_cmp(const void *x, const void *y)
{
    const struct word *a = x, *b = y;
    int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

static bool is_word_byte(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Fills a->words from src: every word on a line of a declaration that holds
 * a syntax error.  Out of memory: no words (then nothing is kept). */
static void collect_broken_words(struct after_syntax *a, const char *src, size_t len)
{
    int ranges[DIAG_ERROR_LINES_MAX][2];
    for (int i = 0; i < a->n; i++)
        decl_lines(a->f, a->lines[i], &ranges[i][0], &ranges[i][1]);
    size_t cap = 0;
    int line = 1;
    for (size_t k = 0; k < len;) {
        if (src[k] == '\n' || src[k] == '\r') {
            if (src[k] == '\n' || k + 1 >= len || src[k + 1] != '\n')
                line++;
            k++;
            continue;
        }
        if (!is_word_byte(src[k])) {
            k++;
            continue;
        }
        size_t w = k;
        while (k < len && is_word_byte(src[k]))
            k++;
        bool broken = false;
        for (int i = 0; i < a->n && !broken; i++)
            broken = line >= ranges[i][0] && line < ranges[i][1];
        if (!broken)
            continue;
        if (a->n_words == cap) {
            cap = cap ? 2 * cap : 256;
            struct word *more = realloc(a->words, cap * sizeof *more);
            if (!more) {
                free(a->words);
                a->words = NULL;
                a->n_words = 0;
                return;
            }
            a->words = more;
        }
        a->words[a->n_words++] = (struct word){ src + w, k - w };
    }
    if (a->n_words)
        qsort(a->words, a->n_words, sizeof *a->words, word_cmp);
}

/* Whether the word w (n bytes) occurs in a declaration with a syntax error. */
static bool in_broken_decl(const struct after_syntax *a, const char *w, size_t n)
{
    struct word key = { w, n };
    return a->words && bsearch(&key, a->words, a->n_words, sizeof key, word_cmp) != NULL;
}

static int keep_after_syntax(void *arg, struct loc loc, const char *msg, int warning)
{
    const struct after_syntax *a = arg;
    if (warning)
        return 0;
    if (strncmp(msg, "unknown ", 8) == 0 || strncmp(msg, "missing ", 8) == 0 ||
        strstr(msg, " has no ") || strstr(msg, "must be the first")) {
        /* May be the syntax error's doing -- a declaration it swallowed --
         * unless the name it is about appears nowhere in the declarations
         * that hold syntax errors (a typo elsewhere is still reported). */
        const char *q = strchr(msg, '\'');
        const char *q2 = q ? strchr(q + 1, '\'') : NULL;
        if (!q || !q2 || q2 == q + 1 || !a->words || in_broken_decl(a, q + 1, (size_t)(q2 - q - 1)))
            return 0;
    }
    int start, end;
    decl_lines(a->f, loc.line, &start, &end);
    for (int i = 0; i < a->n; i++)
        if (a->lines[i] >= start && a->lines[i] < end)
            return 0;
    return 1;
}

/* See sema.h. */
int sema_check_after_syntax_errors(struct ast_file *f, struct diag *d)
{
    struct after_syntax a = { .f = f, .n = d->n_error_lines };
    if (a.n >= DIAG_ERROR_LINES_MAX || f->too_deep)
        return 0;               /* too many to tell where they are; a tree too deep to walk */
    memcpy(a.lines, d->error_lines, (size_t)a.n * sizeof a.lines[0]);
    collect_broken_words(&a, d->src, d->src_len);
    int errors0 = d->errors;
    d->keep = keep_after_syntax;
    d->keep_arg = &a;
    sema_check(f, d);
    d->keep = NULL;
    d->keep_arg = NULL;
    d->dropping = 0;
    free(a.words);
    return d->errors - errors0;
}

const struct sema_prog *sema_prog(const struct ast_file *f)
{
    for (struct ast_decl *x = f->decls; x; x = x->next)
        if (x->kind == D_GAME)
            return x->sym;
    return NULL;
}
