/*
 * ctx.c -- the handler context and every function of live.h that generated
 * code calls: state access with undo, strings, validation of messages, JSON
 * builders, sends, finish, timers, random(), tables; plus the small
 * utilities the rest of the core shares (vectors, a string hash map, random
 * codes, state structs, sessions).
 *
 * Rejection: lv_reject()/lv_fail() copy the reason into the ctx and longjmp
 * to rt_ctx_run(), which returns -1; the caller then calls rt_ctx_rollback().
 * Everything a handler allocates belongs to the ctx (a string arena, a list
 * of JSON references, strings replaced by lv_str_set) and is released by
 * rt_ctx_free(), so nothing leaks whichever way a handler ends.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ctx.h"

struct rt_core *rt_core;
struct rt_test_hooks rt_test_hooks;

/* Strings of the arena are carved from blocks of this size (larger strings
 * get a block of their own). */
#define ARENA_BLOCK 4096
/* Alignment of arena allocations (row pointer arrays live there too). */
#define ARENA_ALIGN 16
/* A hash map grows when it is more than this percentage full. */
#define MAP_LOAD_PCT 70
/* Undo copies up to this size are stored inside the record. */
#define UNDO_SMALL 16
/* Bytes of the per-thread buffer a JSON text is first written to (dump_text):
 * longer texts take jansson's own growing buffer. */
#define DUMP_BUFFER 4096

/* ---- memory --------------------------------------------------------------- */

static _Noreturn void out_of_memory(void)
{
    fputs("livec runtime: out of memory\n", stderr);
    abort();
}

/* Returns n bytes (never NULL); the caller frees them. */
void *rt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

/* Returns n zeroed items (never NULL); the caller frees them. */
void *rt_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

/* Resizes p (never returns NULL); the caller frees the result. */
void *rt_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory();
    return q;
}

/* Returns a heap copy of s (never NULL); the caller frees it. */
char *rt_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = rt_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ---- vectors -------------------------------------------------------------- */

/* An empty vector of items of `item` bytes. */
void rt_vec_init(struct rt_vec *v, size_t item)
{
    v->v = NULL;
    v->n = v->cap = 0;
    v->item = item;
}

/* Appends a copy of *item and returns the stored copy (valid until the next
 * push). */
void *rt_vec_push(struct rt_vec *v, const void *item)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = rt_xrealloc(v->v, v->cap * v->item);
    }
    void *slot = (char *)v->v + v->n * v->item;
    memcpy(slot, item, v->item);
    v->n++;
    return slot;
}

/* The i-th item (borrowed). */
void *rt_vec_at(struct rt_vec *v, size_t i)
{
    return (char *)v->v + i * v->item;
}

