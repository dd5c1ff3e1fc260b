/*
 * test_emit.c -- Check suite for compiler/emit.c.
 *
 *   - golden: the C generated for games/counter.live, games/tictactoe.live
 *     and tests/lang/tables.live equals tests/golden/counter.c,
 *     tests/golden/tictactoe.c and tests/golden/tables.c byte for byte.  With LIVEC_UPDATE_GOLDEN=1 in the environment the golden files
 *     are rewritten instead (`make update-golden`).
 *   - deterministic: emitting twice gives the same bytes;
 *   - compiles: the C passes `$CC -std=c11 -Wall -Wextra -Wpedantic -Werror
 *     -fsyntax-only` against runtime/live.h, for the golden programs, for a
 *     program that uses the rest of the language and for one that uses
 *     tables in every way.
 *   - line directives: every `#line` names an existing .live line or the
 *     real line of the generated C, and code that comes from no .live
 *     statement is attributed to the C file.
 *
 * Paths are relative to LIVEC_TEST_SRCDIR (the test chdir()s there), so the
 * banner reads `games/counter.live` wherever the tree is.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "diag.h"
#include "emit.h"
#include "parse.h"
#include "sema.h"

#ifndef LIVEC_TEST_SRCDIR
#define LIVEC_TEST_SRCDIR "."
#endif
#ifndef LIVEC_TEST_CC
#define LIVEC_TEST_CC "cc"
#endif

static char *slurp(const char *path, size_t *len)
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
    if (len)
        *len = (size_t)n;
    return s;
}

/* Parses, checks and emits src (named path) with options o; returns the C
 * (caller frees). */
static char *gen_o(const char *path, const char *src, struct emit_options o)
{
    struct ast_file f;
    struct diag d;
    char *buf = NULL, *dbuf = NULL;
    size_t len = 0, dlen = 0;
    FILE *mem = open_memstream(&buf, &len), *dmem = open_memstream(&dbuf, &dlen);
    memset(&f, 0, sizeof f);
    f.path = path;
    f.src = src;
    f.src_len = strlen(src);
    diag_init(&d, path, src, f.src_len);
    d.out = dmem;
    int pe = live_parse(&f, &d);
    int se = pe ? 0 : sema_check(&f, &d);
    fclose(dmem);
    ck_assert_msg(pe == 0 && se == 0, "%s does not check:\n%s", path, dbuf);
    ck_assert_int_eq(emit_c(&f, mem, &o), 0);
    fclose(mem);
    free(dbuf);
    arena_free(&f.arena);
    return buf;
}

static char *gen(const char *path, const char *src, bool line_directives)
{
    struct emit_options o = { .line_directives = line_directives };
    return gen_o(path, src, o);
}

static void chdir_src(void)
{
    ck_assert_msg(chdir(LIVEC_TEST_SRCDIR) == 0, "cannot chdir to %s", LIVEC_TEST_SRCDIR);
}

/* Compiles C text with -fsyntax-only -Werror; fails the test with the
 * compiler's output if it does not compile cleanly. */
static void compiles(const char *name, const char *c)
{
    char tmpl[] = "/tmp/livec-test-emit-XXXXXX.c", cmd[8192], out[16384];
    int fd = mkstemps(tmpl, 2);
    FILE *fp, *p;
    size_t n;
    const char *cc = getenv("CC");
    ck_assert(fd >= 0);
    fp = fdopen(fd, "w");
    fputs(c, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I%s/runtime %s %s 2>&1",
             cc && *cc ? cc : LIVEC_TEST_CC, LIVEC_TEST_SRCDIR, LIVEC_RUNTIME_CFLAGS, tmpl);
    p = popen(cmd, "r");
    ck_assert(p != NULL);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int status = pclose(p);
    unlink(tmpl);
    ck_assert_msg(status == 0 && n == 0, "%s: the generated C does not compile cleanly:\n%s", name, out);
}

