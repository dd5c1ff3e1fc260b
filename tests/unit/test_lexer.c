/*
 * test_lexer.c -- Check suite for the re2c lexer (dsl/lexer.re).
 *
 * Each test scans a string and compares a one-line rendering of the token
 * stream -- kind, value, line:col/len for each token -- and the exact
 * diagnostics text, captured through diag.out (a memstream).
 */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "lexer.h"

/* Token stream rendering limit (tests use short inputs). */
#define MAX_TOKENS 1000

/* A short name for token kind k. */
static const char *kind_name(int k, char *buf)
{
    switch (k) {
    case END: return "end";
    case IDENT: return "id";
    case INTLIT: return "int";
    case FLOATLIT: return "float";
    case DURATION: return "dur";
    case STRING: return "str";
    case DOTDOT: return "..";
    case ELLIPSIS: return "...";
    case ARROW: return "->";
    case PLUSEQ: return "+=";
    case MINUSEQ: return "-=";
    case STAREQ: return "*=";
    case EQEQ: return "==";
    case NOTEQ: return "!=";
    case LE: return "<=";
    case GE: return ">=";
    case ANDAND: return "&&";
    case OROR: return "||";
    default:
        if (k > 0 && k < 128) {
            buf[0] = (char)k;
            buf[1] = '\0';
            return buf;
        }
        return "kw";
    }
}

/* Scanning result: the rendered tokens and the diagnostics. */
struct lexed {
    char *toks;
    size_t toks_len;
    char *diags;
    size_t diags_len;
    int errors;
};

/* Scans src (NUL-terminated, or `len` bytes if len > 0) into *r.  Tokens
 * render as `kind[:value]@line:col/len`, separated by spaces, ending with
 * the `end` token. */
static void lex(struct lexed *r, const char *src, size_t len)
{
    if (len == 0)
        len = strlen(src);
    struct arena arena = { 0 };
    struct diag d;
    diag_init(&d, "t.live", src, len);
    d.out = open_memstream(&r->diags, &r->diags_len);
    struct lexer lx;
    lexer_init(&lx, src, len, &arena, &d);
    FILE *f = open_memstream(&r->toks, &r->toks_len);
    for (int i = 0; i < MAX_TOKENS; i++) {
        YYSTYPE v;
        YYLTYPE l;
        int k = lexer_next(&lx, &v, &l);
        char b[2];
        struct loc lc = lexer_loc(&l);
        if (i)
            fputc(' ', f);
        fputs(kind_name(k, b), f);
        if (k == IDENT || (k >= KW_GAME && k <= KW_TEST))
            fprintf(f, ":%s", v.name);
        else if (k == INTLIT || k == DURATION)
            fprintf(f, ":%" PRId64, v.ival);
        else if (k == FLOATLIT)
            fprintf(f, ":%g", v.fval);
        else if (k == STRING) {
            fputc(':', f);
            for (size_t j = 0; j < v.str.n; j++) {
                unsigned char c = (unsigned char)v.str.s[j];
                if (c < 0x20 || c >= 0x7F || c == '\\')
                    fprintf(f, "\\x%02X", c);
                else
                    fputc(c, f);
            }
        }
        fprintf(f, "@%d:%d/%d", lc.line, lc.col, lc.len);
        if (k == END)
            break;
    }
    fclose(f);
    fclose(d.out);
    r->errors = lx.errors;
    ck_assert_int_eq(lx.errors, d.errors);
    arena_free(&arena);
}

static void lexed_free(struct lexed *r)
{
    free(r->toks);
    free(r->diags);
}

/* Scans src and checks the rendering, with no diagnostics. */
static void expect_tokens(const char *src, const char *toks)
{
    struct lexed r;
    lex(&r, src, 0);
    ck_assert_msg(r.errors == 0, "diagnostics for %s:\n%s", src, r.diags);
    ck_assert_str_eq(r.toks, toks);
    lexed_free(&r);
}

/* Scans src and checks the rendering and the full diagnostics text. */
static void expect_lex(const char *src, const char *toks, const char *diags)
{
    struct lexed r;
    lex(&r, src, 0);
    ck_assert_str_eq(r.diags, diags);
    if (toks)
        ck_assert_str_eq(r.toks, toks);
    lexed_free(&r);
}

