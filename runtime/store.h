/*
 * store.h -- the game core's SQLite storage (store.c).  Only the game thread
 * (or the main thread before the game thread starts / after it stopped)
 * calls these.
 *
 * The schema is derived from the game descriptor (see store.c for the table
 * list).  Every statement is prepared once at open and reused; values are
 * always bound, never pasted into SQL; identifiers from the descriptor are
 * double-quoted.
 */
#ifndef LIVE_STORE_H
#define LIVE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "ctx.h"

struct rt_store;

/* Opens or creates the database at path for game (WAL, synchronous=NORMAL;
 * durability comes from store_sync), creates the schema and checks that the database belongs to this game and
 * this version of its schema.  0 and *out, or -1 with one line in err. */
int store_open(struct rt_store **out, const struct lv_game *game, const char *path,
               char *err, size_t errsize);
/* Finalizes every statement and closes the database; accepts NULL. */
void store_close(struct rt_store *st);

/* Loads every session of the database into rt (sessions, groups,
 * participants, rows, row id counters, timers) and sets rt's next ids.
 * 0, or -1 with one line in err. */
int store_load(struct rt_store *st, struct rt_core *rt, char *err, size_t errsize);

/* Batch transaction.  Each returns 0 or -1 (store_error() says why). */
int store_begin(struct rt_store *st);
int store_commit(struct rt_store *st);
void store_rollback(struct rt_store *st);
/* Makes every transaction committed so far durable (fdatasync of the WAL;
 * the COMMIT itself does not wait for the disk).  Thread-safe against the
 * other store functions: it may run on another thread while the game thread
 * runs the next batch.  0, or -1 with one line in err (also when the
 * database file was moved or deleted since it was opened). */
int store_sync(struct rt_store *st, char *err, size_t errsize);
/* The text of the last SQLite error (borrowed, valid until the next call). */
const char *store_error(struct rt_store *st);

/* Writes what a finished job changed: its dirty objects, its numbered events
 * (`sent` rows), its message-log entry and its random() draws.  0 or -1. */
int store_write_job(struct rt_store *st, lv_ctx *ctx);

/* Calls fn for each event sent to participant p numbered after < seq <= upto,
 * in seq order (event NULL for an ordinary message), until fn returns
 * non-zero (the stream has taken its part of a long replay: no more texts
 * are read).  Game thread, with every job run so far written (p->next_seq
 * and the group's last_sent_id agree with the table).  0 or -1. */
int store_replay(struct rt_store *st, const struct rt_participant *p, int64_t after, int64_t upto,
                 int (*fn)(void *arg, int64_t seq, const char *event, const char *data),
                 void *arg);

/* One row of the message log, as the CSV export wants it. */
struct store_message {
    int64_t time_ms;
    const char *participant;    /* code */
    const char *type;           /* NULL for a message without "type" */
    const char *body;
    const char *outcome;        /* "accepted" or "rejected" */
    const char *reason;         /* NULL when accepted */
    int64_t group;              /* the sender's group, 1.. in the session */
    int64_t id_in_group;        /* and its id there */
};

/* Calls fn for each logged message of the session, in arrival order.  The
 * strings are valid during the call only.  0 or -1. */
int store_messages(struct rt_store *st, int64_t session_id,
                   void (*fn)(void *arg, const struct store_message *m), void *arg);

/* One recorded random() draw, as the CSV export wants it. */
struct store_draw {
    int64_t n;                  /* 1, 2, 3 ... within the session */
    int64_t group;              /* the group's number in the session */
    const char *participant;    /* code; NULL in timer and start handlers */
    int64_t message;            /* row number (1-based) of the job's message in
                                   the session's message log; 0 if none */
    int64_t lo, hi, value;
    int64_t time_ms;
};

/* Calls fn for each recorded draw of the session, in draw order.  The
 * strings are valid during the call only.  0 or -1. */
int store_draws(struct rt_store *st, int64_t session_id,
                void (*fn)(void *arg, const struct store_draw *d), void *arg);
/* The database file's path (a --db symlink resolved), or NULL for an
 * in-memory database. */
const char *store_path(const struct rt_store *st);
/* The last message id (draws false), or the session's last draw number, so
 * far (0: none): an export asked for now shows the log up to there. */
int64_t store_log_end(struct rt_store *st, bool draws, int64_t session_id);
/* store_messages (draws false) or store_draws (true), up to message id or
 * draw number upto, on a connection of its own to the file at path, opened
 * read-only for the call: any thread, while the game thread goes on (WAL:
 * it reads what was committed when it began; upto leaves out what later
 * batches committed and may not have made durable yet).  0, or -1 with one
 * line in err. */
int store_read_log(const char *path, bool draws, int64_t session_id, int64_t upto,
                   void (*msg_fn)(void *arg, const struct store_message *m),
                   void (*draw_fn)(void *arg, const struct store_draw *d), void *arg,
                   char *err, size_t errsize);

/* The SQLite connection (borrowed), for tests that need to provoke storage
 * failures (PRAGMA max_page_count); the core owns it. */
sqlite3 *store_handle(struct rt_store *st);

#endif /* LIVE_STORE_H */