static void golden(const char *live, const char *gold)
{
    char *src, *c, *want;
    chdir_src();
    src = slurp(live, NULL);
    ck_assert_msg(src != NULL, "cannot read %s", live);
    c = gen(live, src, false);
    if (getenv("LIVEC_UPDATE_GOLDEN") && strcmp(getenv("LIVEC_UPDATE_GOLDEN"), "1") == 0) {
        FILE *fp = fopen(gold, "w");
        ck_assert_msg(fp != NULL, "cannot write %s", gold);
        fputs(c, fp);
        fclose(fp);
        fprintf(stderr, "updated %s\n", gold);
    }
    want = slurp(gold, NULL);
    ck_assert_msg(want != NULL, "cannot read %s (run `make update-golden`)", gold);
    if (strcmp(c, want) != 0) {
        size_t i = 0;
        int line = 1;
        while (c[i] && c[i] == want[i]) {
            line += c[i] == '\n';
            i++;
        }
        ck_abort_msg("%s differs from the generated C at line %d "
                     "(if the change is intended: make update-golden)", gold, line);
    }
    compiles(live, c);
    free(want);
    free(c);
    free(src);
}

START_TEST(golden_counter)
{
    golden("games/counter.live", "tests/golden/counter.c");
}
END_TEST

START_TEST(golden_tictactoe)
{
    golden("games/tictactoe.live", "tests/golden/tictactoe.c");
}
END_TEST

START_TEST(golden_tables)
{
    golden("tests/lang/tables.live", "tests/golden/tables.c");
}
END_TEST

START_TEST(deterministic)
{
    chdir_src();
    char *src = slurp("games/tictactoe.live", NULL);
    ck_assert(src != NULL);
    char *a = gen("games/tictactoe.live", src, false);
    char *b = gen("games/tictactoe.live", src, false);
    ck_assert_str_eq(a, b);
    /* The banner names the path exactly as given. */
    static const char banner[] = "/* Generated by livec from games/tictactoe.live. DO NOT EDIT. */\n";
    ck_assert(strncmp(a, banner, strlen(banner)) == 0);
    free(a);
    free(b);
    free(src);
}
END_TEST

START_TEST(line_directives)
{
    chdir_src();
    char *src = slurp("games/counter.live", NULL);
    char *a = gen("games/counter.live", src, true);
    char *b = gen("games/counter.live", src, false);
    ck_assert_ptr_nonnull(strstr(a, "#line 33 \"games/counter.live\"\n"));
    ck_assert_ptr_null(strstr(b, "#line"));
    compiles("counter with #line", a);
    free(a);
    free(b);
    free(src);
}
END_TEST

/* The rest of the supported language, compiled with -Werror. */
static const char big[] =
    "game big { players 3; title \"A \\\"big\\\" game ?\\u003f= */\"; }\n"
    "const N = 3;\nconst PRICES = [5, 10, 20];\nconst HALF = 0.5;\n"
    "group { a: int[N]; f: float = 1; s: string = \"x\"; b: bool[2]; names: string[2] = [\"p\", \"q\"]; t: int = -4; }\n"
    "player { score: float; tag: string; }\n"
    "message bid { amount: float in 0..100; side: string in [\"buy\", \"sell\"]; n: int in [1, 2, 3] = 2; ok: bool = true; }\n"
    "message ping { }\n"
    "message unhandled { x: int; }\n"
    "view v { total: group.f, mine: me.score, names: group.names, ...w }\n"
    "view w { k: len(players), a: group.a, b: group.b }\n"
    "fn half(x: float) -> float { return x * HALF; }\n"
    "fn pick(a: int[3]) -> int[3] { let b = a; b[0] = 1; b[1] += 2; return b; }\n"
    "fn unused(s: string, k: int) { }\n"
    "fn words(w: string[2]) -> string { return w[0] + w[1]; }\n"
    "on start { group.f = 2.5; start timer t after 2 * 1s; }\n"
    "on timer t { for p in players { p.score += 1; send player(p.id) { s: p.score }; } stop timer t; }\n"
    "on timer never { }\n"
    "on ping { }\n"
    "on load { send me v; }\n"
    "on bid {\n"
    "  let x: float = msg.amount * 2;\n"
    "  me.score = half(x) + float(msg.n);\n"
    "  me.tag = words(group.names);\n"
    "  group.s = group.s + str(msg.n) + str(x) + str(msg.ok);\n"
    "  group.a = pick(group.a);\n"
    "  group.a[random(0, 2)] *= 2;\n"
    "  player(random(1, 3)).score -= 1;\n"
    "  group.names[1] = msg.side;\n"
    "  group.s += \"!\";\n"
    "  let i = int(x) % 3;\n"
    "  let unused_local = 5;\n"
    "  let only_set = 1; only_set = 2; only_set += 3;\n"
    "  let copy = group.a; copy[0] = 1;\n"
    "  let same = group.a == pick(group.a);\n"
    "  if group.a[i] == PRICES[1] || !group.b[0] && same { reject \"no\"; } else if x > 1 { return; } else { group.t = -group.t; }\n"
    "  for k in 0..N - 1 { if k == 1 { continue; } if k == 2 { break; } group.b[k % 2] = true; }\n"
    "  player(1).score = max(1, 2.5) + min(abs(-3), 4) + abs(-1.5);\n"
    "  let r = random(1, 6) + now() / 1000;\n"
    "  let who = player(2);\n"
    "  send all { v: v, arr: [1, 2.5], objs: [{ a: 1 }, { b: [true] }], c: r > 3 ? 1 : 2.0, o: r > 3 ? { a: 1 } : { b: 2 }, who: who.id };\n"
    "  send others [group.s, me.page, player(1).page];\n"
    "  send player(who.id) PRICES;\n"
    "  require me.page == \"live\" && group.s < \"zz\" else \"late */ ??\";\n"
    "  { let s = group.s; group.s = \"y\"; send me { s: s }; }\n"
    "  finish;\n"
    "}\n";

