/*
 * fuzz_livec.c -- a libFuzzer target over the whole of livec's front and
 * middle: lexer, parser, sema and emit.
 *
 * Each input is taken as the text of one .live file, exactly as livec would
 * read it (any bytes, NULs included).  It is parsed with diagnostics printed
 * to /dev/null (so the caret and source-line code runs too); when it parses
 * cleanly it is checked, and when it checks cleanly the C is emitted to
 * /dev/null, with `--line-directives` on or off depending on the input's
 * length (both paths get exercised).  Anything the sanitizers catch (ASan,
 * UBSan) or a crash is a finding; an error diagnostic is not.
 *
 * Page templates are read relative to the .live file: at start-up the target
 * creates a scratch directory holding a few template files whose names the
 * seed corpus uses, so `page` declarations can reach emit (removed at exit).
 *
 * Built and run by tests/fuzz/Makefile.inc (`make fuzz`, `make fuzz-smoke`).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "parse.h"
#include "diag.h"
#include "sema.h"
#include "emit.h"

/* Template files created in the scratch directory (names used by games/ and
 * the bad-program corpus), with a small body each. */
static const char *const template_names[] = {
    "tictactoe.html", "counter.html", "play.html", "results.html", "a.html",
    NULL
};
static const char template_body[] =
    "<!doctype html><title>fuzz</title><p>{{ x }}</p>\n";

/* The scratch directory and the input file's path inside it. */
static char scratch_dir[64];
static char live_path[256];
/* Sinks for diagnostics and generated C, opened once. */
static FILE *null_out;

/* Removes the scratch directory and its templates (at exit). */
static void remove_scratch(void)
{
    char path[sizeof live_path];
    for (int i = 0; template_names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", scratch_dir, template_names[i]);
        unlink(path);
    }
    rmdir(scratch_dir);
}

/* Creates the scratch directory and its templates, opens /dev/null.
 * Called once by libFuzzer before the first input; exits on failure. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/livec-fuzz-XXXXXX";
    char path[sizeof live_path];
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir)) {
        perror("fuzz_livec: mkdtemp");
        exit(1);
    }
    for (int i = 0; template_names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, template_names[i]);
        FILE *fp = fopen(path, "w");
        if (!fp || fputs(template_body, fp) == EOF || fclose(fp) != 0) {
            perror("fuzz_livec: writing a template");
            exit(1);
        }
    }
    snprintf(scratch_dir, sizeof scratch_dir, "%s", dir);
    atexit(remove_scratch);
    snprintf(live_path, sizeof live_path, "%s/fuzz.live", dir);
    null_out = fopen("/dev/null", "w");
    if (!null_out) {
        perror("fuzz_livec: /dev/null");
        exit(1);
    }
    return 0;
}

/* One input: parse, check, emit.  Always returns 0 (libFuzzer's contract);
 * the sanitizers report the findings. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ast_file file;
    struct diag d;
    char *src = malloc(size + 1);
    if (!src)
        return 0;
    memcpy(src, data, size);
    src[size] = '\0';

    memset(&file, 0, sizeof file);
    file.path = live_path;
    file.src = src;
    file.src_len = size;
    diag_init(&d, live_path, src, size);
    d.out = null_out;

    if (live_parse(&file, &d) > 0 || d.errors > 0) {
        sema_check_after_syntax_errors(&file, &d);      /* what livec does */
    } else if (sema_check(&file, &d) == 0 && sema_prog(&file)) {
        struct emit_options eo = { .line_directives = (size & 1) != 0 };
        if (emit_c(&file, null_out, &eo) != 0) {
            fprintf(stderr, "fuzz_livec: emit_c failed on a checked file\n");
            abort();
        }
    }
    arena_free(&file.arena);
    free(src);
    return 0;
}
