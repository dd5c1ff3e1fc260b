/*
 * ctx.h -- the game core's internal data model, shared by ctx.c (handler
 * context and every live.h function), loop.c (the game thread and its
 * jobs), store.c (SQLite) and main.c (command line).  Neither generated code
 * nor the network side sees this header.
 *
 * Memory is the source of truth while the server runs: every session, group,
 * participant and table row is loaded at start-up and kept in memory; SQLite
 * is written to in the game thread's batch transaction after each job and
 * read back only at start-up (and for the outbox replay, the message log and
 * its CSV export).
 *
 * A job runs with an lv_ctx.  Every change a job makes in memory is recorded
 * in the ctx's undo log before it is made, and every object it changes is put
 * on one of the ctx's dirty lists.  A rejected handler restores its undo log
 * at once; an accepted one writes its dirty objects inside the batch
 * transaction and keeps its undo log until the COMMIT, so that a failed
 * COMMIT can restore the memory of every job of the batch (in reverse order).
 *
 * Threading: everything here belongs to the game thread, except the job
 * queue in loop.c (rt_submit) which any thread may call.
 */
#ifndef LIVE_CTX_H
#define LIVE_CTX_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>
#include "live.h"
#include "rt.h"

/* Most jobs one rt_submit queue holds: past it rt_submit answers -1 (503),
 * which keeps a flood of POSTs from outrunning the game thread. */
#define RT_QUEUE_MAX 10000
/* Most jobs one batch transaction runs (one fsync per batch). */
#define RT_BATCH_MAX 256
/* Most participants one POST /api/sessions may create. */
#define RT_SESSION_MAX_PARTICIPANTS 10000
/* Random bytes in a participant or session code: 10 bytes = 80 bits,
 * written as 16 characters of lowercase base32. */
#define RT_CODE_BYTES 10
#define RT_CODE_LEN 16

struct rt_session;
struct rt_group;

/* One table row.  Generated code sees `data` only (the row struct); the
 * runtime finds the header again from the data pointer. */
struct rt_row {
    uint64_t ustamp;            /* job number of the last undo copy taken */
    uint64_t dstamp;            /* job number that last put it on a dirty list */
    bool alive;
    _Alignas(max_align_t) unsigned char data[];
};
#define RT_ROW_OF(p) ((struct rt_row *)((unsigned char *)(p) - offsetof(struct rt_row, data)))

/* The live rows of one table of one group, in id order. */
struct rt_rows {
    struct rt_row **v;
    int64_t n, cap;
    int64_t next_id;            /* the next id to give: 1, 2, 3 ... never reused */
};

struct rt_participant {
    int64_t id;                 /* database id */
    char code[RT_CODE_MAX];
    struct rt_group *group;
    int id_in_group;            /* 1-based */
    int page_index;             /* game->pages index; n_pages = finished */
    int64_t next_seq;           /* the next event sequence number (1, 2, 3 ...) */
    void *state;                /* the game's player struct */
    uint64_t ustamp, dstamp;
};

struct rt_group {
    int64_t id;                 /* database id */
    int gid;                    /* 1.. within the session */
    struct rt_session *session;
    void *state;                /* the game's group struct */
    struct rt_participant **players;    /* game->players of them */
    struct rt_rows *tables;     /* game->n_tables */
    int64_t *timer_due;         /* game->n_timers: Unix ms, 0 = not armed */
    int64_t last_sent_id;       /* the group's newest `sent` row, 0 = none (store.c) */
    uint64_t ustamp, dstamp;
    /* The last runtime error of the group that nobody was answered (in a
     * timer handler: "on timer t: REASON", or in `on load` of a new
     * stream: "on load of player 2: REASON", malloc'd) and when, for the
     * monitor; NULL: none since the server started. */
    char *error;
    int64_t error_ms;
};

struct rt_session {
    int64_t id;
    char code[RT_CODE_MAX];
    int64_t created_ms;
    uint64_t seed;
    uint64_t rng;               /* the generator's state, saved with each commit */
    int64_t n_draws;            /* random() draws recorded so far (the last one's n) */
    int n_groups;
    struct rt_group **groups;
    uint64_t dstamp;
    struct rt_session *next;    /* list of all sessions, newest first */
    bool closed;                /* closed by the admin: live messages refused (admin.c) */
    bool watched;               /* a monitor stream was opened: send it changes (admin.c) */
};

/* A string-keyed hash map (codes -> objects).  Keys are not copied: they
 * live in the object they name. */
struct rt_map {
    const char **keys;
    void **vals;
    size_t cap, n;
};