START_TEST(compiles_language)
{
    char *c = gen("big.live", big, false);
    compiles("big.live", c);
    /* Spot checks of the contract (DESIGN.md "Generated C"). */
    ck_assert_ptr_nonnull(strstr(c, "GROUP_W->a[ix] = lv_mul(ctx, 27, GROUP->a[ix], 2);"));
    ck_assert_ptr_nonnull(strstr(c, "lv_str_set(ctx, &GROUP_W->names[lv_index(ctx, 29, 1, 2)], msg->side);"));
    ck_assert_ptr_nonnull(strstr(c, "static void big__decode_unhandled(lv_ctx *ctx, json_t *body)"));
    ck_assert_ptr_nonnull(strstr(c, "{ \"never\", big__timer_never }"));
    /* A quoted line cannot end its comment early; no trigraph survives. */
    ck_assert_ptr_nonnull(strstr(c, "else \"late * / ??\"; */"));
    ck_assert_ptr_nonnull(strstr(c, "lv_reject(ctx, \"late */ ?\\?\");"));
    free(c);
}
END_TEST

/* Tables: every construct, with the corners of the generated C -- a table
 * without columns, an empty insert, every kind of sort key, queries nested
 * in where clauses that read locals, loop variables, msg and outer rows. */
static const char tabs[] =
    "game tabs { players 2; }\n"
    "table mark { }\n"
    "table bid { who: int; amount: float; ok: bool = true; note: string; hist: int[3] = [1, 2, 3]; }\n"
    "message m { x: int; s: string = \"\"; }\n"
    "fn n_above(a: float) -> int { return count(bid where amount > a); }\n"
    "fn wipe() { for b in bid { delete b; } insert mark { }; }\n"
    "view state { bids: bid, marks: mark, n: len(mark), by_note: bid order by note desc }\n"
    "on load { send me state; }\n"
    "on m {\n"
    "  insert mark { };\n"
    "  insert bid { who: me.id, amount: float(msg.x), note: msg.s, hist: [msg.x, 0, 0] };\n"
    "  let lim = 2;\n"
    "  for p in players {\n"
    "    for b in bid where who == p.id && count(bid where amount > b.amount && who != lim) < msg.x"
    " order by ok asc {\n"
    "      b.hist[0] += 1; b.amount *= 2.0; b.ok = !b.ok; b.hist = [b.id, p.id, lim];\n"
    "      send player(p.id) { b: b, rank: count(bid where amount > b.amount), ...b };\n"
    "      if b.amount > 100.0 { delete b; break; }\n"
    "    }\n"
    "  }\n"
    "  send all { top: bid where amount >= float(lim) order by amount desc, ids: bid order by id desc,"
    " who: bid order by who asc, n: n_above(1.0) + len(bid where note == msg.s) + count(mark) };\n"
    "  send me msg.x > 1 ? bid : [{ a: 1 }];\n"
    "  if count(mark) > 3 { wipe(); }\n"
    "}\n";

