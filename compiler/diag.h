/*
 * diag.h -- compiler diagnostics in the GNU format.
 *
 *   auction.live:12:9: error: unknown field 'bidd' on message 'bid'
 *      12 |   if msg.bidd > group.highest {
 *         |          ^~~~
 *         = help: did you mean 'bid'?
 *
 * Messages are lowercase with no trailing period.  Each diagnostic is printed
 * at once (to `out`, stderr by default) and counted.  The source line is
 * shown as written (tabs kept), the caret under loc.col and `~` for the rest
 * of loc.len.
 */
#ifndef LIVE_DIAG_H
#define LIVE_DIAG_H

#include <stdio.h>
#include "ast.h"

/* Lines of the first errors, for diag_keep filters. */
#define DIAG_ERROR_LINES_MAX 64

struct diag {
    const char *path;   /* file name as given on the command line */
    const char *src;    /* whole source, NUL-terminated (for quoting lines) */
    size_t src_len;
    FILE *out;          /* where to print; stderr if NULL */
    int errors;
    int warnings;
    /* The line of each error reported (the first DIAG_ERROR_LINES_MAX). */
    int error_lines[DIAG_ERROR_LINES_MAX];
    int n_error_lines;
    /* When set, a diagnostic is printed and counted only if keep() says so
     * (its message text, whether it is a warning); the help and note lines
     * of one it drops are dropped with it. */
    int (*keep)(void *arg, struct loc loc, const char *msg, int warning);
    void *keep_arg;
    int dropping;       /* the last diagnostic was dropped */
};

/* Sets up d for one file.  Does not copy path or src. */
void diag_init(struct diag *d, const char *path, const char *src, size_t len);

/* Reports an error at loc: header line, source line, caret line. */
void diag_error(struct diag *d, struct loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(struct diag *d, struct loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a `= help: ...` line under the diagnostic just printed. */
void diag_help(struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a `= note: ...` line under the diagnostic just printed. */
void diag_note(struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The candidate closest to `name` by edit distance, if within a third of
 * name's length (at least 1); NULL otherwise.  cands is NULL-terminated. */
const char *diag_suggest(const char *name, const char *const *cands);

#endif /* LIVE_DIAG_H */
