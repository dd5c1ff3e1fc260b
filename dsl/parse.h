/*
 * parse.h -- the front end: .live text to an AST.
 *
 * The lexer (dsl/lexer.re, re2c) turns the text into tokens carrying
 * line:column; the parser (dsl/parser.y, a bison pure parser with locations
 * and error recovery) builds the AST in file->arena.
 */
#ifndef LIVE_PARSE_H
#define LIVE_PARSE_H

#include "ast.h"
#include "../compiler/diag.h"

/* Parses file->src (file->path, file->src and file->src_len must be set,
 * file->arena empty) into file->decls.  Reports every lexical and syntax
 * error through d, recovering at declaration and statement level, and never
 * reports twice for one bad token.  Returns the number of errors reported;
 * the tree is usable (possibly partial) even when there were errors. */
int live_parse(struct ast_file *file, struct diag *d);

#endif /* LIVE_PARSE_H */