/* Frees the storage (not what items point to) and empties v. */
void rt_vec_free(struct rt_vec *v)
{
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

/* ---- string hash map ------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ULL;       /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* An empty map. */
void rt_map_init(struct rt_map *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

/* Frees the map's storage (not keys or values). */
void rt_map_free(struct rt_map *m)
{
    free(m->keys);
    free(m->vals);
    rt_map_init(m);
}

static void map_grow(struct rt_map *m)
{
    struct rt_map old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = rt_xcalloc(m->cap, sizeof *m->keys);
    m->vals = rt_xcalloc(m->cap, sizeof *m->vals);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            rt_map_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

/* Maps key (borrowed: it must outlive its entry) to val, replacing. */
void rt_map_put(struct rt_map *m, const char *key, void *val)
{
    if ((m->n + 1) * 100 > m->cap * MAP_LOAD_PCT)
        map_grow(m);
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

/* The value of key, or NULL. */
void *rt_map_get(const struct rt_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

/* Removes key if present (linear probing: re-inserts the cluster after it). */
void rt_map_del(struct rt_map *m, const char *key)
{
    if (!m->cap)
        return;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        return;
    m->keys[i] = NULL;
    m->vals[i] = NULL;
    m->n--;
    for (size_t j = (i + 1) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
        const char *k = m->keys[j];
        void *v = m->vals[j];
        m->keys[j] = NULL;
        m->vals[j] = NULL;
        m->n--;
        rt_map_put(m, k, v);
    }
}

/* ---- randomness and time ---------------------------------------------------- */

static void fill_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("livec runtime: getrandom");
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

/* Writes RT_CODE_LEN lowercase base32 characters and a NUL into buf: 80
 * random bits, safe in URLs. */
void rt_random_code(char *buf)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char raw[RT_CODE_BYTES];
    fill_random(raw, sizeof raw);
    /* 10 bytes = 80 bits = 16 groups of 5 bits */
    for (int i = 0; i < RT_CODE_LEN; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)raw[byte] << 8;
        if (byte + 1 < RT_CODE_BYTES)
            v |= raw[byte + 1];
        buf[i] = alphabet[(v >> (11 - shift)) & 31];
    }
    buf[RT_CODE_LEN] = '\0';
}

/* 64 bits from the kernel's CSPRNG. */
uint64_t rt_random_u64(void)
{
    uint64_t x;
    fill_random(&x, sizeof x);
    return x;
}

/* Unix time in milliseconds. */
int64_t rt_now_ms(void)
{
    struct timespec ts;
    if (rt_test_hooks.active)
        return rt_test_hooks.now_ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* See ctx.h. */
int64_t rt_timer_now_ms(void)
{
    /* wall minus monotonic at the first call, in ns: the two clocks then
     * read the same millisecond until the wall clock is stepped */
    static int64_t base_ns;
    struct timespec ts;
    if (rt_test_hooks.active)
        return rt_test_hooks.now_ms;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t mono = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t b = __atomic_load_n(&base_ns, __ATOMIC_RELAXED);
    if (b == 0) {
        struct timespec w;
        clock_gettime(CLOCK_REALTIME, &w);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        mono = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        b = (int64_t)w.tv_sec * 1000000000 + w.tv_nsec - mono;
        __atomic_store_n(&base_ns, b, __ATOMIC_RELAXED);   /* racing first calls: within a us */
    }
    return (mono + b) / 1000000;
}

/* See ctx.h. */
int64_t rt_timer_at(int64_t due)
{
    int64_t at, offset = rt_timer_now_ms() - rt_now_ms();
    if (__builtin_add_overflow(due, offset, &at))
        return offset > 0 ? INT64_MAX : 0;
    return at < 0 ? 0 : at;
}

/* ---- state structs ----------------------------------------------------------- */

static int field_slots(const struct lv_field *f)
{
    return f->len > 0 ? f->len : 1;
}

/* Sets every string (and string array element) of base to a heap "". */
void rt_strings_init(const struct lv_field *f, int n, void *base)
{
    for (int i = 0; i < n; i++) {
        if (f[i].type != LV_STRING)
            continue;
        char **slot = (char **)((char *)base + f[i].offset);
        for (int k = 0; k < field_slots(&f[i]); k++)
            slot[k] = rt_xstrdup("");
    }
}

/* Frees every string of base and sets the slots to NULL. */
void rt_strings_free(const struct lv_field *f, int n, void *base)
{
    for (int i = 0; i < n; i++) {
        if (f[i].type != LV_STRING)
            continue;
        char **slot = (char **)((char *)base + f[i].offset);
        for (int k = 0; k < field_slots(&f[i]); k++) {
            free(slot[k]);
            slot[k] = NULL;
        }
    }
}

/* A malloc'd deep copy of a state struct: the caller owns it and its
 * strings (free them with rt_strings_free, then free). */
void *rt_struct_copy(const struct lv_field *f, int n, const void *base, size_t size)
{
    void *copy = rt_xmalloc(size);
    memcpy(copy, base, size);
    for (int i = 0; i < n; i++) {
        if (f[i].type != LV_STRING)
            continue;
        char **slot = (char **)((char *)copy + f[i].offset);
        for (int k = 0; k < field_slots(&f[i]); k++)
            slot[k] = rt_xstrdup(slot[k] ? slot[k] : "");
    }
    return copy;
}

static json_t *json_str_safe(const char *s);

static json_t *scalar_json(enum lv_type type, const void *p)
{
    switch (type) {
    case LV_INT:
        return json_integer(*(const int64_t *)p);
    case LV_FLOAT:
        return json_real(*(const double *)p);
    case LV_BOOL:
        return json_boolean(*(const bool *)p);
    case LV_STRING:
        return json_str_safe(*(char *const *)p);
    }
    return json_null();
}

static size_t type_size(enum lv_type type)
{
    switch (type) {
    case LV_INT:
        return sizeof(int64_t);
    case LV_FLOAT:
        return sizeof(double);
    case LV_BOOL:
        return sizeof(bool);
    case LV_STRING:
        return sizeof(char *);
    }
    return 0;
}

/* Field f of base as a JSON value: a new reference the caller owns. */
json_t *rt_field_json(const struct lv_field *f, const void *base)
{
    const char *p = (const char *)base + f->offset;
    if (f->len == 0)
        return scalar_json(f->type, p);
    json_t *a = json_array();
    for (int k = 0; k < f->len; k++)
        json_array_append_new(a, scalar_json(f->type, p + (size_t)k * type_size(f->type)));
    return a;
}

static int scalar_from_json(enum lv_type type, void *p, json_t *v)
{
    switch (type) {
    case LV_INT:
        if (!json_is_integer(v))
            return -1;
        *(int64_t *)p = json_integer_value(v);
        return 0;
    case LV_FLOAT:
        if (!json_is_number(v))
            return -1;
        *(double *)p = json_number_value(v);
        return 0;
    case LV_BOOL:
        if (json_is_boolean(v))
            *(bool *)p = json_is_true(v);
        else if (json_is_integer(v))
            *(bool *)p = json_integer_value(v) != 0;
        else
            return -1;
        return 0;
    case LV_STRING:
        if (!json_is_string(v))
            return -1;
        free(*(char **)p);
        *(char **)p = rt_xstrdup(json_string_value(v));
        return 0;
    }
    return -1;
}

/* Sets field f of base from v (as rt_field_json wrote it): 0 or -1. */
int rt_field_from_json(const struct lv_field *f, void *base, json_t *v)
{
    char *p = (char *)base + f->offset;
    if (f->len == 0)
        return scalar_from_json(f->type, p, v);
    if (!json_is_array(v) || json_array_size(v) != (size_t)f->len)
        return -1;
    for (int k = 0; k < f->len; k++)
        if (scalar_from_json(f->type, p + (size_t)k * type_size(f->type),
                             json_array_get(v, (size_t)k)) < 0)
            return -1;
    return 0;
}

/* {"field": value, ...}: a new reference the caller owns. */
json_t *rt_struct_json(const struct lv_field *f, int n, const void *base)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(o, f[i].name, rt_field_json(&f[i], base));
    return o;
}

/* A new live row of table t with its initial values; id 0.  The caller owns
 * it (rt_row_free). */
struct rt_row *rt_row_new(const struct lv_table *t)
{
    struct rt_row *r = rt_xcalloc(1, sizeof *r + t->row_size);
    r->alive = true;
    rt_strings_init(t->fields, t->n_fields, r->data);
    if (t->init_row)
        t->init_row(r->data);
    return r;
}

/* Frees a row and its strings; accepts NULL. */
void rt_row_free(const struct lv_table *t, struct rt_row *r)
{
    if (!r)
        return;
    rt_strings_free(t->fields, t->n_fields, r->data);
    free(r);
}

/* The row's id. */
int64_t rt_row_id(const struct lv_table *t, const struct rt_row *r)
{
    int64_t id;
    memcpy(&id, r->data + t->id_offset, sizeof id);
    return id;
}

/* Inserts r into rows at its place in id order (usually the end). */
void rt_rows_add(struct rt_rows *rows, const struct lv_table *t, struct rt_row *r)
{
    if (rows->n == rows->cap) {
        rows->cap = rows->cap ? rows->cap * 2 : 8;
        rows->v = rt_xrealloc(rows->v, (size_t)rows->cap * sizeof *rows->v);
    }
    int64_t id = rt_row_id(t, r), lo = 0, hi = rows->n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (rt_row_id(t, rows->v[mid]) < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(rows->v + lo + 1, rows->v + lo, (size_t)(rows->n - lo) * sizeof *rows->v);
    rows->v[lo] = r;
    rows->n++;
}

static void rows_remove(struct rt_rows *rows, struct rt_row *r)
{
    for (int64_t i = rows->n - 1; i >= 0; i--) {
        if (rows->v[i] == r) {
            memmove(rows->v + i, rows->v + i + 1, (size_t)(rows->n - i - 1) * sizeof *rows->v);
            rows->n--;
            return;
        }
    }
}

/* Shortest decimal text of x that reads back exactly; with force_point a
 * value that looks like an integer gets ".0" ("3.0"), as str() wants. */
void rt_format_float(char *buf, size_t size, double x, bool force_point)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (force_point && strspn(buf, "-0123456789") == strlen(buf)) {
        size_t n = strlen(buf);
        if (n + 3 <= size)
            memcpy(buf + n, ".0", 3);
    }
}

/* ---- sessions ------------------------------------------------------------------ */

/* Name of page i of the game: pages[i].name, or "finished" past the last. */
const char *rt_page_name(const struct lv_game *game, int i)
{
    if (i >= 0 && i < game->n_pages)
        return game->pages[i].name;
    return "finished";
}

static struct rt_group *group_new(struct rt_core *rt, struct rt_session *s, int gid)
{
    const struct lv_game *g = rt->game;
    struct rt_group *grp = rt_xcalloc(1, sizeof *grp);
    grp->id = rt->next_group_id++;
    grp->gid = gid;
    grp->session = s;
    grp->state = rt_xcalloc(1, g->group_size);
    rt_strings_init(g->group_fields, g->n_group_fields, grp->state);
    if (g->init_group)
        g->init_group(grp->state);
    grp->players = rt_xcalloc((size_t)g->players, sizeof *grp->players);
    grp->tables = rt_xcalloc((size_t)g->n_tables, sizeof *grp->tables);
    for (int t = 0; t < g->n_tables; t++)
        grp->tables[t].next_id = 1;
    grp->timer_due = rt_xcalloc((size_t)g->n_timers, sizeof *grp->timer_due);
    for (int i = 0; i < g->players; i++) {
        struct rt_participant *p = rt_xcalloc(1, sizeof *p);
        p->id = rt->next_participant_id++;
        rt_random_code(p->code);
        p->group = grp;
        p->id_in_group = i + 1;
        p->next_seq = 1;
        p->state = rt_xcalloc(1, g->player_size);
        rt_strings_init(g->player_fields, g->n_player_fields, p->state);
        if (g->init_player)
            g->init_player(p->state);
        grp->players[i] = p;
    }
    return grp;
}

/* A new session of n_groups fresh groups (see ctx.h); the caller owns it. */
struct rt_session *rt_session_new(struct rt_core *rt, int n_groups)
{
    struct rt_session *s = rt_xcalloc(1, sizeof *s);
    s->id = rt->next_session_id++;
    rt_random_code(s->code);
    s->created_ms = rt_now_ms();
    s->seed = rt_test_hooks.active ? rt_test_hooks.seed : rt_random_u64();
    s->rng = s->seed;
    s->n_groups = n_groups;
    s->groups = rt_xcalloc((size_t)n_groups, sizeof *s->groups);
    for (int i = 0; i < n_groups; i++)
        s->groups[i] = group_new(rt, s, i + 1);
    return s;
}

/* Makes s findable: the session list and both code maps. */
void rt_session_link(struct rt_core *rt, struct rt_session *s)
{
    s->next = rt->sessions;
    rt->sessions = s;
    rt->n_sessions++;
    rt_map_put(&rt->sessions_by_code, s->code, s);
    for (int i = 0; i < s->n_groups; i++)
        for (int k = 0; k < rt->game->players; k++)
            rt_map_put(&rt->participants_by_code, s->groups[i]->players[k]->code,
                       s->groups[i]->players[k]);
}

/* Undoes rt_session_link. */
void rt_session_unlink(struct rt_core *rt, struct rt_session *s)
{
    for (struct rt_session **pp = &rt->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            rt->n_sessions--;
            break;
        }
    }
    rt_map_del(&rt->sessions_by_code, s->code);
    for (int i = 0; i < s->n_groups; i++)
        for (int k = 0; k < rt->game->players; k++)
            rt_map_del(&rt->participants_by_code, s->groups[i]->players[k]->code);
}

/* Frees s and everything in it; accepts NULL. */
void rt_session_free(const struct lv_game *game, struct rt_session *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_groups; i++) {
        struct rt_group *grp = s->groups[i];
        if (!grp)
            continue;
        for (int k = 0; k < game->players; k++) {
            struct rt_participant *p = grp->players[k];
            if (!p)
                continue;
            rt_strings_free(game->player_fields, game->n_player_fields, p->state);
            free(p->state);
            free(p);
        }
        for (int t = 0; t < game->n_tables; t++) {
            for (int64_t r = 0; r < grp->tables[t].n; r++)
                rt_row_free(&game->tables[t], grp->tables[t].v[r]);
            free(grp->tables[t].v);
        }
        if (grp->state)
            rt_strings_free(game->group_fields, game->n_group_fields, grp->state);
        free(grp->state);
        free(grp->players);
        free(grp->tables);
        free(grp->timer_due);
        free(grp->error);
        free(grp);
    }
    free(s->groups);
    free(s);
}

/* ---- the job context ------------------------------------------------------------ */

/* A new ctx for one job with a fresh job number; the caller frees it with
 * rt_ctx_free. */
lv_ctx *rt_ctx_new(struct rt_core *rt)
{
    lv_ctx *ctx = rt_xcalloc(1, sizeof *ctx);
    ctx->rt = rt;
    ctx->job_no = ++rt->job_no;
    ctx->now_ms = rt_now_ms();
    rt_vec_init(&ctx->undo, sizeof(struct rt_undo));
    rt_vec_init(&ctx->dirty, sizeof(struct rt_dirty));
    rt_vec_init(&ctx->sends, sizeof(struct rt_event));
    rt_vec_init(&ctx->events, sizeof(struct rt_event));
    rt_vec_init(&ctx->finished, sizeof(struct rt_group *));
    rt_vec_init(&ctx->timers_armed, sizeof(struct rt_timer_entry));
    rt_vec_init(&ctx->draws, sizeof(struct rt_draw));
    rt_vec_init(&ctx->json, sizeof(json_t *));
    rt_vec_init(&ctx->strfree, sizeof(char *));
    rt_vec_init(&ctx->arena, sizeof(char *));
    ctx->replay_after = ctx->replay_upto = -1;
    return ctx;
}

/* Sets ctx->reason from a printf format and its arguments: cut to
 * RT_REASON_MAX between characters, so that it stays UTF-8 for JSON.
 * Every reason is set here. */
static void set_reason_v(lv_ctx *ctx, const char *fmt, va_list ap)
{
    vsnprintf(ctx->reason, sizeof ctx->reason, fmt, ap);
    rt_trim_partial_utf8(ctx->reason);
}

/* Sets ctx->reason from a printf format. */
void rt_ctx_set_reason(lv_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_reason_v(ctx, fmt, ap);
    va_end(ap);
}

/* Runs fn(ctx, arg); 0 when it returns, -1 when it was rejected. */
int rt_ctx_run(lv_ctx *ctx, void (*fn)(lv_ctx *, void *), void *arg)
{
    jmp_buf jb;
    jmp_buf *volatile outer = ctx->jb;
    ctx->jb = &jb;
    if (setjmp(jb) != 0) {
        ctx->jb = outer;
        return -1;
    }
    fn(ctx, arg);
    ctx->jb = outer;
    return 0;
}

static void undo_push(lv_ctx *ctx, const struct rt_undo *u)
{
    rt_vec_push(&ctx->undo, u);
}

/* Records the current size bytes at addr so a rollback restores them. */
void rt_ctx_save_bytes(lv_ctx *ctx, void *addr, size_t size)
{
    struct rt_undo u = { .kind = RT_UNDO_BYTES, .addr = addr, .size = size };
    if (size <= RT_UNDO_SMALL_MAX) {
        u.kind = RT_UNDO_SMALL;
        memcpy(u.small, addr, size);
    } else {
        u.saved = rt_xmalloc(size);
        memcpy(u.saved, addr, size);
    }
    undo_push(ctx, &u);
}

/* Queues obj to be written at the end of the job. */
void rt_ctx_dirty(lv_ctx *ctx, enum rt_dirty_kind kind, void *obj, struct rt_group *g, int index)
{
    struct rt_dirty d = { .kind = kind, .obj = obj, .group = g, .index = index };
    rt_vec_push(&ctx->dirty, &d);
}

static void save_struct(lv_ctx *ctx, void *base, const struct lv_field *f, int n, size_t size)
{
    struct rt_undo u = { .kind = RT_UNDO_STRUCT, .addr = base, .size = size,
                         .fields = f, .n_fields = n };
    u.saved = rt_struct_copy(f, n, base, size);
    undo_push(ctx, &u);
}

static void text_unref(struct rt_text *t)
{
    if (t && --t->refs == 0)
        free(t);
}

static void events_clear(struct rt_vec *v)
{
    for (size_t i = 0; i < v->n; i++)
        text_unref(((struct rt_event *)rt_vec_at(v, i))->text);
    v->n = 0;
}

/* Restores the memory of every undo record, newest first. */
void rt_ctx_rollback(lv_ctx *ctx)
{
    const struct lv_game *game = ctx->rt->game;
    for (size_t i = ctx->undo.n; i-- > 0;) {
        struct rt_undo *u = rt_vec_at(&ctx->undo, i);
        switch (u->kind) {
        case RT_UNDO_BYTES:
            memcpy(u->addr, u->saved, u->size);
            free(u->saved);
            break;
        case RT_UNDO_SMALL:
            memcpy(u->addr, u->small, u->size);
            break;
        case RT_UNDO_STRUCT:
            rt_strings_free(u->fields, u->n_fields, u->addr);
            memcpy(u->addr, u->saved, u->size);
            free(u->saved);
            break;
        case RT_UNDO_ROW_INSERT: {
            struct rt_row *r = u->addr;
            rows_remove(u->rows, r);
            rt_row_free(u->table, r);
            break;
        }
        case RT_UNDO_ROW_DELETE: {
            struct rt_row *r = u->addr;
            r->alive = true;
            rt_rows_add(u->rows, u->table, r);
            break;
        }
        case RT_UNDO_SESSION_NEW:
            rt_session_unlink(ctx->rt, u->session);
            rt_session_free(game, u->session);
            break;
        }
    }
    ctx->undo.n = 0;
    ctx->dirty.n = 0;
    events_clear(&ctx->sends);
    events_clear(&ctx->events);
    ctx->finished.n = 0;
    ctx->timers_armed.n = 0;
    ctx->draws.n = 0;           /* their numbers were restored with n_draws */
    /* objects stamped by this job may be touched again (a timer handler is
     * cleared after its rejection): take a new job number */
    ctx->job_no = ++ctx->rt->job_no;
}

/* Drops the undo copies after a COMMIT; frees rows deleted by the job. */
void rt_ctx_commit(lv_ctx *ctx)
{
    for (size_t i = 0; i < ctx->undo.n; i++) {
        struct rt_undo *u = rt_vec_at(&ctx->undo, i);
        switch (u->kind) {
        case RT_UNDO_BYTES:
            free(u->saved);
            break;
        case RT_UNDO_SMALL:
            break;
        case RT_UNDO_STRUCT:
            rt_strings_free(u->fields, u->n_fields, u->saved);
            free(u->saved);
            break;
        case RT_UNDO_ROW_DELETE: {
            struct rt_row *r = u->addr;
            if (!r->alive)
                rt_row_free(u->table, r);
            break;
        }
        case RT_UNDO_ROW_INSERT:
        case RT_UNDO_SESSION_NEW:
            break;
        }
    }
    ctx->undo.n = 0;
}

static struct rt_text *text_new(const char *s, int refs)
{
    size_t n = strlen(s) + 1;
    struct rt_text *t = rt_xmalloc(sizeof *t + n);
    t->refs = refs;
    memcpy(t->s, s, n);
    return t;
}

/* Gives the event the recipient's next sequence number.  The participant is
 * not marked dirty: its next_seq is never stored but counted again from
 * the `sent` rows at start-up (store.c), so a broadcast writes no
 * participant rows. */
static void number_event(lv_ctx *ctx, struct rt_participant *p, const char *event, struct rt_text *text)
{
    rt_ctx_save_bytes(ctx, &p->next_seq, sizeof p->next_seq);
    struct rt_event e = { .to = p, .pid = p->id, .seq = p->next_seq++, .event = event, .text = text };
    rt_vec_push(&ctx->events, &e);
}

/* Numbers the job's sends, `finish` events included, in statement order
 * (see ctx.h). */
void rt_ctx_settle(lv_ctx *ctx)
{
    for (size_t i = 0; i < ctx->sends.n; i++) {
        struct rt_event *e = rt_vec_at(&ctx->sends, i);
        number_event(ctx, e->to, e->event, e->text);
    }
    ctx->sends.n = 0;           /* the references moved to events */
    ctx->finished.n = 0;
}

/* Frees the ctx and everything the job still holds. */
void rt_ctx_free(lv_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->undo.n)
        rt_ctx_commit(ctx);
    for (size_t i = 0; i < ctx->json.n; i++)
        json_decref(*(json_t **)rt_vec_at(&ctx->json, i));
    for (size_t i = 0; i < ctx->strfree.n; i++)
        free(*(char **)rt_vec_at(&ctx->strfree, i));
    for (size_t i = 0; i < ctx->arena.n; i++)
        free(*(char **)rt_vec_at(&ctx->arena, i));
    events_clear(&ctx->sends);
    events_clear(&ctx->events);
    rt_vec_free(&ctx->undo);
    rt_vec_free(&ctx->dirty);
    rt_vec_free(&ctx->sends);
    rt_vec_free(&ctx->events);
    rt_vec_free(&ctx->finished);
    rt_vec_free(&ctx->timers_armed);
    rt_vec_free(&ctx->draws);
    rt_vec_free(&ctx->json);
    rt_vec_free(&ctx->strfree);
    rt_vec_free(&ctx->arena);
    free(ctx->log_type);
    free(ctx->log_body_own);
    free(ctx);
}

