/*
 * test_sema.c -- Check suite for compiler/sema.c.
 *
 * Two kinds of tests:
 *   - inline programs, each asserting the exact first line(s) of the
 *     diagnostics that sema reports (and that good programs report none);
 *   - the corpus tests/bad/sem_*.live: each file starts with comment lines
 *     `// expect: LINE:COL: error: MESSAGE` (or `warning:`), one per expected
 *     diagnostic in order, and parse+sema must print exactly those first
 *     lines (the same annotation format as the dsl corpus lex_* / syn_*);
 *     each `// expect-help: TEXT` line asks for a `= help: TEXT` line, in
 *     order.
 * The corpus is found through LIVEC_TEST_SRCDIR (the absolute source dir).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "parse.h"
#include "sema.h"

#ifndef LIVEC_TEST_SRCDIR
#define LIVEC_TEST_SRCDIR "."
#endif

/* Largest diagnostics text a test collects. */
#define MAX_OUT 65536

struct result {
    int parse_errors, sema_errors, warnings;
    char text[MAX_OUT];     /* first lines only, "LINE:COL: kind: msg\n" each */
    char full[MAX_OUT];     /* everything printed: quoted lines, carets, help */
};

/* Keeps only the header lines ("PATH:L:C: error|warning: ...") without PATH. */
static void first_lines(const char *path, const char *all, char *out, size_t n)
{
    size_t plen = strlen(path), used = 0;
    const char *p = all;
    out[0] = 0;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > plen && strncmp(p, path, plen) == 0 && p[plen] == ':' &&
            (strstr(p, ": error: ") || strstr(p, ": warning: ")) &&
            (size_t)(strstr(p, ": ") - p) < len) {
            const char *rest = p + plen + 1;
            size_t rl = len - plen - 1;
            if (used + rl + 2 < n) {
                memcpy(out + used, rest, rl);
                used += rl;
                out[used++] = '\n';
                out[used] = 0;
            }
        }
        p = e ? e + 1 : p + len;
    }
}

static void run(const char *path, const char *src, struct result *r)
{
    struct ast_file f;
    struct diag d;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(mem);
    memset(&f, 0, sizeof f);
    f.path = path;
    f.src = src;
    f.src_len = strlen(src);
    diag_init(&d, path, src, strlen(src));
    d.out = mem;
    r->parse_errors = live_parse(&f, &d);
    r->sema_errors = r->parse_errors ? 0 : sema_check(&f, &d);
    r->warnings = d.warnings;
    fclose(mem);
    first_lines(path, buf, r->text, sizeof r->text);
    snprintf(r->full, sizeof r->full, "%s", buf);
    free(buf);
    arena_free(&f.arena);
}

/* A header every inline program starts with (one line). */
#define HEAD "game g { players 2; }\n"

static void expect(const char *src, const char *want)
{
    struct result r;
    run("t.live", src, &r);
    ck_assert_msg(r.parse_errors == 0, "parse errors in test program:\n%s\n%s", src, r.text);
    ck_assert_msg(strcmp(r.text, want) == 0, "program:\n%s\nwant:\n%sgot:\n%s", src, want, r.text);
}

static void expect_ok(const char *src)
{
    expect(src, "");
}

/* Like expect(), and the diagnostics carry the line `= help: HELP` (or,
 * with help NULL, no help line at all). */
static void expect_help(const char *src, const char *want, const char *help)
{
    struct result r;
    char line[1024];
    run("t.live", src, &r);
    ck_assert_msg(r.parse_errors == 0, "parse errors in test program:\n%s\n%s", src, r.full);
    ck_assert_msg(strcmp(r.text, want) == 0, "program:\n%s\nwant:\n%sgot:\n%s", src, want, r.text);
    if (help) {
        snprintf(line, sizeof line, "= help: %s\n", help);
        ck_assert_msg(strstr(r.full, line) != NULL, "program:\n%s\nwant the help line:\n%sgot:\n%s",
                      src, line, r.full);
    } else {
        ck_assert_msg(strstr(r.full, "= help: ") == NULL, "program:\n%s\nwant no help, got:\n%s",
                      src, r.full);
    }
}

