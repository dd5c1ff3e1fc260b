/*
 * emit.c -- writes readable C for a checked .live file.
 *
 * The output follows DESIGN.md "Generated C": a banner, `#include "live.h"`,
 * then, in this order,
 *   state      the group and player structs, their lv_field tables, init
 *              functions and the GROUP/PLAYER access macros;
 *   arrays     one typedef'd struct per array value type (arrays are values:
 *              a local or a parameter is a copy) with load/store/eq helpers;
 *   messages   one struct and one lv_msg_field table per message;
 *   functions  views, fns and handlers in source order, each statement under
 *              a comment quoting its .live line;
 *   tables     decoders, the message/timer/page tables, the lv_game
 *              descriptor and main().
 *
 * Every int operation goes through live.h's checked lv_add/... with the
 * .live line; floats through lv_fchk; indexes through lv_index; writes
 * through GROUP_W/PLAYER_W.  Object literals are built in temporaries
 * (o1, o2, ...) by statements placed before the statement that uses them,
 * so the output needs no statement expressions and compiles with
 * -std=c11 -Wpedantic.
 *
 * Function bodies are written to a memory buffer first, so that parameters
 * the body never mentions can be marked `(void)x;` (warning-free output).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "sema.h"

/* Indentation of generated code, in spaces per level. */
#define INDENT 4

/* With --line-directives: a line written where the code that follows comes
 * from no .live statement.  emit_c() replaces it by `#line N "NAME.c"` (the
 * real line of the generated file) if a .live `#line` is in effect, or drops
 * it.  Strings and comments never hold a raw \001, so the line is unique. */
#define C_LINE_MARK "\001livec:c-line\001"

struct em {
    struct ast_file *f;
    const struct sema_prog *P;
    struct emit_options o;
    FILE *out;          /* where text goes now (file or a function buffer) */
    const char *G;      /* game name: the prefix of every generated name */
    const char *base;   /* base name of the .live file */
    int ind;            /* indentation level */
    int tmp;            /* temporaries in the current function */
    int last_line;      /* source line last quoted (not quoted twice in a row) */
    bool live_line;     /* a .live `#line` is in effect in the current function */
    const char **lines; /* start of each source line (1-based) */
    int nlines;
    struct ast_decl *cur_msg;   /* message of the handler being written, or NULL */
    FILE *qfns;         /* query functions, written before the bodies */
    int nq;             /* query functions so far (their numbers) */
    struct mangled *mangled;    /* C member names that differ from .live names */
    FILE *decls;        /* declarations of the current function's t temporaries */
    struct fn_eff *fn_effs;     /* what each fn may do (order of evaluation) */
};

/* A .live field name that cannot be a C member name as it is. */
struct mangled {
    const char *name;
    char *cname;
    struct mangled *next;
};

/* A variable that a query function's where clause reads from the code
 * around it, passed to the function as a parameter of the same name. */
enum cap_kind { CAP_VAL, CAP_ROW, CAP_MSG };
struct cap {
    enum cap_kind kind;
    const char *cname;
    struct ast_type ty;         /* CAP_VAL */
    struct ast_decl *table;     /* CAP_ROW */
};

/* ---- output helpers ------------------------------------------------------- */

/* realloc(), or exit 2 when there is no memory. */
static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fputs("livec: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

/* calloc() of n zeroed elements of size bytes (at least one), or exit 2. */
static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fputs("livec: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

/* open_memstream(), or exit 2 when there is no memory for it. */
static FILE *xmemstream(char **buf, size_t *len)
{
    FILE *fp = open_memstream(buf, len);
    if (!fp) {
        perror("livec: open_memstream");
        exit(2);
    }
    return fp;
}

static void out(struct em *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct em *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(m->out, fmt, ap);
    va_end(ap);
}

static void indent(struct em *m)
{
    fprintf(m->out, "%*s", m->ind * INDENT, "");
}

/* An indented line. */
static void line(struct em *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct em *m, const char *fmt, ...)
{
    va_list ap;
    indent(m);
    va_start(ap, fmt);
    vfprintf(m->out, fmt, ap);
    va_end(ap);
    fputc('\n', m->out);
}

/* The length of the well-formed UTF-8 sequence (RFC 3629) at s[0..n) that
 * starts with a byte >= 0x80, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;       /* overlong, a surrogate, past U+10FFFF */
    return len;
}

/* Writes s (n bytes) as the body of a C string literal.  UTF-8 text is
 * written as it is (readable); a byte outside well-formed UTF-8 (a template
 * in Latin-1) as an octal escape, which every compiler reads the same. */
static void cstr_body(FILE *fp, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t len = utf8_len((const unsigned char *)s + i, n - i);
            if (len == 0) {
                fprintf(fp, "\\%03o", c);
            } else {
                fwrite(s + i, 1, len, fp);
                i += len - 1;
            }
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", fp); break;
        case '\\': fputs("\\\\", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\t': fputs("\\t", fp); break;
        case '\r': fputs("\\r", fp); break;
        case '?':
            /* Never let "??x" form a trigraph. */
            fputs(i > 0 && s[i - 1] == '?' ? "\\?" : "?", fp);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(fp, "\\%03o", c);
            else
                fputc(c, fp);
        }
    }
}

static void cstr(struct em *m, const char *s, size_t n)
{
    fputc('"', m->out);
    cstr_body(m->out, s, n);
    fputc('"', m->out);
}

/* A double literal that reads back exactly and always looks like a float. */
static void cfloat(FILE *fp, double x)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (!strpbrk(buf, ".eEni"))
        strcat(buf, ".0");
    fputs(buf, fp);
}

static void cint(FILE *fp, int64_t x)
{
    if (x == INT64_MIN)
        fputs("INT64_MIN", fp);
    else
        fprintf(fp, "%" PRId64, x);
}

/* Quotes source line n (trimmed) for a comment: no comment delimiters. */
static void quote_line(struct em *m, int n)
{
    const char *p, *e;
    if (n < 1 || n > m->nlines)
        return;
    p = m->lines[n - 1];
    e = p;
    while (*e && *e != '\n' && *e != '\r')
        e++;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    for (; p < e; p++) {
        if (p[0] == '*' && p + 1 < e && p[1] == '/') {
            fputs("* ", m->out);
            continue;
        }
        if (p[0] == '/' && p + 1 < e && p[1] == '*') {
            fputs("/ ", m->out);
            continue;
        }
        if (*p == '\t')
            fputc(' ', m->out);
        else
            fputc(*p, m->out);
    }
}

/* The `/ * FILE:LINE: text * /` comment above a statement or declaration. */
static void src_comment(struct em *m, int n)
{
    bool quoted = n == m->last_line;
    if (quoted && (!m->o.line_directives || m->live_line))
        return;
    if (!quoted) {
        m->last_line = n;
        indent(m);
        out(m, "/* %s:%d: ", m->base, n);
        quote_line(m, n);
        out(m, " */\n");
    }
    if (m->o.line_directives) {
        m->live_line = true;
        out(m, "#line %d ", n);
        cstr(m, m->f->path, strlen(m->f->path));
        out(m, "\n");
    }
}


static char *fmt_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* C11 keywords: .live field names that C would not take as member names. */
static const char *const c_keywords[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while", NULL
};

/* Object-like macros with a lowercase letter that the generated C sees
 * (through live.h: stdbool, stdio, jansson; gcc's and clang's predefined
 * `linux` and `unix` in GNU mode), from `cc -dM -E` of live.h, and those
 * of the C11 headers a later live.h might include. */
static const char *const c_macros[] = {
    "bool", "true", "false", "stdin", "stdout", "stderr", "errno", "linux", "unix",
    "json_auto_t", "json_boolean_value", "L_ctermid", "L_tmpnam", "P_tmpdir",
    "alignas", "alignof", "noreturn", "static_assert", "thread_local", "complex",
    "imaginary", "offsetof", NULL
};

/* True when a .live field name cannot be a C member name as it is: a C
 * keyword, a macro above, a name with no lowercase letter (the C library's
 * object-like macros: EOF, NULL, GROUP) or one with a leading underscore
 * (_X and __x are reserved to the implementation). */
static bool bad_member(const char *name)
{
    bool lower = false;
    if (name[0] == '_')
        return true;
    for (const char *p = name; *p; p++)
        lower |= *p >= 'a' && *p <= 'z';
    if (!lower)
        return true;
    for (int i = 0; c_keywords[i]; i++)
        if (strcmp(c_keywords[i], name) == 0)
            return true;
    for (int i = 0; c_macros[i]; i++)
        if (strcmp(c_macros[i], name) == 0)
            return true;
    return false;
}

/* True when some field of the program (group, player, message or table) is
 * named s, or some other name was already mangled to s. */
static bool member_taken(struct em *m, const char *s)
{
    const struct sema_prog *P = m->P;
    const struct sema_record *recs[2] = { &P->group, &P->player };
    for (int r = 0; r < 2 + P->n_messages + P->n_tables; r++) {
        const struct sema_record *rec = r < 2 ? recs[r] : r < 2 + P->n_messages
                                        ? &P->msgfields[r - 2] : &P->tabfields[r - 2 - P->n_messages];
        for (int i = 0; i < rec->n; i++)
            if (strcmp(rec->fields[i].field->name, s) == 0)
                return true;
    }
    for (struct mangled *x = m->mangled; x; x = x->next)
        if (strcmp(x->cname, s) == 0)
            return true;
    return false;
}

/* The C member name of a .live field (group, player, message or table
 * column).  Most are the name itself; a bad_member() gets a trailing
 * underscore (a leading "f" if it starts with one: f_X, f__x), and more
 * underscores while that is another field's name (`double` beside a field
 * `double_` becomes `double__`).  The JSON and database names are never
 * changed.  The result is owned by m. */
static const char *mem(struct em *m, const char *name)
{
    if (!bad_member(name))
        return name;
    for (struct mangled *x = m->mangled; x; x = x->next)
        if (strcmp(x->name, name) == 0)
            return x->cname;
    struct mangled *x = xcalloc(1, sizeof *x);
    char *c = name[0] == '_' ? fmt_str("f%s", name) : fmt_str("%s_", name);
    while (member_taken(m, c)) {
        char *longer = fmt_str("%s_", c);
        free(c);
        c = longer;
    }
    x->cname = c;
    x->name = name;
    x->next = m->mangled;
    m->mangled = x;
    return x->cname;
}

/* ---- types -------------------------------------------------------------------- */

static const char *elem_tag(enum type_kind k)
{
    switch (k) {
    case TY_INT: return "int";
    case TY_FLOAT: return "float";
    case TY_BOOL: return "bool";
    default: return "str";
    }
}

static bool is_scalar_kind(enum type_kind k)
{
    return k == TY_INT || k == TY_FLOAT || k == TY_BOOL || k == TY_STRING;
}

/* C type of a scalar in a value (local, parameter, message field). */
static const char *ctype_val(enum type_kind k)
{
    switch (k) {
    case TY_INT: return "int64_t";
    case TY_FLOAT: return "double";
    case TY_BOOL: return "bool";
    case TY_STRING: return "const char *";
    case TY_PLAYER: return "int64_t";
    default: return "void";
    }
}

/* C type of a scalar stored in a state struct. */
static const char *ctype_field(enum type_kind k)
{
    return k == TY_STRING ? "char *" : ctype_val(k);
}

static const char *lv_type(enum type_kind k)
{
    switch (k) {
    case TY_INT: return "LV_INT";
    case TY_FLOAT: return "LV_FLOAT";
    case TY_BOOL: return "LV_BOOL";
    default: return "LV_STRING";
    }
}

/* Writes the C type of a value of type t (locals, parameters, returns). */
static void ctype(struct em *m, const struct ast_type *t)
{
    if (t->kind == TY_ARRAY)
        out(m, "%s__arr_%s_%" PRId64, m->G, elem_tag(t->elem), t->size);
    else
        out(m, "%s", ctype_val(t->kind));
}

/* A declaration `T name` (no space after a pointer star). */
static void cdecl(struct em *m, const struct ast_type *t, const char *name)
{
    ctype(m, t);
    if (t->kind == TY_STRING)
        out(m, "%s", name);
    else
        out(m, " %s", name);
}

/* ---- expressions ------------------------------------------------------------- */

static void expr(struct em *m, struct ast_expr *e);

static struct sym *S(struct ast_expr *e)
{
    return e->sym;
}

/* The id of a player-valued expression (not range-checked: the PLAYER
 * macros and lv_page check it). */
static void player_id(struct em *m, struct ast_expr *p)
{
    if (p->kind == E_ME)
        out(m, "lv_me(ctx)");
    else if (p->kind == E_PLAYER)
        expr(m, p->a);
    else
        expr(m, p);
}

/* The index of table t in the descriptor's tables[]. */
static int tindex(struct em *m, const struct ast_decl *t)
{
    for (int i = 0; i < m->P->n_tables; i++)
        if (m->P->tables[i] == t)
            return i;
    return -1;
}

/* Writes the location of an array's elements: something indexable. */
static void arr_elems(struct em *m, struct ast_expr *e)
{
    struct sym *y = S(e);
    if (e->kind == E_FIELD && y && y->kind == SYM_ROW_FIELD) {
        out(m, "%s->%s", S(e->a)->cname, mem(m, e->name));
    } else if (e->kind == E_NAME && y && y->kind == SYM_ROW_FIELD) {
        out(m, "%s->%s", y->cname, mem(m, e->name));
    } else if (e->kind == E_FIELD && y && y->kind == SYM_GROUP_FIELD) {
        out(m, "GROUP->%s", mem(m, e->name));
    } else if (e->kind == E_FIELD && y && y->kind == SYM_PLAYER_FIELD) {
        out(m, "PLAYER(%d, ", e->loc.line);
        player_id(m, e->a);
        out(m, ")->%s", mem(m, e->name));
    } else if (e->kind == E_NAME && y && (y->kind == SYM_LOCAL || y->kind == SYM_PARAM)) {
        out(m, "%s.v", y->cname);
    } else {
        out(m, "(");
        expr(m, e);
        out(m, ").v");
    }
}

/* A constant value as a C expression. */
static void cval(struct em *m, const struct cval *v)
{
    switch (v->kind) {
    case TY_INT: cint(m->out, v->i); break;
    case TY_FLOAT: cfloat(m->out, v->f); break;
    case TY_BOOL: out(m, "%s", v->i ? "true" : "false"); break;
    case TY_STRING: cstr(m, v->s, v->slen); break;
    case TY_ARRAY:
        out(m, "((%s__arr_%s_%d){{", m->G, elem_tag(v->elem), v->n);
        for (int i = 0; i < v->n; i++) {
            if (i)
                out(m, ", ");
            cval(m, &v->elems[i]);
        }
        out(m, "}})");
        break;
    default:
        break;
    }
}

