/*
 * lexer.re -- the scanner of .live source, LANGUAGE.md §1 (re2c 3.0).
 *
 * Tokens: identifiers and the reserved keywords, integer literals (64-bit),
 * floats (`3.5`, `1e-3`), strings with the escapes \" \\ \n \t \uXXXX
 * (decoded to UTF-8 in the arena; a surrogate pair makes one character),
 * durations (`250ms`, `30s`, `5m`: an int of milliseconds), the operators and
 * punctuation, `//` and `/ * * /` comments.  Columns count bytes.  A line
 * ends at LF, CRLF (one line end) or a lone CR (old Mac files): line comments
 * and strings stop there and the line count counts it.
 *
 * Error policy (see lexer.h): each lexical error is reported once, where it
 * starts, and scanning goes on.  A bad literal still gives a token of its
 * kind (value 0 or the part decoded so far); a run of stray characters is
 * reported as one error and skipped.  The next token is marked "quiet" so the
 * parser stays silent if it trips on it.  Unclosed brackets are reported at
 * their opener and closed by virtual tokens, at end of file or when a
 * declaration keyword starts a line inside them.
 *
 * The input may contain NUL bytes: the end is src + len (re2c's sentinel
 * with bounds checks), not the first NUL.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"

/* Longest token text quoted in a message before it is cut with "...". */
#define QUOTE_MAX 32
/* Longest string value (bytes): runtime/live.h LV_STRING_MAX, which the
 * front end does not include.  A longer literal could never be a value. */
#define STRING_VALUE_MAX (1 << 20)
/* Milliseconds per duration unit. */
#define MS_PER_S 1000
#define MS_PER_M 60000

/* Converts a token location to the AST's struct loc; spans that run over
 * several lines keep the part on the first line (at least one byte). */
struct loc lexer_loc(const YYLTYPE *l)
{
    struct loc r = { l->line, l->col, 1 };
    if (l->end_line == l->line && l->end_col > l->col)
        r.len = l->end_col - l->col;
    else if (l->end_line != l->line && l->eol_col > l->col)
        r.len = l->eol_col - l->col;
    return r;
}

void lexer_init(struct lexer *lx, const char *src, size_t len,
                struct arena *arena, struct diag *d)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->cur = src;
    /* A UTF-8 byte order mark (some Windows editors write one) is skipped;
     * columns of line 1 count from after it, as editors show them. */
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
        lx->cur += 3;
    lx->line_start = lx->cur;
    lx->line = 1;
    lx->arena = arena;
    lx->diag = d;
}

/* Column (1-based, bytes) of p on the current line. */
static int col_of(const struct lexer *lx, const char *p)
{
    return (int)(p - lx->line_start) + 1;
}

/* Location of the bytes [p, p + n) on the current line (n >= 1). */
static struct loc here(const struct lexer *lx, const char *p, size_t n)
{
    struct loc l = { lx->line, col_of(lx, p), n > 0 ? (int)n : 1 };
    return l;
}

/* Fills *loc for a token [tok, lx->cur) that lies on the current line. */
static void set_loc(const struct lexer *lx, const char *tok, YYLTYPE *loc)
{
    memset(loc, 0, sizeof *loc);
    loc->line = loc->end_line = lx->line;
    loc->col = col_of(lx, tok);
    loc->end_col = col_of(lx, lx->cur);
    loc->eol_col = loc->end_col;
    loc->off = (size_t)(tok - lx->src);
    loc->end_off = (size_t)(lx->cur - lx->src);
}

/* Reports a lexical error and marks the next token quiet; says nothing
 * about a token in the rest of a statement that already has a syntax error
 * (skip_until): one mistake, one message. */
static void lex_error(struct lexer *lx, struct loc at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lex_error(struct lexer *lx, struct loc at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lx->tok_off < lx->skip_until)
        return; /* in the rest of a bad statement: see skip_until */
    diag_error(lx->diag, at, "%s", msg);
    lx->errors++;
    /* The token being scanned is number ntok + 1; the parser must not
     * complain about it nor about the one after it. */
    if (lx->quiet_upto < lx->ntok + 2)
        lx->quiet_upto = lx->ntok + 2;
}