/* The caret line of the first diagnostic of src: its `^~~~` run must
 * start at column col of the quoted line and be len characters long. */
static void expect_caret(const char *src, int col, int len)
{
    struct result r;
    run("t.live", src, &r);
    /* "  N | text\n     |   ^~~\n": the caret line is the first line after
     * a quoted line that has a '|' and then only spaces, '^' and '~'. */
    const char *p = strstr(r.full, "\n");
    ck_assert_msg(p != NULL, "no diagnostics for:\n%s", src);
    const char *quoted = p + 1, *bar1 = strchr(quoted, '|');
    const char *caret_line = strchr(quoted, '\n');
    ck_assert(bar1 && caret_line);
    caret_line++;
    const char *bar2 = strchr(caret_line, '|'), *hat = strchr(caret_line, '^');
    ck_assert_msg(bar2 && hat && hat < strchr(caret_line, '\n'), "no caret in:\n%s", r.full);
    int at = (int)(hat - bar2) - 1;     /* the quoted text starts 2 after '|' */
    int n = 1;
    while (hat[n] == '~')
        n++;
    ck_assert_msg(at == col && n == len, "want the caret at column %d, %d long; got %d, %d:\n%s",
                  col, len, at, n, r.full);
}

/* ---- good programs ---------------------------------------------------- */

START_TEST(good_games)
{
    static const char *names[] = { "games/counter.live", "games/tictactoe.live" };
    for (int i = 0; i < 2; i++) {
        char path[4096], *src;
        FILE *fp;
        long n;
        struct result r;
        snprintf(path, sizeof path, "%s/%s", LIVEC_TEST_SRCDIR, names[i]);
        fp = fopen(path, "rb");
        ck_assert_msg(fp != NULL, "cannot open %s", path);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        src = calloc(1, (size_t)n + 1);
        ck_assert_int_eq(fread(src, 1, (size_t)n, fp), n);
        fclose(fp);
        run(path, src, &r);
        ck_assert_msg(r.parse_errors + r.sema_errors == 0, "%s: %s", path, r.text);
        ck_assert_str_eq(r.text, "");
        free(src);
    }
}
END_TEST

START_TEST(good_language)
{
    /* Priority 2 features that must check cleanly. */
    expect_ok(HEAD
              "const N = 3;\nconst M = N * 2 + 1;\nconst PRICES = [5, 10, 20];\n"
              "group { a: int[M]; f: float = 1; s: string = \"x\" + \"y\"; b: bool[2]; names: string[N]; }\n"
              "player { score: float; }\n"
              "message bid { amount: float in 0..100; side: string in [\"buy\", \"sell\"]; n: int = 2; }\n"
              "view v { total: group.f, me: me.score, ...w }\n"
              "view w { k: len(players) }\n"
              "fn half(x: float) -> float { return x / 2; }\n"
              "fn pick(a: int[7]) -> int[7] { let b = a; b[0] = 1; return b; }\n"
              "on start { group.f = 2.5; start timer t after 2 * 1s; }\n"
              "on timer t { for p in players { p.score += 1; send player(p.id) { s: p.score }; } stop timer t; }\n"
              "on bid {\n"
              "  let x: float = msg.amount * 2;\n"
              "  me.score = half(x) + float(msg.n);\n"
              "  group.s = group.s + str(msg.n) + str(x) + str(true);\n"
              "  group.a = pick(group.a);\n"
              "  let i = int(x) % 7;\n"
              "  if group.a[i] == PRICES[1] || !group.b[0] { reject \"no\"; } else if x > 1 { return; }\n"
              "  for k in 0..N - 1 { if k == 1 { continue; } if k == 2 { break; } group.names[k] = msg.side; }\n"
              "  player(1).score = max(1, 2.5) + min(abs(-3), 4) + abs(-1.5);\n"
              "  let r = random(1, 6) + now();\n"
              "  send all { v: v, arr: [1, 2.5], objs: [{ a: 1 }], c: r > 3 ? 1 : 2.0 };\n"
              "  send others [group.s, me.page];\n"
              "  require me.page == \"live\" else \"late\";\n"
              "  finish;\n"
              "}\n");
}
END_TEST

/* ---- the checks of compiler.md, one by one, with exact texts ---------- */