/* e converted to double if it is an int. */
static void as_float(struct em *m, struct ast_expr *e)
{
    if (e->ty.kind == TY_INT) {
        out(m, "(double)");
        if (e->kind == E_INT || e->kind == E_NAME || e->kind == E_DURATION) {
            expr(m, e);
        } else {
            out(m, "(");
            expr(m, e);
            out(m, ")");
        }
    } else {
        expr(m, e);
    }
}

/* ---- order of evaluation -----------------------------------------------------
 *
 * C leaves the order of a call's arguments and of most operators' operands
 * unspecified; .live evaluates left to right.  Where the order can be seen
 * -- one operand changes what another reads (a fn that writes group.n,
 * beside group.n), two draw random numbers, or two may fail with different
 * runtime errors -- every operand that must come first is evaluated into a
 * temporary t1, t2, ... with the comma operator, in place (so && || ?: still
 * short-circuit): `(t1 = a, lv_add(ctx, 3, t1, b))`.  The temporaries are
 * declared at the top of their function.  Where the order cannot be seen,
 * the C stays as it was.
 */

/* Kinds of runtime error an expression may raise (their messages differ). */
enum {
    FAIL_OVERFLOW = 1 << 0, FAIL_DIVZERO = 1 << 1, FAIL_INDEX = 1 << 2,
    FAIL_FLOAT = 1 << 3, FAIL_FTOI = 1 << 4, FAIL_TICKS = 1 << 5,
    /* messages that name a value ("no player 7") */
    FAIL_PLAYER = 1 << 6, FAIL_STRING = 1 << 7, FAIL_RANDOM = 1 << 8, FAIL_OTHER = 1 << 9
};
#define FAIL_VALUED (FAIL_PLAYER | FAIL_STRING | FAIL_RANDOM | FAIL_OTHER)

/* What evaluating an expression may do. */
struct eff {
    bool reads;         /* reads state a fn may change (fields, rows, pages) */
    bool writes;        /* changes state (a fn call that assigns, sends, ...) */
    bool draws;         /* draws random numbers */
    unsigned fails;     /* FAIL_* it may raise */
    int line;           /* the .live line of those errors; -1 for several */
};

/* The effects of one fn, computed once. */
struct fn_eff {
    const struct ast_decl *decl;
    struct eff eff;
    bool done;
    struct fn_eff *next;
};

static void eff_fail(struct eff *x, unsigned kinds, int line)
{
    if (!kinds)
        return;
    if (!x->fails)
        x->line = line;
    else if (x->line != line)
        x->line = -1;
    x->fails |= kinds;
}

static void eff_join(struct eff *x, struct eff y)
{
    x->reads |= y.reads;
    x->writes |= y.writes;
    x->draws |= y.draws;
    eff_fail(x, y.fails, y.line);
}

/* True when evaluating x before y can give another result than y before x:
 * one writes what the other reads or writes, both draw, or both may fail
 * and their errors can differ (kind, line or a value in the message). */
static bool eff_conflict(struct eff x, struct eff y)
{
    unsigned f = x.fails | y.fails;
    if ((x.writes && (y.reads || y.writes)) || (y.writes && x.reads) || (x.draws && y.draws))
        return true;
    return x.fails && y.fails &&
           ((f & (f - 1)) != 0 || (f & FAIL_VALUED) || x.line != y.line || x.line < 0);
}

/* True when e is an int constant in lo..hi (a check of it cannot fail). */
static bool const_in(const struct ast_expr *e, int64_t lo, int64_t hi)
{
    return e->kind == E_INT && e->ival >= lo && e->ival <= hi;
}

/* True when player(E) may fail its check: E is not a constant in 1..players. */
static bool player_may_fail(struct em *m, const struct ast_expr *p)
{
    return p->kind == E_PLAYER && !const_in(p->a, 1, m->P->players);
}

static struct eff effects(struct em *m, struct ast_expr *e);

static void stmt_effects(struct em *m, struct ast_stmt *st, struct eff *x)
{
    for (; st; st = st->next) {
        if (st->a)
            eff_join(x, effects(m, st->a));
        if (st->b)
            eff_join(x, effects(m, st->b));
        if (st->target)
            eff_join(x, effects(m, st->target));
        for (struct ast_entry *en = st->entries; en; en = en->next)
            eff_join(x, effects(m, en->value));
        switch (st->kind) {
        case S_ASSIGN: {
            struct ast_expr *t = st->target->kind == E_INDEX ? st->target->a : st->target;
            if (t->kind != E_NAME)
                x->writes = true;
            if (st->op != '=')  /* the compound's own operation */
                eff_fail(x, t->ty.kind == TY_STRING ? FAIL_STRING : t->ty.kind == TY_FLOAT
                         ? FAIL_FLOAT : FAIL_OVERFLOW, st->loc.line);
            break;
        }
        case S_SEND: case S_INSERT: case S_DELETE: case S_FINISH:
        case S_START_TIMER: case S_STOP_TIMER:
            x->writes = true;
            eff_fail(x, FAIL_OTHER, st->loc.line);
            break;
        case S_REQUIRE: case S_REJECT:
            eff_fail(x, FAIL_OTHER, st->loc.line);
            break;
        case S_FOR_RANGE: case S_FOR_PLAYERS: case S_FOR_TABLE:
            eff_fail(x, FAIL_TICKS, st->loc.line);
            break;
        default:
            break;
        }
        stmt_effects(m, st->body, x);
        stmt_effects(m, st->els, x);
    }
}

/* What a call of fn d, or a use of view d, may do: what its body or its
 * entries may (sema makes sure that a fn with a type returns a value).
 * Computed once per declaration (a view used twice in a view used twice
 * ... would otherwise be walked an exponential number of times). */
static struct eff fn_effects(struct em *m, const struct ast_decl *d)
{
    struct fn_eff *f;
    for (f = m->fn_effs; f && f->decl != d; f = f->next)
        ;
    if (f && f->done)
        return f->eff;
    if (f) {    /* in progress: recursion is an error, but assume the worst */
        struct eff worst = { true, true, true, FAIL_OTHER, -1 };
        return worst;
    }
    f = xcalloc(1, sizeof *f);
    f->decl = d;
    f->next = m->fn_effs;
    m->fn_effs = f;
    struct eff x = { 0 };
    if (d->kind == D_VIEW) {
        struct ast_expr v = { .kind = E_OBJECT, .entries = d->entries };
        x = effects(m, &v);
    } else {
        stmt_effects(m, d->body, &x);
    }
    f->eff = x;
    f->done = true;
    return x;
}

/* What evaluating e may do (see the top of this section). */
static struct eff effects(struct em *m, struct ast_expr *e)
{
    struct eff x = { 0 };
    struct sym *y = e->sym;
    int l = e->loc.line;
    if (e->a)
        eff_join(&x, effects(m, e->a));
    if (e->b)
        eff_join(&x, effects(m, e->b));
    if (e->c)
        eff_join(&x, effects(m, e->c));
    for (struct ast_expr *a = e->args; a; a = a->next)
        eff_join(&x, effects(m, a));
    for (struct ast_entry *en = e->entries; en; en = en->next)
        eff_join(&x, effects(m, en->value));
    switch (e->kind) {
    case E_NAME:
        if (y && y->kind == SYM_VIEW) {
            eff_join(&x, fn_effects(m, y->decl));
            x.reads = true;
        } else if (y && (y->kind == SYM_ROW_FIELD || y->kind == SYM_TABLE)) {
            x.reads = true;
        }
        break;
    case E_PLAYER:      /* a player-valued local or parameter is checked */
        if (player_may_fail(m, e))
            eff_fail(&x, FAIL_PLAYER, l);
        break;
    case E_FIELD:
        if (y && (y->kind == SYM_GROUP_FIELD || y->kind == SYM_PLAYER_FIELD ||
                  y->kind == SYM_ROW_FIELD || y->kind == SYM_PLAYER_PAGE))
            x.reads = true;
        break;
    case E_INDEX:
        if (!const_in(e->b, 0, e->a->ty.size - 1))
            eff_fail(&x, FAIL_INDEX, l);
        break;
    case E_CALL:
        if (y && y->kind == SYM_FN) {
            eff_join(&x, fn_effects(m, y->decl));
            x.reads = true;
        } else if (y) {
            switch (y->builtin) {
            case B_ABS:
                if (e->ty.kind == TY_INT)
                    eff_fail(&x, FAIL_OVERFLOW, l);
                break;
            case B_RANDOM: {    /* fails on an empty range */
                struct ast_expr *lo = e->args, *hi = lo ? lo->next : NULL;
                x.draws = true;
                if (!(lo && hi && lo->kind == E_INT && hi->kind == E_INT && lo->ival <= hi->ival))
                    eff_fail(&x, FAIL_RANDOM, l);
                break;
            }
            case B_INT:
                if (e->args && e->args->ty.kind != TY_INT)
                    eff_fail(&x, FAIL_FTOI, l);
                break;
            default:
                break;
            }
        }
        break;
    case E_QUERY:       /* its rows count against the loop bound */
        x.reads = true;
        eff_fail(&x, FAIL_TICKS, l);
        break;
    case E_UNARY:
        if (e->op == '-' && e->ty.kind == TY_INT &&
            !((e->a->kind == E_INT && e->a->ival != INT64_MIN) || e->a->kind == E_DURATION))
            eff_fail(&x, FAIL_OVERFLOW, l);
        break;
    case E_BINARY:
        if (e->op < OP_ADD)
            break;
        if (e->ty.kind == TY_STRING)
            eff_fail(&x, FAIL_STRING, l);
        else if (e->ty.kind == TY_FLOAT)
            eff_fail(&x, FAIL_FLOAT, l);
        else if (e->op == OP_DIV || e->op == OP_MOD)
            eff_fail(&x, FAIL_DIVZERO | FAIL_OVERFLOW, l);
        else
            eff_fail(&x, FAIL_OVERFLOW, l);
        break;
    default:
        break;
    }
    return x;
}

/* Declares temporary tN of type t at the top of the current function (its
 * declarations, m->decls) and returns N. */
static int new_temp(struct em *m, const struct ast_type *t)
{
    int n = ++m->tmp;
    FILE *save = m->out;
    if (!m->decls) {            /* an expression outside any function */
        fputs("livec: internal error: a temporary outside a function\n", stderr);
        exit(2);
    }
    m->out = m->decls;
    out(m, "%*s", INDENT, "");
    ctype(m, t);
    out(m, "%st%d;\n", t->kind == TY_STRING ? "" : " ", n);
    m->out = save;
    return n;
}

/* Writes `tN = <gen(e)>, ` for an operand evaluated before the ones after
 * it; returns N.  The caller has opened the parenthesis of the comma
 * expression.  as_float operands get a double temporary. */
static int hoist(struct em *m, struct ast_expr *e, void (*gen)(struct em *, struct ast_expr *))
{
    struct ast_type t = e->ty;
    if (gen == as_float)
        t.kind = TY_FLOAT;
    if (t.kind == TY_PLAYER)
        t.kind = TY_INT;
    int n = new_temp(m, &t);
    out(m, "t%d = ", n);
    gen(m, e);
    out(m, ", ");
    return n;
}

/* An operand: its temporary when hoisted (t > 0), else gen(e). */
static void operand(struct em *m, struct ast_expr *e, int t, void (*gen)(struct em *, struct ast_expr *))
{
    if (t > 0)
        out(m, "t%d", t);
    else
        gen(m, e);
}

/* For operands ops[0..n): sets t[i] to a hoisted temporary for each one
 * whose order against a later one can be seen (else 0), writing the
 * `(t1 = a, ` prefix; returns true when it opened a parenthesis (the caller
 * closes it after the expression that uses the operands). */
static bool order(struct em *m, struct ast_expr **ops, int n, int *t,
                  void (*gen)(struct em *, struct ast_expr *))
{
    struct eff later = { 0 };
    bool open = false;
    for (int i = n - 1; i >= 0; i--) {       /* t[i]: 1 when i must go first */
        struct eff ef = effects(m, ops[i]);
        t[i] = i < n - 1 && eff_conflict(ef, later);
        eff_join(&later, ef);
    }
    for (int i = 0; i < n; i++) {
        if (!t[i])
            continue;
        if (!open)
            out(m, "(");
        open = true;
        t[i] = hoist(m, ops[i], gen);
    }
    return open;
}

/* The expressions of list l (through next) as an array, their number in
 * *n and room for as many temporaries in *t (the caller frees both). */
static struct ast_expr **expr_array(struct ast_expr *l, int *n, int **t)
{
    int k = 0;
    for (struct ast_expr *x = l; x; x = x->next)
        k++;
    struct ast_expr **v = xcalloc((size_t)k, sizeof *v);
    *t = xcalloc((size_t)k, sizeof **t);
    k = 0;
    for (struct ast_expr *x = l; x; x = x->next)
        v[k++] = x;
    *n = k;
    return v;
}

/* The two-operand case of order(). */
static bool order2(struct em *m, struct ast_expr *a, struct ast_expr *b, int *ta,
                   void (*gen)(struct em *, struct ast_expr *))
{
    struct ast_expr *ops[2] = { a, b };
    int t[2];
    bool open = order(m, ops, 2, t, gen);
    *ta = t[0];
    return open;
}

/* Left spines longer than this are written as one comma expression (see
 * binary()): C compilers limit nesting (clang: 256 brackets). */
#define FLAT_SPINE 32

static const char *const cops[] = { "||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%" };

/* Writes the operation of binary e (not || &&) with its left operand the
 * temporary t<ta> when ta > 0, else e->a itself. */
