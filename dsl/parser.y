/*
 * parser.y -- the grammar of .live files (LANGUAGE.md §1-7), bison 3.8.
 *
 * A pure LALR(1) parser with locations that builds the AST of dsl/ast.h in
 * the file's arena.  Every node lives in the arena and is freed with it, so
 * no %destructor is needed for values dropped during error recovery.
 *
 * Errors.  Syntax errors are reported by yyreport_syntax_error (parse.error
 * custom) in words: what was expected (with LAC the expected set is exact),
 * what was found, and for a missing ';' what it should follow, with a
 * `= help:` line for the usual slips (syntax_help).  Recovery rules
 * (`error`) sit at the declaration, field, property and statement level.
 * So that one mistake gives one message, the rest of the bad statement is
 * found on the raw text (statement_end: up to its ';', or its block's '}')
 * and the lexer drops it unseen (skip_until) and reports nothing in it,
 * so bison resumes at the next statement instead of inside this one; bison
 * then stays silent until three tokens were shifted, and the lexer marks
 * the tokens right after its own errors "quiet".  Unclosed brackets are the
 * lexer's business (it reports them at the opener and inserts the closers).
 * tests/unit/test_parser.c one_mistake_one_error measures the result.
 *
 * Lists are built left-recursively with head/tail pairs, in source order.
 * Expression nesting is counted in the locations (`depth`) and limited to
 * PARSE_MAX_EXPR_DEPTH, because later phases walk expressions recursively.
 */

%code requires {
#include "ast.h"
#include "../compiler/diag.h"

struct parser;

/* The location of a token or of what a rule matched. */
typedef struct live_yyltype {
    int line, col;          /* first byte: line and column, 1-based */
    int end_line, end_col;  /* one past the last byte */
    int eol_col;            /* one past the last byte on the first line */
    size_t off, end_off;    /* byte offsets of the span */
    unsigned long tok;      /* index of the first token (1-based) */
    int depth;              /* expression nesting built over the span */
} live_yyltype;
}

%code provides {
/* Deepest expression nesting accepted (see the top of parser.y). */
#define PARSE_MAX_EXPR_DEPTH 1000
}

%code {
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"
#include "parse.h"

/* The parser's own state, passed to every action as `p`. */
struct parser {
    struct lexer lx;
    struct ast_file *file;
    struct diag *d;
    struct ast_decl **tail;     /* where the next declaration goes */
    bool depth_reported;
    size_t quiet_off;           /* no syntax error before this byte offset:
                                   the rest of a statement with an error
                                   (the lexer also skips it: skip_until) */
};

static int yylex(YYSTYPE *val, YYLTYPE *loc, struct parser *p);
static void yyerror(YYLTYPE *loc, struct parser *p, const char *msg);

/* A span covers its parts; its depth is the deepest of theirs.  An empty
 * rule sits, zero bytes wide, just after what precedes it. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                         \
    do {                                                                    \
        if (N) {                                                            \
            (Cur) = YYRHSLOC(Rhs, 1);                                       \
            (Cur).end_line = YYRHSLOC(Rhs, N).end_line;                     \
            (Cur).end_col = YYRHSLOC(Rhs, N).end_col;                       \
            (Cur).end_off = YYRHSLOC(Rhs, N).end_off;                       \
            for (int i_ = 2; i_ <= (N); i_++) {                             \
                if (YYRHSLOC(Rhs, i_).line == (Cur).line &&                 \
                    YYRHSLOC(Rhs, i_).eol_col > (Cur).eol_col)              \
                    (Cur).eol_col = YYRHSLOC(Rhs, i_).eol_col;              \
                if (YYRHSLOC(Rhs, i_).depth > (Cur).depth)                  \
                    (Cur).depth = YYRHSLOC(Rhs, i_).depth;                  \
            }                                                               \
        } else {                                                            \
            (Cur) = YYRHSLOC(Rhs, 0);                                       \
            (Cur).line = (Cur).end_line;                                    \
            (Cur).col = (Cur).eol_col = (Cur).end_col;                      \
            (Cur).off = (Cur).end_off;                                      \
            (Cur).depth = 0;                                                \
        }                                                                   \
    } while (0)

#define LOC(l) lexer_loc(&(l))
#define ARENA (&p->file->arena)

/* Allocates a zeroed node of type T in the file's arena. */
#define NEW(T) ((T *)arena_alloc(ARENA, sizeof(T)))

/* Appends item to a head/tail list pair (items may be NULL after errors). */
#define APPEND(list, item)                                                  \
    do {                                                                    \
        if (item) {                                                         \
            if ((list).tail)                                                \
                (list).tail->next = (item);                                 \
            else                                                            \
                (list).head = (item);                                       \
            (list).tail = (item);                                           \
        }                                                                   \
    } while (0)

/* Counts one level of expression nesting for the node built at *l and
 * reports (once per file) when it gets too deep. */
static void nest(struct parser *p, YYLTYPE *l)
{
    if (l->depth + 1 > PARSE_MAX_EXPR_DEPTH)
        p->file->too_deep = true;
    if (++l->depth > PARSE_MAX_EXPR_DEPTH && !p->depth_reported) {
        diag_error(p->d, LOC(*l),
                   "expression nested too deeply (the limit is %d)",
                   PARSE_MAX_EXPR_DEPTH);
        p->depth_reported = true;
    }
}

/* A new expression of kind k at l (one level deeper). */
static struct ast_expr *expr_new(struct parser *p, enum expr_kind k,
                                 YYLTYPE *l)
{
    struct ast_expr *e = NEW(struct ast_expr);
    e->kind = k;
    e->loc = LOC(*l);
    nest(p, l);
    return e;
}

static struct ast_expr *binary(struct parser *p, int op, struct ast_expr *a,
                               struct ast_expr *b, YYLTYPE *l)
{
    struct ast_expr *e = expr_new(p, E_BINARY, l);
    e->op = op;
    e->a = a;
    e->b = b;
    return e;
}

/* A new statement of kind k: first token at first, all of it at whole. */
static struct ast_stmt *stmt_new(struct parser *p, enum stmt_kind k,
                                 const YYLTYPE *first, const YYLTYPE *whole)
{
    struct ast_stmt *s = NEW(struct ast_stmt);
    s->kind = k;
    s->loc = LOC(*first);
    s->end_line = whole->end_line;
    return s;
}

/* True if an action may report an error at l: bison is not recovering
 * from a syntax error, and neither the lexer nor an earlier syntax error
 * (quiet_off) made the place quiet. */
#define ACTION_MAY_REPORT(l) (!YYRECOVERING() && (l).tok > p->lx.quiet_upto \
                              && (l).off >= p->quiet_off)

/* A new declaration of kind k: keyword at kw, closing token at end. */
static struct ast_decl *decl_new(struct parser *p, enum decl_kind k,
                                 const YYLTYPE *kw, const YYLTYPE *end)
{
    struct ast_decl *d = NEW(struct ast_decl);
    d->kind = k;
    d->loc = LOC(*kw);
    d->end_loc = LOC(*end);
    return d;
}

/* The location of the closing brace that ends the span l (a block).  A
 * closer the lexer inserted is zero bytes wide, at column 1 of the next
 * declaration: the column is then kept at 1. */
static struct loc brace_end(const YYLTYPE *l)
{
    struct loc r = { l->end_line, l->end_col > 1 ? l->end_col - 1 : 1, 1 };
    return r;
}

/* Adds a finished declaration to the file (so that a parse that stops
 * early still returns what it had). */
static void add_decl(struct parser *p, struct ast_decl *d)
{
    if (!d)
        return;
    *p->tail = d;
    p->tail = &d->next;
}

/* ---- test blocks (livec test) ---- */
/* A new test step of kind k: first token at first, all of it at whole. */
static struct ast_test_step *test_step_new(struct parser *p,
                                           enum test_step_kind k,
                                           const YYLTYPE *first,
                                           const YYLTYPE *whole)
{
    struct ast_test_step *t = NEW(struct ast_test_step);
    t->kind = k;
    t->loc = LOC(*first);
    t->end_line = whole->end_line;
    t->text = arena_strndup(ARENA, p->lx.src + whole->off,
                            whole->end_off - whole->off);
    return t;
}

/* Reports (if `report`, see ACTION_MAY_REPORT) the unknown word `word` at
 * l in a test step and what was expected instead; returns NULL: the step is
 * dropped. */