START_TEST(game_checks)
{
    expect("group { x: int; }\n",
           "1:1: error: missing 'game' declaration\n");
    expect("const N = 3;\ngame g { players 2; }\n",
           "2:1: error: 'game' must be the first declaration\n");
    expect("game g { players 0; }\n",
           "1:18: error: 'players' must be in 1..64, not 0\n");
    expect("game g { title \"x\"; }\n",
           "1:6: error: game 'g' has no 'players'\n");
    expect(HEAD "game h { players 2; }\n",
           "2:1: error: duplicate 'game' declaration\n");
    expect("game g { players 2; plyers 3; }\n",
           "1:21: error: unknown game property 'plyers'\n");
    expect("const P = 4;\n", "1:1: error: missing 'game' declaration\n");
    expect_ok("game g { players N; }\nconst N = 3;\n"
              "on load { }\n");
}
END_TEST

START_TEST(duplicates)
{
    expect(HEAD "table bid { a: int; }\nfn bid() { }\n",
           "3:4: error: 'bid' is already declared\n");
    expect(HEAD "message bid { a: int; }\nmessage bid { }\non bid { }\n",
           "3:9: error: 'bid' is already declared\n");
    /* messages have their own namespace: `on NAME` and "type" name them */
    expect_ok(HEAD "table offer { p: int; }\nmessage offer { p: int; }\nconst bid = 3;\n"
                   "message bid { }\non bid { }\non offer { insert offer { p: msg.p + bid }; }\n");
    expect(HEAD "message m { }\non m { let x = m; }\n",
           "3:16: error: 'm' is a message, not a value\n");
    expect(HEAD "group { a: int; b: int; a: string; }\n",
           "2:25: error: duplicate field 'a'\n");
    expect(HEAD "on load { }\non load { }\n",
           "3:1: error: duplicate handler 'on load'\n");
    expect(HEAD "fn f(a: int, a: int) { }\n",
           "2:14: error: duplicate parameter 'a'\n"
           "2:14: error: 'a' is already declared in this scope\n");
    expect(HEAD "on load { let x = 1; let x = 2; }\n",
           "2:26: error: 'x' is already declared in this scope\n");
    /* Shadowing in an inner block is fine. */
    expect_ok(HEAD "on load { let x = 1; if x > 0 { let x = x + 1; } }\n");
    /* builtin names and msg are not keywords: locals, parameters and loop
     * variables may take them, hiding the builtin in their scope */
    expect_ok(HEAD "fn f(max: int, msg: int) -> int { return max + msg + min(max, 1); }\n"
                   "on load { let count = 1; for len in 1..2 { count += f(len, 0); } }\n");
    expect(HEAD "on load { let max = 1; let y = max(max, 2); }\n",
           "2:32: error: 'max' is not a function\n");
    expect(HEAD "fn max(a: int) { }\n",
           "2:4: error: 'max' is a reserved name\n");
    /* the smallest int can be written; 2^63 alone cannot */
    expect_ok(HEAD "const LO = -9223372036854775808;\ngroup { t: int = -9223372036854775808; }\n"
                   "on load { let x = -9223372036854775808; group.t = x; }\n");
    expect(HEAD "on load { let y = 1 - 9223372036854775808; }\n",
           "2:23: error: integer literal '9223372036854775808' is out of range\n");
    /* constants go wherever a literal does, `title` too */
    expect_ok("game g { players N; title T + \"!\"; }\nconst N = 2;\nconst T = \"x\";\n");
}
END_TEST

START_TEST(unknown_names)
{
    expect(HEAD "group { total: int; }\non load { group.totl = 1; }\n",
           "3:17: error: unknown field 'totl' on group\n");
    expect(HEAD "player { score: int; }\non load { me.scor = 1; }\n",
           "3:14: error: unknown field 'scor' on player\n");
    expect(HEAD "message bid { amount: int; }\non bid { let x = msg.amont; }\n",
           "3:22: error: unknown field 'amont' on message 'bid'\n");
    expect(HEAD "on load { let x = y; }\n",
           "2:19: error: unknown name 'y'\n");
    expect(HEAD "on load { foo(); }\n",
           "2:11: error: unknown function 'foo'\n");
    expect(HEAD "on tick { }\n",
           "2:4: error: unknown message 'tick'\n");
    /* timers are declared by use: stopping one nothing starts is allowed */
    expect(HEAD "on load { stop timer t; }\n",
           "2:22: warning: timer 't' is never started: stopping it does nothing\n");
    expect(HEAD "on load { let c = count(offer); }\n",
           "2:25: error: unknown table 'offer'\n");
}
END_TEST