static void binary_op(struct em *m, struct ast_expr *e, int ta)
{
    static const char *lvops[] = { [OP_ADD] = "lv_add", [OP_SUB] = "lv_sub", [OP_MUL] = "lv_mul",
                                   [OP_DIV] = "lv_div", [OP_MOD] = "lv_mod" };
    struct ast_expr *a = e->a, *b = e->b;
    int l = e->loc.line;
    bool cmp = e->op >= OP_EQ && e->op <= OP_GE;
    if (cmp && a->ty.kind == TY_STRING) {
        out(m, "(lv_str_cmp(");
        operand(m, a, ta, expr);
        out(m, ", ");
        expr(m, b);
        out(m, ") %s 0)", cops[e->op]);
    } else if (cmp && a->ty.kind == TY_ARRAY) {
        out(m, "(%s%s__arr_%s_%" PRId64 "_eq(", e->op == OP_NE ? "!" : "", m->G,
            elem_tag(a->ty.elem), a->ty.size);
        operand(m, a, ta, expr);
        out(m, ", ");
        expr(m, b);
        out(m, "))");
    } else if (cmp) {
        void (*gen)(struct em *, struct ast_expr *) = a->ty.kind != b->ty.kind ? as_float : expr;
        out(m, "(");
        operand(m, a, ta, gen);
        out(m, " %s ", cops[e->op]);
        gen(m, b);
        out(m, ")");
    } else if (e->ty.kind == TY_STRING) {
        out(m, "lv_str_cat(ctx, %d, ", l);
        operand(m, a, ta, expr);
        out(m, ", ");
        expr(m, b);
        out(m, ")");
    } else if (e->ty.kind == TY_INT) {
        out(m, "%s(ctx, %d, ", lvops[e->op], l);
        operand(m, a, ta, expr);
        out(m, ", ");
        expr(m, b);
        out(m, ")");
    } else {
        out(m, "lv_fchk(ctx, %d, ", l);
        operand(m, a, ta, as_float);
        out(m, " %s ", cops[e->op]);
        as_float(m, b);
        out(m, ")");
    }
}

/* The generator of binary_op's left operand of e. */
static void (*left_gen(struct ast_expr *e))(struct em *, struct ast_expr *)
{
    bool cmp = e->op >= OP_EQ && e->op <= OP_GE;
    if (cmp)
        return e->a->ty.kind != e->b->ty.kind && e->a->ty.kind != TY_STRING &&
               e->a->ty.kind != TY_ARRAY ? as_float : expr;
    return e->ty.kind == TY_FLOAT ? as_float : expr;
}

static void binary(struct em *m, struct ast_expr *e)
{
    struct ast_expr *a = e->a;
    int ta;
    if (e->op == OP_OR || e->op == OP_AND) {
        /* a && b && c written flat: C's && and || are left-associative */
        struct ast_expr *x = e;
        int n = 0;
        while (x->kind == E_BINARY && x->op == e->op) {
            n++;
            x = x->a;
        }
        struct ast_expr **right = xcalloc((size_t)n, sizeof *right);
        x = e;
        for (int i = n; i-- > 0; x = x->a)
            right[i] = x->b;
        out(m, "(");
        expr(m, x);
        for (int i = 0; i < n; i++) {
            out(m, " %s ", cops[e->op]);
            expr(m, right[i]);
        }
        out(m, ")");
        free(right);
        return;
    }
    /* A long left spine of operations of e's type (a + b + c + ..., a
     * string built piece by piece) as one comma expression, left to right:
     * (t1 = a, t1 = lv_add(ctx, 3, t1, b), ..., lv_add(ctx, 3, t1, z)). */
    int n = 0;
    for (struct ast_expr *x = e; x->kind == E_BINARY && x->op >= OP_ADD && x->ty.kind == e->ty.kind; x = x->a)
        n++;
    if (n > FLAT_SPINE) {
        struct ast_expr **node = xcalloc((size_t)n, sizeof *node), *x = e;
        for (int i = n; i-- > 0; x = x->a)
            node[i] = x;
        int t = new_temp(m, &e->ty);
        out(m, "(t%d = ", t);
        left_gen(node[0])(m, x);
        for (int i = 0; i < n; i++) {
            out(m, i < n - 1 ? ", t%d = " : ", ", t);
            binary_op(m, node[i], t);
        }
        out(m, ")");
        free(node);
        return;
    }
    bool open = order2(m, a, e->b, &ta, left_gen(e));
    binary_op(m, e, ta);
    if (open)
        out(m, ")");
}

static void query_count(struct em *m, struct ast_expr *q);
static void json_len(struct em *m, struct ast_expr *e);

static void call(struct em *m, struct ast_expr *e)
{
    struct sym *y = S(e);
    struct ast_expr *x = e->args, *z = x ? x->next : NULL;
    int l = e->loc.line;
    if (y->kind == SYM_FN) {
        int n, *t;
        struct ast_expr **v = expr_array(e->args, &n, &t);
        bool open = order(m, v, n, t, expr);
        out(m, "%s__fn_%s(ctx", m->G, e->name);
        for (int i = 0; i < n; i++) {
            out(m, ", ");
            operand(m, v[i], t[i], expr);
        }
        out(m, open ? "))" : ")");
        free(v);
        free(t);
        return;
    }
    switch (y->builtin) {
    case B_COUNT:
        query_count(m, x);
        return;
    case B_LEN:
        if (x->kind == E_PLAYERS)
            out(m, "lv_nplayers(ctx)");
        else if (x->ty.kind == TY_TABLE || x->ty.kind == TY_JSON_ARRAY)
            json_len(m, x);
        else if (x->ty.kind == TY_ARRAY)
            out(m, "%" PRId64, x->ty.size);
        else {
            out(m, "lv_str_len(");
            expr(m, x);
            out(m, ")");
        }
        return;
    case B_MIN:
    case B_MAX: {
        void (*gen)(struct em *, struct ast_expr *) = e->ty.kind == TY_INT ? expr : as_float;
        int tx;
        bool open = order2(m, x, z, &tx, gen);
        out(m, "%s__%s_%s(", m->G, e->name, e->ty.kind == TY_INT ? "int" : "float");
        operand(m, x, tx, gen);
        out(m, ", ");
        gen(m, z);
        out(m, open ? "))" : ")");
        return;
    }
    case B_ABS:
        if (e->ty.kind == TY_INT)
            out(m, "%s__abs_int(ctx, %d, ", m->G, l);
        else
            out(m, "%s__abs_float(", m->G);
        expr(m, x);
        out(m, ")");
        return;
    case B_NOW:
        out(m, "lv_now(ctx)");
        return;
    case B_RANDOM: {
        int tx;
        bool open = order2(m, x, z, &tx, expr);
        out(m, "lv_random(ctx, %d, ", l);
        operand(m, x, tx, expr);
        out(m, ", ");
        expr(m, z);
        out(m, open ? "))" : ")");
        return;
    }
    case B_FLOAT:
        as_float(m, x);
        return;
    case B_INT:
        if (x->ty.kind == TY_INT) {
            expr(m, x);
        } else {
            out(m, "lv_ftoi(ctx, %d, ", l);
            expr(m, x);
            out(m, ")");
        }
        return;
    case B_STR:
        switch (x->ty.kind) {
        case TY_STRING: expr(m, x); return;
        case TY_INT: out(m, "lv_str_int(ctx, "); break;
        case TY_FLOAT: out(m, "lv_str_float(ctx, "); break;
        default: out(m, "lv_str_bool(ctx, "); break;
        }
        expr(m, x);
        out(m, ")");
        return;
    default:
        out(m, "0 /* unsupported builtin */");
        return;
    }
}

/* Writes a scalar, array or player expression as one C expression. */
static void expr(struct em *m, struct ast_expr *e)
{
    struct sym *y = S(e);
    switch (e->kind) {
    case E_INT:
    case E_DURATION:
        cint(m->out, e->ival);
        return;
    case E_FLOAT:
        cfloat(m->out, e->fval);
        return;
    case E_STRING:
        cstr(m, e->sval, e->slen);
        return;
    case E_BOOL:
        out(m, "%s", e->ival ? "true" : "false");
        return;
    case E_NAME:
        if (y->kind == SYM_CONST) {
            cval(m, y->val);
        } else if (y->kind == SYM_ROW_FIELD && e->ty.kind == TY_ARRAY) {
            out(m, "%s__arr_%s_%" PRId64 "_load(", m->G, elem_tag(e->ty.elem), e->ty.size);
            arr_elems(m, e);
            out(m, ")");
        } else if (y->kind == SYM_ROW_FIELD) {
            /* A bare column (or id) in a where clause: the row under test. */
            out(m, "%s->%s", y->cname, y->index < 0 ? "id" : mem(m, e->name));
        } else {
            out(m, "%s", y->cname);
        }
        return;
    case E_ME:
        out(m, "lv_me(ctx)");
        return;
    case E_PLAYER:
        out(m, "%s__pid(ctx, %d, ", m->G, e->loc.line);
        expr(m, e->a);
        out(m, ")");
        return;
    case E_FIELD:
        switch (y->kind) {
        case SYM_GROUP_FIELD:
        case SYM_PLAYER_FIELD:
        case SYM_ROW_FIELD:
            if (e->ty.kind == TY_ARRAY) {
                out(m, "%s__arr_%s_%" PRId64 "_load(", m->G, elem_tag(e->ty.elem), e->ty.size);
                arr_elems(m, e);
                out(m, ")");
            } else {
                arr_elems(m, e);
            }
            return;
        case SYM_MSG_FIELD:
            out(m, "msg->%s", mem(m, e->name));
            return;
        case SYM_PLAYER_ID:
            if (e->a->kind == E_PLAYER)
                expr(m, e->a);
            else
                player_id(m, e->a);
            return;
        case SYM_PLAYER_PAGE:
            out(m, "lv_page(ctx, %d, ", e->loc.line);
            player_id(m, e->a);
            out(m, ")");
            return;
        case SYM_ROW_ID:
            out(m, "%s->id", S(e->a)->cname);
            return;
        default:
            out(m, "0 /* unsupported field */");
            return;
        }
    case E_INDEX: {
        /* player(E).f[I]: E, its check and I in this order when it shows */
        struct ast_expr *a = e->a, *pe = NULL;
        bool open = false;
        if (a->kind == E_FIELD && S(a) && S(a)->kind == SYM_PLAYER_FIELD && a->a->kind == E_PLAYER) {
            pe = a->a->a;
            open = eff_conflict(effects(m, a->a), effects(m, e->b));
        }
        if (open) {
            struct ast_type ti = { .kind = TY_INT };
            int n = new_temp(m, &ti);
            out(m, "(t%d = %s__pid(ctx, %d, ", n, m->G, a->loc.line);
            expr(m, pe);
            out(m, "), PLAYER(%d, t%d)->%s", a->loc.line, n, mem(m, a->name));
        } else {
            arr_elems(m, a);
        }
        out(m, "[lv_index(ctx, %d, ", e->loc.line);
        expr(m, e->b);
        out(m, ", %" PRId64 ")]%s", a->ty.size, open ? ")" : "");
        return;
    }
    case E_CALL:
        call(m, e);
        return;
    case E_UNARY:
        if (e->op == '!') {
            out(m, "(!");
            expr(m, e->a);
            out(m, ")");
        } else if (e->ty.kind == TY_FLOAT) {
            out(m, "(-");
            expr(m, e->a);
            out(m, ")");
        } else if ((e->a->kind == E_INT && e->a->ival != INT64_MIN) || e->a->kind == E_DURATION) {
            out(m, "(-");
            expr(m, e->a);
            out(m, ")");
        } else {
            out(m, "lv_neg(ctx, %d, ", e->loc.line);
            expr(m, e->a);
            out(m, ")");
        }
        return;
    case E_BINARY:
        binary(m, e);
        return;
    case E_COND: {
        /* a ? b : c ? d : e written flat: C's ?: is right-associative */
        void (*gen)(struct em *, struct ast_expr *) = e->ty.kind == TY_FLOAT ? as_float : expr;
        struct ast_expr *x = e;
        out(m, "(");
        for (;;) {
            expr(m, x->a);
            out(m, " ? ");
            gen(m, x->b);
            out(m, " : ");
            if (x->c->kind != E_COND || x->c->ty.kind != e->ty.kind)
                break;
            x = x->c;
        }
        gen(m, x->c);
        out(m, ")");
        return;
    }
    case E_ARRAY: {
        /* An initializer list's order of evaluation is unspecified too. */
        void (*gen)(struct em *, struct ast_expr *) = e->ty.elem == TY_FLOAT ? as_float : expr;
        int n, *t;
        struct ast_expr **v = expr_array(e->args, &n, &t);
        bool open = order(m, v, n, t, gen);
        out(m, "((%s__arr_%s_%" PRId64 "){{", m->G, elem_tag(e->ty.elem), e->ty.size);
        for (int i = 0; i < n; i++) {
            if (i)
                out(m, ", ");
            operand(m, v[i], t[i], gen);
        }
        out(m, open ? "}}))" : "}})");
        free(v);
        free(t);
        return;
    }
    default:
        out(m, "0 /* unsupported expression */");
        return;
    }
}


/* ---- tables: queries -------------------------------------------------------- */

/* The captures of one where clause, and the row variables bound inside it
 * (they are the query's own, or nested queries', not captures). */
struct caps {
    struct cap *v;
    int n, cap;
    const char **bound;
    int nbound, capbound;
};

static void caps_add(struct caps *c, struct cap k)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->v[i].cname, k.cname) == 0)
            return;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->v = xrealloc(c->v, sizeof *c->v * (size_t)c->cap);
    }
    c->v[c->n++] = k;
}

static void caps_bind(struct caps *c, const char *cname)
{
    if (c->nbound == c->capbound) {
        c->capbound = c->capbound ? 2 * c->capbound : 8;
        c->bound = xrealloc(c->bound, sizeof *c->bound * (size_t)c->capbound);
    }
    c->bound[c->nbound++] = cname;
}

static bool caps_bound(const struct caps *c, const char *cname)
{
    for (int i = 0; i < c->nbound; i++)
        if (strcmp(c->bound[i], cname) == 0)
            return true;
    return false;
}

/* Collects into c every variable of the enclosing C function that e reads:
 * locals, parameters, loop variables, rows of enclosing loops or queries,
 * and `msg`.  (group, me, player(i), consts and views need only ctx.) */