static struct ast_test_step *test_step_bad(struct parser *p, bool report,
                                           const char *word, const YYLTYPE *l,
                                           const char *expected)
{
    if (report) {
        diag_error(p->d, LOC(*l), "expected %s in a test, found '%s'",
                   expected, word);
        static const char *const words[] = { "sends", "receives", "loads", "advances",
                                             "finished", "nothing", "expect", "seed", NULL };
        const char *m = diag_suggest(word, words);
        if (m && strstr(expected, m))
            diag_help(p->d, "did you mean '%s'?", m);
    }
    return NULL;
}
/* ---- end of test blocks ---- */

/* A written type: scalar kind k, or an array of it with size expression. */
static struct ast_type *type_new(struct parser *p, enum type_kind k,
                                 struct ast_expr *size, const YYLTYPE *l)
{
    struct ast_type *t = NEW(struct ast_type);
    if (size) {
        t->kind = TY_ARRAY;
        t->elem = k;
        t->size_expr = size;
    } else {
        t->kind = k;
    }
    t->loc = LOC(*l);
    return t;
}

/* Makes a syntax error at the token with index `tok` and the one after it
 * silent (used after an error reported from an action). */
static void quiet_after(struct parser *p, unsigned long tok)
{
    if (p->lx.quiet_upto < tok + 1)
        p->lx.quiet_upto = tok + 1;
}

static void check_constraint_name(struct parser *p, const char *name,
                                  const YYLTYPE *l);
}

%define api.pure full
%define api.location.type {live_yyltype}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%parse-param {struct parser *p}
%lex-param {struct parser *p}

%union {
    int64_t ival;
    double fval;
    struct { const char *s; size_t n; } str;
    const char *name;
    int op;
    bool flag;
    struct ast_expr *expr;
    struct { struct ast_expr *head, *tail; } exprs;
    struct ast_stmt *stmt;
    struct { struct ast_stmt *head, *tail; } stmts;
    struct ast_decl *decl;
    struct ast_type *type;
    enum type_kind tkind;
    struct ast_field *field;
    struct { struct ast_field *head, *tail; } fields;
    struct ast_constraint *cons;
    struct { struct ast_constraint *head, *tail; } conss;
    struct ast_entry *entry;
    struct { struct ast_entry *head, *tail; } entries;
    struct ast_prop *prop;
    struct { struct ast_prop *head, *tail; } props;
    enum send_to to;
    struct ast_test_step *tstep;                          /* test blocks */
    struct { struct ast_test_step *head, *tail; } tsteps; /* test blocks */
}

%token END 0 "end of file"
%token <name> IDENT "identifier"
%token <ival> INTLIT "integer"
%token <ival> DURATION "duration"
%token <fval> FLOATLIT "float"
%token <str> STRING "string literal"

%token <name>
    KW_GAME "'game'" KW_GROUP "'group'" KW_PLAYER "'player'"
    KW_PLAYERS "'players'" KW_MESSAGE "'message'" KW_TABLE "'table'"
    KW_VIEW "'view'" KW_FN "'fn'" KW_CONST "'const'" KW_ON "'on'"
    KW_LOAD "'load'" KW_START "'start'" KW_TIMER "'timer'" KW_LET "'let'"
    KW_IF "'if'" KW_ELSE "'else'" KW_FOR "'for'" KW_IN "'in'"
    KW_WHERE "'where'" KW_ORDER "'order'" KW_BY "'by'" KW_ASC "'asc'"
    KW_DESC "'desc'" KW_REQUIRE "'require'" KW_REJECT "'reject'"
    KW_SEND "'send'" KW_ME "'me'" KW_ALL "'all'" KW_OTHERS "'others'"
    KW_INSERT "'insert'" KW_DELETE "'delete'" KW_FINISH "'finish'"
    KW_AFTER "'after'" KW_STOP "'stop'" KW_RETURN "'return'"
    KW_BREAK "'break'" KW_CONTINUE "'continue'" KW_TRUE "'true'"
    KW_FALSE "'false'" KW_INT "'int'" KW_FLOAT "'float'" KW_BOOL "'bool'"
    KW_STRING "'string'" KW_PAGE "'page'" KW_TEMPLATE "'template'"
    KW_TEST "'test'"

%token DOTDOT "'..'" ELLIPSIS "'...'" ARROW "'->'"
%token PLUSEQ "'+='" MINUSEQ "'-='" STAREQ "'*='"
%token EQEQ "'=='" NOTEQ "'!='" LE "'<='" GE "'>='"
%token ANDAND "'&&'" OROR "'||'"

%left OROR
%left ANDAND
%left EQEQ NOTEQ
%nonassoc '<' '>' LE GE
%left '+' '-'
%left '*' '/' '%'

%type <decl> decl game_decl page_decl group_decl player_decl table_decl
%type <decl> message_decl const_decl view_decl fn_decl on_decl test_decl
%type <props> props
%type <prop> prop
%type <name> prop_key soft_kw decl_kw any_name entry_key
%type <fields> fields mfields params_opt param_list
%type <field> field mfield param
%type <type> type ret_opt let_type
%type <tkind> scalar
%type <expr> init_opt expr query cond binexpr unary postfix primary
%type <expr> lpostfix lprimary call
%type <exprs> args_opt arg_list
%type <conss> constraints
%type <cons> constraint
%type <entries> entries_opt entry_list
%type <entry> entry
%type <stmts> stmts block
%type <stmt> stmt if_stmt else_opt
%type <op> assign_op
%type <to> send_target
%type <name> order_key
%type <flag> order_dir
%type <tsteps> test_steps          /* test blocks (livec test) */
%type <tstep> test_step test_object

%start file

%%

/* file ::= decl* */
file:
    %empty
  | file decl                   { add_decl(p, $2); }
  ;

/* decl ::= game | group | player | table | const | message | view | fn
 *        | on | page | test
 * A bad declaration is skipped up to a token that can start the next. */
decl:
    game_decl | page_decl | group_decl | player_decl | table_decl
  | message_decl | const_decl | view_decl | fn_decl | on_decl | test_decl
  | error                       { $$ = NULL; }
  ;

/* game ::= 'game' NAME '{' prop* '}'
 * page ::= 'page' NAME '{' prop* '}'
 * prop ::= KEY expr ';'          -- KEY: a name or a non-declaration keyword */
game_decl:
    KW_GAME IDENT '{' props '}' {
        $$ = decl_new(p, D_GAME, &@1, &@5);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->props = $4.head;
    }
  ;
page_decl:
    KW_PAGE IDENT '{' props '}' {
        $$ = decl_new(p, D_PAGE, &@1, &@5);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->props = $4.head;
    }
  ;
props:
    %empty                      { $$.head = $$.tail = NULL; }
  | props prop                  { $$ = $1; APPEND($$, $2); }
  ;
prop:
    prop_key expr ';' {
        $$ = NEW(struct ast_prop);
        $$->key = $1;
        $$->loc = LOC(@1);
        $$->value = $2;
    }
  | error                       { $$ = NULL; }
  ;
prop_key: IDENT | soft_kw ;

/* group  ::= 'group' '{' field* '}'
 * player ::= 'player' '{' field* '}'
 * table  ::= 'table' NAME '{' field* '}'
 * field  ::= NAME ':' type ('=' expr)? ';' */
group_decl:
    KW_GROUP '{' fields '}' {
        $$ = decl_new(p, D_GROUP, &@1, &@4);
        $$->fields = $3.head;
    }
  ;
player_decl:
    KW_PLAYER '{' fields '}' {
        $$ = decl_new(p, D_PLAYER, &@1, &@4);
        $$->fields = $3.head;
    }
  ;
table_decl:
    KW_TABLE IDENT '{' fields '}' {
        $$ = decl_new(p, D_TABLE, &@1, &@5);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->fields = $4.head;
    }
  ;
fields:
    %empty                      { $$.head = $$.tail = NULL; }
  | fields field                { $$ = $1; APPEND($$, $2); }
  ;
field:
    IDENT ':' type init_opt ';' {
        $$ = NEW(struct ast_field);
        $$->name = $1;
        $$->loc = LOC(@1);
        $$->type = *$3;
        $$->init = $4;
    }
  | error                       { $$ = NULL; }
  ;
init_opt:
    %empty                      { $$ = NULL; }
  | '=' expr                    { $$ = $2; }
  ;

