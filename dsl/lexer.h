/*
 * lexer.h -- the re2c scanner of .live source (dsl/lexer.re).
 *
 * The lexer turns file text into the tokens of LANGUAGE.md §1, numbered as
 * the bison parser numbers them (dsl/parser.h, generated), each with a
 * location: line and column (1-based, bytes), length, and byte offsets so
 * the parser can slice raw text (test blocks).
 *
 * It reports its own errors (stray characters, malformed literals, bad
 * escapes, unterminated strings and comments) through the diag, once each,
 * and keeps going: a malformed literal still yields a token of its kind, a
 * run of stray characters is skipped.  So that the parser does not report a
 * second error for the same mistake, the lexer records in `quiet_upto` the
 * index of the last token a syntax error must not be reported at.  After a
 * syntax error the parser sets `skip_until` to the end of the bad
 * statement: the lexer then drops the tokens before it, silently.
 *
 * It also tracks the brackets that are open.  At end of file, and when a
 * declaration keyword (`on`, `fn`, `message`, ...) starts a line while a
 * bracket is still open, it reports `unclosed '{'` at the opener and emits
 * the missing closers itself, so the parser can finish the declaration and
 * resume at the next one.
 */
#ifndef LIVE_LEXER_H
#define LIVE_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "ast.h"
#include "../compiler/diag.h"
#include "parser.h"

/* Deepest bracket nesting accepted: later phases walk the tree recursively,
 * and no game needs more. */
#define LEX_MAX_NESTING 256

/* An open bracket: which, and where. */
struct lex_open {
    char ch;            /* '{', '(' or '[' */
    struct loc loc;
    int errors_before;  /* diagnostics reported before it was opened */
};

/* What the parser needs to know about a token it has already seen. */
struct lex_tokinfo {
    int kind;           /* token kind (yytokentype), 0 at end of file */
    YYLTYPE loc;
    int depth_after;    /* open brackets after this token */
    int decl_kw_after;  /* the declaration keyword this token is under */
    bool is_virtual;    /* a closer the lexer inserted */
};

struct lexer {
    const char *src;            /* whole text, NUL at src[len] */
    size_t len;
    const char *cur;            /* next byte to scan */
    const char *line_start;     /* first byte of the current line */
    int line;
    struct arena *arena;        /* where identifiers and strings go */
    struct diag *diag;
    int errors;                 /* lexical errors reported */
    int slash_line;             /* the last line where a `//` comment follows
                                   an operand (`x = 7 // 2`: integer
                                   division of another language?), or 0 */

    unsigned long ntok;         /* tokens returned so far */
    unsigned long quiet_upto;   /* no syntax error at token index <= this */
    size_t tok_off;             /* byte offset of the token being scanned */
    size_t skip_until;          /* tokens that start before this byte
                                   offset are dropped unseen: the parser
                                   sets it to the end of a statement with a
                                   syntax error, so that error recovery
                                   resumes after it, not inside it; their
                                   lexical errors are not reported either */
    unsigned long cascade_tok;  /* index of the last ')' or ']' whose
                                   bracket holds an error already reported:
                                   a syntax error there is a cascade */

    struct lex_open open[LEX_MAX_NESTING];
    int depth;                  /* entries of open[] in use */
    int overflow;               /* brackets open beyond LEX_MAX_NESTING */
    bool nest_reported;
    bool eof_by_error;          /* an unterminated comment or string hit the end */

    int decl_kw;                /* last declaration keyword at depth 0 */

    int pending_close;          /* virtual closers still to emit */
    bool have_held;             /* a token lexed, held behind the closers */
    int held_kind;
    YYSTYPE held_val;
    YYLTYPE held_loc;

    struct lex_tokinfo last;    /* the token returned last (the lookahead) */
    struct lex_tokinfo prev;    /* the one before it */
};

/* Prepares lx to scan src[0..len) (src[len] must be NUL).  Identifiers and
 * decoded strings are allocated in `arena`; errors go to `d`.  The lexer
 * keeps pointers to src, arena and d, and owns nothing. */
void lexer_init(struct lexer *lx, const char *src, size_t len,
                struct arena *arena, struct diag *d);

/* Scans the next token: returns its kind (END, i.e. 0, at end of file, and
 * again on every later call), fills *val (identifier names, literal values;
 * strings point into the arena) and *loc. */
int lexer_next(struct lexer *lx, YYSTYPE *val, YYLTYPE *loc);

/* The struct loc (line, col, len >= 1) of a token location. */
struct loc lexer_loc(const YYLTYPE *l);

#endif /* LIVE_LEXER_H */