/* n bytes from the job's arena, ARENA_ALIGN-aligned, freed at job end. */
static void *arena_alloc(lv_ctx *ctx, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n > ctx->arena_left) {
        size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        char *block = rt_xmalloc(size);
        rt_vec_push(&ctx->arena, &block);
        if (n > ARENA_BLOCK)
            return block;       /* a block of its own; keep the current one */
        ctx->arena_pos = block;
        ctx->arena_left = size;
    }
    void *p = ctx->arena_pos;
    ctx->arena_pos += n;
    ctx->arena_left -= n;
    return p;
}

static char *arena_strndup(lv_ctx *ctx, const char *s, size_t n)
{
    char *p = arena_alloc(ctx, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- rejection ------------------------------------------------------------------ */

static _Noreturn void jump(lv_ctx *ctx)
{
    if (!ctx->jb) {
        fprintf(stderr, "livec runtime: rejection outside a handler: %s\n", ctx->reason);
        abort();
    }
    longjmp(*ctx->jb, 1);
}

_Noreturn void lv_reject(lv_ctx *ctx, const char *reason)
{
    rt_ctx_set_reason(ctx, "%s", reason ? reason : "rejected");
    jump(ctx);
}

_Noreturn void lv_fail(lv_ctx *ctx, int line, const char *what)
{
    ctx->runtime_error = true;
    rt_ctx_set_reason(ctx, "%s:%d: %s", ctx->rt->game->source, line, what);
    jump(ctx);
}

static _Noreturn __attribute__((format(printf, 3, 4)))
void failf(lv_ctx *ctx, int line, const char *fmt, ...)
{
    char what[RT_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    lv_fail(ctx, line, what);
}

static _Noreturn __attribute__((format(printf, 2, 3)))
void rejectf(lv_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_reason_v(ctx, fmt, ap);
    va_end(ap);
    jump(ctx);
}

int64_t lv_ftoi(lv_ctx *ctx, int line, double x)
{
    /* -2^63 is exact as a double; 2^63 is the first value out of range */
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        lv_fail(ctx, line, "float value out of int range");
    return (int64_t)x;
}

/* ---- state ------------------------------------------------------------------------ */

void *lv_group(lv_ctx *ctx)
{
    return ctx->group->state;
}

void *lv_group_w(lv_ctx *ctx)
{
    struct rt_group *g = ctx->group;
    const struct lv_game *game = ctx->rt->game;
    if (g->ustamp != ctx->job_no) {
        g->ustamp = ctx->job_no;
        save_struct(ctx, g->state, game->group_fields, game->n_group_fields, game->group_size);
    }
    if (g->dstamp != ctx->job_no) {
        g->dstamp = ctx->job_no;
        rt_ctx_dirty(ctx, RT_DIRTY_GROUP, g, g, 0);
    }
    return g->state;
}

int64_t lv_me(lv_ctx *ctx)
{
    return ctx->me ? ctx->me->id_in_group : 0;
}

int64_t lv_nplayers(lv_ctx *ctx)
{
    return ctx->rt->game->players;
}

static struct rt_participant *player_at(lv_ctx *ctx, int line, int64_t id)
{
    int64_t n = ctx->rt->game->players;
    if (id < 1 || id > n)
        failf(ctx, line, "no player %" PRId64 " (players are 1..%" PRId64 ")", id, n);
    return ctx->group->players[id - 1];
}

void *lv_player(lv_ctx *ctx, int line, int64_t id)
{
    return player_at(ctx, line, id)->state;
}

/* Marks p's row to be written with the job (once per job). */
static void player_dirty(lv_ctx *ctx, struct rt_participant *p)
{
    if (p->dstamp != ctx->job_no) {
        p->dstamp = ctx->job_no;
        rt_ctx_dirty(ctx, RT_DIRTY_PLAYER, p, p->group, 0);
    }
}

void *lv_player_w(lv_ctx *ctx, int line, int64_t id)
{
    struct rt_participant *p = player_at(ctx, line, id);
    const struct lv_game *game = ctx->rt->game;
    if (p->ustamp != ctx->job_no) {
        p->ustamp = ctx->job_no;
        save_struct(ctx, p->state, game->player_fields, game->n_player_fields, game->player_size);
    }
    player_dirty(ctx, p);
    return p->state;
}

const char *lv_page(lv_ctx *ctx, int line, int64_t id)
{
    return rt_page_name(ctx->rt->game, player_at(ctx, line, id)->page_index);
}

/* ---- strings -------------------------------------------------------------------- */

void lv_str_set(lv_ctx *ctx, char **slot, const char *s)
{
    char *old = *slot;
    *slot = rt_xstrdup(s ? s : "");
    if (old)
        rt_vec_push(&ctx->strfree, &old);   /* may still be read this job */
}

void lv_str_init(char **slot, const char *s)
{
    free(*slot);
    *slot = rt_xstrdup(s ? s : "");
}

void lv_tick(lv_ctx *ctx, int line)
{
    if (++ctx->ticks > LV_TICKS_MAX)
        failf(ctx, line, "the handler ran past %d loop rounds", LV_TICKS_MAX);
}

const char *lv_str_cat(lv_ctx *ctx, int line, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na + nb > LV_STRING_MAX)
        failf(ctx, line, "a string longer than %d bytes (%zu)", LV_STRING_MAX, na + nb);
    char *p = arena_alloc(ctx, na + nb + 1);
    memcpy(p, a, na);
    memcpy(p + na, b, nb + 1);
    return p;
}

const char *lv_str_int(lv_ctx *ctx, int64_t x)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRId64, x);
    return arena_strndup(ctx, buf, (size_t)n);
}