START_TEST(compiles_tables)
{
    char *c = gen("tabs.live", tabs, false);
    compiles("tabs.live", c);
    ck_assert_ptr_nonnull(strstr(c, "struct tabs__row_mark {\n    int64_t id;"));
    ck_assert_ptr_nonnull(strstr(c, "{ \"mark\", NULL, 0, sizeof(struct tabs__row_mark), "
                                    "offsetof(struct tabs__row_mark, id), tabs__init_row_mark },"));
    ck_assert_ptr_nonnull(strstr(c, ".tables = tabs__tables,\n    .n_tables = 2,"));
    ck_assert_ptr_nonnull(strstr(c, "(void)lv_row_insert(ctx, 10, 0);"));
    ck_assert_ptr_nonnull(strstr(c, "lv_row_delete(ctx, 1, v_b);"));
    ck_assert_ptr_nonnull(strstr(c, "((struct tabs__row_bid *)lv_row_w(ctx, 1, v_b))->ok = (!v_b->ok);"));
    /* The inner count of the where clause reads the loop's row, a local
     * and msg: they are passed by name. */
    ck_assert_ptr_nonnull(strstr(c, "(lv_ctx *ctx, const struct tabs__row_bid *v_b, int64_t v_lim)"));
    ck_assert_ptr_nonnull(strstr(c, "static int tabs__cmp1_bid_ok_asc(const void *pa, const void *pb)"));
    free(c);
}
END_TEST

/* Checks every `#line` of c (emitted with --line-directives from src, named
 * live_path, game G): a .live line exists in src, a C line is the real line
 * of c that follows the directive (in the file "G.c"), the code after the
 * last statement (decoders, descriptor, main) is attributed to the C file,
 * and there is at least one of each.  Returns the number of C directives. */
static int check_line_directives(const char *c, const char *src, const char *live_path, const char *G)
{
    int src_lines = 0, ln = 0, n_live = 0, n_c = 0;
    bool in_live = false;
    char c_name[64], live_q[256];
    snprintf(c_name, sizeof c_name, "\"%s.c\"", G);
    snprintf(live_q, sizeof live_q, "\"%s\"", live_path);
    for (const char *p = src; *p; p++)
        src_lines += *p == '\n';
    if (*src && src[strlen(src) - 1] != '\n')
        src_lines++;
    for (const char *p = c; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        ln++;
        if (strncmp(p, "#line ", 6) == 0) {
            char *end;
            long n = strtol(p + 6, &end, 10);
            size_t rest = len - (size_t)(end - p);
            ck_assert_msg(*end == ' ', "%s: malformed directive at line %d", live_path, ln);
            end++;
            if (rest - 1 == strlen(live_q) && strncmp(end, live_q, rest - 1) == 0) {
                ck_assert_msg(n >= 1 && n <= src_lines, "%s: line %d: `#line %ld` but the file has %d lines",
                              live_path, ln, n, src_lines);
                n_live++;
                in_live = true;
            } else {
                ck_assert_msg(rest - 1 == strlen(c_name) && strncmp(end, c_name, rest - 1) == 0,
                              "%s: line %d: `#line` names neither %s nor %s", live_path, ln, live_q, c_name);
                ck_assert_msg(n == ln + 1, "%s: line %d says the next line is %ld, it is %d", live_path,
                              ln, n, ln + 1);
                ck_assert_msg(in_live, "%s: line %d: a C `#line` where the C numbering holds", live_path, ln);
                n_c++;
                in_live = false;
            }
        } else if (strncmp(p, "int main(", 9) == 0 || strncmp(p, "static void ", 12) == 0 ||
                   strncmp(p, "static const struct lv_game ", 28) == 0) {
            /* Top-level definitions never come from a .live statement. */
            ck_assert_msg(!in_live, "%s: line %d (%.*s) is attributed to the .live file", live_path, ln,
                          (int)len, p);
        }
        p += nl ? len + 1 : len;
    }
    ck_assert_msg(n_live > 0 && n_c > 0, "%s: %d .live and %d C directives", live_path, n_live, n_c);
    ck_assert(!in_live);
    return n_c;
}