/* Adds a `= help:` (or, with note, `= note:`) line to the lexical error
 * just reported, unless lex_error() kept quiet about it. */
static void lex_trailer(struct lexer *lx, bool note, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lex_trailer(struct lexer *lx, bool note, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (lx->tok_off < lx->skip_until)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (note)
        diag_note(lx->diag, "%s", msg);
    else
        diag_help(lx->diag, "%s", msg);
}
#define lex_help(lx, ...) lex_trailer((lx), false, __VA_ARGS__)
#define lex_note(lx, ...) lex_trailer((lx), true, __VA_ARGS__)

/* Copies at most QUOTE_MAX bytes of [p, p + n) into buf (size >=
 * QUOTE_MAX + 4) for quoting in a message, adding "..." when cut. */
static const char *quote(char *buf, const char *p, size_t n)
{
    if (n > QUOTE_MAX) {
        memcpy(buf, p, QUOTE_MAX);
        strcpy(buf + QUOTE_MAX, "...");
    } else {
        memcpy(buf, p, n);
        buf[n] = '\0';
    }
    return buf;
}

/* Length of the valid UTF-8 sequence at p (at most `avail` bytes), or 0 if
 * the bytes there are not valid UTF-8 (overlong forms and surrogates are
 * invalid).  *cp receives the code point. */
static size_t utf8_seq(const unsigned char *p, size_t avail, uint32_t *cp)
{
    if (avail == 0)
        return 0;
    unsigned char c = p[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2; v = c & 0x1F; min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3; v = c & 0x0F; min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4; v = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* Writes code point cp as UTF-8 at out; returns the number of bytes. */
static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Value of n hex digits at p, or -1 if one of them is not a hex digit (or
 * the text ends first). */
static long hex4(const char *p, const char *end)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        if (p + i >= end)
            return -1;
        char c = p[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Scans the rest of a string literal: tok is its opening quote, lx->cur the
 * byte after it.  Decodes the escapes into the arena (val->str) and reports
 * the first problem only: an unterminated string (a raw newline or the end
 * of the file before the closing quote), a bad escape, a lone surrogate,
 * \u0000, invalid UTF-8, a value longer than STRING_VALUE_MAX bytes. */
static int scan_string(struct lexer *lx, const char *tok, YYSTYPE *val)
{
    const char *end = lx->src + lx->len;
    const char *p = lx->cur;
    while (p < end && *p != '"' && *p != '\n' && *p != '\r') {
        if (*p == '\\' && p + 1 < end && p[1] != '\n' && p[1] != '\r')
            p += 2;
        else
            p++;
    }
    const char *body = lx->cur, *body_end = p;
    bool closed = p < end && *p == '"';
    lx->cur = closed ? p + 1 : p;
    if (!closed && p == end)
        lx->eof_by_error = true;

    char *buf = arena_alloc(lx->arena, (size_t)(body_end - body) + 1);
    size_t n = 0;
    bool reported = false;
    if (!closed) {
        lex_error(lx, here(lx, tok, (size_t)(body_end - tok)),
                  "unterminated string literal");
        lex_help(lx, "close it with '\"' on the same line (a string "
                  "cannot span lines; \\n is a line break)");
        reported = true;
    }
    for (const char *q = body; q < body_end;) {
        unsigned char c = (unsigned char)*q;
        if (c != '\\') {
            uint32_t cp;
            size_t k = utf8_seq((const unsigned char *)q,
                                (size_t)(body_end - q), &cp);
            if (k == 0) {
                if (!reported)
                    lex_error(lx, here(lx, q, 1),
                              "invalid UTF-8 byte 0x%02X in string literal", c);
                reported = true;
                q++;
                continue;
            }
            memcpy(buf + n, q, k);
            n += k;
            q += k;
            continue;
        }
        /* An escape: q[1] exists (the scan above stops before a lone
         * backslash at the end only when the string is unterminated). */
        if (q + 1 >= body_end) {
            q++;
            continue;
        }
        char e = q[1];
        switch (e) {
        case '"': buf[n++] = '"'; q += 2; continue;
        case '\\': buf[n++] = '\\'; q += 2; continue;
        case 'n': buf[n++] = '\n'; q += 2; continue;
        case 't': buf[n++] = '\t'; q += 2; continue;
        case 'u': break;
        default: {
            if (!reported) {
                uint32_t cp;
                size_t k = utf8_seq((const unsigned char *)q + 1,
                                    (size_t)(body_end - q - 1), &cp);
                if (k == 0)
                    k = 1;
                lex_error(lx, here(lx, q, 1 + k),
                          "unknown escape sequence '\\%.*s'", (int)k, q + 1);
                lex_help(lx, "the escapes are \\\" \\\\ \\n \\t and "
                          "\\uXXXX");
                reported = true;
            }
            q += 2;
            continue;
        }
        }
        long u = hex4(q + 2, body_end);
        if (u < 0) {
            if (!reported) {
                size_t k = 2;
                while (k < 6 && q + k < body_end &&
                       strchr("0123456789abcdefABCDEF", q[k]) && q[k])
                    k++;
                lex_error(lx, here(lx, q, k),
                          "invalid escape '\\u': expected 4 hex digits");
                reported = true;
            }
            q += 2;
            continue;
        }
        uint32_t cp = (uint32_t)u;
        size_t len = 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = (q + 7 < body_end && q[6] == '\\' && q[7] == 'u')
                          ? hex4(q + 8, body_end) : -1;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                len = 12;
            } else {
                cp = 0;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0;
        } else if (cp == 0) {
            if (!reported)
                lex_error(lx, here(lx, q, 6),
                          "a string cannot contain '\\u0000'");
            reported = true;
            q += 6;
            continue;
        }
        if (cp == 0) {
            if (!reported)
                lex_error(lx, here(lx, q, 6),
                          "unpaired surrogate '\\u%.4s' in string literal",
                          q + 2);
            reported = true;
            q += 6;
            continue;
        }
        n += utf8_put(buf + n, cp);
        q += len;
    }
    buf[n] = '\0';
    if (n > STRING_VALUE_MAX && !reported)
        lex_error(lx, here(lx, tok, (size_t)(lx->cur - tok)),
                  "string literal is longer than 1 MiB (%d bytes), the limit of a string value",
                  STRING_VALUE_MAX);
    val->str.s = buf;
    val->str.n = n;
    return STRING;
}

/* Skips a block comment; tok is its "/ *", lx->cur the byte after.  Keeps
 * the line count (LF, CRLF and a lone CR each end a line).  Returns false (after reporting at the opener) if the file
 * ends first. */
static bool skip_block_comment(struct lexer *lx, const char *tok)
{
    const char *end = lx->src + lx->len;
    struct loc at = here(lx, tok, 2);
    for (const char *p = lx->cur; p < end; p++) {
        if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] != '\n'))) {
            lx->line++;
            lx->line_start = p + 1;
        } else if (*p == '*' && p + 1 < end && p[1] == '/') {
            lx->cur = p + 2;
            return true;
        }
    }
    lx->cur = end;
    lex_error(lx, at, "unterminated comment");
    lex_note(lx, "the file ends before its '*/'");
    return false;
}