static void collect(struct em *m, struct ast_expr *e, struct caps *c)
{
    struct sym *y;
    struct cap k;
    if (!e)
        return;
    y = S(e);
    memset(&k, 0, sizeof k);
    switch (e->kind) {
    case E_NAME:
        if (!y)
            return;
        switch (y->kind) {
        case SYM_LOCAL:
        case SYM_PARAM:
        case SYM_FOR_INT:
        case SYM_FOR_PLAYER:
            k.kind = CAP_VAL;
            k.cname = y->cname;
            k.ty = y->ty;
            caps_add(c, k);
            return;
        case SYM_FOR_ROW:
            k.kind = CAP_ROW;
            k.cname = y->cname;
            k.table = y->ty.table;
            caps_add(c, k);
            return;
        case SYM_ROW_FIELD:
            if (caps_bound(c, y->cname))
                return;
            k.kind = CAP_ROW;
            k.cname = y->cname;
            k.table = y->decl;
            caps_add(c, k);
            return;
        default:
            return;
        }
    case E_FIELD:
        if (y && y->kind == SYM_MSG_FIELD) {
            k.kind = CAP_MSG;
            k.cname = "msg";
            caps_add(c, k);
            return;
        }
        collect(m, e->a, c);
        return;
    case E_QUERY:
        if (y && y->cname)
            caps_bind(c, y->cname);
        collect(m, e->a, c);
        return;
    default:
        collect(m, e->a, c);
        collect(m, e->b, c);
        collect(m, e->c, c);
        for (struct ast_expr *x = e->args; x; x = x->next)
            collect(m, x, c);
        for (struct ast_entry *en = e->entries; en; en = en->next)
            collect(m, en->value, c);
        return;
    }
}

/* The comparator's name for `order by KEY asc|desc` of table t (emitted
 * by helpers() when the code mentions it). */
/* The comparison function of `order by KEY` on table t.  The table's index
 * keeps it unique: table a_b key c and table a key b_c both read a_b_c. */
static char *cmp_name(struct em *m, const struct ast_decl *t, const char *key, bool desc)
{
    return fmt_str("%s__cmp%d_%s_%s_%s", m->G, tindex(m, t), t->name, key, desc ? "desc" : "asc");
}

/*
 * query := TABLE ('where' COND)? ('order' 'by' KEY ('asc'|'desc'))?
 * Writes a static function that evaluates query q -- the number of its rows
 * when `count`, else the JSON array of its rows -- to m->qfns, and returns
 * (a heap string, the caller frees) the C call of that function, which
 * passes every variable the where clause reads under its own name.
 */
static char *query_fn(struct em *m, struct ast_expr *q, bool count)
{
    struct sym *ts = S(q);
    struct ast_decl *t = ts->decl;
    int ti = tindex(m, t), n = ++m->nq, sind = m->ind;
    struct caps c;
    const char *row = q->kind == E_QUERY && ts->cname ? ts->cname : "row";
    char *buf = NULL, *callbuf = NULL;
    size_t len = 0, clen = 0;
    FILE *save = m->out, *cf;

    memset(&c, 0, sizeof c);
    caps_bind(&c, row);
    if (q->kind == E_QUERY)
        collect(m, q->a, &c);

    m->out = xmemstream(&buf, &len);
    cf = xmemstream(&callbuf, &clen);
    out(m, "/* %s:%d: ", m->base, q->loc.line);
    quote_line(m, q->loc.line);
    out(m, " */\nstatic %s%s__%s_%d(lv_ctx *ctx", count ? "int64_t " : "json_t *", m->G,
        count ? "count" : "query", n);
    fprintf(cf, "%s__%s_%d(ctx", m->G, count ? "count" : "query", n);
    for (int i = 0; i < c.n; i++) {
        out(m, ", ");
        switch (c.v[i].kind) {
        case CAP_VAL:
            cdecl(m, &c.v[i].ty, c.v[i].cname);
            break;
        case CAP_ROW:
            out(m, "const struct %s__row_%s *%s", m->G, c.v[i].table->name, c.v[i].cname);
            break;
        case CAP_MSG:
            out(m, "const struct %s__msg_%s *msg", m->G, m->cur_msg ? m->cur_msg->name : "?");
            break;
        }
        fprintf(cf, ", %s", c.v[i].cname);
    }
    fputc(')', cf);
    fclose(cf);
    out(m, ")\n{\n");
    /* the body in its own buffer, after the declarations of its temporaries */
    char *body = NULL, *dbuf = NULL;
    size_t blen = 0, dlen = 0;
    FILE *head = m->out, *sdecls = m->decls;
    m->out = xmemstream(&body, &blen);
    m->decls = xmemstream(&dbuf, &dlen);
    m->ind = 1;
    line(m, "int64_t n;");
    line(m, "void **rows = lv_rows(ctx, %d, &n);", ti);
    if (count)
        line(m, "int64_t c = 0;");
    else
        line(m, "json_t *a = lv_jarr(ctx);");
    if (!count && q->kind == E_QUERY && q->order_key) {
        char *cmp = cmp_name(m, t, q->order_key, q->order_desc);
        line(m, "qsort(rows, (size_t)n, sizeof *rows, %s);", cmp);
        free(cmp);
    }
    line(m, "for (int64_t i = 0; i < n; i++) {");
    m->ind++;
    line(m, "lv_tick(ctx, %d);", q->loc.line);
    line(m, "const struct %s__row_%s *%s = rows[i];", m->G, t->name, row);
    indent(m);
    out(m, "if (!lv_row_alive(ctx, %d, %s)", ti, row);
    if (q->kind == E_QUERY && q->a) {
        out(m, " || !");
        if (q->a->kind == E_BINARY || q->a->kind == E_UNARY) {
            expr(m, q->a);
        } else {
            out(m, "(");
            expr(m, q->a);
            out(m, ")");
        }
    }
    out(m, ")\n");
    m->ind++;
    line(m, "continue;");
    m->ind--;
    if (count)
        line(m, "c++;");
    else
        line(m, "lv_push(a, lv_jrow(ctx, %d, %s));", ti, row);
    m->ind--;
    line(m, "}");
    line(m, "return %s;", count ? "c" : "a");
    out(m, "}\n\n");
    fclose(m->out);
    fclose(m->decls);
    m->decls = sdecls;
    fputs(dbuf, head);
    fputs(body, head);
    free(dbuf);
    free(body);
    fclose(head);
    fputs(buf, m->qfns);
    free(buf);
    free(c.v);
    free(c.bound);
    m->out = save;
    m->ind = sind;
    return callbuf;
}

/* count(T) / count(T where C) / len(T ...) as a C expression of type
 * int64_t. */
static void query_count(struct em *m, struct ast_expr *q)
{
    if (q->kind == E_NAME || !q->a) {
        out(m, "%s__nrows(ctx, %d)", m->G, tindex(m, S(q)->decl));
    } else {
        char *call = query_fn(m, q, true);
        out(m, "%s", call);
        free(call);
    }
}

/* len() of a JSON array (a table value, an array literal of objects, or a
 * ?: of those) as a C expression of type int64_t.  An array literal's
 * length is known here; its elements (objects) are not built. */
static void json_len(struct em *m, struct ast_expr *e)
{
    if (e->ty.kind == TY_TABLE) {
        query_count(m, e);
    } else if (e->kind == E_COND) {
        out(m, "(");
        expr(m, e->a);
        out(m, " ? ");
        json_len(m, e->b);
        out(m, " : ");
        json_len(m, e->c);
        out(m, ")");
    } else {
        int n = 0;
        for (struct ast_expr *x = e->args; x; x = x->next)
            n++;
        out(m, "%d", n);
    }
}

/* Removes one pair of parentheses around the whole of s, in place, so
 * that `if ((a == b))` reads `if (a == b)`.  Returns s. */
static char *strip_parens(char *s)
{
    size_t n = strlen(s);
    int depth = 0;
    if (n < 2 || s[0] != '(' || s[n - 1] != ')')
        return s;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            continue;
        }
        if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && --depth == 0 && i != n - 1)
            return s;
    }
    memmove(s, s + 1, n - 2);
    s[n - 2] = 0;
    return s;
}

/* What gen(m, e) writes, as a heap string (the caller frees it). */
static char *capture(struct em *m, void (*gen)(struct em *, struct ast_expr *), struct ast_expr *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *save = m->out;
    m->out = xmemstream(&buf, &len);
    gen(m, e);
    fclose(m->out);
    m->out = save;
    return buf;
}

