/*
 * ast.c -- the arena every AST node and string of a .live file lives in.
 *
 * A bump allocator over a chain of blocks: allocation is a pointer increment,
 * and arena_free releases the whole tree at once.  Nodes are never freed one
 * by one, which is why the parser needs no %destructor.
 */
#include "config.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"

/* Size of an ordinary block: large enough that a game file needs a few. */
#define ARENA_BLOCK_SIZE (64 * 1024)
/* Every allocation is aligned for any scalar type. */
#define ARENA_ALIGN alignof(max_align_t)

struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t size;
    alignas(max_align_t) unsigned char data[];
};

/* Prints why and stops: the compiler cannot continue without memory. */
static void out_of_memory(size_t size)
{
    fprintf(stderr, "livec: out of memory (allocating %zu bytes)\n", size);
    abort();
}

void *arena_alloc(struct arena *a, size_t size)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ARENA_ALIGN - sizeof(struct arena_block))
        out_of_memory(size);
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

    struct arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > ARENA_BLOCK_SIZE ? size : ARENA_BLOCK_SIZE;
        b = malloc(sizeof *b + cap);
        if (!b)
            out_of_memory(size);
        b->size = cap;
        b->used = 0;
        if (a->head && size > ARENA_BLOCK_SIZE) {
            /* A big allocation gets its own block behind the current one,
             * so the free space of the current block is not wasted. */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void arena_free(struct arena *a)
{
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}