/* type ::= ('int' | 'float' | 'bool' | 'string') ('[' expr ']')? */
type:
    scalar                      { $$ = type_new(p, $1, NULL, &@$); }
  | scalar '[' expr ']'         { $$ = type_new(p, $1, $3, &@$); }
  ;
scalar:
    KW_INT                      { $$ = TY_INT; }
  | KW_FLOAT                    { $$ = TY_FLOAT; }
  | KW_BOOL                     { $$ = TY_BOOL; }
  | KW_STRING                   { $$ = TY_STRING; }
  ;

/* const ::= 'const' NAME '=' expr ';' */
const_decl:
    KW_CONST IDENT '=' expr ';' {
        $$ = decl_new(p, D_CONST, &@1, &@5);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->init = $4;
    }
  ;

/* message    ::= 'message' NAME '{' mfield* '}'
 * mfield     ::= NAME ':' type constraint* ('=' expr)? ';'
 * constraint ::= 'in' expr '..' expr | 'in' expr | 'max' expr
 * (`max` is an identifier recognised here by its position.) */
message_decl:
    KW_MESSAGE IDENT '{' mfields '}' {
        $$ = decl_new(p, D_MESSAGE, &@1, &@5);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->fields = $4.head;
    }
  ;
mfields:
    %empty                      { $$.head = $$.tail = NULL; }
  | mfields mfield              { $$ = $1; APPEND($$, $2); }
  ;
mfield:
    IDENT ':' type constraints init_opt ';' {
        $$ = NEW(struct ast_field);
        $$->name = $1;
        $$->loc = LOC(@1);
        $$->type = *$3;
        $$->constraints = $4.head;
        $$->init = $5;
    }
  | error                       { $$ = NULL; }
  ;
constraints:
    %empty                      { $$.head = $$.tail = NULL; }
  | constraints constraint      { $$ = $1; APPEND($$, $2); }
  ;
constraint:
    KW_IN expr DOTDOT expr {
        $$ = NEW(struct ast_constraint);
        $$->kind = C_RANGE;
        $$->loc = LOC(@$);
        $$->lo = $2;
        $$->hi = $4;
    }
  | KW_IN expr {
        $$ = NEW(struct ast_constraint);
        $$->kind = C_ONE_OF;
        $$->loc = LOC(@$);
        $$->lo = $2;
    }
  | IDENT {
        if (ACTION_MAY_REPORT(@1))
            check_constraint_name(p, $1, &@1);
    } expr {
        $$ = NULL;
        if (strcmp($1, "max") == 0) {
            $$ = NEW(struct ast_constraint);
            $$->kind = C_MAX;
            $$->loc = LOC(@$);
            $$->lo = $3;
        }
    }
  ;

/* view ::= 'view' NAME '{' (entry (',' entry)* ','?)? '}'
 * entry ::= KEY ':' expr | '...' expr     -- KEY: a name, keyword or string */
view_decl:
    KW_VIEW IDENT '{' entries_opt '}' {
        $$ = decl_new(p, D_VIEW, &@1, &@5);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->entries = $4.head;
    }
  ;
entries_opt:
    %empty                      { $$.head = $$.tail = NULL; }
  | entry_list
  | entry_list ','
  ;
entry_list:
    entry                       { $$.head = $$.tail = NULL; APPEND($$, $1); }
  | entry_list ',' entry        { $$ = $1; APPEND($$, $3); }
  ;
entry:
    entry_key ':' expr {
        $$ = NEW(struct ast_entry);
        $$->key = $1;
        $$->value = $3;
        $$->loc = LOC(@1);
    }
  | ELLIPSIS expr {
        $$ = NEW(struct ast_entry);
        $$->value = $2;
        $$->loc = LOC(@$);
    }
  ;
entry_key:
    any_name
  | STRING                      { $$ = $1.s; }
  ;

/* fn ::= 'fn' NAME '(' (param (',' param)* ','?)? ')' ('->' type)? block
 * param ::= NAME ':' type */
fn_decl:
    KW_FN IDENT '(' params_opt ')' ret_opt block {
        $$ = decl_new(p, D_FN, &@1, &@7);
        $$->end_loc = brace_end(&@7);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->fields = $4.head;
        $$->ret = $6;
        $$->body = $7.head;
    }
  ;
params_opt:
    %empty                      { $$.head = $$.tail = NULL; }
  | param_list
  | param_list ','
  ;
param_list:
    param                       { $$.head = $$.tail = NULL; APPEND($$, $1); }
  | param_list ',' param        { $$ = $1; APPEND($$, $3); }
  ;
param:
    IDENT ':' type {
        $$ = NEW(struct ast_field);
        $$->name = $1;
        $$->loc = LOC(@1);
        $$->type = *$3;
    }
  ;
ret_opt:
    %empty                      { $$ = NULL; }
  | ARROW type                  { $$ = $2; }
  ;

/* on ::= 'on' ('load' | 'start' | NAME | 'timer' NAME) block */
on_decl:
    KW_ON KW_LOAD block {
        $$ = decl_new(p, D_ON, &@1, &@3);
        $$->end_loc = brace_end(&@3);
        $$->on = ON_LOAD;
        $$->name_loc = LOC(@2);
        $$->body = $3.head;
    }
  | KW_ON KW_START block {
        $$ = decl_new(p, D_ON, &@1, &@3);
        $$->end_loc = brace_end(&@3);
        $$->on = ON_START;
        $$->name_loc = LOC(@2);
        $$->body = $3.head;
    }
  | KW_ON IDENT block {
        $$ = decl_new(p, D_ON, &@1, &@3);
        $$->end_loc = brace_end(&@3);
        $$->on = ON_MESSAGE;
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->body = $3.head;
    }
  | KW_ON KW_TIMER IDENT block {
        $$ = decl_new(p, D_ON, &@1, &@4);
        $$->end_loc = brace_end(&@4);
        $$->on = ON_TIMER;
        $$->name = $3;
        $$->name_loc = LOC(@3);
        $$->body = $4.head;
    }
  ;

/* ---- test blocks (livec test) ---- */
/* test ::= 'test' STRING '{' step* '}'                    (docs/testing.md)
 * step ::= 'seed' expr ';'  |  'expect' expr ';'  |  'after' expr ';'
 *        | 'player' '(' expr ')' WORD ';'             -- loads, finished, advances
 *        | 'player' '(' expr ')' 'receives' 'nothing' ';'
 *        | 'player' '(' expr ')' 'receives' object ';'
 *        | 'player' '(' expr ')' 'sends' object ('rejected' STRING?)? ';'
 * object ::= '{' (entry (',' entry)*)? (',' '...')? ','? '}'
 * The step words are identifiers, not keywords: the actions check them.
 * A trailing bare '...' makes a `receives` pattern match a superset. */
test_decl:
    KW_TEST STRING '{' test_steps '}' {
        $$ = decl_new(p, D_TEST, &@1, &@5);
        $$->name = $2.s;
        $$->name_loc = LOC(@2);
        $$->test_text = arena_strndup(ARENA, p->lx.src + @3.end_off,
                                      @5.off - @3.end_off);
        $$->test_steps = $4.head;
    }
  ;
test_steps:
    %empty                      { $$.head = $$.tail = NULL; }
  | test_steps test_step        { $$ = $1; APPEND($$, $2); }
  ;