/* True if byte c (at p) can start a token or is white space: the end of a
 * run of stray characters. */
static bool starts_token(const char *p, const char *end)
{
    unsigned char c = (unsigned char)*p;
    if (c >= 0x80)
        return false;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '_')
        return true;
    if (c == '&' || c == '|')
        return p + 1 < end && p[1] == (char)c;
    return c != '\0' && strchr(" \t\r\n\f\v\"{}()[],;:.=+-*/%!<>?", c);
}

/* Reports a run of stray characters starting at tok (lx->cur is past its
 * first byte) and skips it. */
static void stray(struct lexer *lx, const char *tok)
{
    const char *end = lx->src + lx->len;
    const char *p = lx->cur;
    while (p < end && !starts_token(p, end))
        p++;
    lx->cur = p;

    /* A printable rendering: valid UTF-8 as is, other bytes as \xNN. */
    char shown[QUOTE_MAX * 4 + 8];
    size_t n = 0, chars = 0;
    for (const char *q = tok; q < p;) {
        if (n > QUOTE_MAX) {
            strcpy(shown + n, "...");
            n += 3;
            break;
        }
        uint32_t cp;
        size_t k = utf8_seq((const unsigned char *)q, (size_t)(p - q), &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7F) {
            n += (size_t)snprintf(shown + n, sizeof shown - n, "\\x%02X",
                                  (unsigned char)*q);
            q++;
        } else {
            memcpy(shown + n, q, k);
            n += k;
            q += k;
        }
        chars++;
    }
    shown[n] = '\0';
    lex_error(lx, here(lx, tok, (size_t)(p - tok)),
              chars == 1 ? "unexpected character '%s'"
                         : "unexpected characters '%s'", shown);
    if (chars == 1 && (*tok == '&' || *tok == '|'))
        lex_help(lx, "did you mean '%c%c'?", *tok, *tok);
    else if (chars == 1 && *tok == '#')
        lex_help(lx, "comments start with '//'");

}