START_TEST(identifiers_and_keywords)
{
    expect_tokens("game gamer _x1 max msg players player",
                  "kw:game@1:1/4 id:gamer@1:6/5 id:_x1@1:12/3 id:max@1:16/3 "
                  "id:msg@1:20/3 kw:players@1:24/7 kw:player@1:32/6 "
                  "end@1:38/1");
    /* Every reserved word of LANGUAGE.md §1 is a keyword. */
    const char *kws[] = {
        "game", "group", "player", "players", "message", "table", "view",
        "fn", "const", "on", "load", "start", "timer", "let", "if", "else",
        "for", "in", "where", "order", "by", "asc", "desc", "require",
        "reject", "send", "me", "all", "others", "insert", "delete",
        "finish", "after", "stop", "return", "break", "continue", "true",
        "false", "int", "float", "bool", "string", "page", "template",
        "test", NULL
    };
    for (const char **k = kws; *k; k++) {
        struct lexed r;
        lex(&r, *k, 0);
        ck_assert_msg(strncmp(r.toks, "kw:", 3) == 0, "%s -> %s", *k, r.toks);
        lexed_free(&r);
    }
}
END_TEST

START_TEST(numbers)
{
    expect_tokens("0 42 9223372036854775807 007",
                  "int:0@1:1/1 int:42@1:3/2 int:9223372036854775807@1:6/19 "
                  "int:7@1:26/3 end@1:29/1");
    expect_tokens("3.5 1e-3 2.5e+10 1E3",
                  "float:3.5@1:1/3 float:0.001@1:5/4 float:2.5e+10@1:10/7 "
                  "float:1000@1:18/3 end@1:21/1");
    /* A range is int '..' int, not a float. */
    expect_tokens("0..8", "int:0@1:1/1 ..@1:2/2 int:8@1:4/1 end@1:5/1");
    expect_tokens("1.x", "int:1@1:1/1 .@1:2/1 id:x@1:3/1 end@1:4/1");
}
END_TEST

START_TEST(durations)
{
    expect_tokens("250ms 30s 5m 0s",
                  "dur:250@1:1/5 dur:30000@1:7/3 dur:300000@1:11/2 "
                  "dur:0@1:14/2 end@1:16/1");
    /* The largest duration in minutes that fits, and one past it. */
    expect_tokens("153722867280912m", "dur:9223372036854720000@1:1/16 "
                  "end@1:17/1");
    expect_lex("153722867280913m x", "dur:0@1:1/16 id:x@1:18/1 end@1:19/1",
               "t.live:1:1: error: duration '153722867280913m' is out of "
               "range\n"
               "   1 | 153722867280913m x\n"
               "     | ^~~~~~~~~~~~~~~~\n");
}
END_TEST

START_TEST(malformed_numbers)
{
    expect_lex("let d = 5x;", "kw:let@1:1/3 id:d@1:5/1 =@1:7/1 "
               "int:0@1:9/2 ;@1:11/1 end@1:12/1",
               "t.live:1:9: error: malformed literal '5x'\n"
               "   1 | let d = 5x;\n"
               "     |         ^~\n"
               "     = help: a duration is an integer followed by 'ms', "
               "'s' or 'm'\n");
    expect_lex("2.5s", "float:0@1:1/4 end@1:5/1",
               "t.live:1:1: error: malformed literal '2.5s'\n"
               "   1 | 2.5s\n"
               "     | ^~~~\n"
               "     = help: a duration is a whole number followed by 'ms', "
               "'s' or 'm': use a smaller unit\n");
    /* Other malformed numbers, each with the likeliest fix. */
    expect_lex("1. 0x1F 1e 2.5e+ 12ab", "float:0@1:1/2 int:0@1:4/4 "
               "int:0@1:9/2 float:0@1:12/5 int:0@1:18/4 end@1:22/1",
               "t.live:1:1: error: malformed literal '1.'\n"
               "   1 | 1. 0x1F 1e 2.5e+ 12ab\n"
               "     | ^~\n"
               "     = help: a float needs digits after the '.': write "
               "'1.0'\n"
               "t.live:1:4: error: malformed literal '0x1F'\n"
               "   1 | 1. 0x1F 1e 2.5e+ 12ab\n"
               "     |    ^~~~\n"
               "     = help: integers are written in decimal\n"
               "t.live:1:9: error: malformed literal '1e'\n"
               "   1 | 1. 0x1F 1e 2.5e+ 12ab\n"
               "     |         ^~\n"
               "     = help: an exponent is 'e' and digits, as in 1e-3 or "
               "2.5e6\n"
               "t.live:1:12: error: malformed literal '2.5e+'\n"
               "   1 | 1. 0x1F 1e 2.5e+ 12ab\n"
               "     |            ^~~~~\n"
               "     = help: an exponent is 'e' and digits, as in 1e-3 or "
               "2.5e6\n"
               "t.live:1:18: error: malformed literal '12ab'\n"
               "   1 | 1. 0x1F 1e 2.5e+ 12ab\n"
               "     |                  ^~~~\n"
               "     = help: a duration is an integer followed by 'ms', "
               "'s' or 'm'\n");
    /* `1.` before a range or a name is an int and what follows. */
    expect_tokens("1..2 1.x", "int:1@1:1/1 ..@1:2/2 int:2@1:4/1 int:1@1:6/1 "
                  ".@1:7/1 id:x@1:8/1 end@1:9/1");
    expect_lex("99999999999999999999", NULL,
               "t.live:1:1: error: integer literal '99999999999999999999' "
               "is out of range\n"
               "   1 | 99999999999999999999\n"
               "     | ^~~~~~~~~~~~~~~~~~~~\n"
               "     = note: the largest int is 9223372036854775807\n");
    expect_lex("1e999", "float:0@1:1/5 end@1:6/1",
               "t.live:1:1: error: float literal '1e999' is out of range\n"
               "   1 | 1e999\n"
               "     | ^~~~~\n");
}
END_TEST