test_step:
    IDENT expr ';' {
        $$ = test_step_new(p, T_EXPECT, &@1, &@$);
        $$->a = $2;
        if (strcmp($1, "seed") == 0)
            $$->kind = T_SEED;
        else if (strcmp($1, "expect") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@1), $1, &@1,
                               "'seed', 'expect', 'after' or 'player(N)'");
    }
  | KW_AFTER expr ';' {
        $$ = test_step_new(p, T_AFTER, &@1, &@$);
        $$->a = $2;
    }
  | KW_PLAYER '(' expr ')' IDENT ';' {
        $$ = test_step_new(p, T_LOAD, &@1, &@$);
        $$->player = $3;
        if (strcmp($5, "finished") == 0)
            $$->kind = T_FINISHED;
        else if (strcmp($5, "advances") == 0)
            $$->kind = T_NEXT;
        else if (strcmp($5, "sends") == 0 || strcmp($5, "receives") == 0) {
            if (ACTION_MAY_REPORT(@6))
                diag_error(p->d, LOC(@6), "expected %s after '%s', found ';'",
                           $5[0] == 's' ? "a '{' object"
                                        : "a '{' object or 'nothing'", $5);
            $$ = NULL;
        } else if (strcmp($5, "loads") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@5), $5, &@5,
                               "'sends', 'receives', 'loads', 'advances' "
                               "or 'finished'");
    }
  | KW_PLAYER '(' expr ')' IDENT IDENT ';' {
        $$ = test_step_new(p, T_NOTHING, &@1, &@$);
        $$->player = $3;
        if (strcmp($5, "loads") == 0 || strcmp($5, "finished") == 0 ||
            strcmp($5, "advances") == 0) {
            if (ACTION_MAY_REPORT(@6))
                diag_error(p->d, LOC(@6), "expected ';' after '%s', found '%s'",
                           $5, $6);
            $$ = NULL;
        } else if (strcmp($5, "sends") == 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@6), $6, &@6,
                               "a '{' object after 'sends'");
        else if (strcmp($5, "receives") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@5), $5, &@5,
                               "'sends', 'receives', 'loads', 'advances' "
                               "or 'finished'");
        else if (strcmp($6, "nothing") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@6), $6, &@6,
                               "'nothing' or a '{' object");
    }
  | KW_PLAYER '(' expr ')' IDENT test_object ';' {
        $$ = $6;
        $$->kind = T_SEND;
        $$->loc = LOC(@1);
        $$->end_line = @$.end_line;
        $$->text = arena_strndup(ARENA, p->lx.src + @$.off, @$.end_off - @$.off);
        $$->player = $3;
        if (strcmp($5, "receives") == 0)
            $$->kind = T_RECEIVE;
        else if (strcmp($5, "sends") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@5), $5, &@5, "'sends' or 'receives'");
        else if ($$->subset) {
            if (ACTION_MAY_REPORT(@6))
                diag_error(p->d, LOC(@6), "a message to send cannot end "
                           "with '...' (that is for 'receives')");
            $$ = NULL;
        }
    }
  | KW_PLAYER '(' expr ')' IDENT test_object IDENT ';' {
        $$ = $6;
        $$->kind = T_SEND;
        $$->loc = LOC(@1);
        $$->end_line = @$.end_line;
        $$->text = arena_strndup(ARENA, p->lx.src + @$.off, @$.end_off - @$.off);
        $$->player = $3;
        $$->rejected = true;
        if (strcmp($5, "sends") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@5), $5, &@5, "'sends'");
        else if (strcmp($7, "rejected") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@7), $7, &@7, "'rejected' or ';'");
    }
  | KW_PLAYER '(' expr ')' IDENT test_object IDENT STRING ';' {
        $$ = $6;
        $$->kind = T_SEND;
        $$->loc = LOC(@1);
        $$->end_line = @$.end_line;
        $$->text = arena_strndup(ARENA, p->lx.src + @$.off, @$.end_off - @$.off);
        $$->player = $3;
        $$->rejected = true;
        $$->reason = $8.s;
        $$->reason_len = $8.n;
        if (strcmp($5, "sends") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@5), $5, &@5, "'sends'");
        else if (strcmp($7, "rejected") != 0)
            $$ = test_step_bad(p, ACTION_MAY_REPORT(@7), $7, &@7, "'rejected'");
    }
  | error                       { $$ = NULL; }
  ;
/* A message or a pattern: a step whose `a` is the object (and `subset`). */
test_object:
    '{' entries_opt '}' {
        $$ = test_step_new(p, T_SEND, &@1, &@$);
        $$->a = expr_new(p, E_OBJECT, &@$);
        $$->a->entries = $2.head;
    }
  | '{' ELLIPSIS '}' {
        $$ = test_step_new(p, T_SEND, &@1, &@$);
        $$->a = expr_new(p, E_OBJECT, &@$);
        $$->subset = true;
    }
  | '{' entry_list ',' ELLIPSIS '}' {
        $$ = test_step_new(p, T_SEND, &@1, &@$);
        $$->a = expr_new(p, E_OBJECT, &@$);
        $$->a->entries = $2.head;
        $$->subset = true;
    }
  | '{' entry_list ',' ELLIPSIS ',' '}' {
        $$ = test_step_new(p, T_SEND, &@1, &@$);
        $$->a = expr_new(p, E_OBJECT, &@$);
        $$->a->entries = $2.head;
        $$->subset = true;
    }
  ;
/* ---- end of test blocks ---- */

/* Keywords usable as property keys, object keys and after '.', and the
 * declaration keywords (usable as object keys and after '.' only). */
soft_kw:
    KW_PLAYERS | KW_LOAD | KW_START | KW_TIMER | KW_LET | KW_IF | KW_ELSE
  | KW_FOR | KW_IN | KW_WHERE | KW_ORDER | KW_BY | KW_ASC | KW_DESC
  | KW_REQUIRE | KW_REJECT | KW_SEND | KW_ME | KW_ALL | KW_OTHERS
  | KW_INSERT | KW_DELETE | KW_FINISH | KW_AFTER | KW_STOP | KW_RETURN
  | KW_BREAK | KW_CONTINUE | KW_TRUE | KW_FALSE | KW_INT | KW_FLOAT
  | KW_BOOL | KW_STRING | KW_TEMPLATE
  ;
decl_kw:
    KW_GAME | KW_GROUP | KW_PLAYER | KW_MESSAGE | KW_TABLE | KW_VIEW
  | KW_FN | KW_CONST | KW_ON | KW_PAGE | KW_TEST
  ;
any_name: IDENT | soft_kw | decl_kw ;

/* block ::= '{' stmt* '}' */
block:
    '{' stmts '}'               { $$ = $2; }
  ;
stmts:
    %empty                      { $$.head = $$.tail = NULL; }
  | stmts stmt                  { $$ = $1; APPEND($$, $2); }
  ;

/* stmt ::= 'let' NAME (':' type)? '=' expr ';'
 *        | lvalue ('=' | '+=' | '-=' | '*=') expr ';'
 *        | call ';'
 *        | 'if' expr block ('else' (block | if))?
 *        | 'for' NAME 'in' expr ('..' expr)? block
 *        | 'require' expr 'else' STRING ';'   | 'reject' expr ';'
 *        | 'send' ('me' | 'all' | 'others' | 'player' '(' expr ')') expr ';'
 *        | 'insert' NAME '{' entries '}' ';'  | 'delete' expr ';'
 *        | 'finish' ';'
 *        | 'start' 'timer' NAME 'after' expr ';' | 'stop' 'timer' NAME ';'
 *        | 'return' expr? ';' | 'break' ';' | 'continue' ';'
 *        | block
 * A bad statement is skipped up to a token that can start the next one. */