START_TEST(types)
{
    expect(HEAD "group { total: int; }\non load { group.total = \"x\"; }\n",
           "3:25: error: cannot assign 'string' to 'int' field 'total'\n");
    expect(HEAD "on load { let x = 1; x = 2.5; }\n",
           "2:26: error: cannot assign 'float' to 'int' variable 'x'\n");
    expect(HEAD "on load { let x: int = true; }\n",
           "2:24: error: cannot initialize 'int' variable 'x' with 'bool'\n");
    expect(HEAD "group { b: int[3]; }\non load { group.b = [1, 2]; }\n",
           "3:21: error: cannot assign 'int[2]' to 'int[3]' field 'b'\n");
    expect(HEAD "on load { let x = 1 + \"a\"; }\n",
           "2:19: error: operator '+' cannot be applied to 'int' and 'string'\n");
    expect(HEAD "on load { let x = -true; let y = !1; }\n",
           "2:19: error: operator '-' cannot be applied to 'bool'\n"
           "2:34: error: operator '!' cannot be applied to 'int'\n");
    expect(HEAD "on load { if 1 { } }\n",
           "2:14: error: condition must be 'bool', not 'int'\n");
    expect(HEAD "on load { require \"x\" else \"y\"; }\n",
           "2:19: error: condition must be 'bool', not 'string'\n");
    expect(HEAD "on load { let o = { a: 1 }; }\n",
           "2:19: error: a 'object' cannot be stored in a variable\n");
    expect(HEAD "on load { let x = int(\"3\"); let y = str([1]); }\n",
           "2:23: error: cannot convert 'string' to 'int'\n"
           "2:41: error: cannot convert 'int[1]' to 'string'\n");
    expect(HEAD "on load { let x = len(3); }\n",
           "2:23: error: 'len' needs a string, an array, a table or 'players', not 'int'\n");
    expect(HEAD "on load { let x = 1; let y = x[0]; }\n",
           "2:30: error: cannot index a 'int'\n");
    /* A TY_ERROR never causes a second error. */
    expect(HEAD "on load { let x = y + 1; let z = x * 2; if x { } }\n",
           "2:19: error: unknown name 'y'\n");
}
END_TEST

START_TEST(targets_and_scope)
{
    expect(HEAD "message m { a: int; }\non m { msg.a = 1; }\n",
           "3:12: error: cannot assign to message field 'msg.a'\n");
    expect(HEAD "on load { for i in 0..2 { i = 1; } }\n",
           "2:27: error: cannot assign to loop variable 'i'\n");
    expect(HEAD "const N = 1;\non load { N = 2; }\n",
           "3:11: error: cannot assign to constant 'N'\n");
    expect(HEAD "on load { me.id = 1; me.page = \"x\"; }\n",
           "2:14: error: cannot assign to read-only field 'id'\n"
           "2:25: error: cannot assign to read-only field 'page'\n");
    expect(HEAD "player { s: int; }\non start { me.s = 1; }\n",
           "3:12: error: 'me' is not available in 'on start'\n");
    expect(HEAD "player { s: int; }\non timer t { me.s = 1; }\non start { start timer t after 1s; }\n",
           "3:14: error: 'me' is not available in 'on timer t'\n");
    expect(HEAD "player { s: int; }\nfn f() { me.s = 1; }\n",
           "3:10: error: 'me' is not available in fn 'f'\n");
    expect(HEAD "group { x: int; }\non load { group.x = msg.x; }\n",
           "3:21: error: 'msg' is not available in 'on load'\n");
    expect(HEAD "on start { send me { a: 1 }; }\n",
           "2:12: error: 'send me' is not available in 'on start'\n");
    expect(HEAD "player { s: int; }\nview v { s: me.s }\non start { send all v; }\n",
           "4:21: error: view 'v' uses 'me', which is not available in 'on start'\n");
    expect(HEAD "on load { break; }\n",
           "2:11: error: 'break' outside a loop\n");
    expect(HEAD "on load { return 1; }\n",
           "2:18: error: a handler cannot return a value\n");
}
END_TEST