START_TEST(strings)
{
    expect_tokens("\"abc\" \"\"", "str:abc@1:1/5 str:@1:7/2 end@1:9/1");
    expect_tokens("\"a\\\"b\\\\c\\nd\\te\"",
                  "str:a\"b\\x5Cc\\x0Ad\\x09e@1:1/15 end@1:16/1");
    /* \u escapes decode to UTF-8; a surrogate pair is one character. */
    expect_tokens("\"\\u00e9\\u20AC\"",
                  "str:\\xC3\\xA9\\xE2\\x82\\xAC@1:1/14 end@1:15/1");
    expect_tokens("\"\\uD83D\\uDE00\"",
                  "str:\\xF0\\x9F\\x98\\x80@1:1/14 end@1:15/1");
    /* Raw UTF-8 passes through; columns count bytes. */
    expect_tokens("\"é\" x", "str:\\xC3\\xA9@1:1/4 id:x@1:6/1 end@1:7/1");
}
END_TEST

START_TEST(string_errors)
{
    expect_lex("\"a\\qb\" x", "str:ab@1:1/6 id:x@1:8/1 end@1:9/1",
               "t.live:1:3: error: unknown escape sequence '\\q'\n"
               "   1 | \"a\\qb\" x\n"
               "     |   ^~\n"
               "     = help: the escapes are \\\" \\\\ \\n \\t and \\uXXXX\n");
    expect_lex("x = \"abc\ny", "id:x@1:1/1 =@1:3/1 str:abc@1:5/4 "
               "id:y@2:1/1 end@2:2/1",
               "t.live:1:5: error: unterminated string literal\n"
               "   1 | x = \"abc\n"
               "     |     ^~~~\n"
               "     = help: close it with '\"' on the same line (a string "
               "cannot span lines; \\n is a line break)\n");
    expect_lex("\"abc", "str:abc@1:1/4 end@1:5/1",
               "t.live:1:1: error: unterminated string literal\n"
               "   1 | \"abc\n"
               "     | ^~~~\n"
               "     = help: close it with '\"' on the same line (a string "
               "cannot span lines; \\n is a line break)\n");
    /* A string in single quotes: one error, and a string token. */
    expect_lex("x = 'it is';", "id:x@1:1/1 =@1:3/1 str:it is@1:5/7 "
               ";@1:12/1 end@1:13/1",
               "t.live:1:5: error: a string in single quotes\n"
               "   1 | x = 'it is';\n"
               "     |     ^~~~~~~\n"
               "     = help: strings are written in double quotes: "
               "\"it is\"\n");
    expect_lex("\"\\u12x\"", NULL,
               "t.live:1:2: error: invalid escape '\\u': expected 4 hex "
               "digits\n"
               "   1 | \"\\u12x\"\n"
               "     |  ^~~~\n");
    expect_lex("\"\\uD83D!\"", NULL,
               "t.live:1:2: error: unpaired surrogate '\\uD83D' in string "
               "literal\n"
               "   1 | \"\\uD83D!\"\n"
               "     |  ^~~~~~\n");
    expect_lex("\"\\u0000\"", NULL,
               "t.live:1:2: error: a string cannot contain '\\u0000'\n"
               "   1 | \"\\u0000\"\n"
               "     |  ^~~~~~\n");
    /* Only the first problem of one literal is reported. */
    struct lexed r;
    lex(&r, "\"\\q\\w\"", 0);
    ck_assert_int_eq(r.errors, 1);
    lexed_free(&r);
    /* Invalid UTF-8 inside a string. */
    lex(&r, "\"a\xff\"", 0);
    ck_assert_int_eq(r.errors, 1);
    ck_assert_ptr_nonnull(strstr(r.diags,
                          "error: invalid UTF-8 byte 0xFF in string literal"));
    lexed_free(&r);
}
END_TEST