stmt:
    KW_LET IDENT let_type '=' expr ';' {
        $$ = stmt_new(p, S_LET, &@1, &@$);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->decl_type = $3;
        $$->a = $5;
    }
  | lpostfix assign_op expr ';' {
        $$ = stmt_new(p, S_ASSIGN, &@1, &@$);
        $$->target = $1;
        $$->op = $2;
        $$->a = $3;
    }
  | lpostfix ';' {
        $$ = stmt_new(p, S_EXPR, &@1, &@$);
        $$->a = $1;
        if ($1->kind != E_CALL) {
            if (ACTION_MAY_REPORT(@1))
                diag_error(p->d, LOC(@1),
                       "expected '=', '+=', '-=' or '*=': only a call or an "
                       "assignment can be a statement");
            $$ = NULL;
        }
    }
  | if_stmt
  | KW_FOR IDENT KW_IN expr DOTDOT expr block {
        $$ = stmt_new(p, S_FOR_RANGE, &@1, &@$);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->a = $4;
        $$->b = $6;
        $$->body = $7.head;
    }
  | KW_FOR IDENT KW_IN expr block {
        $$ = stmt_new(p, $4->kind == E_PLAYERS ? S_FOR_PLAYERS : S_FOR_TABLE,
                      &@1, &@$);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->a = $4;
        $$->body = $5.head;
    }
  | KW_REQUIRE expr KW_ELSE expr ';' {
        /* The reason is a string literal (kept as sval, the usual case) or
         * any string expression (b), evaluated only when COND fails: a
         * constant, "too low: " + str(msg.price)... */
        $$ = stmt_new(p, S_REQUIRE, &@1, &@$);
        $$->a = $2;
        if ($4 && $4->kind == E_STRING)
            $$->sval = $4->sval;
        else
            $$->b = $4;
    }
  | KW_REJECT expr ';' {
        $$ = stmt_new(p, S_REJECT, &@1, &@$);
        $$->a = $2;
    }
  | KW_SEND send_target expr ';' {
        $$ = stmt_new(p, S_SEND, &@1, &@$);
        $$->to = $2;
        $$->a = $3;
    }
  | KW_SEND KW_PLAYER '(' expr ')' expr ';' {
        $$ = stmt_new(p, S_SEND, &@1, &@$);
        $$->to = TO_PLAYER;
        $$->target = $4;
        $$->a = $6;
    }
  | KW_INSERT IDENT '{' entries_opt '}' ';' {
        $$ = stmt_new(p, S_INSERT, &@1, &@$);
        $$->name = $2;
        $$->name_loc = LOC(@2);
        $$->entries = $4.head;
    }
  | KW_DELETE expr ';' {
        $$ = stmt_new(p, S_DELETE, &@1, &@$);
        $$->a = $2;
    }
  | KW_FINISH ';'               { $$ = stmt_new(p, S_FINISH, &@1, &@$); }
  | KW_START KW_TIMER IDENT KW_AFTER expr ';' {
        $$ = stmt_new(p, S_START_TIMER, &@1, &@$);
        $$->name = $3;
        $$->name_loc = LOC(@3);
        $$->a = $5;
    }
  | KW_STOP KW_TIMER IDENT ';' {
        $$ = stmt_new(p, S_STOP_TIMER, &@1, &@$);
        $$->name = $3;
        $$->name_loc = LOC(@3);
    }
  | KW_RETURN ';'               { $$ = stmt_new(p, S_RETURN, &@1, &@$); }
  | KW_RETURN expr ';' {
        $$ = stmt_new(p, S_RETURN, &@1, &@$);
        $$->a = $2;
    }
  | KW_BREAK ';'                { $$ = stmt_new(p, S_BREAK, &@1, &@$); }
  | KW_CONTINUE ';'             { $$ = stmt_new(p, S_CONTINUE, &@1, &@$); }
  | block {
        $$ = stmt_new(p, S_BLOCK, &@1, &@$);
        $$->body = $1.head;
    }
  | error                       { $$ = NULL; }
  ;
let_type:
    %empty                      { $$ = NULL; }
  | ':' type                    { $$ = $2; }
  ;
assign_op:
    '='                         { $$ = '='; }
  | PLUSEQ                      { $$ = '+'; }
  | MINUSEQ                     { $$ = '-'; }
  | STAREQ                      { $$ = '*'; }
  ;
send_target:
    KW_ME                       { $$ = TO_ME; }
  | KW_ALL                      { $$ = TO_ALL; }
  | KW_OTHERS                   { $$ = TO_OTHERS; }
  ;
if_stmt:
    KW_IF expr block else_opt {
        $$ = stmt_new(p, S_IF, &@1, &@$);
        $$->a = $2;
        $$->body = $3.head;
        $$->els = $4;
    }
  ;
/* The else branch: a block becomes an S_BLOCK, an else-if an S_IF alone. */
else_opt:
    %empty                      { $$ = NULL; }
  | KW_ELSE block {
        $$ = stmt_new(p, S_BLOCK, &@2, &@2);
        $$->body = $2.head;
    }
  | KW_ELSE if_stmt             { $$ = $2; }
  ;

/* expr  ::= cond | query
 * query ::= NAME 'where' cond order? | NAME order
 * order ::= 'order' 'by' NAME ('asc' | 'desc')?
 * A query is the loosest form, so its condition runs up to 'order', ',',
 * ')', ';' or '{'. */
expr:
    cond
  | query
  ;
query:
    IDENT KW_WHERE cond {
        $$ = expr_new(p, E_QUERY, &@$);
        $$->loc = LOC(@1);
        $$->name = $1;
        $$->a = $3;
    }
  | IDENT KW_WHERE cond KW_ORDER KW_BY order_key order_dir {
        $$ = expr_new(p, E_QUERY, &@$);
        $$->loc = LOC(@1);
        $$->name = $1;
        $$->a = $3;
        $$->order_key = $6;
        $$->order_loc = LOC(@6);
        $$->order_desc = $7;
    }
  | IDENT KW_ORDER KW_BY order_key order_dir {
        $$ = expr_new(p, E_QUERY, &@$);
        $$->loc = LOC(@1);
        $$->name = $1;
        $$->order_key = $4;
        $$->order_loc = LOC(@4);
        $$->order_desc = $5;
    }
  ;
order_key: IDENT ;
order_dir:
    %empty                      { $$ = false; }
  | KW_ASC                      { $$ = false; }
  | KW_DESC                     { $$ = true; }
  ;

/* cond ::= binexpr ('?' expr ':' cond)? */
cond:
    binexpr
  | binexpr '?' expr ':' cond {
        $$ = expr_new(p, E_COND, &@$);
        $$->a = $1;
        $$->b = $3;
        $$->c = $5;
    }
  ;

/* binexpr ::= unary (OP unary)*, with C precedence:
 *   || < && < == != < (< <= > >=, not chained) < + - < * / % */
binexpr:
    unary
  | binexpr OROR binexpr        { $$ = binary(p, OP_OR, $1, $3, &@$); }
  | binexpr ANDAND binexpr      { $$ = binary(p, OP_AND, $1, $3, &@$); }
  | binexpr EQEQ binexpr        { $$ = binary(p, OP_EQ, $1, $3, &@$); }
  | binexpr NOTEQ binexpr       { $$ = binary(p, OP_NE, $1, $3, &@$); }
  | binexpr '<' binexpr         { $$ = binary(p, OP_LT, $1, $3, &@$); }
  | binexpr LE binexpr          { $$ = binary(p, OP_LE, $1, $3, &@$); }
  | binexpr '>' binexpr         { $$ = binary(p, OP_GT, $1, $3, &@$); }
  | binexpr GE binexpr          { $$ = binary(p, OP_GE, $1, $3, &@$); }
  | binexpr '+' binexpr         { $$ = binary(p, OP_ADD, $1, $3, &@$); }
  | binexpr '-' binexpr         { $$ = binary(p, OP_SUB, $1, $3, &@$); }
  | binexpr '*' binexpr         { $$ = binary(p, OP_MUL, $1, $3, &@$); }
  | binexpr '/' binexpr         { $$ = binary(p, OP_DIV, $1, $3, &@$); }
  | binexpr '%' binexpr         { $$ = binary(p, OP_MOD, $1, $3, &@$); }
  ;

/* unary ::= ('-' | '!') unary | postfix */
unary:
    postfix
  | '-' unary {
        if ($2->kind == E_INT && $2->ival == INT64_MIN && $2->op == 0) {
            /* -9223372036854775808: the smallest int, folded (the lexer
             * marked 2^63 with INT64_MIN; op '-' says it was negated) */
            $$ = $2;
            $$->op = '-';
            $$->loc = LOC(@$);
        } else {
            $$ = expr_new(p, E_UNARY, &@$);
            $$->op = '-';
            $$->a = $2;
        }
    }
  | '!' unary {
        $$ = expr_new(p, E_UNARY, &@$);
        $$->op = '!';
        $$->a = $2;
    }
  ;

/* postfix ::= primary ('.' NAME | '[' expr ']')*
 * An E_FIELD's location is its field name (after the '.'), so a message
 * about the field points at it; the base carries its own location. */
postfix:
    primary
  | postfix '.' any_name {
        $$ = expr_new(p, E_FIELD, &@$);
        $$->loc = LOC(@3);
        $$->a = $1;
        $$->name = $3;
    }
  | postfix '[' expr ']' {
        $$ = expr_new(p, E_INDEX, &@$);
        $$->a = $1;
        $$->b = $3;
    }
  ;

/* primary ::= lprimary | INT | FLOAT | STRING | DURATION | 'true' | 'false'
 *           | 'players' | '[' args ']' | '{' entries '}'
 *           | ('int' | 'float' | 'bool' | 'string') '(' args ')' */