/* Text of one message to send, encoded once and shared by its recipients. */
struct rt_text {
    int refs;
    char s[];
};

/* One event of a job: pending until the job succeeds (seq 0), then numbered. */
struct rt_event {
    struct rt_participant *to;
    int64_t pid;
    int64_t seq;
    const char *event;          /* NULL or "finish" (static) */
    struct rt_text *text;
};

/* Largest change whose undo copy is kept inside the undo record. */
#define RT_UNDO_SMALL_MAX 8
enum rt_undo_kind {
    RT_UNDO_BYTES,              /* restore size bytes at addr */
    RT_UNDO_SMALL,              /* the same, at most RT_UNDO_SMALL_MAX bytes kept
                                   in `small` (no allocation: a sequence number
                                   per recipient of every event) */
    RT_UNDO_STRUCT,             /* restore a state struct (deep copy) */
    RT_UNDO_ROW_INSERT,         /* remove and free the row */
    RT_UNDO_ROW_DELETE,         /* put the row back */
    RT_UNDO_SESSION_NEW         /* unlink and free the session */
};

struct rt_undo {
    enum rt_undo_kind kind;
    void *addr;                 /* BYTES, STRUCT: where; ROW_*: struct rt_row * */
    size_t size;
    void *saved;                /* BYTES, STRUCT: the copy */
    unsigned char small[RT_UNDO_SMALL_MAX];     /* SMALL: the copy */
    const struct lv_field *fields;      /* STRUCT: its string fields */
    int n_fields;
    struct rt_rows *rows;       /* ROW_*: the table of the row */
    const struct lv_table *table;       /* ROW_*: its description */
    struct rt_session *session; /* SESSION_NEW */
};

/* Something that must be written to SQLite at the end of a job. */
enum rt_dirty_kind {
    RT_DIRTY_GROUP, RT_DIRTY_PLAYER, RT_DIRTY_ROW, RT_DIRTY_TIMER,
    RT_DIRTY_ROWID, RT_DIRTY_SESSION_RNG, RT_DIRTY_SESSION_NEW
};

struct rt_dirty {
    enum rt_dirty_kind kind;
    void *obj;                  /* group, participant, row, session */
    struct rt_group *group;     /* ROW, TIMER, ROWID */
    int index;                  /* ROW, ROWID: table; TIMER: timer */
};

/* One random() draw of a job, written to the `draws` table with the job's
 * other writes (store.c); forgotten when the job is rolled back. */
struct rt_draw {
    int64_t session_id;
    int64_t n;                  /* 1, 2, 3 ... within the session */
    int64_t group_id;           /* database id of the handler's group */
    int64_t participant_id;     /* database id of `me`, 0 in timer/start handlers */
    int64_t lo, hi, value;
    int64_t time_ms;            /* the job's now */
};

/* A growable vector of fixed-size items. */
struct rt_vec {
    void *v;
    size_t n, cap, item;
};

/* A due timer waiting in the game thread's heap.  Stale entries (the timer
 * was re-armed or stopped since) are dropped when they come up. */
struct rt_timer_entry {
    int64_t at;                 /* when to look at it (the heap's key) */
    int64_t due;                /* the due time it was armed for */
    struct rt_group *group;
    int timer;
};

/* The whole core: one per process (rt_core below). */
struct rt_core {
    const struct lv_game *game;
    struct rt_store *store;
    struct rt_session *sessions;        /* newest first */
    int n_sessions;
    struct rt_map sessions_by_code;
    struct rt_map participants_by_code;
    int64_t next_session_id, next_group_id, next_participant_id;
    uint64_t job_no;                    /* stamps objects touched by the current job */
    struct rt_vec timer_heap;           /* of struct rt_timer_entry, a min-heap */
};

extern struct rt_core *rt_core;

/* Test hook (runtime/testing.c, `livec test`): while `active`, rt_now_ms()
 * reads the virtual clock now_ms, every new session gets `seed`, and a
 * rejected timer handler leaves its reason in timer_error (instead of on
 * stderr).  A server never sets it. */
struct rt_test_hooks {
    bool active;
    int64_t now_ms;
    uint64_t seed;
    char timer_error[RT_REASON_MAX + 64];
    char load_error[RT_REASON_MAX + 64];        /* `on load` of a fresh stream */
};
extern struct rt_test_hooks rt_test_hooks;