START_TEST(fns)
{
    expect(HEAD "fn a() -> int { return b(); }\nfn b() -> int { return a(); }\n",
           "3:24: error: recursive call cycle: a -> b -> a\n");
    expect(HEAD "fn a() { a(); }\n",
           "2:10: error: recursive call cycle: a -> a\n");
    expect(HEAD "fn f(x: int) -> int { if x > 0 { return 1; } }\n",
           "2:4: error: fn 'f' can end without returning a value\n");
    expect_ok(HEAD "fn f(x: int) -> int { if x > 0 { return 1; } else { reject \"no\"; } }\n");
    expect(HEAD "fn f(a: int, b: string) { }\non load { f(1); f(1, 2); }\n",
           "3:11: error: 'f' takes 2 arguments, not 1\n"
           "3:22: error: argument 2 of 'f' must be 'string', not 'int'\n");
    expect(HEAD "fn f() -> int { return \"x\"; }\n",
           "2:24: error: fn 'f' returns 'int', not 'string'\n");
    expect(HEAD "fn f() { return 1; }\n",
           "2:17: error: fn 'f' does not return a value\n");
    expect(HEAD "on load { let x = max(1); }\n",
           "2:19: error: 'max' takes 2 arguments, not 1\n");
}
END_TEST

START_TEST(constants_and_fields)
{
    expect(HEAD "message m { x: int in 5..1; }\non m { }\n",
           "2:20: error: range 5..1 is empty\n");
    expect(HEAD "message m { x: string max 0; }\non m { }\n",
           "2:27: error: 'max' must be a positive int\n");
    expect(HEAD "message m { x: int in 0..9 = 12; }\non m { }\n",
           "2:30: error: default of 'x' breaks its own constraint\n");
    expect(HEAD "message m { x: int[2]; }\non m { }\n",
           "2:16: error: message fields must be int, float, bool or string\n");
    expect(HEAD "group { a: int[0]; }\n",
           "2:16: error: array size must be in 1..4096, not 0\n");
    expect(HEAD "const A = 1 / 0;\n",
           "2:15: error: division by zero in constant expression\n");
    expect(HEAD "const A = B;\nconst B = A;\n",
           "2:7: error: constant 'A' is defined in terms of itself\n");
    expect(HEAD "group { n: int = 1.5; }\n",
           "2:18: error: cannot initialize 'int' field 'n' with 'float'\n");
    expect(HEAD "group { n: int = group.m; m: int; }\n",
           "2:24: error: expected a constant expression\n");
    expect(HEAD "message m { x: int; }\n",
           "2:9: warning: message 'm' has no handler\n");
}
END_TEST

/* A table and a message every table test below starts with (3 lines). */
#define TAB HEAD "table offer { seller: int; price: float; note: string = \"-\"; }\n" \
    "message m { x: int; }\n"