START_TEST(comments_and_lines)
{
    expect_tokens("a // note\n  b /* x\ny */ c\n\td",
                  "id:a@1:1/1 id:b@2:3/1 id:c@3:6/1 id:d@4:2/1 end@4:3/1");
    expect_lex("a /* never\nclosed", "id:a@1:1/1 end@2:7/1",
               "t.live:1:3: error: unterminated comment\n"
               "   1 | a /* never\n"
               "     |   ^~\n"
               "     = note: the file ends before its '*/'\n");
}
END_TEST

START_TEST(operators)
{
    expect_tokens("{ } ( ) [ ] , ; : . .. ... -> = += -= *= == != < <= > >= "
                  "+ - * / % ! && || ?",
                  "{@1:1/1 }@1:3/1 (@1:5/1 )@1:7/1 [@1:9/1 ]@1:11/1 ,@1:13/1 "
                  ";@1:15/1 :@1:17/1 .@1:19/1 ..@1:21/2 ...@1:24/3 ->@1:28/2 "
                  "=@1:31/1 +=@1:33/2 -=@1:36/2 *=@1:39/2 ==@1:42/2 "
                  "!=@1:45/2 <@1:48/1 <=@1:50/2 >@1:53/1 >=@1:55/2 +@1:58/1 "
                  "-@1:60/1 *@1:62/1 /@1:64/1 %@1:66/1 !@1:68/1 &&@1:70/2 "
                  "||@1:73/2 ?@1:76/1 end@1:77/1");
    expect_tokens("a-=-1", "id:a@1:1/1 -=@1:2/2 -@1:4/1 int:1@1:5/1 "
                  "end@1:6/1");
}
END_TEST

START_TEST(stray_characters)
{
    /* A run of stray characters is one error; scanning goes on. */
    expect_lex("a $@# b", "id:a@1:1/1 id:b@1:7/1 end@1:8/1",
               "t.live:1:3: error: unexpected characters '$@#'\n"
               "   1 | a $@# b\n"
               "     |   ^~~\n");
    expect_lex("a & b", "id:a@1:1/1 id:b@1:5/1 end@1:6/1",
               "t.live:1:3: error: unexpected character '&'\n"
               "   1 | a & b\n"
               "     |   ^\n"
               "     = help: did you mean '&&'?\n");
    /* Non-ASCII: shown as the character, caret one column wide. */
    expect_lex("caf\xc3\xa9 x", "id:caf@1:1/3 id:x@1:7/1 end@1:8/1",
               "t.live:1:4: error: unexpected character '\xc3\xa9'\n"
               "   1 | caf\xc3\xa9 x\n"
               "     |    ^\n");
    /* NUL bytes inside the text are characters, not the end. */
    struct lexed r;
    lex(&r, "a\0b", 3);
    ck_assert_str_eq(r.toks, "id:a@1:1/1 id:b@1:3/1 end@1:4/1");
    ck_assert_int_eq(r.errors, 1);
    ck_assert_ptr_nonnull(strstr(r.diags, "unexpected character '\\x00'"));
    lexed_free(&r);
}
END_TEST