START_TEST(line_directives_exist)
{
    /* One-line handlers and fns are attributed to their line too, and the
     * C after them goes back to the C file. */
    static const char small[] =
        "game one { players 2; }\n"
        "group { n: int; }\n"
        "message hit { k: int; }\n"
        "fn twice(x: int) -> int { return x * 2; }\n"
        "on hit { group.n = twice(msg.k); }\n";
    chdir_src();
    char *ttt = slurp("games/tictactoe.live", NULL), *tab = slurp("tests/lang/tables.live", NULL);
    ck_assert(ttt && tab);
    char *c = gen("games/tictactoe.live", ttt, true);
    check_line_directives(c, ttt, "games/tictactoe.live", "tictactoe");
    free(c);
    c = gen("tests/lang/tables.live", tab, true);
    check_line_directives(c, tab, "tests/lang/tables.live", "tables");
    compiles("tables with #line", c);
    free(c);
    c = gen("big.live", big, true);
    check_line_directives(c, big, "big.live", "big");
    compiles("big with #line", c);
    free(c);
    c = gen("tabs.live", tabs, true);
    check_line_directives(c, tabs, "tabs.live", "tabs");
    free(c);
    c = gen("one.live", small, true);
    ck_assert_int_eq(check_line_directives(c, small, "one.live", "one"), 2);
    ck_assert_ptr_nonnull(strstr(c, "#line 4 \"one.live\"\n"));
    ck_assert_ptr_nonnull(strstr(c, "#line 5 \"one.live\"\n"));
    free(c);
    /* `livec test` builds use the same directives. */
    struct emit_options o = { .line_directives = true, .tests = true };
    c = gen_o("games/tictactoe.live", ttt, o);
    check_line_directives(c, ttt, "games/tictactoe.live", "tictactoe");
    free(c);
    free(ttt);
    free(tab);
}
END_TEST

START_TEST(c_names)
{
    /* .live names that are C keywords or library macros still make valid C:
     * the members get a trailing underscore, the JSON names do not. */
    static const char src[] =
        "game kw { players 1; }\n"
        "group { double: int; EOF: int; GROUP: int; errno: int; _x: int[2] = [1, 2]; }\n"
        "player { static: int; }\n"
        "table t { switch: int; stdin: string; }\n"
        "message m { char: int; }\n"
        "fn f(NULL: int, ctx: int) -> int { return NULL + ctx; }\n"
        "on m { group.double = f(msg.char, 1); me.static = 1; insert t { switch: 1 };"
        " let NULL = 2; let GROUP_W = 3; send me { t: t order by switch desc, EOF: group.EOF };"
        " for r in t where switch > NULL order by stdin asc { r.switch += GROUP_W; } }\n";
    char *c = gen("kw.live", src, false);
    compiles("kw.live", c);
    ck_assert_ptr_nonnull(strstr(c, "{ \"double\", LV_INT, 0, offsetof(struct kw__group, double_) },"));
    ck_assert_ptr_nonnull(strstr(c, "GROUP_W->double_ = kw__fn_f(ctx, msg->char_, 1);"));
    free(c);
}
END_TEST

/* The deepest nesting of ( [ { in C text, outside strings and comments. */
static int max_nesting(const char *c)
{
    int depth = 0, max = 0;
    for (const char *p = c; *p; p++) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                break;
            p = e + 1;
        } else if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                break;
        } else if (*p == '(' || *p == '[' || *p == '{') {
            if (++depth > max)
                max = depth;
        } else if (*p == ')' || *p == ']' || *p == '}') {
            depth--;
        }
    }
    return max;
}

