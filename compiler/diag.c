/*
 * diag.c -- compiler diagnostics in the GNU `file:line:col` format.
 *
 * Every phase of livec (lexer, parser, sema) reports through this file, so
 * that all messages look alike:
 *
 *   auction.live:12:9: error: unknown field 'bidd' on message 'bid'
 *      12 |   if msg.bidd > group.highest {
 *         |          ^~~~
 *         = help: did you mean 'bid'?
 *
 * The gutter is three spaces wider than the line number's digits.  The source
 * line is printed as written (a line ends at LF, CRLF or a lone CR, as in the
 * lexer, and the line end is not printed; control characters
 * other than tab are shown as Unicode control pictures); the caret line copies
 * the tabs of the source line so the caret lands under the right character,
 * counts one column per UTF-8 character, and clips the `~` run to the line.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* Spaces in front of the line number in the gutter. */
#define GUTTER_PAD 3
/* Longest part of a source line quoted under a diagnostic (bytes), and
 * how much of it comes before the column. */
#define QUOTE_MAX 160
#define QUOTE_BEFORE 60
/* Longest name diag_suggest compares (longer names get no suggestion). */
#define SUGGEST_MAX_LEN 64

/* Gutter width of the diagnostic printed last, for the `= help:` lines that
 * follow it.  diag.h gives struct diag no slot for it; diagnostics are
 * printed from one thread, one file at a time. */
static int last_gutter = GUTTER_PAD + 1;

/* Where diagnostics go. */
static FILE *out_of(const struct diag *d)
{
    return d->out ? d->out : stderr;
}

/* Number of decimal digits of n (n >= 0). */
static int digits(int n)
{
    int k = 1;
    while (n >= 10) {
        n /= 10;
        k++;
    }
    return k;
}

/* True for a UTF-8 continuation byte (it does not start a column). */
static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Where find_line() last found a line: diagnostics come mostly in line
 * order, so the next search starts there and a file with thousands of
 * errors is not scanned from the top for each (that was quadratic).  Like
 * last_gutter, one file at a time, from one thread. */
static struct {
    const char *src;    /* the source it is about */
    size_t src_len;
    int line;           /* 1-based line number of `at` */
    const char *at;     /* first byte of that line */
} line_cache;

void diag_init(struct diag *d, const char *path, const char *src, size_t len)
{
    d->path = path;
    d->src = src;
    d->src_len = len;
    d->out = NULL;
    d->errors = 0;
    d->warnings = 0;
    d->n_error_lines = 0;
    d->keep = NULL;
    d->keep_arg = NULL;
    d->dropping = 0;
    /* A new file (possibly at the address of a freed one). */
    line_cache.src = NULL;
}


/* The end of the line that starts at p (before end): its first CR or LF,
 * or end. */
static const char *line_end(const char *p, const char *end)
{
    while (p < end && *p != '\n' && *p != '\r')
        p++;
    return p;
}

/* The start of the line after the line end at e (a CR, LF or CRLF; e < end
 * and *e is CR or LF). */
static const char *next_line(const char *e, const char *end)
{
    return e[0] == '\r' && e + 1 < end && e[1] == '\n' ? e + 2 : e + 1;
}

/* Finds line `line` (1-based) of d->src: sets *start and *len (without the
 * line terminator: LF, CRLF or a lone CR, as the lexer counts lines).  A
 * line past the end is empty.  No allocation. */
static void find_line(const struct diag *d, int line, const char **start,
                      size_t *len)
{
    const char *p = d->src ? d->src : "";
    const char *end = p + (d->src ? d->src_len : 0);
    int l = 1;
    if (d->src && line_cache.src == d->src &&
            line_cache.src_len == d->src_len && line_cache.line <= line) {
        l = line_cache.line;
        p = line_cache.at;
    }
    for (; l < line && p < end; l++) {
        const char *e = line_end(p, end);
        if (e == end) {
            p = end;
            break;
        }
        p = next_line(e, end);
    }
    if (d->src && l == line) {
        line_cache.src = d->src;
        line_cache.src_len = d->src_len;
        line_cache.line = line;
        line_cache.at = p;
    }
    const char *e = line_end(p, end);
    if (p == d->src && e - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;                 /* a byte order mark: not a column (lexer_init) */
    *start = p;
    *len = (size_t)(e - p);
}

/* Writes a source line as written, except that control characters other
 * than tab (a NUL byte, say) are shown as their Unicode "control picture"
 * (U+2400 + c, U+2421 for DEL): one column each, like the byte they stand
 * for, so the caret still lines up, and no raw control byte reaches the
 * terminal. */
static void quote_line(FILE *f, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            unsigned pic = c == 0x7F ? 0x2421 : 0x2400 + c;
            fputc(0xE0 | (pic >> 12), f);
            fputc(0x80 | ((pic >> 6) & 0x3F), f);
            fputc(0x80 | (pic & 0x3F), f);
        } else {
            fputc(c, f);
        }
    }
}