START_TEST(unclosed_brackets)
{
    /* At end of file: reported at the innermost opener, then closed. */
    expect_lex("on x {\n  f(1\n", "kw:on@1:1/2 id:x@1:4/1 {@1:6/1 "
               "id:f@2:3/1 (@2:4/1 int:1@2:5/1 )@3:1/1 }@3:1/1 end@3:1/1",
               "t.live:2:4: error: unclosed '('\n"
               "   2 |   f(1\n"
               "     |    ^\n"
               "     = note: the file ends before its ')'\n");
    /* A declaration keyword at column 1 inside braces closes them. */
    expect_lex("on x {\n  a;\non y {}", "kw:on@1:1/2 id:x@1:4/1 {@1:6/1 "
               "id:a@2:3/1 ;@2:4/1 }@3:1/1 kw:on@3:1/2 id:y@3:4/1 {@3:6/1 "
               "}@3:7/1 end@3:8/1",
               "t.live:1:6: error: unclosed '{'\n"
               "   1 | on x {\n"
               "     |      ^\n"
               "     = note: the next declaration starts at line 3\n");
    /* ... but `group.x` at column 1 is a statement, and `me.page` a field. */
    expect_tokens("on x {\ngroup.x = me.\npage;}",
                  "kw:on@1:1/2 id:x@1:4/1 {@1:6/1 kw:group@2:1/5 .@2:6/1 "
                  "id:x@2:7/1 =@2:9/1 kw:me@2:11/2 .@2:13/1 kw:page@3:1/4 "
                  ";@3:5/1 }@3:6/1 end@3:7/1");
}
END_TEST

START_TEST(nesting_limit)
{
    size_t n = LEX_MAX_NESTING + 10;
    char *src = malloc(n + 1);
    memset(src, '(', n);
    src[n] = '\0';
    struct lexed r;
    lex(&r, src, n);
    ck_assert_int_eq(r.errors, 1);
    ck_assert_ptr_nonnull(strstr(r.diags, "t.live:1:257: error: brackets "
                                 "nested too deeply (the limit is 256)"));
    lexed_free(&r);
    free(src);
}
END_TEST

START_TEST(diag_format)
{
    const char *src = "line one\n  if msg.bidd > group.highest {\n\tx\n";
    char *out = NULL;
    size_t len = 0;
    struct diag d;
    diag_init(&d, "auction.live", src, strlen(src));
    d.out = open_memstream(&out, &len);
    struct loc l = { 2, 9, 4 };
    diag_error(&d, l, "unknown field '%s' on message '%s'", "bidd", "bid");
    diag_help(&d, "did you mean '%s'?", "bid");
    struct loc t = { 3, 2, 1 };
    diag_warning(&d, t, "tab kept");
    struct loc far = { 12, 3, 40 };
    diag_note(&d, "a note");
    diag_error(&d, far, "past the end");
    fclose(d.out);
    ck_assert_str_eq(out,
        "auction.live:2:9: error: unknown field 'bidd' on message 'bid'\n"
        "   2 |   if msg.bidd > group.highest {\n"
        "     |         ^~~~\n"
        "     = help: did you mean 'bid'?\n"
        "auction.live:3:2: warning: tab kept\n"
        "   3 | \tx\n"
        "     | \t^\n"
        "     = note: a note\n"
        "auction.live:12:3: error: past the end\n"
        "   12 |\n"
        "      |   ^\n");
    ck_assert_int_eq(d.errors, 2);
    ck_assert_int_eq(d.warnings, 1);
    free(out);

    /* The exact example of DESIGN.md, at line 12. */
    const char *src12 = "\n\n\n\n\n\n\n\n\n\n\n  if msg.bidd > group.highest {\n";
    out = NULL;
    diag_init(&d, "auction.live", src12, strlen(src12));
    d.out = open_memstream(&out, &len);
    struct loc l12 = { 12, 9, 4 };
    diag_error(&d, l12, "unknown field 'bidd' on message 'bid'");
    diag_help(&d, "did you mean 'bid'?");
    fclose(d.out);
    ck_assert_str_eq(out,
        "auction.live:12:9: error: unknown field 'bidd' on message 'bid'\n"
        "   12 |   if msg.bidd > group.highest {\n"
        "      |         ^~~~\n"
        "      = help: did you mean 'bid'?\n");
    free(out);
}
END_TEST

/* Diagnostics in any line order quote the right lines, also with the
 * line cache of diag.c (a file with 50k errors took 14 s before it: each
 * quote scanned the file from the top), and after diag_init of a new file
 * at the same address. */