/* Captures expr(e) as a heap string (the caller frees it). */
static char *expr_str(struct em *m, struct ast_expr *e)
{
    return capture(m, expr, e);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        fputs("livec: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

/* printf into a malloc'd string (the caller frees it); exits when out of
 * memory. */
static char *vfmt_str(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vfmt_str(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *p = n < 0 ? NULL : malloc((size_t)n + 1);
    if (!p) {
        fputs("livec: out of memory\n", stderr);
        exit(2);
    }
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

static char *fmt_str(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = vfmt_str(fmt, ap);
    va_end(ap);
    return p;
}

/*
 * json := object | view | array-literal | cond | scalar | array | row
 *       | table-value
 * Writes the statements that build e's JSON value (temporaries o1, a2,
 * j3, ...) at the current indentation and returns a C expression of type
 * json_t * (a heap string the caller frees).
 */
static char *json(struct em *m, struct ast_expr *e)
{
    struct sym *y = S(e);
    switch (e->ty.kind) {
    case TY_OBJECT:
        if (e->kind == E_NAME && y && y->kind == SYM_VIEW)
            return fmt_str("%s__view_%s(ctx)", m->G, e->name);
        if (e->kind == E_OBJECT) {
            int n = ++m->tmp;
            line(m, "json_t *o%d = lv_jobj(ctx);", n);
            for (struct ast_entry *en = e->entries; en; en = en->next) {
                char *v = json(m, en->value);
                indent(m);
                if (en->key) {
                    out(m, "lv_put(o%d, ", n);
                    cstr(m, en->key, strlen(en->key));
                    out(m, ", %s);\n", v);
                } else {
                    out(m, "lv_spread(o%d, %s);\n", n, v);
                }
                free(v);
            }
            return fmt_str("o%d", n);
        }
        break;
    case TY_TABLE:
        if (e->kind == E_NAME)
            return fmt_str("%s__table_%s(ctx)", m->G, e->name);
        return query_fn(m, e, false);
    case TY_ROW:
        return fmt_str("lv_jrow(ctx, %d, %s)", tindex(m, e->ty.table), y->cname);
    case TY_JSON_ARRAY:
        if (e->kind == E_ARRAY) {
            int n = ++m->tmp;
            line(m, "json_t *a%d = lv_jarr(ctx);", n);
            for (struct ast_expr *x = e->args; x; x = x->next) {
                char *v = json(m, x);
                line(m, "lv_push(a%d, %s);", n, v);
                free(v);
            }
            return fmt_str("a%d", n);
        }
        break;
    case TY_ARRAY: {
        char *p;
        char *buf = capture(m, arr_elems, e);
        p = fmt_str("lv_jarr_%s(ctx, %s%s, %" PRId64 ")", elem_tag(e->ty.elem),
                    e->ty.elem == TY_STRING ? "(const char *const *)" : "", buf, e->ty.size);
        free(buf);
        return p;
    }
    case TY_INT:
    case TY_FLOAT:
    case TY_BOOL:
    case TY_STRING: {
        static const char *fn[] = { [TY_INT] = "lv_jint", [TY_FLOAT] = "lv_jfloat",
                                    [TY_BOOL] = "lv_jbool", [TY_STRING] = "lv_jstr" };
        char *x = expr_str(m, e);
        char *p = fmt_str("%s(ctx, %s)", fn[e->ty.kind], x);
        free(x);
        return p;
    }
    default:
        break;
    }
    if (e->kind == E_COND) {
        int n = ++m->tmp;
        char *c = strip_parens(expr_str(m, e->a)), *v;
        line(m, "json_t *j%d;", n);
        line(m, "if (%s) {", c);
        free(c);
        m->ind++;
        v = json(m, e->b);
        line(m, "j%d = %s;", n, v);
        free(v);
        m->ind--;
        line(m, "} else {");
        m->ind++;
        v = json(m, e->c);
        line(m, "j%d = %s;", n, v);
        free(v);
        m->ind--;
        line(m, "}");
        return fmt_str("j%d", n);
    }
    return xstrdup("NULL /* unsupported value */");
}

/* ---- statements ---------------------------------------------------------------- */

static void stmts(struct em *m, struct ast_stmt *st);

static bool is_simple(struct ast_expr *e)
{
    return e->kind == E_INT || e->kind == E_DURATION || e->kind == E_ME ||
           (e->kind == E_NAME && S(e) && S(e)->kind != SYM_CONST);
}

/*
 * assign := target ('=' | '+=' | '-=' | '*=') expr ';'
 * target := local | group.f | me.f | player(E).f | p.f | row.f | target '[' E ']'
 */
static void assign(struct em *m, struct ast_stmt *st)
{
    struct ast_expr *t = st->target, *base = t, *idx = NULL;
    struct sym *y;
    char *w = NULL, *r = NULL, *val;
    bool block = false, compound = st->op != '=';
    int l = st->loc.line;
    enum type_kind k = t->ty.kind;

    if (t->kind == E_INDEX) {
        base = t->a;
        idx = t->b;
    }
    y = S(base);
    /* C does not order the target's evaluation (player, index, the read of
     * a compound assignment) against the value's: when that can be seen
     * (see order()), the player and index go first into pl and ix and the
     * read into a temporary. */
    struct eff te = { 0 };
    struct ast_expr *pe = NULL;
    if (base->kind == E_FIELD && y->kind == SYM_PLAYER_FIELD && base->a->kind != E_ME) {
        pe = base->a->kind == E_PLAYER ? base->a->a : base->a;
        eff_join(&te, effects(m, base->a));
    }
    if (idx) {
        eff_join(&te, effects(m, idx));
        if (!const_in(idx, 0, base->ty.size - 1))
            eff_fail(&te, FAIL_INDEX, l);
    }
    te.reads |= compound;
    bool seq = eff_conflict(te, effects(m, st->a));
    /* The container (write and read forms), hoisting what is evaluated
     * twice in a compound assignment. */
    if (base->kind == E_NAME) {
        w = fmt_str(idx ? "%s.v" : "%s", y->cname);
        r = xstrdup(w);
    } else if (y->kind == SYM_GROUP_FIELD) {
        w = fmt_str("GROUP_W->%s", mem(m, base->name));
        r = fmt_str("GROUP->%s", mem(m, base->name));
    } else if (y->kind == SYM_ROW_FIELD) {
        const char *rv = S(base->a)->cname;
        w = fmt_str("((struct %s__row_%s *)lv_row_w(ctx, %d, %s))->%s", m->G, y->decl->name,
                    tindex(m, y->decl), rv, mem(m, base->name));
        r = fmt_str("%s->%s", rv, mem(m, base->name));
    } else {
        char *pid;
        struct ast_expr *p = base->a;
        if (p->kind == E_ME) {
            pid = xstrdup("lv_me(ctx)");
        } else {
            pid = expr_str(m, pe);
            if (seq || (compound && !is_simple(pe))) {
                line(m, "{");
                m->ind++;
                block = true;
                if (seq)        /* checked here, before the value */
                    line(m, "int64_t pl = %s__pid(ctx, %d, %s);", m->G, l, pid);
                else
                    line(m, "int64_t pl = %s;", pid);
                free(pid);
                pid = xstrdup("pl");
            }
        }
        w = fmt_str("PLAYER_W(%d, %s)->%s", l, pid, mem(m, base->name));
        r = fmt_str("PLAYER(%d, %s)->%s", l, pid, mem(m, base->name));
        free(pid);
    }
    if (idx) {
        char *ix = expr_str(m, idx), *w2, *r2;
        if (seq || (compound && !is_simple(idx))) {
            if (!block) {
                line(m, "{");
                m->ind++;
                block = true;
            }
            line(m, "int64_t ix = lv_index(ctx, %d, %s, %" PRId64 ");", l, ix, base->ty.size);
            w2 = fmt_str("%s[ix]", w);
            r2 = fmt_str("%s[ix]", r);
        } else {
            w2 = fmt_str("%s[lv_index(ctx, %d, %s, %" PRId64 ")]", w, l, ix, base->ty.size);
            r2 = fmt_str("%s[lv_index(ctx, %d, %s, %" PRId64 ")]", r, l, ix, base->ty.size);
        }
        free(ix);
        free(w);
        free(r);
        w = w2;
        r = r2;
    }
    val = expr_str(m, st->a);
    if (compound) {
        char *nv, *pre = xstrdup("");
        if (seq) {              /* the target's value, read before the value */
            int n = new_temp(m, &t->ty);
            free(pre);
            pre = fmt_str("(t%d = %s, ", n, r);
            free(r);
            r = fmt_str("t%d", n);
        }
        if (k == TY_STRING)
            nv = fmt_str("%slv_str_cat(ctx, %d, %s, %s)", pre, l, r, val);
        else if (k == TY_INT)
            nv = fmt_str("%s%s(ctx, %d, %s, %s)", pre,
                         st->op == '+' ? "lv_add" : st->op == '-' ? "lv_sub" : "lv_mul", l, r, val);
        else
            nv = fmt_str(st->a->ty.kind == TY_INT ? "%slv_fchk(ctx, %d, %s %c (double)(%s))"
                                                  : "%slv_fchk(ctx, %d, %s %c %s)", pre, l, r, st->op, val);
        if (seq) {
            char *closed = fmt_str("%s)", nv);
            free(nv);
            nv = closed;
        }
        free(pre);
        free(val);
        val = nv;
    } else if (k == TY_FLOAT && st->a->ty.kind == TY_INT) {
        char *nv = fmt_str("(double)(%s)", val);
        free(val);
        val = nv;
    }
    bool local = base->kind == E_NAME;
    if (k == TY_ARRAY && !local)
        line(m, "%s__arr_%s_%" PRId64 "_store(ctx, %s, %s);", m->G, elem_tag(t->ty.elem), t->ty.size, w, val);
    else if (k == TY_STRING && !local)
        line(m, "lv_str_set(ctx, &%s, %s);", w, val);
    else
        line(m, "%s = %s;", w, val);
    free(val);
    free(w);
    free(r);
    if (block) {
        m->ind--;
        line(m, "}");
    }
}

static int timer_index(struct em *m, const char *name)
{
    for (int i = 0; i < m->P->n_timers; i++)
        if (strcmp(m->P->timers[i].name, name) == 0)
            return i;
    return -1;
}

/* Writes `send`: builds the JSON (in a block when it needs temporaries). */
static void send(struct em *m, struct ast_stmt *st)
{
    static const char *to[] = { "LV_TO_ME", "LV_TO_ALL", "LV_TO_OTHERS", "LV_TO_PLAYER" };
    char *buf = NULL, *v, *pid;
    size_t len = 0;
    FILE *save = m->out;
    m->ind++;
    m->out = xmemstream(&buf, &len);
    v = json(m, st->a);
    fclose(m->out);
    m->out = save;
    m->ind--;
    bool first = false;         /* the recipient before the message */
    if (st->to == TO_PLAYER && st->target) {
        struct ast_expr *p = st->target, *pe = p->kind == E_PLAYER ? p->a : p;
        pid = expr_str(m, pe);
        struct eff te = effects(m, p);
        if (p->ty.kind == TY_INT &&     /* an int id: lv_send checks it */
            !const_in(p, 1, m->P->players))
            eff_fail(&te, FAIL_PLAYER, st->loc.line);
        first = eff_conflict(te, effects(m, st->a));
        if (first) {            /* checked here, as player(E) is read first */
            char *checked = fmt_str("%s__pid(ctx, %d, %s)", m->G, st->loc.line, pid);
            free(pid);
            pid = checked;
        }
    } else {
        pid = xstrdup("0");
    }
    if (len || first) {
        line(m, "{");
        m->ind++;
        if (first) {
            line(m, "int64_t to = %s;", pid);
            free(pid);
            pid = xstrdup("to");
        }
        m->ind--;
        fputs(buf, m->out);
        m->ind++;
        line(m, "lv_send(ctx, %d, %s, %s, %s);", st->loc.line, to[st->to], pid, v);
        m->ind--;
        line(m, "}");
    } else {
        line(m, "lv_send(ctx, %d, %s, %s, %s);", st->loc.line, to[st->to], pid, v);
    }
    free(buf);
    free(v);
    free(pid);
}

static void block(struct em *m, struct ast_stmt *body)
{
    m->ind++;
    stmts(m, body);
    m->ind--;
}

/* Writes an if (and its else-if chain) starting with `if (`. */
static void if_chain(struct em *m, struct ast_stmt *st)
{
    char *c = strip_parens(expr_str(m, st->a));
    out(m, "if (%s) {\n", c);
    free(c);
    block(m, st->body);
    if (st->els) {
        if (st->els->kind == S_IF && !st->els->next) {
            indent(m);
            out(m, "} else ");
            if_chain(m, st->els);
            return;
        }
        line(m, "} else {");
        block(m, st->els);
    }
    line(m, "}");
}

/*
 * for-table := 'for' NAME 'in' TABLE ('where' COND)? ('order' 'by' KEY DIR)? block
 * The rows that exist when the loop begins (lv_rows' snapshot), sorted when
 * asked (ties in id order: the comparator ends on id), skipping rows
 * deleted meanwhile; rows inserted by the body are not in the snapshot.
 */
static void for_table(struct em *m, struct ast_stmt *st)
{
    struct sym *y = st->sym;
    struct ast_expr *q = st->a;
    struct ast_decl *t = y->ty.table;
    int ti = tindex(m, t);
    const char *v = y->cname;
    line(m, "{");
    m->ind++;
    line(m, "int64_t n_%s;", v);
    line(m, "void **rows_%s = lv_rows(ctx, %d, &n_%s);", v, ti, v);
    if (q->kind == E_QUERY && q->order_key) {
        char *cmp = cmp_name(m, t, q->order_key, q->order_desc);
        line(m, "qsort(rows_%s, (size_t)n_%s, sizeof *rows_%s, %s);", v, v, v, cmp);
        free(cmp);
    }
    line(m, "for (int64_t i_%s = 0; i_%s < n_%s; i_%s++) {", v, v, v, v);
    m->ind++;
    line(m, "lv_tick(ctx, %d);", st->loc.line);
    line(m, "struct %s__row_%s *%s = rows_%s[i_%s];", m->G, t->name, v, v, v);
    indent(m);
    out(m, "if (!lv_row_alive(ctx, %d, %s)", ti, v);
    if (q->kind == E_QUERY && q->a) {
        char *c = expr_str(m, q->a);
        if (q->a->kind == E_BINARY || q->a->kind == E_UNARY)
            out(m, " || !%s", c);
        else
            out(m, " || !(%s)", c);
        free(c);
    }
    out(m, ")\n");
    m->ind++;
    line(m, "continue;");
    m->ind--;
    stmts(m, st->body);
    m->ind--;
    line(m, "}");
    m->ind--;
    line(m, "}");
}

/*
 * insert := 'insert' TABLE '{' (COLUMN ':' expr),* '}' ';'
 * The values are computed first (in the order written), then the row is
 * inserted (initial values, next id) and filled in.
 */
static void insert(struct em *m, struct ast_stmt *st)
{
    struct sym *ts = st->sym;
    struct ast_decl *t = ts->decl;
    int ti = tindex(m, t);
    if (!st->entries) {
        line(m, "(void)lv_row_insert(ctx, %d, %d);", st->loc.line, ti);
        return;
    }
    line(m, "{");
    m->ind++;
    for (struct ast_entry *en = st->entries; en; en = en->next) {
        char *v = expr_str(m, en->value);
        char *name = fmt_str("c_%s", en->key);
        indent(m);
        cdecl(m, &en->value->ty, name);
        out(m, " = %s;\n", v);
        free(v);
        free(name);
    }
    line(m, "struct %s__row_%s *row = lv_row_insert(ctx, %d, %d);", m->G, t->name,
         st->loc.line, ti);
    for (struct ast_entry *en = st->entries; en; en = en->next) {
        const struct ast_type *ty = &en->value->ty;
        if (ty->kind == TY_STRING)
            line(m, "lv_str_set(ctx, &row->%s, c_%s);", mem(m, en->key), en->key);
        else if (ty->kind == TY_ARRAY)
            line(m, "%s__arr_%s_%" PRId64 "_store(ctx, row->%s, c_%s);", m->G, elem_tag(ty->elem),
                 ty->size, mem(m, en->key), en->key);
        else
            line(m, "row->%s = c_%s;", mem(m, en->key), en->key);
    }
    m->ind--;
    line(m, "}");
}

/*
 * stmt := let | assign | if | for | require | reject | send | finish
 *       | insert | delete
 *       | start timer | stop timer | return | break | continue | call | block
 * Each statement is written under a comment quoting its first source line.
 */
static void stmt(struct em *m, struct ast_stmt *st)
{
    struct sym *y = st->sym;
    char *x, *z;
    int l = st->loc.line;
    src_comment(m, l);
    switch (st->kind) {
    case S_LET:
        indent(m);
        cdecl(m, &y->ty, y->cname);
        out(m, " = ");
        if (y->ty.kind == TY_STRING && st->a->kind == E_FIELD) {
            out(m, "lv_str_dup(ctx, ");
            expr(m, st->a);
            out(m, ")");
        } else if (y->ty.kind == TY_FLOAT) {
            as_float(m, st->a);
        } else {
            expr(m, st->a);
        }
        out(m, ";\n");
        if (!y->used)
            line(m, "(void)%s;", y->cname);
        return;
    case S_ASSIGN:
        assign(m, st);
        return;
    case S_IF:
        indent(m);
        if_chain(m, st);
        return;
    case S_FOR_RANGE: {
        const char *v = y->cname;
        x = expr_str(m, st->a);
        z = expr_str(m, st->b);
        /* last_/go_ prefixes cannot clash with a .live local (all v_...). */
        line(m, "for (int64_t %s = %s, last_%s = %s, go_%s = %s <= last_%s; go_%s;"
             " go_%s = %s < last_%s, %s += go_%s) {",
             v, x, v, z, v, v, v, v, v, v, v, v, v);
        free(x);
        free(z);
        m->ind++;
        line(m, "lv_tick(ctx, %d);", st->loc.line);
        m->ind--;
        block(m, st->body);
        line(m, "}");
        return;
    }
    case S_FOR_PLAYERS:
        line(m, "for (int64_t %s = 1; %s <= lv_nplayers(ctx); %s++) {", y->cname, y->cname, y->cname);
        m->ind++;
        line(m, "lv_tick(ctx, %d);", st->loc.line);
        m->ind--;
        block(m, st->body);
        line(m, "}");
        return;
    case S_FOR_TABLE:
        for_table(m, st);
        return;
    case S_INSERT:
        insert(m, st);
        return;
    case S_DELETE:
        line(m, "lv_row_delete(ctx, %d, %s);", tindex(m, S(st->a)->ty.table), S(st->a)->cname);
        return;
    case S_REQUIRE:
        x = strip_parens(expr_str(m, st->a));
        indent(m);
        out(m, "if (!(%s)) lv_reject(ctx, ", x);
        if (st->b) {
            char *why = expr_str(m, st->b);
            out(m, "%s", why);
            free(why);
        } else {
            cstr(m, st->sval ? st->sval : "", st->sval ? strlen(st->sval) : 0);
        }
        out(m, ");\n");
        free(x);
        return;
    case S_REJECT:
        x = expr_str(m, st->a);
        line(m, "lv_reject(ctx, %s);", x);
        free(x);
        return;
    case S_SEND:
        send(m, st);
        return;
    case S_FINISH:
        line(m, "lv_finish(ctx);");
        return;
    case S_START_TIMER:
        x = expr_str(m, st->a);
        line(m, "lv_timer_start(ctx, %d, %d, %s);", l, timer_index(m, st->name), x);
        free(x);
        return;
    case S_STOP_TIMER:
        line(m, "lv_timer_stop(ctx, %d);", timer_index(m, st->name));
        return;
    case S_RETURN:
        if (st->a) {
            x = expr_str(m, st->a);
            line(m, "return %s;", x);
            free(x);
        } else {
            line(m, "return;");
        }
        return;
    case S_BREAK:
        line(m, "break;");
        return;
    case S_CONTINUE:
        line(m, "continue;");
        return;
    case S_EXPR:
        x = expr_str(m, st->a);
        line(m, "%s%s;", st->a->ty.kind == TY_VOID ? "" : "(void)", x);
        free(x);
        return;
    case S_BLOCK:
        line(m, "{");
        block(m, st->body);
        line(m, "}");
        return;
    default:
        line(m, "lv_fail(ctx, %d, \"not supported yet\");", l);
        return;
    }
}

static void stmts(struct em *m, struct ast_stmt *st)
{
    for (; st; st = st->next)
        stmt(m, st);
}

/* ---- functions -------------------------------------------------------------- */

/* Does identifier `id` occur in C text (outside comments and strings)? */
static int mention_count(const char *text, const char *id);

static bool mentions(const char *text, const char *id)
{
    return mention_count(text, id) > 0;
}

/* How many times the identifier id occurs in C text (outside comments and
 * string literals). */
static int mention_count(const char *text, const char *id)
{
    size_t n = strlen(id);
    int count = 0;
    const char *p = text;
    while (*p) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                return count;
            p = e + 2;
        } else if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else if (*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            const char *s = p;
            while (*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9'))
                p++;
            if ((size_t)(p - s) == n && memcmp(s, id, n) == 0)
                count++;
        } else {
            p++;
        }
    }
    return count;
}

static bool uses_ctx(const char *body)
{
    return mentions(body, "ctx") || mentions(body, "GROUP") || mentions(body, "GROUP_W") ||
           mentions(body, "PLAYER") || mentions(body, "PLAYER_W");
}

/* Writes a function: `head` (its signature line, without the brace), then
 * the body produced by gen() into a buffer, with `(void)p;` for each
 * parameter in `params` (NULL-terminated) the body never mentions. */
static void function(struct em *m, int decl_line, const char *head, const char **params,
                     void (*gen)(struct em *, void *), void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *save = m->out;
    out(m, "/* %s:%d: ", m->base, decl_line);
    quote_line(m, decl_line);
    out(m, " */\n%s\n{\n", head);
    char *dbuf = NULL;
    size_t dlen = 0;
    m->out = xmemstream(&buf, &len);
    m->decls = xmemstream(&dbuf, &dlen);
    m->ind = 1;
    m->tmp = 0;
    m->last_line = decl_line;
    m->live_line = false;
    gen(m, arg);
    fclose(m->out);
    fclose(m->decls);
    m->decls = NULL;
    m->out = save;
    fputs(dbuf, m->out);        /* the temporaries of order() */
    free(dbuf);
    for (int i = 0; params && params[i]; i++) {
        bool used = strcmp(params[i], "ctx") == 0 ? uses_ctx(buf) : mentions(buf, params[i]);
        if (!used)
            out(m, "%*s(void)%s;\n", INDENT, "", params[i]);
    }
    fputs(buf, m->out);
    free(buf);
    if (m->o.line_directives)
        out(m, "%s\n", C_LINE_MARK);
    out(m, "}\n\n");
    m->ind = 0;
}

static void gen_body(struct em *m, void *arg)
{
    stmts(m, arg);
}

/*
 * view := 'view' NAME '{' (KEY ':' expr | '...' expr) (',' ...)* '}'
 * A view is a function returning a new object built entry by entry.
 */
static void gen_view(struct em *m, void *arg)
{
    struct ast_decl *d = arg;
    line(m, "json_t *o = lv_jobj(ctx);");
    for (struct ast_entry *en = d->entries; en; en = en->next) {
        char *v;
        src_comment(m, en->loc.line);
        v = json(m, en->value);
        indent(m);
        if (en->key) {
            out(m, "lv_put(o, ");
            cstr(m, en->key, strlen(en->key));
            out(m, ", %s);\n", v);
        } else {
            out(m, "lv_spread(o, %s);\n", v);
        }
        free(v);
    }
    line(m, "return o;");
}

static void fn_head(struct em *m, struct ast_decl *d, FILE *fp)
{
    FILE *save = m->out;
    m->out = fp;
    out(m, "static ");
    if (d->ret) {
        ctype(m, d->ret);
        if (d->ret->kind != TY_STRING)
            out(m, " ");
    } else {
        out(m, "void ");
    }
    out(m, "%s__fn_%s(lv_ctx *ctx", m->G, d->name);
    for (struct ast_field *p = d->fields; p; p = p->next) {
        out(m, ", ");
        char *name = fmt_str("v_%s", p->name);
        cdecl(m, &p->type, name);
        free(name);
    }
    out(m, ")");
    m->out = save;
}

static char *handler_head(struct em *m, struct ast_decl *d)
{
    switch (d->on) {
    case ON_LOAD: return fmt_str("static void %s__on_load(lv_ctx *ctx)", m->G);
    case ON_START: return fmt_str("static void %s__on_start(lv_ctx *ctx)", m->G);
    /* not on_timer_NAME: a message may be named timer_NAME */
    case ON_TIMER: return fmt_str("static void %s__timer_%s(lv_ctx *ctx)", m->G, d->name);
    default:
        return fmt_str("static void %s__on_%s(lv_ctx *ctx, const struct %s__msg_%s *msg)",
                       m->G, d->name, m->G, d->name);
    }
}

/* ---- state and descriptors --------------------------------------------------------- */

/* struct := 'struct' NAME '{' (CTYPE FIELD ('[' N ']')? ';')+ '}' ';'
 * A table's row struct (with_id) starts with the implicit `int64_t id`. */
static void state_struct(struct em *m, const char *what, const struct sema_record *rec, bool with_id)
{
    if (rec->decl) {
        out(m, "/* %s:%d: ", m->base, rec->decl->loc.line);
        quote_line(m, rec->decl->loc.line);
        out(m, " */\n");
    }
    out(m, "struct %s__%s {\n", m->G, what);
    if (with_id)
        out(m, "%*sint64_t id;      /* 1, 2, 3... per group, never reused */\n", INDENT, "");
    for (int i = 0; i < rec->n; i++) {
        struct ast_field *f = rec->fields[i].field;
        enum type_kind k = f->type.kind == TY_ARRAY ? f->type.elem : f->type.kind;
        const char *ct = ctype_field(k);
        out(m, "%*s%s%s%s", INDENT, "", ct, ct[strlen(ct) - 1] == '*' ? "" : " ", mem(m, f->name));
        if (f->type.kind == TY_ARRAY)
            out(m, "[%" PRId64 "]", f->type.size);
        out(m, ";\n");
    }
    if (rec->n == 0 && !with_id)
        out(m, "%*schar unused_;   /* C has no empty structs */\n", INDENT, "");
    out(m, "};\n\n");
}

static void field_table(struct em *m, const char *what, const struct sema_record *rec)
{
    if (rec->n == 0)
        return;
    out(m, "static const struct lv_field %s__%s_fields[] = {\n", m->G, what);
    for (int i = 0; i < rec->n; i++) {
        struct ast_field *f = rec->fields[i].field;
        bool arr = f->type.kind == TY_ARRAY;
        out(m, "%*s{ \"%s\", %s, %" PRId64 ", offsetof(struct %s__%s, %s) },\n", INDENT, "",
            f->name, lv_type(arr ? f->type.elem : f->type.kind), arr ? f->type.size : (int64_t)0,
            m->G, what, mem(m, f->name));
    }
    out(m, "};\n\n");
}

static void init_value(struct em *m, const char *slot, enum type_kind k, const struct cval *v)
{
    if (k == TY_STRING) {
        out(m, "%*slv_str_init(&%s, ", INDENT, "", slot);
        cstr(m, v->s, v->slen);
        out(m, ");\n");
    } else {
        out(m, "%*s%s = ", INDENT, "", slot);
        cval(m, v);
        out(m, ";\n");
    }
}

static void init_fn(struct em *m, const char *what, const char *var, const struct sema_record *rec)
{
    bool any = false;
    for (int i = 0; i < rec->n; i++)
        any |= rec->fields[i].init != NULL;
    out(m, "static void %s__init_%s(void *p)\n{\n", m->G, what);
    if (!any) {
        out(m, "%*s(void)p;\n}\n\n", INDENT, "");
        return;
    }
    out(m, "%*sstruct %s__%s *%s = p;\n", INDENT, "", m->G, what, var);
    for (int i = 0; i < rec->n; i++) {
        const struct sema_field *sf = &rec->fields[i];
        struct ast_field *f = sf->field;
        char *slot;
        if (!sf->init)
            continue;
        if (f->type.kind == TY_ARRAY) {
            for (int k = 0; k < sf->init->n; k++) {
                slot = fmt_str("%s->%s[%d]", var, mem(m, f->name), k);
                init_value(m, slot, f->type.elem, &sf->init->elems[k]);
                free(slot);
            }
        } else {
            slot = fmt_str("%s->%s", var, mem(m, f->name));
            init_value(m, slot, f->type.kind, sf->init);
            free(slot);
        }
    }
    out(m, "}\n\n");
}

static bool mentions(const char *text, const char *id);

/* Array typedefs, and those of their helpers that `rest` (the code after
 * them) uses: unused static functions would be warnings. */
static void array_types(struct em *m, const char *rest)
{
    char *id;
    if (!m->P->arrtypes)
        return;
    out(m, "/* ---- arrays: values, copied on assignment and in calls ---- */\n\n");
    for (const struct sema_arrtype *a = m->P->arrtypes; a; a = a->next) {
        const char *tag = elem_tag(a->elem);
        const char *vt = ctype_val(a->elem), *ft = ctype_field(a->elem);
        char *name = fmt_str("%s__arr_%s_%" PRId64, m->G, tag, a->size);
        bool used;
        out(m, "typedef struct { %s%sv[%" PRId64 "]; } %s;\n\n", vt, a->elem == TY_STRING ? "" : " ", a->size, name);
        id = fmt_str("%s_load", name);
        used = mentions(rest, id);
        free(id);
        if (used) {
        out(m, "static inline %s %s_load(%s%sconst *p)\n{\n", name, name, ft, a->elem == TY_STRING ? "" : " ");
        out(m, "    %s a;\n    for (int i = 0; i < %" PRId64 "; i++)\n        a.v[i] = p[i];\n    return a;\n}\n\n",
            name, a->size);
        }
        id = fmt_str("%s_store", name);
        used = mentions(rest, id);
        free(id);
        if (used) {
        out(m, "static inline void %s_store(lv_ctx *ctx, %s%s*p, %s a)\n{\n", name, ft,
            a->elem == TY_STRING ? "" : " ", name);
        if (a->elem == TY_STRING)
            out(m, "    for (int i = 0; i < %" PRId64 "; i++)\n        lv_str_set(ctx, &p[i], a.v[i]);\n}\n\n", a->size);
        else
            out(m, "    (void)ctx;\n    for (int i = 0; i < %" PRId64 "; i++)\n        p[i] = a.v[i];\n}\n\n", a->size);
        }
        id = fmt_str("%s_eq", name);
        used = mentions(rest, id);
        free(id);
        if (!used) {
            free(name);
            continue;
        }
        out(m, "static inline bool %s_eq(%s a, %s b)\n{\n    for (int i = 0; i < %" PRId64 "; i++)\n", name, name, name, a->size);
        if (a->elem == TY_STRING)
            out(m, "        if (lv_str_cmp(a.v[i], b.v[i]) != 0)\n");
        else
            out(m, "        if (a.v[i] != b.v[i])\n");
        out(m, "            return false;\n    return true;\n}\n\n");
        free(name);
    }
}

/* Does `rest` mention the identifier made by fmt? */
static bool uses(const char *rest, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool uses(const char *rest, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *id = vfmt_str(fmt, ap);
    va_end(ap);
    bool r = mentions(rest, id);
    free(id);
    return r;
}

/* The builtin helpers that `rest` uses. */
static void helpers(struct em *m, const char *rest)
{
    const char *G = m->G;
#define USED(suffix) uses(rest, "%s__" suffix, G)
    if (USED("pid"))
        out(m, "/* player(i) as a value: its id, checked to be in 1..players. */\n"
               "static inline int64_t %s__pid(lv_ctx *ctx, int line, int64_t id)\n{\n"
               "    (void)lv_player(ctx, line, id);\n    return id;\n}\n\n", G);
    if (USED("min_int"))
        out(m, "static inline int64_t %s__min_int(int64_t a, int64_t b) { return a < b ? a : b; }\n\n", G);
    if (USED("max_int"))
        out(m, "static inline int64_t %s__max_int(int64_t a, int64_t b) { return a > b ? a : b; }\n\n", G);
    if (USED("min_float"))
        out(m, "static inline double %s__min_float(double a, double b) { return a < b ? a : b; }\n\n", G);
    if (USED("max_float"))
        out(m, "static inline double %s__max_float(double a, double b) { return a > b ? a : b; }\n\n", G);
    if (USED("abs_float"))
        out(m, "static inline double %s__abs_float(double a) { return a <= 0 ? 0.0 - a : a; }   /* abs(-0.0) is 0.0 */\n\n", G);
    if (USED("abs_int"))
        out(m, "static inline int64_t %s__abs_int(lv_ctx *ctx, int line, int64_t a)\n{\n"
               "    return a < 0 ? lv_neg(ctx, line, a) : a;\n}\n\n", G);
    if (USED("nrows"))
        out(m, "/* count(T): the number of the group's rows of table t. */\n"
               "static inline int64_t %s__nrows(lv_ctx *ctx, int t)\n{\n"
               "    int64_t n;\n    (void)lv_rows(ctx, t, &n);\n    return n;\n}\n\n", G);
    for (int i = 0; i < m->P->n_tables; i++) {
        const struct ast_decl *t = m->P->tables[i];
        const struct sema_record *rec = &m->P->tabfields[i];
        if (uses(rest, "%s__table_%s", G, t->name))
            out(m, "/* `%s` as a value: the JSON array of its rows in id order. */\n"
                   "static json_t *%s__table_%s(lv_ctx *ctx)\n{\n"
                   "    int64_t n;\n    void **rows = lv_rows(ctx, %d, &n);\n"
                   "    json_t *a = lv_jarr(ctx);\n"
                   "    for (int64_t i = 0; i < n; i++)\n"
                   "        lv_push(a, lv_jrow(ctx, %d, rows[i]));\n"
                   "    return a;\n}\n\n", t->name, G, t->name, i, i);
        for (int k = -1; k < rec->n; k++) {
            const char *key = k < 0 ? "id" : rec->fields[k].field->name;
            const char *ck = k < 0 ? "id" : mem(m, key);
            enum type_kind kt = k < 0 ? TY_INT : rec->fields[k].field->type.kind;
            for (int desc = 0; desc < 2; desc++) {
                char *name = cmp_name(m, t, key, desc);
                if (!is_scalar_kind(kt) || !mentions(rest, name)) {
                    free(name);
                    continue;
                }
                out(m, "/* order by %s %s; ties in id order (qsort is not stable). */\n"
                       "static int %s(const void *pa, const void *pb)\n{\n"
                       "    const struct %s__row_%s *a = *(void *const *)pa, *b = *(void *const *)pb;\n",
                    key, desc ? "desc" : "asc", name, G, t->name);
                if (k < 0) {
                    out(m, "    return a->id < b->id ? %d : a->id > b->id ? %d : 0;\n}\n\n",
                        desc ? 1 : -1, desc ? -1 : 1);
                } else if (kt == TY_STRING) {
                    out(m, "    int c = lv_str_cmp(a->%s, b->%s);\n"
                           "    if (c != 0)\n        return c < 0 ? %d : %d;\n"
                           "    return a->id < b->id ? -1 : a->id > b->id;\n}\n\n",
                        ck, ck, desc ? 1 : -1, desc ? -1 : 1);
                } else {
                    out(m, "    if (a->%s != b->%s)\n        return a->%s < b->%s ? %d : %d;\n"
                           "    return a->id < b->id ? -1 : a->id > b->id;\n}\n\n",
                        ck, ck, ck, ck, desc ? 1 : -1, desc ? -1 : 1);
                }
                free(name);
            }
        }
    }
#undef USED
}

static void message_decl(struct em *m, int i)
{
    struct ast_decl *d = m->P->messages[i];
    const struct sema_record *rec = &m->P->msgfields[i];
    out(m, "/* %s:%d: ", m->base, d->loc.line);
    quote_line(m, d->loc.line);
    out(m, " */\nstruct %s__msg_%s {\n", m->G, d->name);
    for (int k = 0; k < rec->n; k++) {
        struct ast_field *f = rec->fields[k].field;
        const char *ct = ctype_val(f->type.kind);
        out(m, "%*s%s%s%s;\n", INDENT, "", ct, f->type.kind == TY_STRING ? "" : " ", mem(m, f->name));
    }
    if (rec->n == 0)
        out(m, "%*schar unused_;   /* C has no empty structs */\n", INDENT, "");
    out(m, "};\n\n");
    for (int k = 0; k < rec->n; k++) {
        const struct sema_field *sf = &rec->fields[k];
        if (!sf->choices)
            continue;
        if (sf->field->type.kind == TY_INT)
            out(m, "static const int64_t %s__msg_%s_%s_choices[] = { ", m->G, d->name, sf->field->name);
        else
            out(m, "static const char *const %s__msg_%s_%s_choices[] = { ", m->G, d->name, sf->field->name);
        for (int c = 0; c < sf->choices->n; c++) {
            if (c)
                out(m, ", ");
            cval(m, &sf->choices->elems[c]);
        }
        out(m, " };\n\n");
    }
    if (rec->n == 0)
        return;
    out(m, "static const struct lv_msg_field %s__msg_%s_fields[] = {\n", m->G, d->name);
    for (int k = 0; k < rec->n; k++) {
        const struct sema_field *sf = &rec->fields[k];
        enum type_kind t = sf->field->type.kind;
        out(m, "%*s{ .name = \"%s\", .type = %s", INDENT, "", sf->field->name, lv_type(t));
        if (sf->init) {
            out(m, ", .has_default = true");
            if (t == TY_INT || t == TY_BOOL)
                out(m, ", .idefault = %s", "");
            else if (t == TY_FLOAT)
                out(m, ", .fdefault = ");
            else
                out(m, ", .sdefault = ");
            if (t == TY_BOOL)
                out(m, "%d", (int)sf->init->i);
            else
                cval(m, sf->init);
        }
        if (sf->has_range) {
            if (t == TY_INT) {
                out(m, ", .has_range = true, .ilo = ");
                cint(m->out, sf->lo->i);
                out(m, ", .ihi = ");
                cint(m->out, sf->hi->i);
            } else {
                out(m, ", .has_range = true, .flo = ");
                cfloat(m->out, sf->lo->f);
                out(m, ", .fhi = ");
                cfloat(m->out, sf->hi->f);
            }
        }
        if (sf->choices)
            out(m, ", .n_choices = %d, .%s = %s__msg_%s_%s_choices", sf->choices->n,
                t == TY_INT ? "ichoices" : "schoices", m->G, d->name, sf->field->name);
        if (t == TY_STRING)
            out(m, ", .max_len = %" PRId64, sf->max_len);
        out(m, " },\n");
    }
    out(m, "};\n\n");
}

static void decoder(struct em *m, int i)
{
    struct ast_decl *d = m->P->messages[i];
    struct ast_decl *h = m->P->handlers[i];
    const struct sema_record *rec = &m->P->msgfields[i];
    static const char *arg[] = { [TY_INT] = "int", [TY_FLOAT] = "float", [TY_BOOL] = "bool", [TY_STRING] = "str" };
    if (h)
        out(m, "/* Validates and decodes a `%s` message, then runs `on %s`. */\n", d->name, d->name);
    else
        out(m, "/* Validates a `%s` message (it has no handler). */\n", d->name);
    out(m, "static void %s__decode_%s(lv_ctx *ctx, json_t *body)\n{\n", m->G, d->name);
    if (h && rec->n > 0)
        out(m, "    struct %s__msg_%s msg;\n", m->G, d->name);
    else if (h)
        out(m, "    struct %s__msg_%s msg = { 0 };\n", m->G, d->name);
    out(m, "    lv_validate(ctx, body, &%s__messages[%d]);\n", m->G, i);
    if (h) {
        for (int k = 0; k < rec->n; k++)
            out(m, "    msg.%s = lv_arg_%s(body, &%s__msg_%s_fields[%d]);\n", mem(m, rec->fields[k].field->name),
                arg[rec->fields[k].field->type.kind], m->G, d->name, k);
        out(m, "    %s__on_%s(ctx, &msg);\n", m->G, d->name);
    }
    out(m, "}\n\n");
}

/* Writes a page template as a string literal, one source line per line. */
static void template_literal(struct em *m, const struct sema_page *pg)
{
    out(m, "static const char %s__page_%s_html[] =\n", m->G, pg->decl->name);
    const char *p = pg->html, *e = pg->html + pg->len;
    if (p == e)
        out(m, "%*s\"\"", INDENT, "");
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        const char *end = nl ? nl + 1 : e;
        out(m, "%*s\"", INDENT, "");
        cstr_body(m->out, p, (size_t)(end - p));
        out(m, "\"");
        p = end;
        if (p < e)
            out(m, "\n");
    }
    out(m, ";\n\n");
}

/* The first page before page i whose template text is the same as i's (two
 * pages may share one template file), or i itself: each distinct text is
 * embedded once. */
static int template_owner(const struct sema_prog *P, int i)
{
    for (int j = 0; j < i; j++)
        if (P->pages[j].len == P->pages[i].len &&
            memcmp(P->pages[j].html, P->pages[i].html, P->pages[i].len) == 0)
            return j;
    return i;
}

/* Where the line end at p (LF, CRLF or a lone CR, as the lexer counts
 * them) ends: the start of the next line. */
static const char *after_eol(const char *p)
{
    return p[0] == '\r' && p[1] == '\n' ? p + 2 : p + 1;
}

static void index_lines(struct em *m)
{
    const char *s = m->f->src;
    int n = 1;
    for (const char *p = s; *p; p++)
        n += *p == '\n' || *p == '\r';
    m->lines = xcalloc((size_t)n + 1, sizeof *m->lines);
    m->nlines = 0;
    m->lines[m->nlines++] = s;
    for (const char *p = s; *p; p++) {
        if (*p != '\n' && *p != '\r')
            continue;
        p = after_eol(p) - 1;
        if (p[1])
            m->lines[m->nlines++] = p + 1;
    }
}

/* ---- test blocks (livec test) ------------------------------------------------------ */

/* The C name of the eval function of step k of test n (both 1-based). */
static char *step_fn(struct em *m, int n, int k)
{
    return fmt_str("%s__test%d_step%d", m->G, n, k);
}

/* Does a test step have an expression to evaluate at run time? */
static bool step_has_eval(const struct ast_test_step *t)
{
    return t->kind == T_SEND || t->kind == T_RECEIVE || t->kind == T_EXPECT ||
           t->kind == T_AFTER;
}

/* A comparison whose sides can be shown as JSON when it fails. */
static bool shows_sides(const struct ast_expr *e)
{
    return e->kind == E_BINARY && e->op >= OP_EQ && e->op <= OP_GE &&
           (is_scalar_kind(e->a->ty.kind) || e->a->ty.kind == TY_ARRAY) &&
           (is_scalar_kind(e->b->ty.kind) || e->b->ty.kind == TY_ARRAY);
}

/*
 * step-eval := 'static void' NAME '(lv_ctx *ctx, struct lv_test_value *out)'
 *              '{' (temporaries)* 'out->' FIELD '=' VALUE ';' ... '}'
 * The message of `sends`, the pattern of `receives` (JSON), the condition
 * of `expect` (and both sides of a comparison, to show them) or the
 * duration of `after`.
 */
static void gen_test_step(struct em *m, void *arg)
{
    struct ast_test_step *t = arg;
    char *v;
    switch (t->kind) {
    case T_SEND:
    case T_RECEIVE:
        v = json(m, t->a);
        line(m, "out->json = %s;", v);
        free(v);
        break;
    case T_EXPECT:
        if (shows_sides(t->a)) {
            /* each side once, left first, into a temporary: the values shown
             * are the values compared (a side may call a fn that changes
             * state) */
            struct ast_expr *e = t->a, side[2], cmp = *e;
            struct sym ys[2];
            for (int k = 0; k < 2; k++) {
                struct ast_expr *x = k ? e->b : e->a;
                int n = new_temp(m, &x->ty);
                memset(&ys[k], 0, sizeof ys[k]);
                ys[k].kind = SYM_LOCAL;
                ys[k].ty = x->ty;
                ys[k].cname = fmt_str("t%d", n);
                memset(&side[k], 0, sizeof side[k]);
                side[k].kind = E_NAME;
                side[k].loc = x->loc;
                side[k].ty = x->ty;
                side[k].sym = &ys[k];
                v = expr_str(m, x);
                line(m, "t%d = %s;", n, v);
                free(v);
            }
            cmp.a = &side[0];
            cmp.b = &side[1];
            v = json(m, &side[0]);
            line(m, "out->left = %s;", v);
            free(v);
            v = json(m, &side[1]);
            line(m, "out->right = %s;", v);
            free(v);
            v = expr_str(m, &cmp);
            line(m, "out->ok = %s;", v);
            free(v);
            free((char *)ys[0].cname);
            free((char *)ys[1].cname);
            break;
        }
        v = expr_str(m, t->a);      /* parentheses kept: it may be (t1 = a, ...) */
        line(m, "out->ok = %s;", v);
        free(v);
        break;
    case T_AFTER:
        v = expr_str(m, t->a);
        line(m, "out->num = %s;", v);
        free(v);
        break;
    default:
        break;
    }
}

/* Writes a step's source text as a C string: comments dropped, every run
 * of white space one blank. */
static void step_text(struct em *m, const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = xmemstream(&buf, &len);
    bool blank = false, any = false;
    while (*s) {
        if (s[0] == '/' && s[1] == '/') {
            while (*s && *s != '\n' && *s != '\r')
                s++;
            blank = true;
        } else if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            s = e ? e + 2 : s + strlen(s);
            blank = true;
        } else if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            s++;
            blank = true;
        } else {
            if (blank && any)
                fputc(' ', fp);
            blank = false;
            any = true;
            if (*s == '"') {
                fputc(*s++, fp);
                while (*s && *s != '"') {
                    if (*s == '\\' && s[1])
                        fputc(*s++, fp);
                    fputc(*s++, fp);
                }
                if (*s)
                    fputc(*s++, fp);
            } else {
                fputc(*s++, fp);
            }
        }
    }
    fclose(fp);
    cstr(m, buf, len);
    free(buf);
}

/* The eval functions of every test step (in the bodies' pass, so that
 * query functions they need are written too). */
static void test_functions(struct em *m)
{
    int n = 0;
    for (struct ast_decl *d = m->f->decls; d; d = d->next) {
        if (d->kind != D_TEST || !d->name)
            continue;
        n++;
        int k = 0;
        for (struct ast_test_step *t = d->test_steps; t; t = t->next) {
            k++;
            if (!step_has_eval(t))
                continue;
            char *name = step_fn(m, n, k);
            char *head = fmt_str("static void %s(lv_ctx *ctx, struct lv_test_value *out)", name);
            const char *params[] = { "ctx", "out", NULL };
            function(m, t->loc.line, head, params, gen_test_step, t);
            free(head);
            free(name);
        }
    }
}

/*
 * tests := ('static const struct lv_test_step' NAME '[]' '=' '{' step, ... '};')*
 *          'static const struct lv_test' G '__tests[]' '=' '{' test, ... '};'
 *          'int main(...)' '{' 'return lv_test_main(...);' '}'
 */
static void test_tables(struct em *m)
{
    static const char *kinds[] = {
        [T_SEED] = "LV_STEP_SEED", [T_SEND] = "LV_STEP_SEND",
        [T_RECEIVE] = "LV_STEP_RECEIVE", [T_NOTHING] = "LV_STEP_NOTHING",
        [T_LOAD] = "LV_STEP_LOAD", [T_NEXT] = "LV_STEP_NEXT",
        [T_FINISHED] = "LV_STEP_FINISHED", [T_EXPECT] = "LV_STEP_EXPECT",
        [T_AFTER] = "LV_STEP_AFTER"
    };
    static const char *ops[] = {
        [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<", [OP_LE] = "<=",
        [OP_GT] = ">", [OP_GE] = ">="
    };
    const char *G = m->G;
    int n = 0;
    out(m, "/* ---- tests: run by `livec test` (runtime/testing.h) ---- */\n\n");
    for (struct ast_decl *d = m->f->decls; d; d = d->next) {
        if (d->kind != D_TEST || !d->name || !d->test_steps) {
            n += d->kind == D_TEST && d->name;
            continue;
        }
        n++;
        out(m, "/* %s:%d: ", m->base, d->loc.line);
        quote_line(m, d->loc.line);
        out(m, " */\nstatic const struct lv_test_step %s__test%d_steps[] = {\n", G, n);
        int k = 0;
        for (struct ast_test_step *t = d->test_steps; t; t = t->next) {
            k++;
            out(m, "    { .kind = %s, .line = %d, .text = ", kinds[t->kind], t->loc.line);
            step_text(m, t->text);
            if (t->player)
                out(m, ", .player = %d", (int)t->player->ival);
            if (step_has_eval(t)) {
                char *name = step_fn(m, n, k);
                out(m, ", .eval = %s", name);
                free(name);
            }
            if (t->kind == T_SEED) {
                out(m, ", .num = ");
                cint(m->out, t->a->ival);
            }
            if (t->rejected)
                out(m, ", .rejected = true");
            if (t->reason) {
                out(m, ", .reason = ");
                cstr(m, t->reason, t->reason_len);
            }
            if (t->subset)
                out(m, ", .subset = true");
            if (t->kind == T_EXPECT && shows_sides(t->a))
                out(m, ", .op = \"%s\"", ops[t->a->op]);
            out(m, " },\n");
        }
        out(m, "};\n\n");
    }
    if (n == 0) {
        out(m, "int main(int argc, char **argv)\n{\n"
               "    return lv_test_main(&%s__game, NULL, 0, argc, argv);\n}\n", G);
        return;
    }
    out(m, "static const struct lv_test %s__tests[] = {\n", G);
    n = 0;
    for (struct ast_decl *d = m->f->decls; d; d = d->next) {
        if (d->kind != D_TEST || !d->name)
            continue;
        n++;
        int k = 0;
        for (struct ast_test_step *t = d->test_steps; t; t = t->next)
            k++;
        out(m, "    { ");
        cstr(m, d->name, strlen(d->name));
        if (k)
            out(m, ", %d, %s__test%d_steps, %d },\n", d->loc.line, G, n, k);
        else
            out(m, ", %d, NULL, 0 },\n", d->loc.line);
    }
    out(m, "};\n\n");
    out(m, "int main(int argc, char **argv)\n{\n"
           "    return lv_test_main(&%s__game, %s__tests, %d, argc, argv);\n}\n", G, G, n);
}

/* ---- the file ------------------------------------------------------------------ */

/* Copies the generated text `text` to fp, replacing each C_LINE_MARK line
 * that follows a .live `#line` by `#line N "c_name"`, N being the number of
 * the next output line, and dropping the other marks (the C compiler's own
 * numbering is still right there).  Every other `#line` in text names the
 * .live file. */
static void c_lines(FILE *fp, const char *text, const char *c_name)
{
    const size_t mlen = strlen(C_LINE_MARK);
    long written = 0;           /* output lines so far */
    bool live = false;          /* a .live `#line` is in effect */
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (n == mlen + 1 && memcmp(p, C_LINE_MARK, mlen) == 0) {
            if (live) {
                /* This directive is line written + 1; the next one is + 2. */
                fprintf(fp, "#line %ld \"", written + 2);
                cstr_body(fp, c_name, strlen(c_name));
                fputs("\"\n", fp);
                written++;
                live = false;
            }
        } else {
            if (strncmp(p, "#line ", 6) == 0)
                live = true;
            fwrite(p, 1, n, fp);
            written++;
        }
        p += n;
    }
}

int emit_c(struct ast_file *f, FILE *fp, const struct emit_options *o)
{
    struct em M, *m = &M;
    const struct sema_prog *P = sema_prog(f);
    struct ast_decl *d;
    const char *G;
    FILE *dest = fp;            /* fp itself, or a buffer for c_lines() */
    char *all = NULL;
    size_t all_len = 0;
    if (!P)
        return -1;
    memset(m, 0, sizeof *m);
    m->f = f;
    m->P = P;
    if (o)
        m->o = *o;
    if (m->o.line_directives) {
        fp = xmemstream(&all, &all_len);
    }
    m->out = fp;
    m->G = G = P->name;
    m->base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
    index_lines(m);

    out(m, "/* Generated by livec from ");
    for (const char *p = f->path; *p; p++) {
        if (p[0] == '*' && p[1] == '/')
            out(m, "* ");
        else
            fputc(*p, m->out);
    }
    out(m, ". DO NOT EDIT. */\n#include \"live.h\"\n");
    if (m->o.tests)
        out(m, "#include \"testing.h\"\n");
    out(m, "\n");

    /* State. */
    out(m, "/* ---- state ---- */\n\n");
    state_struct(m, "group", &P->group, false);
    state_struct(m, "player", &P->player, false);
    field_table(m, "group", &P->group);
    field_table(m, "player", &P->player);
    out(m, "/* The runtime zeroes each struct and sets its strings to \"\" before\n"
           " * calling these; they set the initializers. */\n");
    init_fn(m, "group", "g", &P->group);
    init_fn(m, "player", "pl", &P->player);
    out(m, "#define GROUP ((const struct %s__group *)lv_group(ctx))\n", G);
    out(m, "#define GROUP_W ((struct %s__group *)lv_group_w(ctx))\n", G);
    out(m, "#define PLAYER(l, i) ((const struct %s__player *)lv_player(ctx, (l), (i)))\n", G);
    out(m, "#define PLAYER_W(l, i) ((struct %s__player *)lv_player_w(ctx, (l), (i)))\n\n", G);

    /* Tables: one row struct each; the runtime keeps the rows. */
    if (P->n_tables) {
        out(m, "/* ---- tables ---- */\n\n");
        for (int i = 0; i < P->n_tables; i++) {
            char *what = fmt_str("row_%s", P->tables[i]->name);
            state_struct(m, what, &P->tabfields[i], true);
            field_table(m, what, &P->tabfields[i]);
            init_fn(m, what, "r", &P->tabfields[i]);
            free(what);
        }
        out(m, "static const struct lv_table %s__tables[] = {\n", G);
        for (int i = 0; i < P->n_tables; i++) {
            const char *n = P->tables[i]->name;
            out(m, "    { \"%s\", ", n);
            if (P->tabfields[i].n)
                out(m, "%s__row_%s_fields, %d", G, n, P->tabfields[i].n);
            else
                out(m, "NULL, 0");
            out(m, ", sizeof(struct %s__row_%s), offsetof(struct %s__row_%s, id), %s__init_row_%s },\n",
                G, n, G, n, G, n);
        }
        out(m, "};\n\n");
    }

    /* The rest goes to a buffer first: the helpers above it are written
     * only when it uses them. */
    char *rest = NULL;
    size_t rest_len = 0;
    FILE *file_out = m->out;
    m->out = xmemstream(&rest, &rest_len);

    if (P->n_messages) {
        out(m, "/* ---- messages ---- */\n\n");
        for (int i = 0; i < P->n_messages; i++)
            message_decl(m, i);
    }


    char *bodies = NULL, *qtext = NULL;
    size_t blen = 0, qlen = 0;
    FILE *rest_out = m->out;
    m->out = xmemstream(&bodies, &blen);
    m->qfns = xmemstream(&qtext, &qlen);
    for (d = f->decls; d; d = d->next) {
        if (d->kind == D_VIEW) {
            char *head = fmt_str("static json_t *%s__view_%s(lv_ctx *ctx)", G, d->name);
            const char *params[] = { "ctx", NULL };
            function(m, d->loc.line, head, params, gen_view, d);
            free(head);
        } else if (d->kind == D_FN) {
            char *head = NULL;
            size_t len = 0;
            FILE *hf = xmemstream(&head, &len);
            int np = 1;
            fn_head(m, d, hf);
            fclose(hf);
            for (struct ast_field *p = d->fields; p; p = p->next)
                np++;
            const char **params = xcalloc((size_t)np + 1, sizeof *params);
            char **names = xcalloc((size_t)np + 1, sizeof *names);
            params[0] = "ctx";
            np = 1;
            for (struct ast_field *p = d->fields; p; p = p->next) {
                names[np] = fmt_str("v_%s", p->name);
                params[np] = names[np];
                np++;
            }
            function(m, d->loc.line, head, params, gen_body, d->body);
            for (int i = 1; i < np; i++)
                free(names[i]);
            free(names);
            free(params);
            free(head);
        } else if (d->kind == D_ON) {
            char *head = handler_head(m, d);
            const char *params[] = { "ctx", d->on == ON_MESSAGE ? "msg" : NULL, NULL };
            m->cur_msg = d->on == ON_MESSAGE && d->sym ? ((struct sym *)d->sym)->decl : NULL;
            function(m, d->loc.line, head, params, gen_body, d->body);
            m->cur_msg = NULL;
            free(head);
        }
    }

    if (m->o.tests)
        test_functions(m);
    fclose(m->out);
    m->out = rest_out;
    fclose(m->qfns);

    /* Prototypes: views and fns may be used before their definition.  One
     * that nothing calls (a fn for test blocks, in the server's build) is
     * marked unused for -Wunused-function. */
    bool any = false;
    for (d = f->decls; d; d = d->next) {
        if (d->kind != D_VIEW && d->kind != D_FN)
            continue;
        if (!any)
            out(m, "/* ---- views, fns and handlers, in source order ---- */\n\n");
        any = true;
        char *cn = fmt_str("%s__%s_%s", G, d->kind == D_VIEW ? "view" : "fn", d->name);
        bool called = mention_count(bodies, cn) + mention_count(qtext, cn) > 1;
        if (!called)
            out(m, "/* nothing in the game calls %s '%s' */\n", d->kind == D_VIEW ? "view" : "fn", d->name);
        if (d->kind == D_VIEW)
            out(m, "static json_t *%s(lv_ctx *ctx)", cn);
        else
            fn_head(m, d, m->out);
        out(m, "%s;\n", called ? "" : " __attribute__((unused))");
        free(cn);
    }
    if (any)
        out(m, "\n");

    /* Query functions (written while the bodies were) go before them. */
    if (qlen)
        out(m, "/* ---- queries: table values and counts with where ---- */\n\n%s", qtext);
    fputs(bodies, m->out);
    free(qtext);
    free(bodies);

    /* Decoders and the message table. */
    if (P->n_messages) {
        out(m, "/* ---- decoders ---- */\n\n");
        for (int i = 0; i < P->n_messages; i++)
            out(m, "static void %s__decode_%s(lv_ctx *ctx, json_t *body);\n", G, P->messages[i]->name);
        out(m, "\nstatic const struct lv_message %s__messages[] = {\n", G);
        for (int i = 0; i < P->n_messages; i++) {
            const char *n = P->messages[i]->name;
            if (P->msgfields[i].n)
                out(m, "    { \"%s\", %s__msg_%s_fields, %d, %s__decode_%s },\n", n, G, n,
                    P->msgfields[i].n, G, n);
            else
                out(m, "    { \"%s\", NULL, 0, %s__decode_%s },\n", n, G, n);
        }
        out(m, "};\n\n");
        for (int i = 0; i < P->n_messages; i++)
            decoder(m, i);
    }

    out(m, "/* ---- the game ---- */\n\n");
    if (P->n_timers) {
        out(m, "static const struct lv_timer %s__timers[] = {\n", G);
        for (int i = 0; i < P->n_timers; i++) {
            if (P->timers[i].handler)
                out(m, "    { \"%s\", %s__timer_%s },\n", P->timers[i].name, G, P->timers[i].name);
            else
                out(m, "    { \"%s\", NULL },   /* no `on timer %s` */\n", P->timers[i].name, P->timers[i].name);
        }
        out(m, "};\n\n");
    }
    if (P->n_pages)
        out(m, "/* Page templates can exceed the 4095 bytes ISO C promises for a literal. */\n"
               "#pragma GCC diagnostic push\n#pragma GCC diagnostic ignored \"-Woverlength-strings\"\n");
    for (int i = 0; i < P->n_pages; i++)
        if (template_owner(P, i) == i)
            template_literal(m, &P->pages[i]);
    if (P->n_pages)
        out(m, "#pragma GCC diagnostic pop\n\n");
    out(m, "static const struct lv_page %s__pages[] = {\n", G);
    if (P->n_pages == 0)
        out(m, "    { \"live\", NULL },   /* no `page` declared: the runtime's default live page */\n");
    for (int i = 0; i < P->n_pages; i++) {
        int j = template_owner(P, i);
        out(m, "    { \"%s\", %s__page_%s_html },", P->pages[i].decl->name, G, P->pages[j].decl->name);
        if (j != i)
            out(m, "   /* the same template as '%s' */", P->pages[j].decl->name);
        out(m, "\n");
    }
    out(m, "};\n\n");

    out(m, "static const struct lv_game %s__game = {\n", G);
    out(m, "    .name = \"%s\",\n    .title = ", G);
    cstr(m, P->title, strlen(P->title));
    out(m, ",\n    .source = ");
    cstr(m, m->base, strlen(m->base));
    out(m, ",\n    .players = %" PRId64 ",\n", P->players);
    out(m, "    .group_size = sizeof(struct %s__group),\n", G);
    if (P->group.n)
        out(m, "    .group_fields = %s__group_fields,\n", G);
    else
        out(m, "    .group_fields = NULL,\n");
    out(m, "    .n_group_fields = %d,\n    .init_group = %s__init_group,\n", P->group.n, G);
    out(m, "    .player_size = sizeof(struct %s__player),\n", G);
    if (P->player.n)
        out(m, "    .player_fields = %s__player_fields,\n", G);
    else
        out(m, "    .player_fields = NULL,\n");
    out(m, "    .n_player_fields = %d,\n    .init_player = %s__init_player,\n", P->player.n, G);
    if (P->n_messages)
        out(m, "    .messages = %s__messages,\n", G);
    else
        out(m, "    .messages = NULL,\n");
    out(m, "    .n_messages = %d,\n", P->n_messages);
    if (P->on_load)
        out(m, "    .on_load = %s__on_load,\n", G);
    else
        out(m, "    .on_load = NULL,\n");
    if (P->on_start)
        out(m, "    .on_start = %s__on_start,\n", G);
    else
        out(m, "    .on_start = NULL,\n");
    if (P->n_timers)
        out(m, "    .timers = %s__timers,\n", G);
    else
        out(m, "    .timers = NULL,\n");
    out(m, "    .n_timers = %d,\n", P->n_timers);
    if (P->n_tables)
        out(m, "    .tables = %s__tables,\n", G);
    else
        out(m, "    .tables = NULL,\n");
    out(m, "    .n_tables = %d,\n", P->n_tables);
    out(m, "    .pages = %s__pages,\n    .n_pages = %d,\n};\n\n", G, P->n_pages ? P->n_pages : 1);
    if (m->o.tests)
        test_tables(m);
    else
        out(m, "int main(int argc, char **argv)\n{\n    return lv_main(&%s__game, argc, argv);\n}\n", G);
    fclose(m->out);
    m->out = file_out;
    array_types(m, rest);
    helpers(m, rest);
    fputs(rest, m->out);
    free(rest);
    if (m->o.line_directives) {
        /* The C file's name, by default as `livec --emit-c` writes it. */
        char *dflt = m->o.c_name ? NULL : fmt_str("%s.c", G);
        fclose(fp);
        fp = dest;
        c_lines(fp, all, m->o.c_name ? m->o.c_name : dflt);
        free(dflt);
        free(all);
    }
    free(m->lines);
    while (m->mangled) {
        struct mangled *x = m->mangled;
        m->mangled = x->next;
        free(x->cname);
        free(x);
    }
    while (m->fn_effs) {
        struct fn_eff *x = m->fn_effs;
        m->fn_effs = x->next;
        free(x);
    }
    return ferror(fp) ? -1 : 0;
}