START_TEST(long_chains_stay_shallow)
{
    /* clang stops at 256 nested brackets: a sum of 300 terms, a string of
     * 301 pieces, 300 conditions joined by && and 300 chained ?: stay far
     * below. */
    char *src = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&src, &len);
    ck_assert_ptr_nonnull(fp);
    fputs("game ch { players 1; }\ngroup { a: int = 0; s: string = \"\"; }\n"
          "message m { k: int; }\non m {\n  group.a = msg.k", fp);
    for (int i = 0; i < 300; i++)
        fputs(" + 1", fp);
    fputs(";\n  group.s = \"a\"", fp);
    for (int i = 0; i < 300; i++)
        fputs(" + \"b\"", fp);
    fputs(";\n  let ok = msg.k > 0", fp);
    for (int i = 0; i < 300; i++)
        fputs(" && msg.k > 0", fp);
    fputs(";\n  let w =", fp);
    for (int i = 0; i < 300; i++)
        fprintf(fp, " msg.k == %d ? %d :", i, i);
    fputs(" 0;\n  send me { a: group.a, ok: ok, w: w };\n}\n", fp);
    fclose(fp);
    char *c = gen("ch.live", src, false);
    ck_assert_int_lt(max_nesting(c), 16);
    ck_assert_ptr_nonnull(strstr(c, "GROUP_W->a = (t1 = msg->k, t1 = lv_add(ctx, 5, t1, 1), "));
    compiles("ch.live", c);
    free(c);
    free(src);
}
END_TEST

START_TEST(nested_views_linear)
{
    /* view vK uses v(K-1) twice, 40 deep: the order analysis once walked
     * every use again (2^40 walks: this test would time out). */
    char *src = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&src, &len);
    ck_assert_ptr_nonnull(fp);
    fputs("game nv { players 1; }\ngroup { n: int = 0; }\nmessage m { }\nview v0 { n: group.n }\n", fp);
    for (int k = 1; k <= 40; k++)
        fprintf(fp, "view v%d { a: v%d, b: v%d }\n", k, k - 1, k - 1);
    fputs("fn f() -> int { send all v40; return 1; }\non m { let x = f() + f(); group.n = x; }\n", fp);
    fclose(fp);
    char *c = gen("nv.live", src, false);
    ck_assert_ptr_nonnull(strstr(c, "nv__view_v40(lv_ctx *ctx)"));
    free(c);
    free(src);
}
END_TEST