START_TEST(diag_many_lines)
{
    const char *src = "one\ntwo\r\nthree\nfour";
    char *out = NULL;
    size_t len = 0;
    struct diag d;
    diag_init(&d, "t.live", src, strlen(src));
    d.out = open_memstream(&out, &len);
    int order[] = { 3, 1, 4, 2, 2, 5 };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        struct loc l = { order[i], 1, 1 };
        diag_error(&d, l, "e%d", order[i]);
    }
    fclose(d.out);
    ck_assert_str_eq(out,
        "t.live:3:1: error: e3\n   3 | three\n     | ^\n"
        "t.live:1:1: error: e1\n   1 | one\n     | ^\n"
        "t.live:4:1: error: e4\n   4 | four\n     | ^\n"
        "t.live:2:1: error: e2\n   2 | two\n     | ^\n"
        "t.live:2:1: error: e2\n   2 | two\n     | ^\n"
        "t.live:5:1: error: e5\n   5 |\n     | ^\n");
    free(out);

    /* Many lines, one error on each. */
    enum { LINES = 20000 };
    char *big = malloc(LINES * 2 + 1);
    ck_assert_ptr_nonnull(big);
    for (int i = 0; i < LINES; i++) {
        big[2 * i] = 'x';
        big[2 * i + 1] = '\n';
    }
    big[LINES * 2] = '\0';
    diag_init(&d, "big.live", big, LINES * 2);
    d.out = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(d.out);
    for (int i = 1; i <= LINES; i++) {
        struct loc l = { i, 1, 1 };
        diag_error(&d, l, "bad");
    }
    fclose(d.out);
    ck_assert_int_eq(d.errors, LINES);
    /* A new file at the same address is found afresh. */
    memcpy(big, "ab\ncd\n", 7);
    diag_init(&d, "big.live", big, 6);
    d.out = open_memstream(&out, &len);
    struct loc l2 = { 2, 2, 1 };
    diag_error(&d, l2, "again");
    fclose(d.out);
    ck_assert_str_eq(out, "big.live:2:2: error: again\n   2 | cd\n     |  ^\n");
    free(out);
    free(big);
}
END_TEST

START_TEST(suggest)
{
    const char *const c[] = { "bid", "amount", "note", "side", NULL };
    ck_assert_str_eq(diag_suggest("bidd", c), "bid");
    ck_assert_str_eq(diag_suggest("amuont", c), "amount");
    ck_assert_ptr_null(diag_suggest("xyz", c));
    ck_assert_ptr_null(diag_suggest("nothing", c));
    /* Within max(1, len/3): "ab" may differ by 1, "sied" (4) by 1. */
    const char *const d[] = { "ax", "side", NULL };
    ck_assert_str_eq(diag_suggest("ab", d), "ax");
    ck_assert_str_eq(diag_suggest("sid", d), "side");
    /* Swapping two adjacent letters is one edit, as people type. */
    ck_assert_str_eq(diag_suggest("sdie", d), "side");
    ck_assert_ptr_null(diag_suggest("sdei", d));
    const char *const e[] = { "score", "move", "total", NULL };
    ck_assert_str_eq(diag_suggest("scroe", e), "score");
    ck_assert_str_eq(diag_suggest("mvoe", e), "move");
    ck_assert_str_eq(diag_suggest("totla", e), "total");
    ck_assert_ptr_null(diag_suggest("mvo", e));
    ck_assert_ptr_null(diag_suggest("", d));
}
END_TEST

START_TEST(arena)
{
    struct arena a = { 0 };
    char *big = arena_alloc(&a, 1 << 20);
    /* One assertion, not a million (each one costs Check a pipe write). */
    size_t nonzero = 0;
    for (size_t i = 0; i < (1u << 20); i++)
        nonzero += big[i] != 0;
    ck_assert_uint_eq(nonzero, 0);
    int *small = arena_alloc(&a, sizeof(int) * 4);
    ck_assert_int_eq(small[3], 0);
    ck_assert_uint_eq((uintptr_t)small % _Alignof(max_align_t), 0);
    char *s = arena_strndup(&a, "hello world", 5);
    ck_assert_str_eq(s, "hello");
    ck_assert_str_eq(arena_strdup(&a, "x"), "x");
    for (int i = 0; i < 10000; i++)
        ck_assert_ptr_nonnull(arena_alloc(&a, 100));
    arena_free(&a);
    ck_assert_ptr_null(a.head);
}
END_TEST

static Suite *lexer_suite(void)
{
    Suite *s = suite_create("lexer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, identifiers_and_keywords);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, malformed_numbers);
    tcase_add_test(tc, strings);
    tcase_add_test(tc, string_errors);
    tcase_add_test(tc, comments_and_lines);
    tcase_add_test(tc, operators);
    tcase_add_test(tc, stray_characters);
    tcase_add_test(tc, unclosed_brackets);
    tcase_add_test(tc, nesting_limit);
    tcase_add_test(tc, diag_format);
    tcase_add_test(tc, diag_many_lines);
    tcase_add_test(tc, suggest);
    tcase_add_test(tc, arena);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    Suite *s = lexer_suite();
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