START_TEST(tables)
{
    /* Good: everything LANGUAGE.md shows, with nested loops and queries. */
    expect_ok(TAB
              "view market { all: offer, cheap: offer where price < 10.0 order by price asc,"
              " n: count(offer), mine: count(offer where seller == me.id) }\n"
              "fn cheap(limit: float) -> int { return count(offer where price < limit); }\n"
              "fn add(s: int) { insert offer { seller: s, price: 1.5 }; }\n"
              "on m {\n"
              "  insert offer { seller: me.id, price: 2.0 };\n"
              "  for r in offer where price > 1.0 && id != msg.x order by note desc {\n"
              "    r.price += 1.0; r.note = r.note + \"!\";\n"
              "    for q in offer where price > r.price { delete q; }\n"
              "    if r.id == 3 { delete r; continue; }\n"
              "  }\n"
              "  let n = len(offer where seller == msg.x) + count(offer) + cheap(2.0);\n"
              "  add(n);\n"
              "  send me { rows: offer order by id desc, n: n, first: [market, { o: offer }] };\n"
              "  for r in offer { send player(r.seller) { row: r, ...r }; }\n"
              "}\n");
    /* insert: unknown, duplicate and ill-typed columns; the id. */
    expect(TAB "on m { insert offer { prize: 1.0 }; }\n",
           "4:23: error: unknown field 'prize' on table 'offer'\n");
    expect(TAB "on m { insert offer { price: 1.0, price: 2.0 }; }\n",
           "4:35: error: duplicate field 'price'\n");
    expect(TAB "on m { insert offer { price: 1 }; }\n",
           "4:30: error: cannot assign 'int' to 'float' field 'price'\n");
    expect(TAB "on m { insert offer { id: 3 }; }\n",
           "4:23: error: cannot set 'id': rows are numbered 1, 2, 3... as they are inserted\n");
    expect(TAB "on m { insert offr { id: 3 }; }\n",
           "4:15: error: unknown table 'offr'\n");
    /* Loops: the for variable, r.id, where, order by, delete. */
    expect(TAB "on m { for r in offer { r.id = 2; } }\n",
           "4:27: error: cannot assign to read-only field 'id'\n");
    expect(TAB "on m { for r in offer { r = r; } }\n",
           "4:25: error: cannot assign to loop variable 'r'\n");
    expect(TAB "on m { for r in offer where price { } }\n",
           "4:29: error: condition must be 'bool', not 'float'\n");
    expect(TAB "on m { for r in offer order by pric asc { } }\n",
           "4:32: error: unknown field 'pric' on table 'offer'\n");
    expect(TAB "on m { let x = 1; delete x; }\n",
           "4:26: error: 'delete' needs a table loop variable\n");
    expect(TAB "on m { for r in offer { r.price = \"x\"; } }\n",
           "4:35: error: cannot assign 'string' to 'float' field 'price'\n");
    /* The bare fields are in scope in where only. */
    expect(TAB "on m { for r in offer { let p = price; } }\n",
           "4:33: error: unknown name 'price'\n");
    /* Table values are for sending. */
    expect(TAB "on m { let t = offer; }\n",
           "4:16: error: a 'table offer' cannot be stored in a variable\n");
    expect(TAB "on m { let t = offer.price; }\n",
           "4:22: error: a 'table offer' has no fields\n");
    expect(TAB "on m { let c = count(5); }\n",
           "4:22: error: 'count' needs a table, as in 'count(T where COND)'\n");
    expect(TAB "fn f() { send all offer where seller == me.id; }\non m { f(); }\n",
           "4:41: error: 'me' is not available in fn 'f'\n");
}
END_TEST

START_TEST(template_missing)
{
    expect(HEAD "page play { template \"does-not-exist.html\"; }\n",
           "2:22: error: cannot read template 'does-not-exist.html': No such file or directory\n");
}
END_TEST

/* ---- the corpus ----------------------------------------------------------- */

/* ---- test blocks (livec test) ------------------------------------------------ */

#define TGAME HEAD "group { n: int; board: int[3]; }\nplayer { score: int; }\n" \
    "message add { k: int; }\nview mine { score: me.score }\nview g { n: group.n }\n" \
    "on add { group.n += msg.k; send me { ...mine }; }\n"