const char *lv_str_float(lv_ctx *ctx, double x)
{
    char buf[48];
    rt_format_float(buf, sizeof buf, x, true);
    return arena_strndup(ctx, buf, strlen(buf));
}

const char *lv_str_bool(lv_ctx *ctx, bool x)
{
    return x ? "true" : "false";
}

const char *lv_str_dup(lv_ctx *ctx, const char *s)
{
    return arena_strndup(ctx, s, strlen(s));
}

/* Code points of n bytes of UTF-8 (bytes that do not start a sequence --
 * continuation bytes -- are not counted). */
static int64_t utf8_len(const char *s, size_t n)
{
    int64_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

int64_t lv_str_len(const char *s)
{
    return utf8_len(s, strlen(s));
}

int lv_str_cmp(const char *a, const char *b)
{
    return strcmp(a, b);
}

/* ---- messages --------------------------------------------------------------------- */

/* Writes the bounds of a range as the source would: "1..1000", "0..2.5". */
static void format_bound_f(char *buf, size_t size, double x)
{
    rt_format_float(buf, size, x, false);
}

/* See ctx.h. */
bool rt_json_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x == trunc(x) && x >= -9223372036854775808.0 && x < 9223372036854775808.0) {
            *out = (int64_t)x;
            return true;
        }
    }
    return false;
}