/* Value of the decimal digits [p, e) into *v; false on overflow. */
static bool decimal(const char *p, const char *e, int64_t *v)
{
    int64_t r = 0;
    for (; p < e; p++) {
        int d = *p - '0';
        if (r > (INT64_MAX - d) / 10)
            return false;
        r = r * 10 + d;
    }
    *v = r;
    return true;
}

/* An integer literal: the decimal digits [tok, lx->cur) into val->ival,
 * reporting one that does not fit an int (the value is then 0).  Returns
 * the token kind, INTLIT. */
static int int_literal(struct lexer *lx, const char *tok, YYSTYPE *val)
{
    size_t n = (size_t)(lx->cur - tok);
    static const char two63[] = "9223372036854775808";
    if (n == sizeof two63 - 1 && memcmp(tok, two63, n) == 0) {
        /* 2^63 is only valid negated, as the smallest int: the parser folds
         * `-9223372036854775808`; sema reports it anywhere else.  INT64_MIN
         * marks it (no other literal is negative). */
        val->ival = INT64_MIN;
        return INTLIT;
    }
    if (!decimal(tok, lx->cur, &val->ival)) {
        char q[QUOTE_MAX + 4];
        lex_error(lx, here(lx, tok, n),
                  "integer literal '%s' is out of range", quote(q, tok, n));
        lex_note(lx, "the largest int is %" PRId64, INT64_MAX);
        val->ival = 0;
    }
    return INTLIT;
}