primary:
    lprimary
  | INTLIT {
        $$ = expr_new(p, E_INT, &@$);
        $$->ival = $1;
    }
  | FLOATLIT {
        $$ = expr_new(p, E_FLOAT, &@$);
        $$->fval = $1;
    }
  | STRING {
        $$ = expr_new(p, E_STRING, &@$);
        $$->sval = $1.s;
        $$->slen = $1.n;
    }
  | DURATION {
        $$ = expr_new(p, E_DURATION, &@$);
        $$->ival = $1;
    }
  | KW_TRUE {
        $$ = expr_new(p, E_BOOL, &@$);
        $$->ival = 1;
    }
  | KW_FALSE                    { $$ = expr_new(p, E_BOOL, &@$); }
  | KW_PLAYERS                  { $$ = expr_new(p, E_PLAYERS, &@$); }
  | '[' args_opt ']' {
        $$ = expr_new(p, E_ARRAY, &@$);
        $$->args = $2.head;
    }
  | '{' entries_opt '}' {
        $$ = expr_new(p, E_OBJECT, &@$);
        $$->entries = $2.head;
    }
  | KW_INT '(' args_opt ')' {
        $$ = expr_new(p, E_CALL, &@$);
        $$->name = "int";
        $$->args = $3.head;
    }
  | KW_FLOAT '(' args_opt ')' {
        $$ = expr_new(p, E_CALL, &@$);
        $$->name = "float";
        $$->args = $3.head;
    }
  | KW_BOOL '(' args_opt ')' {
        $$ = expr_new(p, E_CALL, &@$);
        $$->name = "bool";
        $$->args = $3.head;
    }
  | KW_STRING '(' args_opt ')' {
        $$ = expr_new(p, E_CALL, &@$);
        $$->name = "string";
        $$->args = $3.head;
    }
  ;

/* The expressions a statement may start with (no literal, no object):
 * lprimary ::= NAME | call | 'group' | 'me' | 'player' '(' expr ')'
 *            | '(' expr ')'
 * lpostfix ::= lprimary ('.' NAME | '[' expr ']')* */
lprimary:
    IDENT {
        $$ = expr_new(p, E_NAME, &@$);
        $$->name = $1;
    }
  | call
  | KW_GROUP                    { $$ = expr_new(p, E_GROUP, &@$); }
  | KW_ME                       { $$ = expr_new(p, E_ME, &@$); }
  | KW_PLAYER '(' expr ')' {
        $$ = expr_new(p, E_PLAYER, &@$);
        $$->a = $3;
    }
  | '(' expr ')'                { $$ = $2; }
  ;
lpostfix:
    lprimary
  | lpostfix '.' any_name {
        $$ = expr_new(p, E_FIELD, &@$);
        $$->loc = LOC(@3);
        $$->a = $1;
        $$->name = $3;
    }
  | lpostfix '[' expr ']' {
        $$ = expr_new(p, E_INDEX, &@$);
        $$->a = $1;
        $$->b = $3;
    }
  ;

/* call ::= NAME '(' (expr (',' expr)* ','?)? ')' */
call:
    IDENT '(' args_opt ')' {
        $$ = expr_new(p, E_CALL, &@$);
        $$->name = $1;
        $$->args = $3.head;
    }
  ;
args_opt:
    %empty                      { $$.head = $$.tail = NULL; }
  | arg_list
  | arg_list ','
  ;
arg_list:
    expr                        { $$.head = $$.tail = NULL; APPEND($$, $1); }
  | arg_list ',' expr           { $$ = $1; APPEND($$, $3); }
  ;

%%

/* Reports a constraint keyword other than `max` (before its expression is
 * parsed; the parser stays quiet about the next token). */
static void check_constraint_name(struct parser *p, const char *name,
                                  const YYLTYPE *l)
{
    if (strcmp(name, "max") == 0)
        return;
    const struct lex_tokinfo *prev = &p->lx.prev;
    if (p->lx.last.loc.tok == l->tok && prev->loc.end_line < l->line) {
        /* `a: int` then a new field on the next line: a missing ';'. */
        struct loc at = { prev->loc.end_line, prev->loc.end_col, 1 };
        diag_error(p->d, at, "expected ';' after the field declaration");
    } else {
        diag_error(p->d, LOC(*l),
                   "expected 'in', 'max', '=' or ';', found '%s'", name);
        static const char *const cands[] = { "max", "in", NULL };
        const char *s = diag_suggest(name, cands);
        if (s)
            diag_help(p->d, "did you mean '%s'?", s);
    }
    quiet_after(p, l->tok + 1);
}

static int yylex(YYSTYPE *val, YYLTYPE *loc, struct parser *p)
{
    return lexer_next(&p->lx, val, loc);
}

/* Bison calls this only when its stack is exhausted. */
static void yyerror(YYLTYPE *loc, struct parser *p, const char *msg)
{
    (void)msg;
    p->file->too_deep = true;
    diag_error(p->d, LOC(*loc), "the program is nested too deeply");
}

/* ---- syntax error messages -------------------------------------------- */

/* Largest number of tokens listed by name in "expected A, B or C". */
#define MAX_LISTED 4
/* Longest token text quoted after "found". */
#define FOUND_MAX 24

/* True if symbol `name` (as bison spells it, e.g. "';'") is in set e. */
static bool has(const yysymbol_kind_t *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(yysymbol_name(e[i]), name) == 0)
            return true;
    return false;
}

/* True for tokens that can only continue an expression already complete:
 * they are left out of "expected ..." lists when something else fits. */
static bool continues_expr(const char *name)
{
    static const char *const ops[] = {
        "'.'", "'['", "'('", "'?'", "'||'", "'&&'", "'=='", "'!='", "'<'",
        "'<='", "'>'", "'>='", "'+'", "'-'", "'*'", "'/'", "'%'",
        "'where'", "'order'", NULL
    };
    for (const char *const *o = ops; *o; o++)
        if (strcmp(*o, name) == 0)
            return true;
    return false;
}

/* How a token class reads in "expected ..." ("a name", not "identifier");
 * other symbols keep bison's quoted spelling. */
static const char *in_words(const char *name)
{
    static const char *const words[][2] = {
        { "identifier", "a name" }, { "string literal", "a string" },
        { "integer", "an integer" }, { "float", "a float" },
        { "duration", "a duration" },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(name, words[i][0]) == 0)
            return words[i][1];
    return name;
}

/* Appends the closers in e (')' ']' '}') as " or X" to buf. */
static void add_closers(char *buf, size_t size, const yysymbol_kind_t *e,
                        int n)
{
    static const char *const closers[] = { "')'", "']'", "'}'", NULL };
    for (const char *const *c = closers; *c; c++)
        if (has(e, n, *c)) {
            size_t l = strlen(buf);
            snprintf(buf + l, size - l, " or %s", *c);
        }
}

/* Describes the expected set e in words into buf; returns false when it is
 * too diverse to name. *only_semi is set when ';' is all that fits. */
static bool describe_expected(char *buf, size_t size,
                              const yysymbol_kind_t *e, int n,
                              bool *only_semi)
{
    *only_semi = false;
    buf[0] = '\0';
    if (has(e, n, "identifier") && has(e, n, "'game'") &&
        has(e, n, "'let'")) {
        /* After '.', or an object key: any word fits. */
        snprintf(buf, size, "a name");
        add_closers(buf, size, e, n);
        return true;
    }
    if (has(e, n, "'let'") && has(e, n, "'if'")) {
        snprintf(buf, size, "a statement");
        add_closers(buf, size, e, n);
        return true;
    }
    if (has(e, n, "'game'") && has(e, n, "'fn'")) {
        snprintf(buf, size, "a declaration");
        return true;
    }
    if (has(e, n, "integer") && has(e, n, "identifier") &&
        has(e, n, "'('")) {
        snprintf(buf, size, "an expression");
        add_closers(buf, size, e, n);
        return true;
    }
    if (has(e, n, "'int'") && has(e, n, "'string'") && !has(e, n, "'('")) {
        snprintf(buf, size, "a type");
        return true;
    }
    if (has(e, n, "identifier") && has(e, n, "'players'")) {
        snprintf(buf, size, "a name");
        add_closers(buf, size, e, n);
        return true;
    }
    /* A list of tokens, without the operators that would only continue an
     * expression (unless nothing else fits). */
    const char *names[YYNTOKENS];
    int k = 0;
    bool other = false;
    for (int i = 0; i < n; i++)
        if (!continues_expr(yysymbol_name(e[i])))
            other = true;
    /* Closing brackets last: "expected ',' or '}'". */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const char *nm = yysymbol_name(e[i]);
            bool closer = strcmp(nm, "')'") == 0 || strcmp(nm, "']'") == 0 ||
                          strcmp(nm, "'}'") == 0;
            if ((other && continues_expr(nm)) || closer != (pass == 1))
                continue;
            names[k++] = nm;
        }
    if (k == 0 || k > MAX_LISTED)
        return false;
    *only_semi = k == 1 && strcmp(names[0], "';'") == 0;
    size_t len = 0;
    for (int i = 0; i < k; i++) {
        const char *sep = i == 0 ? "" : i == k - 1 ? " or " : ", ";
        len += (size_t)snprintf(buf + len, size > len ? size - len : 0,
                                "%s%s", sep, in_words(names[i]));
    }
    return true;
}