static void check_field(lv_ctx *ctx, const struct lv_msg_field *f, json_t *v)
{
    switch (f->type) {
    case LV_INT: {
        int64_t x;
        if (!rt_json_int(v, &x))
            rejectf(ctx, "field '%s' must be an integer", f->name);
        if (f->has_range && (x < f->ilo || x > f->ihi))
            rejectf(ctx, "field '%s' must be in %" PRId64 "..%" PRId64, f->name, f->ilo, f->ihi);
        if (f->n_choices > 0) {
            bool ok = false;
            for (int i = 0; i < f->n_choices; i++)
                ok = ok || f->ichoices[i] == x;
            if (!ok) {
                char list[RT_REASON_MAX] = "";
                size_t used = 0;
                for (int i = 0; i < f->n_choices && used < sizeof list; i++)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%" PRId64,
                                             i ? ", " : "", f->ichoices[i]);
                rejectf(ctx, "field '%s' must be one of %s", f->name, list);
            }
        }
        break;
    }
    case LV_FLOAT: {
        if (!json_is_number(v))
            rejectf(ctx, "field '%s' must be a number", f->name);
        double x = json_number_value(v);
        if (f->has_range && (x < f->flo || x > f->fhi)) {
            char lo[48], hi[48];
            format_bound_f(lo, sizeof lo, f->flo);
            format_bound_f(hi, sizeof hi, f->fhi);
            rejectf(ctx, "field '%s' must be in %s..%s", f->name, lo, hi);
        }
        break;
    }
    case LV_BOOL:
        if (!json_is_boolean(v))
            rejectf(ctx, "field '%s' must be true or false", f->name);
        break;
    case LV_STRING: {
        if (!json_is_string(v))
            rejectf(ctx, "field '%s' must be a string", f->name);
        int64_t max = f->max_len > 0 ? f->max_len : 1000;
        if (utf8_len(json_string_value(v), json_string_length(v)) > max)
            rejectf(ctx, "field '%s' is longer than %" PRId64 " characters", f->name, max);
        if (f->n_choices > 0) {
            bool ok = false;
            for (int i = 0; i < f->n_choices; i++)
                ok = ok || strcmp(f->schoices[i], json_string_value(v)) == 0;
            if (!ok) {
                char list[RT_REASON_MAX] = "";
                size_t used = 0;
                for (int i = 0; i < f->n_choices && used < sizeof list; i++)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s\"%s\"",
                                             i ? ", " : "", f->schoices[i]);
                rejectf(ctx, "field '%s' must be one of %s", f->name, list);
            }
        }
        break;
    }
    }
}