/* True if [p, e) is all ASCII letters (and not empty). */
static bool all_letters(const char *p, const char *e)
{
    if (p == e)
        return false;
    for (; p < e; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return false;
    return true;
}

/* The `= help:` line of a malformed number [tok, tok + n): digits, maybe a
 * fraction, then letters that are no unit.  Says what the author most
 * likely meant; prints nothing when there is no good guess. */
static void malformed_help(struct lexer *lx, const char *tok, size_t n)
{
    const char *e = tok + n, *s = tok;
    while (s < e && *s >= '0' && *s <= '9')
        s++;
    bool fraction = s < e && *s == '.';
    if (fraction)
        for (s++; s < e && *s >= '0' && *s <= '9'; s++)
            ;
    if (!fraction && s == tok + 1 && *tok == '0' &&
            (*s == 'x' || *s == 'X' || *s == 'b' || *s == 'B' ||
             *s == 'o' || *s == 'O')) {
        lex_help(lx, "integers are written in decimal");
        return;
    }
    if (*s == 'e' || *s == 'E') {
        lex_help(lx, "an exponent is 'e' and digits, as in 1e-3 "
                  "or 2.5e6");
        return;
    }
    if (all_letters(s, e))
        lex_help(lx, fraction
                  ? "a duration is a whole number followed by 'ms', 's' or "
                    "'m': use a smaller unit"
                  : "a duration is an integer followed by 'ms', 's' or 'm'");
}

/* The closer of an opening bracket. */
static int closer_of(char open)
{
    return open == '{' ? '}' : open == '(' ? ')' : ']';
}

/* Records an opening bracket at tok. */
static void push_open(struct lexer *lx, const char *tok)
{
    if (lx->depth == LEX_MAX_NESTING) {
        if (!lx->nest_reported) {
            lex_error(lx, here(lx, tok, 1),
                      "brackets nested too deeply (the limit is %d)",
                      LEX_MAX_NESTING);
            lx->nest_reported = true;
            /* Whatever the parser finds wrong now follows from this. */
            lx->quiet_upto = ULONG_MAX;
        }
        lx->overflow++;
        return;
    }
    lx->open[lx->depth].ch = *tok;
    lx->open[lx->depth].loc = here(lx, tok, 1);
    lx->open[lx->depth].errors_before = lx->diag->errors;
    lx->depth++;
}

/* Forgets the bracket a closer c closes: '}' closes up to the innermost
 * '{'; ')' and ']' only a matching innermost opener, and are marked as
 * cascade_tok when an error was reported inside their brackets (after a
 * bad argument the parser may recover inside the parentheses and then
 * stumble on their balanced closer). */
static void pop_open(struct lexer *lx, char c)
{
    if (lx->overflow > 0) {
        lx->overflow--;
        return;
    }
    if (c == '}') {
        while (lx->depth > 0 && lx->open[lx->depth - 1].ch != '{')
            lx->depth--;
        if (lx->depth > 0)
            lx->depth--;
    } else if (lx->depth > 0 &&
               lx->open[lx->depth - 1].ch == (c == ')' ? '(' : '[')) {
        lx->depth--;
        /* This closer becomes token ntok + 1 (lexer_next numbers it). */
        if (lx->diag->errors > lx->open[lx->depth].errors_before)
            lx->cascade_tok = lx->ntok + 1;
    }
}

/* Reports the innermost open bracket as unclosed and arranges for virtual
 * closers of every open bracket to come before the token held in lx.  No
 * report if an error was already reported inside the bracket: that error
 * (a missing closer the parser saw, say) is likely the same mistake. */
static void close_all(struct lexer *lx, bool report)
{
    if (report && lx->depth > 0 &&
        lx->diag->errors == lx->open[lx->depth - 1].errors_before) {
        struct lex_open *o = &lx->open[lx->depth - 1];
        diag_error(lx->diag, o->loc, "unclosed '%c'", o->ch);
        lx->errors++;
        if (lx->held_kind == END)
            diag_note(lx->diag, "the file ends before its '%c'",
                      closer_of(o->ch));
        else
            diag_note(lx->diag, "the next declaration starts at line %d",
                      lx->held_loc.line);
        if (lx->slash_line >= o->loc.line)
            diag_help(lx->diag, "'//' on line %d starts a comment, to the end of the line "
                      "(integer division is '/')", lx->slash_line);
    }
    lx->pending_close = lx->depth;
    lx->overflow = 0;
    /* Quiet through the closers and the held token after them. */
    unsigned long last = lx->ntok + (unsigned long)lx->depth + 1;
    if (lx->quiet_upto < last)
        lx->quiet_upto = last;
}

/* True if the declaration keyword `kind` just scanned ([tok, lx->cur)) must
 * start a new declaration although brackets are open: it starts a line, is
 * not a field name after '.', and (for `group`/`player`, which can start a
 * statement) is followed by '{'. */
static bool decl_starts_inside(const struct lexer *lx, int kind,
                               const char *tok)
{
    if (lx->depth == 0 || col_of(lx, tok) != 1 || lx->decl_kw == KW_TEST)
        return false;
    if (lx->last.kind == '.' || lx->last.kind == ',' || lx->last.kind == '{')
        return false;
    if (kind == KW_GROUP || kind == KW_PLAYER) {
        const char *p = lx->cur, *end = lx->src + lx->len;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        return p < end && *p == '{';
    }
    return true;
}

/* True for the keywords that begin a declaration. */
static bool is_decl_kw(int kind)
{
    switch (kind) {
    case KW_GAME: case KW_GROUP: case KW_PLAYER: case KW_MESSAGE:
    case KW_TABLE: case KW_VIEW: case KW_FN: case KW_CONST: case KW_ON:
    case KW_PAGE: case KW_TEST:
        return true;
    default:
        return false;
    }
}

/* Scans one token from lx->cur (after skipping blanks and comments). */
/* Whether the text of a `//` comment [p, end) reads like the rest of an
 * expression -- `2;`, ` n }`, `group.size;` -- rather than prose: one run
 * of letters, digits, '_', '.', '(' and ')', then at most ';' and '}'. */
static bool looks_like_operand(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *w = p;
    while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '(' ||
                       *p == ')'))
        p++;
    if (p == w)
        return false;
    while (p < end && (*p == ' ' || *p == '\t' || *p == ';' || *p == '}'))
        p++;
    return p == end;
}