/* The context of one job (one or more handler runs in one transaction). */
struct lv_ctx {
    struct rt_core *rt;
    void *deferred;             /* loop.c: an export read off the game thread,
                                   started when the job would be answered */
    uint64_t job_no;
    struct rt_group *group;
    struct rt_participant *me;
    int64_t now_ms;
    jmp_buf *jb;                        /* where lv_reject/lv_fail return */
    char reason[RT_REASON_MAX];
    int64_t ticks;                      /* loop rounds run (lv_tick) */
    struct rt_group *error_group;       /* its error changed: tell the monitor */
    bool runtime_error;                 /* the reason is lv_fail's, not a reject */
    struct rt_vec undo;                 /* of struct rt_undo */
    struct rt_vec dirty;                /* of struct rt_dirty */
    struct rt_vec sends;                /* of struct rt_event, pending */
    struct rt_vec events;               /* of struct rt_event, numbered */
    struct rt_vec finished;             /* of struct rt_group *: groups this job finished */
    struct rt_vec timers_armed;         /* of struct rt_timer_entry, for the heap */
    struct rt_vec draws;                /* of struct rt_draw, in draw order */
    struct rt_vec json;                 /* of json_t *, released at job end */
    struct rt_vec strfree;              /* of char *, freed at job end */
    struct rt_vec arena;                /* of char * blocks, freed at job end */
    char *arena_pos;
    size_t arena_left;
    /* the job's record for the message log (LIVE only) */
    bool log_message;
    int64_t log_pid;
    char *log_type;                     /* malloc'd or NULL */
    const char *log_body;               /* the job's body_text, or log_body_own */
    char *log_body_own;                 /* malloc'd or NULL */
    bool log_accepted;
    /* SUBSCRIBE: replay the events of replay_of numbered (replay_after, replay_upto] */
    bool subscribe_ok;
    struct rt_participant *replay_of;
    int64_t replay_after, replay_upto;
};

/* ---- small utilities (ctx.c) ---------------------------------------------- */

/* malloc/calloc/realloc/strdup that abort the process with a message when
 * memory is exhausted (the server cannot do anything useful then). */
void *rt_xmalloc(size_t n);
void *rt_xcalloc(size_t n, size_t size);
void *rt_xrealloc(void *p, size_t n);
char *rt_xstrdup(const char *s);

void rt_vec_init(struct rt_vec *v, size_t item);
/* Appends a copy of *item; returns the stored item. */
void *rt_vec_push(struct rt_vec *v, const void *item);
void *rt_vec_at(struct rt_vec *v, size_t i);
void rt_vec_free(struct rt_vec *v);

void rt_map_init(struct rt_map *m);
void rt_map_free(struct rt_map *m);
/* key must stay valid while it is in the map. */
void rt_map_put(struct rt_map *m, const char *key, void *val);
void *rt_map_get(const struct rt_map *m, const char *key);
void rt_map_del(struct rt_map *m, const char *key);

/* Fills buf (RT_CODE_LEN + 1 bytes) with a fresh random code (getrandom). */
void rt_random_code(char *buf);
/* 64 random bits (getrandom). */
uint64_t rt_random_u64(void);
/* Wall clock, Unix milliseconds. */
int64_t rt_now_ms(void);
/* The timers' clock: Unix milliseconds at the process's start plus the
 * monotonic time since, so that a step of the system clock does not move a
 * running timer (a timer's due time is stored in wall-clock time, for
 * restarts; its place in the heap is on this clock).  In `livec test`, the
 * test's clock, as rt_now_ms(). */
int64_t rt_timer_now_ms(void);
/* Where a timer due at the wall-clock time `due` goes on the timers' clock
 * (due plus the two clocks' difference now), kept within 0..INT64_MAX. */
int64_t rt_timer_at(int64_t due);

/* ---- state structs (ctx.c) ------------------------------------------------ */

/* Zeroes a fresh struct's strings to "" (heap copies) -- call on a calloc'd
 * struct before the game's init function. */
void rt_strings_init(const struct lv_field *f, int n, void *base);
/* Frees every string of a struct (not the struct). */
void rt_strings_free(const struct lv_field *f, int n, void *base);
/* A malloc'd copy of the struct with its own copies of every string. */
void *rt_struct_copy(const struct lv_field *f, int n, const void *base, size_t size);
/* The value of field f of base as JSON (a new reference). */
json_t *rt_field_json(const struct lv_field *f, const void *base);
/* Sets field f of base from a JSON value read back from storage: 0, or -1 if
 * v has the wrong shape.  Replaces (and frees) an old string. */