void lv_validate(lv_ctx *ctx, json_t *body, const struct lv_message *msg)
{
    if (!json_is_object(body))
        lv_reject(ctx, "message must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "type") == 0)
            continue;
        bool known = false;
        for (int i = 0; i < msg->n_fields && !known; i++)
            known = strcmp(msg->fields[i].name, key) == 0;
        if (!known)
            rejectf(ctx, "unknown field '%s'", key);
    }
    for (int i = 0; i < msg->n_fields; i++) {
        const struct lv_msg_field *f = &msg->fields[i];
        v = json_object_get(body, f->name);
        if (!v) {
            if (!f->has_default)
                rejectf(ctx, "missing field '%s'", f->name);
            continue;
        }
        check_field(ctx, f, v);
    }
}

int64_t lv_arg_int(json_t *body, const struct lv_msg_field *f)
{
    json_t *v = json_object_get(body, f->name);
    int64_t x;
    if (v && rt_json_int(v, &x))
        return x;
    return f->idefault;
}

double lv_arg_float(json_t *body, const struct lv_msg_field *f)
{
    json_t *v = json_object_get(body, f->name);
    return json_is_number(v) ? json_number_value(v) : f->fdefault;
}

bool lv_arg_bool(json_t *body, const struct lv_msg_field *f)
{
    json_t *v = json_object_get(body, f->name);
    return json_is_boolean(v) ? json_is_true(v) : f->idefault != 0;
}

const char *lv_arg_str(json_t *body, const struct lv_msg_field *f)
{
    json_t *v = json_object_get(body, f->name);
    if (json_is_string(v))
        return json_string_value(v);
    return f->sdefault ? f->sdefault : "";
}

/* ---- JSON values --------------------------------------------------------------------- */

/* A JSON string of s; bytes that are not valid UTF-8 become U+FFFD so that a
 * value is always encodable.  A new reference. */