/* Describes the token at l (of symbol kind t) as found in the source. */
static void describe_found(struct parser *p, yysymbol_kind_t t,
                           const YYLTYPE *l, char *buf, size_t size)
{
    if (t == YYSYMBOL_YYEOF) {
        snprintf(buf, size, "end of file");
        return;
    }
    const char *text = p->lx.src + l->off;
    size_t n = l->end_off - l->off;
    const char *cut = "";
    if (n > FOUND_MAX) {
        n = FOUND_MAX;
        cut = "...";
    }
    if (t == YYSYMBOL_STRING)
        snprintf(buf, size, "string %.*s%s", (int)n, text, cut);
    else
        snprintf(buf, size, "'%.*s%s'", (int)n, text, cut);
}

/* What a missing ';' ends, from the declaration the previous token is in. */
static const char *semi_context(const struct lex_tokinfo *prev)
{
    switch (prev->decl_kw_after) {
    case KW_GROUP: case KW_PLAYER: case KW_TABLE: case KW_MESSAGE:
        return prev->depth_after == 1 ? " after the field declaration" : "";
    case KW_CONST:
        return prev->depth_after == 0 ? " after the constant declaration"
                                      : "";
    case KW_GAME: case KW_PAGE:
        return prev->depth_after == 1 ? " after the property" : "";
    case KW_FN: case KW_ON:
        return prev->depth_after >= 1 ? " after the statement" : "";
    default:
        return "";
    }
}

/* Declaration keywords: one at the start of a line ends the scan of
 * statement_end (the lexer closes open brackets there too). */
static bool decl_keyword_at(const char *p, const char *end)
{
    static const char *const kws[] = {
        "game", "group", "player", "message", "table", "view", "fn",
        "const", "on", "page", "test", NULL
    };
    for (const char *const *k = kws; *k; k++) {
        size_t n = strlen(*k);
        if ((size_t)(end - p) > n && memcmp(p, *k, n) == 0 &&
                (p[n] == ' ' || p[n] == '\t'))
            return true;
    }
    return false;
}

/* True for a byte that ends a line: LF, or CR (CRLF, or a lone CR as in
 * old Mac files: the lexer counts them the same way). */
static bool is_eol(char c)
{
    return c == '\n' || c == '\r';
}

/* True if p[0..n) holds a line end. */
static bool has_eol(const char *p, size_t n)
{
    return memchr(p, '\n', n) || memchr(p, '\r', n);
}

/* Skips white space and comments from p; returns the next byte's address
 * (end if none). */
static const char *skip_space(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '/') {
            while (p < end && !is_eol(*p))
                p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            const char *e = p + 2;
            while (e + 1 < end && !(e[0] == '*' && e[1] == '/'))
                e++;
            p = e + 1 < end ? e + 2 : end;
        } else {
            break;
        }
    }
    return p;
}

/* The byte offset where the statement (or field, property, declaration
 * header) holding a syntax error at offset `off` ends, found on the raw
 * text so that the rest of it can stay quiet: one mistake, one message.
 * Scanning from the bad token with a bracket count d (a ')' or ']' that
 * closes a bracket opened before the bad token does not count): a ';' at
 * d <= 0 ends it (included); a '}' bringing d back to 0 ends it when it
 * ends its line (a block) or a ';' follows, unless an `else` follows; a
 * '}' below 0 closes an object literal the error is in when a ';' or more
 * on the same line follows, else the enclosing block (excluded).
 * A declaration keyword at the start of a line also ends it.  Strings and
 * comments are skipped. */
static size_t statement_end(const char *src, size_t len, size_t off)
{
    const char *p = src + off, *end = src + len;
    int d = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            for (p++; p < end && *p != '"' && !is_eol(*p); p++)
                if (*p == '\\' && p + 1 < end && !is_eol(p[1]))
                    p++;
            if (p < end && *p == '"')
                p++;
            continue;
        }
        if (c == '/' && p + 1 < end && (p[1] == '/' || p[1] == '*')) {
            p = skip_space(p, end);
            continue;
        }
        if (is_eol(c)) {
            p++;
            if (p > src + off + 1 && decl_keyword_at(p, end))
                return (size_t)(p - src);
            continue;
        }
        if (c == '(' || c == '[' || c == '{') {
            d++;
        } else if (c == ')' || c == ']') {
            /* Below 0 it closes a bracket the error is in: the statement
             * goes on after it. */
            if (d > 0)
                d--;
        } else if (c == ';' && d <= 0) {
            return (size_t)(p + 1 - src);
        } else if (c == '}') {
            d--;
            const char *n = skip_space(p + 1, end);
            if (d == 0) {
                if (end - n >= 4 && memcmp(n, "else", 4) == 0 &&
                        (end - n == 4 || !(n[4] == '_' || isalnum((unsigned char)n[4])))) {
                    p = n + 4;
                    continue;
                }
                if (n < end && *n == ';')
                    return (size_t)(n + 1 - src);
                /* A block ends its line; an object literal need not. */
                if (has_eol(p + 1, (size_t)(n - p - 1)) || n == end)
                    return (size_t)(p + 1 - src);
            }
            if (d < 0) {
                if (n < end && *n == ';')
                    return (size_t)(n + 1 - src);
                /* The enclosing block's '}' ends a line. */
                if (has_eol(p + 1, (size_t)(n - p - 1)) || n == end)
                    return (size_t)(p - src);
            }
        }
        p++;
    }
    return len;
}

/* The byte offset of the closer that matches the opener at src[off], or
 * `len` when there is none before the end or before a declaration keyword
 * that starts a line.  Strings and comments are skipped. */
static size_t matching_closer(const char *src, size_t len, size_t off)
{
    const char *p = src + off, *end = src + len;
    int d = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            for (p++; p < end && *p != '"' && !is_eol(*p); p++)
                if (*p == '\\' && p + 1 < end && !is_eol(p[1]))
                    p++;
            if (p < end && *p == '"')
                p++;
            continue;
        }
        if (c == '/' && p + 1 < end && (p[1] == '/' || p[1] == '*')) {
            p = skip_space(p, end);
            continue;
        }
        if (is_eol(c) && p + 1 < end && decl_keyword_at(p + 1, end))
            return len;
        if (c == '(' || c == '[' || c == '{')
            d++;
        else if ((c == ')' || c == ']' || c == '}') && --d == 0)
            return (size_t)(p - src);
        p++;
    }
    return len;
}

/* True if the symbol bison spells `name` is a keyword ("'game'" ...). */
static bool is_keyword(const char *name)
{
    return name[0] == '\'' && name[1] >= 'a' && name[1] <= 'z' &&
           name[2] != '\0' && name[2] != '\'';
}

/* Adds a `= help:` line to the syntax error just reported at token t (of
 * the expected set e), for the mistakes people make most: a keyword used
 * as a name, '=' for '==', a `while` loop, a stray 'else' or ';', a chain
 * of comparisons.  prev is the token before t, or
 * NULL. */
/* Whether the token at off..end_off is exactly the word w. */
static bool tok_is(const struct parser *p, size_t off, size_t end_off, const char *w)
{
    return end_off - off == strlen(w) && strncmp(p->lx.src + off, w, end_off - off) == 0;
}

/* A help line for a habit of another language (Python, JavaScript, oTree)
 * at the token l (found) after prev; true if it gave one. */
