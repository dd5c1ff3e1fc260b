/*
 * emit.h -- C generation from a checked .live AST.
 *
 * emit_c() writes one C translation unit that includes only "live.h" and
 * defines the game's state structs, one static function per handler,
 * decoder, view and fn, and the `const struct lv_game` descriptor with
 * main() (DESIGN.md "Generated C").  The output is deterministic: equal
 * input gives byte-identical output.
 */
#ifndef LIVE_EMIT_H
#define LIVE_EMIT_H

#include <stdbool.h>
#include <stdio.h>
#include "ast.h"

struct emit_options {
    bool line_directives;   /* emit `#line N "FILE"` above each statement */
    const char *c_name;     /* with line_directives: the name of the C file
                               being written, for the `#line` that returns
                               to it (NULL: "GAME.c", what --emit-c writes) */
    bool tests;             /* `livec test`: add the test blocks and a main()
                               that runs them (runtime/testing.h) */
};

/* Writes the C for f to out.  f must have passed sema_check() with no
 * errors (sema_prog(f) != NULL).  o may be NULL (defaults).  Returns 0, or
 * -1 if f was not checked or writing failed (errno set by stdio). */
int emit_c(struct ast_file *f, FILE *out, const struct emit_options *o);

#endif /* LIVE_EMIT_H */