static int scan(struct lexer *lx, YYSTYPE *val, YYLTYPE *loc)
{
    const char *limit = lx->src + lx->len;
    const char *marker = lx->cur;
    const char *tok;
    int kind;
    (void)marker;

loop:
    tok = lx->cur;
    lx->tok_off = (size_t)(tok - lx->src);
    /*!re2c
    re2c:define:YYCTYPE = "unsigned char";
    re2c:define:YYCURSOR = "lx->cur";
    re2c:define:YYLIMIT = "limit";
    re2c:define:YYMARKER = "marker";
    re2c:yyfill:enable = 0;
    re2c:eof = 0;

    dec = [0-9]+;
    exp = [eE] [+-]? [0-9]+;
    id  = [a-zA-Z_] [a-zA-Z0-9_]*;

    $ {
        set_loc(lx, tok, loc);
        return END;
    }
    [ \t\f\v]+ { goto loop; }
    "\n" | "\r\n" | "\r" {
        lx->line++;
        lx->line_start = lx->cur;
        goto loop;
    }
    "//" [^\r\n]* {
        switch (lx->last.kind) {
        case IDENT: case INTLIT: case FLOATLIT: case DURATION: case ')': case ']':
            if (lx->ntok > 0 && lx->last.loc.end_line == lx->line &&
                    looks_like_operand(tok + 2, lx->cur))
                lx->slash_line = lx->line;
            break;
        default:
            break;
        }
        goto loop;
    }
    "/*" {
        if (!skip_block_comment(lx, tok))
            lx->eof_by_error = true;
        goto loop;
    }
    "\"" {
        kind = scan_string(lx, tok, val);
        goto token;
    }

    "game"      { kind = KW_GAME; goto keyword; }
    "group"     { kind = KW_GROUP; goto keyword; }
    "player"    { kind = KW_PLAYER; goto keyword; }
    "players"   { kind = KW_PLAYERS; goto keyword; }
    "message"   { kind = KW_MESSAGE; goto keyword; }
    "table"     { kind = KW_TABLE; goto keyword; }
    "view"      { kind = KW_VIEW; goto keyword; }
    "fn"        { kind = KW_FN; goto keyword; }
    "const"     { kind = KW_CONST; goto keyword; }
    "on"        { kind = KW_ON; goto keyword; }
    "load"      { kind = KW_LOAD; goto keyword; }
    "start"     { kind = KW_START; goto keyword; }
    "timer"     { kind = KW_TIMER; goto keyword; }
    "let"       { kind = KW_LET; goto keyword; }
    "if"        { kind = KW_IF; goto keyword; }
    "else"      { kind = KW_ELSE; goto keyword; }
    "for"       { kind = KW_FOR; goto keyword; }
    "in"        { kind = KW_IN; goto keyword; }
    "where"     { kind = KW_WHERE; goto keyword; }
    "order"     { kind = KW_ORDER; goto keyword; }
    "by"        { kind = KW_BY; goto keyword; }
    "asc"       { kind = KW_ASC; goto keyword; }
    "desc"      { kind = KW_DESC; goto keyword; }
    "require"   { kind = KW_REQUIRE; goto keyword; }
    "reject"    { kind = KW_REJECT; goto keyword; }
    "send"      { kind = KW_SEND; goto keyword; }
    "me"        { kind = KW_ME; goto keyword; }
    "all"       { kind = KW_ALL; goto keyword; }
    "others"    { kind = KW_OTHERS; goto keyword; }
    "insert"    { kind = KW_INSERT; goto keyword; }
    "delete"    { kind = KW_DELETE; goto keyword; }
    "finish"    { kind = KW_FINISH; goto keyword; }
    "after"     { kind = KW_AFTER; goto keyword; }
    "stop"      { kind = KW_STOP; goto keyword; }
    "return"    { kind = KW_RETURN; goto keyword; }
    "break"     { kind = KW_BREAK; goto keyword; }
    "continue"  { kind = KW_CONTINUE; goto keyword; }
    "true"      { kind = KW_TRUE; goto keyword; }
    "false"     { kind = KW_FALSE; goto keyword; }
    "int"       { kind = KW_INT; goto keyword; }
    "float"     { kind = KW_FLOAT; goto keyword; }
    "bool"      { kind = KW_BOOL; goto keyword; }
    "string"    { kind = KW_STRING; goto keyword; }
    "page"      { kind = KW_PAGE; goto keyword; }
    "template"  { kind = KW_TEMPLATE; goto keyword; }
    "test"      { kind = KW_TEST; goto keyword; }

    id {
        kind = IDENT;
        val->name = arena_strndup(lx->arena, tok, (size_t)(lx->cur - tok));
        goto token;
    }

    dec {
        kind = int_literal(lx, tok, val);
        goto token;
    }
    dec "." {
        /* `0..8` is an int and a range, `1.x` an int and a field access
         * (sema's business): give the '.' back. */
        char next = lx->cur < lx->src + lx->len ? *lx->cur : '\0';
        if (next == '.' || next == '_' || (next >= 'a' && next <= 'z') ||
                (next >= 'A' && next <= 'Z')) {
            lx->cur--;
            kind = int_literal(lx, tok, val);
            goto token;
        }
        char q[QUOTE_MAX + 4];
        size_t n = (size_t)(lx->cur - tok);
        lex_error(lx, here(lx, tok, n), "malformed literal '%s'",
                  quote(q, tok, n));
        lex_help(lx, "a float needs digits after the '.': write "
                  "'%.*s0'", (int)(n > QUOTE_MAX ? QUOTE_MAX : n), tok);
        kind = FLOATLIT;
        val->fval = 0;
        goto token;
    }
    dec "." dec exp? | dec exp {
        size_t n = (size_t)(lx->cur - tok);
        char *text = arena_strndup(lx->arena, tok, n);
        errno = 0;
        val->fval = strtod(text, NULL);
        if (isinf(val->fval)) {
            char q[QUOTE_MAX + 4];
            lex_error(lx, here(lx, tok, n),
                      "float literal '%s' is out of range", quote(q, tok, n));
            val->fval = 0;
        }
        kind = FLOATLIT;
        goto token;
    }
    dec ("ms" | "s" | "m") {
        const char *u = lx->cur - 1;
        int64_t scale = MS_PER_S;
        if (*u == 's' && u[-1] == 'm') {
            scale = 1;
            u--;
        } else if (*u == 'm') {
            scale = MS_PER_M;
        }
        int64_t v;
        kind = DURATION;
        if (!decimal(tok, u, &v) || v > INT64_MAX / scale) {
            char q[QUOTE_MAX + 4];
            lex_error(lx, here(lx, tok, (size_t)(lx->cur - tok)),
                      "duration '%s' is out of range",
                      quote(q, tok, (size_t)(lx->cur - tok)));
            v = 0;
        }
        val->ival = v * scale;
        goto token;
    }
    dec ("." dec)? [a-zA-Z_] [a-zA-Z0-9_]* {
        char q[QUOTE_MAX + 4];
        size_t n = (size_t)(lx->cur - tok);
        lex_error(lx, here(lx, tok, n), "malformed literal '%s'",
                  quote(q, tok, n));
        malformed_help(lx, tok, n);
        if (memchr(tok, '.', n)) {
            kind = FLOATLIT;
            val->fval = 0;
        } else {
            kind = INTLIT;
            val->ival = 0;
        }
        goto token;
    }

    dec ("." dec)? [eE] [+-] {
        /* An exponent with a sign but no digits: `1e+`. */
        char q[QUOTE_MAX + 4];
        size_t n = (size_t)(lx->cur - tok);
        lex_error(lx, here(lx, tok, n), "malformed literal '%s'",
                  quote(q, tok, n));
        malformed_help(lx, tok, n);
        kind = FLOATLIT;
        val->fval = 0;
        goto token;
    }
    "'" [^'\r\n\x00]* "'" {
        /* A string in single quotes: one error, and a string token so the
         * parser goes on as if it were written right. */
        size_t n = (size_t)(lx->cur - tok);
        char q[QUOTE_MAX + 4];
        lex_error(lx, here(lx, tok, n), "a string in single quotes");
        lex_help(lx, "strings are written in double quotes: \"%s\"",
                  quote(q, tok + 1, n - 2));
        val->str.s = arena_strndup(lx->arena, tok + 1, n - 2);
        val->str.n = n - 2;
        kind = STRING;
        goto token;
    }

    "{" | "(" | "[" { push_open(lx, tok); kind = (unsigned char)*tok; goto token; }
    "}" | ")" | "]" { pop_open(lx, *tok); kind = (unsigned char)*tok; goto token; }
    [,;:.=<>+\-*/%!?] { kind = (unsigned char)*tok; goto token; }
    ".."  { kind = DOTDOT; goto token; }
    "..." { kind = ELLIPSIS; goto token; }
    "->"  { kind = ARROW; goto token; }
    "+="  { kind = PLUSEQ; goto token; }
    "-="  { kind = MINUSEQ; goto token; }
    "*="  { kind = STAREQ; goto token; }
    "=="  { kind = EQEQ; goto token; }
    "!="  { kind = NOTEQ; goto token; }
    "<="  { kind = LE; goto token; }
    ">="  { kind = GE; goto token; }
    "&&"  { kind = ANDAND; goto token; }
    "||"  { kind = OROR; goto token; }

    * {
        stray(lx, tok);
        goto loop;
    }
    */