static json_t *json_str_safe(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    size_t n = strlen(s);
    char *out = rt_xmalloc(n * 3 + 1), *o = out;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 :
                     (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (ok && len > 1) {
            char tmp[5];
            memcpy(tmp, s + i, len);
            tmp[len] = '\0';
            json_t *probe = json_string(tmp);     /* overlongs, surrogates */
            ok = probe != NULL;
            json_decref(probe);
        }
        if (ok) {
            memcpy(o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    v = json_string(out);
    free(out);
    return v ? v : json_string("");
}

static bool has_real(json_t *v)
{
    size_t i;
    const char *key;
    json_t *x;
    if (json_is_real(v))
        return true;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
            if (has_real(x))
                return true;
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, x)
            if (has_real(x))
                return true;
    }
    return false;
}

/* One line of compact JSON for v (malloc'd, the caller frees it; NULL if v
 * cannot be encoded).  Floats get 15 significant digits when that reads
 * back exactly ("0.1", not jansson's default "0.10000000000000001"), else
 * 16 ("0.3333333333333333"), else 17: the fewest with which every float of
 * the text reads back (jansson has one precision for a whole text). */
/* json_dumps(v, flags), through a per-thread buffer: json_dumpb writes
 * there directly, which spares jansson's growing buffer and its copy (the
 * usual event or message is far smaller than the buffer). */
static char *dump_text(json_t *v, size_t flags)
{
    static __thread char buf[DUMP_BUFFER];
    size_t n = json_dumpb(v, buf, sizeof buf, flags);
    if (n == 0 || n > sizeof buf)
        return json_dumps(v, flags);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, buf, n);
    s[n] = '\0';
    return s;
}

char *rt_json_text(json_t *v)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    if (!has_real(v))
        return dump_text(v, flags);
    for (int digits = 15; digits <= 16; digits++) {
        char *s = json_dumps(v, flags | JSON_REAL_PRECISION(digits));
        json_t *back = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
        bool exact = back && json_equal(back, v);
        json_decref(back);
        if (exact)
            return s;
        free(s);
    }
    return json_dumps(v, flags);
}

static json_t *own(lv_ctx *ctx, json_t *v)
{
    if (!v)
        out_of_memory();
    rt_vec_push(&ctx->json, &v);
    return v;
}

json_t *lv_jobj(lv_ctx *ctx) { return own(ctx, json_object()); }
json_t *lv_jarr(lv_ctx *ctx) { return own(ctx, json_array()); }
json_t *lv_jint(lv_ctx *ctx, int64_t x) { return own(ctx, json_integer(x)); }
json_t *lv_jfloat(lv_ctx *ctx, double x) { return own(ctx, json_real(x)); }
json_t *lv_jbool(lv_ctx *ctx, bool x) { return own(ctx, json_boolean(x)); }
json_t *lv_jstr(lv_ctx *ctx, const char *s) { return own(ctx, json_str_safe(s ? s : "")); }

json_t *lv_jarr_int(lv_ctx *ctx, const int64_t *v, int n)
{
    json_t *a = lv_jarr(ctx);
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

json_t *lv_jarr_float(lv_ctx *ctx, const double *v, int n)
{
    json_t *a = lv_jarr(ctx);
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

json_t *lv_jarr_bool(lv_ctx *ctx, const bool *v, int n)
{
    json_t *a = lv_jarr(ctx);
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_boolean(v[i]));
    return a;
}

json_t *lv_jarr_str(lv_ctx *ctx, const char *const *v, int n)
{
    json_t *a = lv_jarr(ctx);
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_str_safe(v[i] ? v[i] : ""));
    return a;
}

void lv_put(json_t *obj, const char *key, json_t *v)
{
    json_object_set(obj, key, v);
}

void lv_push(json_t *arr, json_t *v)
{
    json_array_append(arr, v);
}

void lv_spread(json_t *dst, json_t *src)
{
    json_object_update(dst, src);
}

/* ---- effects ----------------------------------------------------------------------- */

static void queue_send(lv_ctx *ctx, struct rt_participant *p, struct rt_text *t)
{
    struct rt_event e = { .to = p, .pid = p->id, .text = t };
    t->refs++;
    rt_vec_push(&ctx->sends, &e);
}

void lv_send(lv_ctx *ctx, int line, enum lv_to to, int64_t player, json_t *v)
{
    const struct lv_game *game = ctx->rt->game;
    struct rt_participant *only = NULL;
    if (to == LV_TO_ME && !ctx->me)
        lv_fail(ctx, line, "'send me' where there is no 'me'");
    if (to == LV_TO_PLAYER)
        only = player_at(ctx, line, player);
    if (!v)
        lv_fail(ctx, line, "nothing to send");
    char *s = rt_json_text(v);
    if (!s)
        lv_fail(ctx, line, "the value cannot be encoded as JSON");
    struct rt_text *t = text_new(s, 0);
    free(s);
    switch (to) {
    case LV_TO_ME:
        queue_send(ctx, ctx->me, t);
        break;
    case LV_TO_PLAYER:
        queue_send(ctx, only, t);
        break;
    case LV_TO_ALL:
    case LV_TO_OTHERS:
        for (int i = 0; i < game->players; i++) {
            struct rt_participant *p = ctx->group->players[i];
            if (to == LV_TO_OTHERS && p == ctx->me)
                continue;
            queue_send(ctx, p, t);
        }
        break;
    }
    if (t->refs == 0)
        free(t);
}

/* `finish`: the group's players move to their next page at once (so that
 * me.page says so afterwards, and the page is saved with the job), and each
 * gets `event: finish` in statement order among the job's sends.  A page
 * past the last is not left; a second `finish` of the same group in one job
 * does nothing more. */
void lv_finish(lv_ctx *ctx)
{
    const struct lv_game *game = ctx->rt->game;
    struct rt_group *g = ctx->group;
    for (size_t i = 0; i < ctx->finished.n; i++)
        if (*(struct rt_group **)rt_vec_at(&ctx->finished, i) == g)
            return;
    rt_vec_push(&ctx->finished, &g);
    for (int k = 0; k < game->players; k++) {
        struct rt_participant *p = g->players[k];
        if (p->page_index >= game->n_pages)
            continue;
        rt_ctx_save_bytes(ctx, &p->page_index, sizeof p->page_index);
        p->page_index++;
        player_dirty(ctx, p);
        char data[RT_CODE_MAX + 32];
        snprintf(data, sizeof data, "{\"next\":\"/p/%s\"}", p->code);
        struct rt_event e = { .to = p, .pid = p->id, .event = "finish", .text = text_new(data, 1) };
        rt_vec_push(&ctx->sends, &e);
    }
}

static void set_timer(lv_ctx *ctx, int t, int64_t due)
{
    struct rt_group *g = ctx->group;
    rt_ctx_save_bytes(ctx, &g->timer_due[t], sizeof g->timer_due[t]);
    g->timer_due[t] = due;
    rt_ctx_dirty(ctx, RT_DIRTY_TIMER, g, g, t);
}