START_TEST(test_blocks)
{
    /* Every step kind, with group, player(i), views with `me` where a player
     * sends or receives, consts, builtins and fns in scope. */
    expect_ok(TGAME "const K = 2;\nfn twice(x: int) -> int { return 2 * x; }\n"
              "test \"all steps\" {\n  seed K + 1;\n"
              "  player(1) sends { type: \"add\", k: twice(K) };\n"
              "  player(K) sends { type: \"add\", k: me.score } rejected;\n"
              "  player(2) sends { type: \"nope\" } rejected \"unknown\";\n"
              "  player(1) receives { ...mine, ... };\n  player(1) receives { ...g };\n"
              "  player(2) receives nothing;\n  player(1) loads;\n  player(1) advances;\n"
              "  player(2) finished;\n  after 2 * 1s;\n"
              "  expect group.n == 4 && player(1).score == 0 && len(group.board) == 3;\n"
              "  expect now() > 0 && player(2).page == \"finished\";\n}\n"
              "test \"empty\" { }\n");
    /* Errors are ordinary diagnostics with line:col. */
    expect(TGAME "test \"t\" {\n  player(1) sends { type: \"add\", k: bogus };\n}\n",
           "9:37: error: unknown name 'bogus'\n");
    expect(TGAME "test \"t\" {\n  expect group.n;\n}\n",
           "9:16: error: condition must be 'bool', not 'int'\n");
    expect(TGAME "test \"t\" {\n  expect me.score == 1;\n}\n",
           "9:10: error: 'me' is not available in test \"t\"\n");
    expect(TGAME "test \"t\" {\n  player(3) loads;\n  player(group.n) loads;\n}\n",
           "9:10: error: player 3 does not exist: the group has players 1..2\n"
           "10:16: error: expected a constant expression\n");
    expect(TGAME "test \"t\" {\n  player(1) loads;\n  seed 1;\n  after 1.5;\n}\n",
           "10:3: error: 'seed' must come before the other steps of a test\n"
           "11:9: error: 'after' takes a duration (an 'int' of milliseconds), not 'float'\n");
    expect(TGAME "test \"t\" { seed \"x\"; }\ntest \"t\" { }\n",
           "8:17: error: the seed must be an 'int', not 'string'\n"
           "9:6: error: duplicate test \"t\"\n");
    expect(TGAME "test \"t\" { expect msg.k == 1; }\n",
           "8:19: error: 'msg' is not available in test \"t\"\n");
}
END_TEST

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    long n;
    char *s;
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    s = calloc(1, (size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, fp) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(fp);
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

START_TEST(corpus)
{
    char dir[4096];
    DIR *dp;
    struct dirent *de;
    char *names[1024];
    int n = 0, failures = 0;
    snprintf(dir, sizeof dir, "%s/tests/bad", LIVEC_TEST_SRCDIR);
    dp = opendir(dir);
    ck_assert_msg(dp != NULL, "cannot open %s", dir);
    while ((de = readdir(dp)) && n < 1024) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, "sem_", 4) == 0 && l > 5 && strcmp(de->d_name + l - 5, ".live") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    ck_assert_msg(n >= 25, "only %d sem_*.live files in %s", n, dir);
    for (int i = 0; i < n; i++) {
        char path[8192], want[MAX_OUT];
        size_t used = 0;
        struct result *r = malloc(sizeof *r);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *src = slurp(path);
        ck_assert_msg(src != NULL, "cannot read %s", path);
        want[0] = 0;
        for (const char *p = src; (p = strstr(p, "// expect: ")); ) {
            const char *e = strchr(p, '\n');
            p += strlen("// expect: ");
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (used + l + 2 < sizeof want) {
                memcpy(want + used, p, l);
                used += l;
                want[used++] = '\n';
                want[used] = 0;
            }
            p += l;
        }
        ck_assert_msg(used > 0, "%s has no '// expect:' lines", names[i]);
        run(path, src, r);
        if (strcmp(r->text, want) != 0) {
            fprintf(stderr, "%s:\nwant:\n%sgot:\n%s\n", names[i], want, r->text);
            failures++;
        }
        /* Each `// expect-help: TEXT` is one `= help: TEXT` line, in order. */
        const char *after = r->full;
        for (const char *p = src; (p = strstr(p, "// expect-help: ")); ) {
            char help[1024];
            const char *e = strchr(p, '\n');
            p += strlen("// expect-help: ");
            int l = e ? (int)(e - p) : (int)strlen(p);
            snprintf(help, sizeof help, "= help: %.*s\n", l, p);
            const char *at = strstr(after, help);
            if (!at) {
                fprintf(stderr, "%s: want (in order) the line\n%sgot:\n%s\n", names[i], help, r->full);
                failures++;
                break;
            }
            after = at + strlen(help);
            p += l;
        }
        free(r);
        free(src);
        free(names[i]);
    }
    ck_assert_msg(failures == 0, "%d of %d corpus files differ (see above)", failures, n);
}
END_TEST