keyword:
    val->name = arena_strndup(lx->arena, tok, (size_t)(lx->cur - tok));
    if (is_decl_kw(kind) && decl_starts_inside(lx, kind, tok)) {
        set_loc(lx, tok, loc);
        return -kind; /* lexer_next closes the open brackets first */
    }
    if (is_decl_kw(kind) && lx->depth == 0)
        lx->decl_kw = kind;
token:
    set_loc(lx, tok, loc);
    return kind;
}

int lexer_next(struct lexer *lx, YYSTYPE *val, YYLTYPE *loc)
{
    int kind;
    bool virt = false;
    memset(val, 0, sizeof *val);
    if (lx->pending_close > 0) {
        /* A virtual closer of the innermost open bracket, placed where the
         * held token starts, zero bytes wide. */
        struct lex_open *o = &lx->open[lx->depth - 1];
        kind = closer_of(o->ch);
        *loc = lx->held_loc;
        loc->end_line = loc->line;
        loc->end_col = loc->eol_col = loc->col;
        loc->end_off = loc->off;
        lx->depth--;
        lx->pending_close--;
        virt = true;
    } else if (lx->have_held) {
        kind = lx->held_kind;
        *val = lx->held_val;
        *loc = lx->held_loc;
        lx->have_held = false;
        if (kind != END && is_decl_kw(kind) && lx->depth == 0)
            lx->decl_kw = kind;
    } else if (lx->last.kind == END && lx->ntok > 0) {
        /* After the end, the end again, at the same place. */
        kind = END;
        *loc = lx->last.loc;
    } else {
        kind = scan(lx, val, loc);
        /* The rest of a statement with a syntax error (skip_until). */
        while (kind > 0 && loc->off < lx->skip_until) {
            memset(val, 0, sizeof *val);
            kind = scan(lx, val, loc);
        }
        if (kind < 0 || (kind == END && (lx->depth > 0 || lx->overflow))) {
            lx->held_kind = kind < 0 ? -kind : END;
            lx->held_val = *val;
            lx->held_loc = *loc;
            lx->have_held = true;
            close_all(lx, !lx->eof_by_error && !lx->nest_reported);
            return lexer_next(lx, val, loc);
        }
    }
    lx->ntok++;
    loc->tok = lx->ntok;
    lx->prev = lx->last;
    lx->last.kind = kind;
    lx->last.loc = *loc;
    lx->last.depth_after = lx->depth;
    lx->last.decl_kw_after = lx->decl_kw;
    lx->last.is_virtual = virt;
    return kind;
}