int rt_field_from_json(const struct lv_field *f, void *base, json_t *v);
/* {"name": value, ...} of a whole struct (a new reference). */
json_t *rt_struct_json(const struct lv_field *f, int n, const void *base);
/* A new table row with "" strings, the row's initializers and no id. */
struct rt_row *rt_row_new(const struct lv_table *t);
void rt_row_free(const struct lv_table *t, struct rt_row *r);
/* Adds a row to the rows of a table, keeping id order. */
void rt_rows_add(struct rt_rows *rows, const struct lv_table *t, struct rt_row *r);
/* A row's id. */
int64_t rt_row_id(const struct lv_table *t, const struct rt_row *r);
/* Compact one-line JSON of v, floats as short as reads back exactly; the
 * caller frees it.  NULL if v cannot be encoded. */
char *rt_json_text(json_t *v);
/* Shortest text that reads back as x exactly ("0.1", "3.0"); buf >= 32. */
void rt_format_float(char *buf, size_t size, double x, bool force_point);

/* ---- sessions (ctx.c) ------------------------------------------------------ */

/* Allocates a session of n_groups groups of game->players players with fresh
 * codes and initial state, ids from rt->next_*_id.  Not linked anywhere. */
struct rt_session *rt_session_new(struct rt_core *rt, int n_groups);
/* Links a session into rt's list and maps. */
void rt_session_link(struct rt_core *rt, struct rt_session *s);
void rt_session_unlink(struct rt_core *rt, struct rt_session *s);
/* Frees a session, its groups, participants and rows. */
void rt_session_free(const struct lv_game *game, struct rt_session *s);

/* Name of page index i ("finished" for n_pages). */
const char *rt_page_name(const struct lv_game *game, int i);

/* ---- jobs (ctx.c) ------------------------------------------------------ */

/* A fresh ctx for one job; stamps it with a new job number. */
lv_ctx *rt_ctx_new(struct rt_core *rt);
/* Runs fn(ctx, arg) as one handler: 0 if it returned, -1 if it was rejected
 * (ctx->reason says why).  Does not undo anything by itself. */
int rt_ctx_run(lv_ctx *ctx, void (*fn)(lv_ctx *, void *), void *arg);
/* Records undo for *addr (size bytes) before the caller changes it. */
void rt_ctx_save_bytes(lv_ctx *ctx, void *addr, size_t size);
void rt_ctx_dirty(lv_ctx *ctx, enum rt_dirty_kind kind, void *obj, struct rt_group *g, int index);
/* Restores every undo record of the job (newest first) and forgets its
 * pending sends, events, finishes, armed timers, draws and dirty objects. */
void rt_ctx_rollback(lv_ctx *ctx);
/* After a successful handler: numbers the pending sends (next_seq), the
 * events of `finish` among them in statement order (lv_finish changed the
 * pages already).  Records undo for all of it. */
void rt_ctx_settle(lv_ctx *ctx);
/* An int as a message's int field takes it: a JSON integer, or a float with
 * no fractional part within 64-bit range (5.0).  True and *out, or false. */
bool rt_json_int(json_t *v, int64_t *out);
/* After the COMMIT: drops the undo copies (frees deleted rows). */
void rt_ctx_commit(lv_ctx *ctx);
/* Releases what the job still holds (JSON, strings, events); after commit or
 * rollback. */
void rt_ctx_free(lv_ctx *ctx);
/* Sets ctx->reason and a message queued for me, for the runtime's own
 * rejections outside handlers. */
void rt_ctx_set_reason(lv_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the core (loop.c) ------------------------------------------------- */

/* Opens (creating if need be) the database at path, checks it belongs to
 * game, loads every session into memory and makes the core ready to run jobs
 * (rt_core is set).  0, or -1 with one line in err. */
int rt_open(const struct lv_game *game, const char *path, char *err, size_t errsize);
/* Closes the database and frees all state.  The game thread must be stopped. */
void rt_close(void);
/* Starts / stops the game thread.  rt_stop() refuses new jobs, lets the
 * thread finish every queued job and joins it. */
int rt_start(void);
void rt_stop(void);
/* Test and start-up hook: runs one job (a batch of one) on the calling
 * thread, with its commit, deliveries and done() (which may be NULL).  Only
 * while the game thread is not running. */
void rt_run_job_sync(struct rt_job *job);
/* Fires every timer due at or before now_ms (on the timers' clock,
 * rt_timer_now_ms(), which is the wall clock unless that was stepped) on the
 * calling thread (tests and start-up; the game thread does this by itself).
 * Returns how many fired. */
int rt_fire_due_timers(int64_t now_ms);
/* Fires at most one batch of the timers due at or before now_ms (`livec
 * test`: a timer re-armed with no delay must not loop forever).  Returns
 * how many fired. */
int rt_fire_due_timers_once(int64_t now_ms);

#endif /* LIVE_CTX_H */