/* The small diagnostics: help lines, carets, dead timer handlers. */
START_TEST(helpful_diagnostics)
{
    /* Nothing converts an int to a float implicitly: say how. */
    expect_help(HEAD "group { price: float; }\non load { group.price = 3; }\n",
                "3:25: error: cannot assign 'int' to 'float' field 'price'\n", "write '3.0'");
    expect_help(HEAD "group { price: float; }\non load { group.price = -3; }\n",
                "3:25: error: cannot assign 'int' to 'float' field 'price'\n", "write '-3.0'");
    expect_help(HEAD "group { price: float; }\non load { group.price = len(players); }\n",
                "3:25: error: cannot assign 'int' to 'float' field 'price'\n", "convert with float(...)");
    expect_help(HEAD "table t { price: float; }\non load { insert t { price: 1 }; }\n",
                "3:29: error: cannot assign 'int' to 'float' field 'price'\n", "write '1.0'");
    expect_help(HEAD "fn f(x: float) { }\non load { let n = 2; f(n); }\n",
                "3:24: error: argument 1 of 'f' must be 'float', not 'int'\n", "convert with float(...)");
    expect_help(HEAD "fn f(x: float) { }\non load { f(7); }\n",
                "3:13: error: argument 1 of 'f' must be 'float', not 'int'\n", "write '7.0'");
    expect_help(HEAD "on load { let x: float = 2; }\n",
                "2:26: error: cannot initialize 'float' variable 'x' with 'int'\n", "write '2.0'");
    expect_help(HEAD "fn f() -> float { return 1; }\n",
                "2:26: error: fn 'f' returns 'float', not 'int'\n", "write '1.0'");
    /* Other mismatches get no such help. */
    expect_help(HEAD "group { n: int; }\non load { group.n = 2.5; }\n",
                "3:21: error: cannot assign 'float' to 'int' field 'n'\n", NULL);
    expect_help(HEAD "group { price: float; }\non load { group.price = \"3\"; }\n",
                "3:25: error: cannot assign 'string' to 'float' field 'price'\n", NULL);

    /* An unknown function: the caret underlines the name only. */
    expect_caret(HEAD "on load { let w = winer_of([0, 0, 0]); }\n", 19, 8);
    expect_caret(HEAD "fn add(a: int, b: int) -> int { return a + b; }\non load { let x = add(1); }\n", 19, 3);

    /* A timer handler with no `start timer` anywhere is dead code. */
    expect_help(HEAD "on timer nope { }\n",
                "2:10: warning: timer 'nope' is never started\n",
                "start it in a handler or fn: 'start timer nope after 10s;'");
    expect(HEAD "on timer nope { stop timer nope; }\n",
           "2:10: warning: timer 'nope' is never started\n");
    expect_ok(HEAD "fn arm() { if true { start timer t after 1s; } }\non start { arm(); }\non timer t { }\n");

    /* A bare column name in a table loop body (outside where/order by). */
    expect_help(HEAD "table offer { price: float; }\n"
                "on load { for r in offer where price > 1.0 { let p = price; } }\n",
                "3:54: error: unknown name 'price'\n", "did you mean 'r.price'?");
    expect_help(HEAD "table offer { price: float; }\ntable bid { amount: int; }\n"
                "on load { for r in offer { for b in bid { let p = amount; } } }\n",
                "4:51: error: unknown name 'amount'\n", "did you mean 'b.amount'?");
    expect_help(HEAD "table offer { price: float; }\n"
                "on load { for r in offer { let i = id; } }\n",
                "3:36: error: unknown name 'id'\n", "did you mean 'r.id'?");
    expect_help(HEAD "group { score: int; }\non load { let s = scor; }\n",
                "3:19: error: unknown name 'scor'\n", NULL);
}
END_TEST

static Suite *sema_suite(void)
{
    Suite *s = suite_create("sema");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, good_games);
    tcase_add_test(tc, good_language);
    tcase_add_test(tc, game_checks);
    tcase_add_test(tc, duplicates);
    tcase_add_test(tc, unknown_names);
    tcase_add_test(tc, types);
    tcase_add_test(tc, targets_and_scope);
    tcase_add_test(tc, fns);
    tcase_add_test(tc, constants_and_fields);
    tcase_add_test(tc, tables);
    tcase_add_test(tc, template_missing);
    tcase_add_test(tc, test_blocks);
    tcase_add_test(tc, helpful_diagnostics);
    tcase_add_test(tc, corpus);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sema_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