void lv_timer_start(lv_ctx *ctx, int line, int t, int64_t ms)
{
    int64_t due;
    if (t < 0 || t >= ctx->rt->game->n_timers)
        lv_fail(ctx, line, "unknown timer");
    if (ms < 0)
        failf(ctx, line, "timer delay %" PRId64 " ms is negative", ms);
    if (__builtin_add_overflow(ctx->now_ms, ms, &due))
        lv_fail(ctx, line, "integer overflow");
    set_timer(ctx, t, due);
    struct rt_timer_entry e = { .at = rt_timer_at(due), .due = due, .group = ctx->group,
                                .timer = t };
    rt_vec_push(&ctx->timers_armed, &e);
}

void lv_timer_stop(lv_ctx *ctx, int t)
{
    if (t < 0 || t >= ctx->rt->game->n_timers || ctx->group->timer_due[t] == 0)
        return;
    set_timer(ctx, t, 0);
}

int64_t lv_now(lv_ctx *ctx)
{
    return ctx->now_ms;
}

/* splitmix64: one 64-bit state, a full period, good statistics. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int64_t lv_random(lv_ctx *ctx, int line, int64_t a, int64_t b)
{
    if (a > b)
        failf(ctx, line, "random(%" PRId64 ", %" PRId64 "): empty range", a, b);
    struct rt_session *s = ctx->group->session;
    rt_ctx_save_bytes(ctx, &s->rng, sizeof s->rng);
    if (s->dstamp != ctx->job_no) {
        s->dstamp = ctx->job_no;
        rt_ctx_dirty(ctx, RT_DIRTY_SESSION_RNG, s, ctx->group, 0);
    }
    uint64_t span = (uint64_t)b - (uint64_t)a + 1;      /* 0: all 2^64 values */
    uint64_t x = rng_next(&s->rng);
    if (span != 0) {
        uint64_t limit = UINT64_MAX - UINT64_MAX % span;  /* reject the biased tail */
        while (x >= limit)
            x = rng_next(&s->rng);
        x %= span;
    }
    int64_t value = (int64_t)((uint64_t)a + x);
    /* record the draw (LANGUAGE.md 5: a session can be replayed); the
     * number is undone with the generator's state */
    rt_ctx_save_bytes(ctx, &s->n_draws, sizeof s->n_draws);
    struct rt_draw d = {
        .session_id = s->id, .n = ++s->n_draws, .group_id = ctx->group->id,
        .participant_id = ctx->me ? ctx->me->id : 0,
        .lo = a, .hi = b, .value = value, .time_ms = ctx->now_ms,
    };
    rt_vec_push(&ctx->draws, &d);
    return value;
}

/* ---- tables ---------------------------------------------------------------------- */

static struct rt_rows *table_rows(lv_ctx *ctx, int t)
{
    return &ctx->group->tables[t];
}

void *lv_row_insert(lv_ctx *ctx, int line, int t)
{
    const struct lv_table *tab = &ctx->rt->game->tables[t];
    struct rt_rows *rows = table_rows(ctx, t);
    if (rows->n >= LV_ROWS_MAX)
        failf(ctx, line, "table %s has %d rows, the most a group's table holds", tab->name,
              LV_ROWS_MAX);
    struct rt_row *r = rt_row_new(tab);
    rt_ctx_save_bytes(ctx, &rows->next_id, sizeof rows->next_id);
    int64_t id = rows->next_id++;
    memcpy(r->data + tab->id_offset, &id, sizeof id);
    rt_rows_add(rows, tab, r);
    struct rt_undo u = { .kind = RT_UNDO_ROW_INSERT, .addr = r, .rows = rows, .table = tab };
    undo_push(ctx, &u);
    r->ustamp = r->dstamp = ctx->job_no;
    rt_ctx_dirty(ctx, RT_DIRTY_ROW, r, ctx->group, t);
    rt_ctx_dirty(ctx, RT_DIRTY_ROWID, rows, ctx->group, t);
    return r->data;
}

void *lv_row_w(lv_ctx *ctx, int t, void *row)
{
    const struct lv_table *tab = &ctx->rt->game->tables[t];
    struct rt_row *r = RT_ROW_OF(row);
    if (r->ustamp != ctx->job_no) {
        r->ustamp = ctx->job_no;
        save_struct(ctx, r->data, tab->fields, tab->n_fields, tab->row_size);
    }
    if (r->dstamp != ctx->job_no) {
        r->dstamp = ctx->job_no;
        rt_ctx_dirty(ctx, RT_DIRTY_ROW, r, ctx->group, t);
    }
    return row;
}

void lv_row_delete(lv_ctx *ctx, int t, void *row)
{
    const struct lv_table *tab = &ctx->rt->game->tables[t];
    struct rt_row *r = RT_ROW_OF(row);
    if (!r->alive)
        return;
    struct rt_rows *rows = table_rows(ctx, t);
    r->alive = false;
    rows_remove(rows, r);
    struct rt_undo u = { .kind = RT_UNDO_ROW_DELETE, .addr = r, .rows = rows, .table = tab };
    undo_push(ctx, &u);
    if (r->dstamp != ctx->job_no) {
        r->dstamp = ctx->job_no;
        rt_ctx_dirty(ctx, RT_DIRTY_ROW, r, ctx->group, t);
    }
}

void **lv_rows(lv_ctx *ctx, int t, int64_t *n)
{
    struct rt_rows *rows = table_rows(ctx, t);
    void **v = arena_alloc(ctx, (size_t)(rows->n ? rows->n : 1) * sizeof *v);
    for (int64_t i = 0; i < rows->n; i++)
        v[i] = rows->v[i]->data;
    *n = rows->n;
    return v;
}

bool lv_row_alive(lv_ctx *ctx, int t, const void *row)
{
    return RT_ROW_OF(row)->alive;
}

json_t *lv_jrow(lv_ctx *ctx, int t, const void *row)
{
    const struct lv_table *tab = &ctx->rt->game->tables[t];
    const struct rt_row *r = RT_ROW_OF(row);
    json_t *o = lv_jobj(ctx);
    json_object_set_new(o, "id", json_integer(rt_row_id(tab, r)));
    for (int i = 0; i < tab->n_fields; i++)
        json_object_set_new(o, tab->fields[i].name, rt_field_json(&tab->fields[i], r->data));
    return o;
}