/* Prints one diagnostic: header, quoted line, caret line. */
static void report(struct diag *d, const char *kind, struct loc loc,
                   const char *fmt, va_list ap)
{
    FILE *f = out_of(d);
    int line = loc.line > 0 ? loc.line : 1;
    int col = loc.col > 0 ? loc.col : 1;
    int len = loc.len > 0 ? loc.len : 1;

    fprintf(f, "%s:%d:%d: %s: ", d->path ? d->path : "<input>", line, col,
            kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);

    const char *text;
    size_t tlen;
    find_line(d, line, &text, &tlen);
    int gutter = GUTTER_PAD + digits(line);
    last_gutter = gutter;

    /* A line longer than QUOTE_MAX bytes is quoted in part: from
     * QUOTE_BEFORE bytes before the column, with "..." for what is left out
     * on either side (a generated file, a minified expression). */
    size_t c0 = (size_t)col - 1;
    size_t ws = 0, we = tlen;
    if (tlen > QUOTE_MAX) {
        ws = c0 > QUOTE_BEFORE ? c0 - QUOTE_BEFORE : 0;
        if (ws > tlen)
            ws = tlen;
        while (ws > 0 && is_cont((unsigned char)text[ws]))
            ws--;
        we = ws + QUOTE_MAX < tlen ? ws + QUOTE_MAX : tlen;
        while (we < tlen && is_cont((unsigned char)text[we]))
            we++;
    }
    fprintf(f, "%*d |", gutter, line);
    if (tlen > 0) {
        fputc(' ', f);
        if (ws > 0)
            fputs("...", f);
        quote_line(f, text + ws, we - ws);
        if (we < tlen)
            fputs("...", f);
    }
    fputc('\n', f);

    /* Caret line: copy tabs, one space per character before the column. */
    fprintf(f, "%*s | ", gutter, "");
    if (ws > 0)
        fputs("   ", f);
    for (size_t i = ws; i < c0 && i < we; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\t')
            fputc('\t', f);
        else if (!is_cont(ch))
            fputc(' ', f);
    }
    if (c0 > we) /* a column past the end of the line (end of file) */
        fprintf(f, "%*s", (int)(c0 - we), "");
    fputc('^', f);
    /* One `~` per further character of the span, clipped to what is quoted. */
    size_t end = c0 + (size_t)len;
    if (end > we)
        end = we;
    for (size_t i = c0 + 1; i < end; i++)
        if (!is_cont((unsigned char)text[i]))
            fputc('~', f);
    fputc('\n', f);
}

/* True when d->keep drops the diagnostic fmt/ap at loc (and so its help and
 * note lines, through d->dropping). */
static int dropped(struct diag *d, struct loc loc, int warning, const char *fmt, va_list ap)
{
    d->dropping = 0;
    if (!d->keep)
        return 0;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    d->dropping = !d->keep(d->keep_arg, loc, msg, warning);
    return d->dropping;
}

void diag_error(struct diag *d, struct loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int drop = dropped(d, loc, 0, fmt, ap);
    va_end(ap);
    if (drop)
        return;
    va_start(ap, fmt);
    report(d, "error", loc, fmt, ap);
    va_end(ap);
    d->errors++;
    if (d->n_error_lines < DIAG_ERROR_LINES_MAX)
        d->error_lines[d->n_error_lines++] = loc.line;
}

void diag_warning(struct diag *d, struct loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int drop = dropped(d, loc, 1, fmt, ap);
    va_end(ap);
    if (drop)
        return;
    va_start(ap, fmt);
    report(d, "warning", loc, fmt, ap);
    va_end(ap);
    d->warnings++;
}

/* Prints `= KIND: ...` aligned with the last diagnostic's gutter, unless
 * that diagnostic was dropped. */
static void trailer(struct diag *d, const char *kind, const char *fmt,
                    va_list ap)
{
    if (d->dropping)
        return;
    FILE *f = out_of(d);
    fprintf(f, "%*s = %s: ", last_gutter, "", kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
}

void diag_help(struct diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trailer(d, "help", fmt, ap);
    va_end(ap);
}

void diag_note(struct diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trailer(d, "note", fmt, ap);
    va_end(ap);
}

/* Edit distance between a and b (both at most SUGGEST_MAX_LEN bytes):
 * insertions, deletions, substitutions and transpositions of two adjacent
 * characters each cost 1 (the "optimal string alignment" distance), so
 * `scroe` is one edit from `score`, as people type.  Three rows of memory. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t rows[3][SUGGEST_MAX_LEN + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *diag_suggest(const char *name, const char *const *cands)
{
    if (!name || !cands)
        return NULL;
    size_t ln = strlen(name);
    if (ln == 0 || ln > SUGGEST_MAX_LEN)
        return NULL;
    size_t limit = ln / 3 > 1 ? ln / 3 : 1;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (const char *const *c = cands; *c; c++) {
        size_t lc = strlen(*c);
        if (lc > SUGGEST_MAX_LEN)
            continue;
        /* The distance is at least the difference of the lengths. */
        size_t diff = lc > ln ? lc - ln : ln - lc;
        if (diff >= best_d)
            continue;
        size_t dist = edit_distance(name, ln, *c, lc);
        if (dist < best_d) {
            best_d = dist;
            best = *c;
        }
    }
    return best;
}