START_TEST(template_bytes)
{
    /* A template that is not UTF-8 (Latin-1 e-acute) is written with octal
     * escapes, its UTF-8 text as it is: clang warned of invalid source
     * encoding otherwise, and the compiler's output depended on it. */
    char dir[] = "/tmp/livec-test-emit-XXXXXX", path[64], live[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/lat.html", dir);
    snprintf(live, sizeof live, "%s/lat.live", dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("<p>caf\xe9 \xc3\xa9t\xc3\xa9 \xed\xa0\x80</p>\n", fp);
    fclose(fp);
    char *c = gen(live, "game lat { players 1; }\npage main { template \"lat.html\"; }\n", false);
    ck_assert_ptr_nonnull(strstr(c, "\"<p>caf\\351 \xc3\xa9t\xc3\xa9 \\355\\240\\200</p>\\n\""));
    compiles("lat.live", c);
    free(c);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(empty_game)
{
    /* No group, no player, no messages: still valid C11. */
    char *c = gen("tiny.live", "game tiny { players 1; }\n", false);
    ck_assert_ptr_nonnull(strstr(c, "char unused_;"));
    ck_assert_ptr_nonnull(strstr(c, "{ \"live\", NULL }"));
    compiles("tiny.live", c);
    free(c);
}
END_TEST

/* ---- test blocks (livec test) ------------------------------------------------ */

static const char tested[] =
    "game tg { players 2; }\n"
    "group { n: int; board: int[3]; }\n"
    "player { score: int; }\n"
    "table mark { v: int; }\n"
    "message add { k: int; }\n"
    "view mine { score: me.score, marks: mark }\n"
    "on add {\n"
    "  require msg.k > 0 else \"k must be positive\";\n"
    "  group.n += msg.k;\n"
    "  insert mark { v: msg.k };\n"
    "  send me { ...mine };\n"
    "}\n";

static const char tests_text[] =
    "test \"adds\" {\n"
    "  seed 7;\n"
    "  player(1) sends { type: \"add\", k: 2 };  // a comment\n"
    "  player(2) sends { type: \"add\", k: 0 }\n"
    "    rejected \"positive\";\n"
    "  player(1) receives { ...mine, ... };\n"
    "  expect count(mark where v > 1) == 1 && group.board == [0, 0, 0];\n"
    "  expect group.n >= 2;\n"
    "  after group.n * 1s;\n"
    "  player(2) receives nothing;\n"
    "}\n"
    "test \"nothing\" { }\n";

START_TEST(tests_left_out_of_builds)
{
    /* A normal build ignores test blocks: the C is the same byte for byte. */
    char *with = malloc(sizeof tested + sizeof tests_text);
    strcpy(with, tested);
    strcat(with, tests_text);
    char *a = gen("tg.live", tested, false), *b = gen("tg.live", with, false);
    ck_assert_str_eq(a, b);
    ck_assert_ptr_null(strstr(b, "testing.h"));
    free(a);
    free(b);
    free(with);
}
END_TEST

START_TEST(tests_compile)
{
    char *with = malloc(sizeof tested + sizeof tests_text);
    strcpy(with, tested);
    strcat(with, tests_text);
    struct emit_options o = { .tests = true };
    char *c = gen_o("tg.live", with, o);
    chdir_src();
    compiles("tg.live (tests)", c);
    ck_assert_ptr_nonnull(strstr(c, "#include \"live.h\"\n#include \"testing.h\"\n"));
    ck_assert_ptr_null(strstr(c, "lv_main("));
    ck_assert_ptr_nonnull(strstr(c, "return lv_test_main(&tg__game, tg__tests, 2, argc, argv);"));
    ck_assert_ptr_nonnull(strstr(c, "{ \"adds\", 13, tg__test1_steps, 8 },"));
    ck_assert_ptr_nonnull(strstr(c, "{ \"nothing\", 24, NULL, 0 },"));
    /* The step as written, on one line, without its comment. */
    ck_assert_ptr_nonnull(strstr(c, "{ .kind = LV_STEP_SEED, .line = 14, .text = \"seed 7;\", .num = 7 },"));
    ck_assert_ptr_nonnull(strstr(c, ".text = \"player(1) sends { type: \\\"add\\\", k: 2 };\", "
                                    ".player = 1, .eval = tg__test1_step2 },"));
    ck_assert_ptr_nonnull(strstr(c, ".player = 2, .eval = tg__test1_step3, .rejected = true, "
                                    ".reason = \"positive\" },"));
    ck_assert_ptr_nonnull(strstr(c, ".eval = tg__test1_step4, .subset = true },"));
    ck_assert_ptr_nonnull(strstr(c, ".eval = tg__test1_step6, .op = \">=\" },"));
    ck_assert_ptr_nonnull(strstr(c, "{ .kind = LV_STEP_NOTHING, .line = 22, .text = "
                                    "\"player(2) receives nothing;\", .player = 2 },"));
    /* Eval functions: views with me, queries, both sides of a comparison. */
    ck_assert_ptr_nonnull(strstr(c, "static void tg__test1_step4(lv_ctx *ctx, struct lv_test_value *out)"));
    ck_assert_ptr_nonnull(strstr(c, "lv_spread(o1, tg__view_mine(ctx));"));
    /* each side once into a temporary, shown and compared from there */
    ck_assert_ptr_nonnull(strstr(c, "t1 = GROUP->n;\n"));
    ck_assert_ptr_nonnull(strstr(c, "out->left = lv_jint(ctx, t1);"));
    ck_assert_ptr_nonnull(strstr(c, "out->num = lv_mul(ctx, 21, GROUP->n, 1000);"));
    free(c);
    free(with);

    /* A file without tests still gets a driver (that runs none). */
    c = gen_o("tg.live", tested, o);
    compiles("tg.live (no tests)", c);
    ck_assert_ptr_nonnull(strstr(c, "return lv_test_main(&tg__game, NULL, 0, argc, argv);"));
    free(c);
}
END_TEST

static Suite *emit_suite(void)
{
    Suite *s = suite_create("emit");
    TCase *tc = tcase_create("emit");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, golden_counter);
    tcase_add_test(tc, golden_tictactoe);
    tcase_add_test(tc, golden_tables);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, line_directives);
    tcase_add_test(tc, compiles_language);
    tcase_add_test(tc, compiles_tables);
    tcase_add_test(tc, line_directives_exist);
    tcase_add_test(tc, c_names);
    tcase_add_test(tc, empty_game);
    tcase_add_test(tc, long_chains_stay_shallow);
    tcase_add_test(tc, template_bytes);
    tcase_add_test(tc, nested_views_linear);
    tcase_add_test(tc, tests_left_out_of_builds);
    tcase_add_test(tc, tests_compile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(emit_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