static bool habit_help(struct parser *p, yysymbol_kind_t t, const YYLTYPE *l,
                       const yysymbol_kind_t *e, int n, const struct lex_tokinfo *prev)
{
    const char *tname = yysymbol_name(t);
    bool ident = t == YYSYMBOL_IDENT;
    bool prev_ident = prev && prev->kind == IDENT;
    if (ident && (tok_is(p, l->off, l->end_off, "and") || tok_is(p, l->off, l->end_off, "or") ||
                  tok_is(p, l->off, l->end_off, "not"))) {
        diag_help(p->d, "'and', 'or' and 'not' are written '&&', '||' and '!'");
    } else if ((ident && tok_is(p, l->off, l->end_off, "elif")) ||
               (prev_ident && tok_is(p, prev->loc.off, prev->loc.end_off, "elif"))) {
        diag_help(p->d, "'elif' is written 'else if'");
    } else if (ident && has(e, n, "'fn'") &&
               (tok_is(p, l->off, l->end_off, "def") || tok_is(p, l->off, l->end_off, "function"))) {
        diag_help(p->d, "a function is declared 'fn NAME(PARAM: TYPE, ...) -> TYPE { ... }'");
    } else if (ident && has(e, n, "'const'")) {
        /* a declaration's place: `ENDOWMENT = 100` */
        size_t q = l->end_off;
        while (q < p->lx.len && (p->lx.src[q] == ' ' || p->lx.src[q] == '\t'))
            q++;
        if (q < p->lx.len && p->lx.src[q] == '=' && p->lx.src[q + 1] != '=')
            diag_help(p->d, "a constant is declared 'const %.*s = VALUE;'",
                      (int)(l->end_off - l->off), p->lx.src + l->off);
        else
            return false;
    } else if (strcmp(tname, "','") == 0 && prev &&
               (prev->kind == KW_ASC || prev->kind == KW_DESC || has(e, n, "'asc'"))) {
        diag_help(p->d, "'order by' takes one column; rows with equal values stay in id order");
    } else if (t == YYSYMBOL_KW_ORDER && prev && prev->kind == KW_PLAYERS) {
        diag_help(p->d, "the players come in id order and cannot be sorted: to rank them, "
                  "keep their scores in a table (one row per player) and sort that");
    } else if (strcmp(tname, "'.'") == 0 && prev && prev->kind == KW_PLAYER) {
        diag_help(p->d, "the sender of the message is 'me'; another player is 'player(ID)'");
    } else if (strcmp(tname, "'+'") == 0 && ((prev && prev->kind == '+') ||
                                             p->lx.src[l->end_off] == '+')) {
        diag_help(p->d, "there is no '++': write 'x += 1;'");
    } else if (strcmp(tname, "'-'") == 0 && ((prev && prev->kind == '-') ||
                                             p->lx.src[l->end_off] == '-')) {
        diag_help(p->d, "there is no '--': write 'x -= 1;'");
    } else if (strcmp(tname, "'*'") == 0 && prev && prev->kind == '*') {
        diag_help(p->d, "there is no power operator: multiply, or use a loop");
    } else if (has(e, n, "'{'") && !has(e, n, "';'") && !has(e, n, "'->'") &&
               strcmp(tname, "'{'") != 0 && prev && prev->kind == ')') {
        diag_help(p->d, "the body of 'if' and 'for' is a block in braces, even for one "
                  "statement: 'if COND { ... }'");
    } else {
        return false;
    }
    return true;
}

static void syntax_help(struct parser *p, yysymbol_kind_t t,
                        const yysymbol_kind_t *e, int n,
                        const struct lex_tokinfo *prev, const YYLTYPE *l)
{
    const char *tname = yysymbol_name(t);
    if (habit_help(p, t, l, e, n, prev))
        return;
    if (strcmp(tname, "'else'") == 0 && has(e, n, "'if'")) {
        diag_help(p->d, "'else' goes right after the '}' of an 'if'");
    } else if (strcmp(tname, "';'") == 0 && has(e, n, "'game'") &&
               !has(e, n, "identifier")) {
        diag_help(p->d, "a declaration ends with its '}', without ';'");
    } else if (strcmp(tname, "';'") == 0 && has(e, n, "'let'") &&
               has(e, n, "'if'")) {
        diag_help(p->d, "an extra ';' (there is no empty statement)");
    } else if (has(e, n, "'after'") && has(e, n, "'player'") && !has(e, n, "'let'")) {
        /* in a test block: steps only */
        diag_help(p->d, "a test holds steps: 'player(N) sends { ... }', 'player(N) receives "
                  "{ ... }', 'expect COND', 'after 10s'");
    } else if (is_keyword(tname) && has(e, n, "identifier") &&
               !has(e, n, "'let'")) {
        diag_help(p->d, "'%.*s' is a keyword and cannot be a name",
                  (int)strlen(tname) - 2, tname + 1);
    } else if (strcmp(tname, "'='") == 0 && has(e, n, "'=='")) {
        diag_help(p->d, "did you mean '=='?");
    } else if (strcmp(tname, "'<'") == 0 || strcmp(tname, "'>'") == 0 ||
               strcmp(tname, "'<='") == 0 || strcmp(tname, "'>='") == 0) {
        /* '<' and friends do not associate: only a chain gets here */
        diag_help(p->d, "comparisons do not chain: write 'a < b && b < c'");
    } else if (prev && prev->kind == IDENT &&
               tok_is(p, prev->loc.off, prev->loc.end_off, "while")) {
        diag_help(p->d, "there is no 'while' loop (every handler "
                  "terminates): use 'for i in A..B'");
    }
}

/* Reports one syntax error (bison calls this only when it is not already
 * recovering from one).  Silent at tokens the lexer marked quiet, and at a
 * ')' or ']' whose brackets already hold an error (the same mistake). */
static int yyreport_syntax_error(const yypcontext_t *ctx, struct parser *p)
{
    yysymbol_kind_t t = yypcontext_token(ctx);
    const YYLTYPE *l = yypcontext_location(ctx);
    if (l->tok <= p->lx.quiet_upto || t == YYSYMBOL_YYUNDEF ||
            l->tok == p->lx.cascade_tok || l->off < p->quiet_off)
        return 0;

    yysymbol_kind_t e[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, e, YYNTOKENS);
    if (n < 0)
        n = 0;
    char want[256], found[64];
    bool only_semi;
    bool named = describe_expected(want, sizeof want, e, n, &only_semi);
    describe_found(p, t, l, found, sizeof found);

    const struct lex_tokinfo *prev = &p->lx.prev;
    bool have_prev = p->lx.last.loc.tok == l->tok && prev->loc.tok > 0;
    const char *tname = yysymbol_name(t);
    /* A '}' where ';' fits ends a field or statement that lacks its ';'. */
    if (!only_semi && have_prev && has(e, n, "';'") &&
            strcmp(tname, "'}'") == 0 && *semi_context(prev))
        only_semi = true;
    if (only_semi && have_prev && prev->loc.end_line < l->line) {
        /* Point just after the statement or field that lacks its ';'.
         * The next line is a statement of its own: not quiet. */
        struct loc at = { prev->loc.end_line, prev->loc.end_col, 1 };
        diag_error(p->d, at, "expected ';'%s", semi_context(prev));
        if (p->lx.slash_line == prev->loc.end_line)
            diag_help(p->d, "'//' starts a comment, to the end of the line (integer "
                      "division is '/')");
        return 0;
    }
    /* The rest of the bad statement stays quiet. */
    size_t q = statement_end(p->lx.src, p->lx.len, l->off);
    if (q > p->quiet_off)
        p->quiet_off = q;
    /* The lexer drops the rest unseen, so that recovery resumes after it.
     * But a bad opening bracket may still be taken by the recovery (as a
     * block, say): then its closer must come through. */
    size_t skip = q;
    if (strcmp(tname, "'{'") == 0 || strcmp(tname, "'('") == 0 ||
            strcmp(tname, "'['") == 0) {
        size_t m = matching_closer(p->lx.src, p->lx.len, l->off);
        if (m < skip)
            skip = m;
    }
    if (skip > p->lx.skip_until)
        p->lx.skip_until = skip;
    if (only_semi && have_prev) {
        diag_error(p->d, LOC(*l), "expected ';'%s, found %s",
                   semi_context(prev), found);
    } else if (named) {
        diag_error(p->d, LOC(*l), "expected %s, found %s", want, found);
    } else {
        diag_error(p->d, LOC(*l), "unexpected %s", found);
    }
    syntax_help(p, t, e, n, have_prev ? prev : NULL, l);
    return 0;
}

/* ---- entry point ------------------------------------------------------ */

int live_parse(struct ast_file *file, struct diag *d)
{
    struct parser *p = calloc(1, sizeof *p);
    if (!p) {
        fprintf(stderr, "livec: out of memory\n");
        abort();
    }
    int before = d->errors;
    p->file = file;
    p->d = d;
    file->decls = NULL;
    p->tail = &file->decls;
    lexer_init(&p->lx, file->src, file->src_len, &file->arena, d);
    if (yyparse(p) != 0 && d->errors == before)
        diag_error(d, LOC(p->lx.last.loc), "cannot parse the file here");
    free(p);
    return d->errors - before;
}
