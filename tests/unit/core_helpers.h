/*
 * core_helpers.h -- shared helpers of the core's unit tests (test_ctx.c,
 * test_store.c): a scratch database in a temporary directory, running jobs
 * synchronously against the core (rt_run_job_sync) and reading their
 * answers, creating sessions of the fixture game.
 */
#ifndef LIVE_CORE_HELPERS_H
#define LIVE_CORE_HELPERS_H

#include <stdint.h>
#include "ctx.h"

/* The hand-written counter game (fixture_counter.c built with
 * -DFIXTURE_NO_MAIN). */
const struct lv_game *fixture_counter_game(void);

/* Makes a fresh temporary directory; returns the path of a database file in
 * it (static storage, valid until the next call). */
const char *helper_tmp_db(void);
/* Removes the database of helper_tmp_db, its WAL files and the directory. */
void helper_rm_db(const char *path);

/* Runs one job of `kind` for `code` with the JSON text `body` (or NULL) on
 * the calling thread.  Returns the HTTP status; *reply (if reply is not NULL)
 * gets the malloc'd answer body, which the caller frees. */
int helper_job(enum rt_job_kind kind, const char *code, const char *body, char **reply);
/* Shorthand: POST /p/CODE/live with body; returns the status and copies the
 * reply text into buf. */
int helper_live(const char *code, const char *body, char *buf, size_t size);

/* Creates a session of n participants; fills codes[i] with each participant
 * code and returns the session code (static storage). */
const char *helper_session(int n, char codes[][RT_CODE_MAX]);

/* A subscription: replays and activation are recorded here. */
struct helper_stream {
    int64_t seqs[64];
    char *data[64];
    int n_replayed;
    int replay_stop_after;      /* > 0: the replay callback asks to stop then */
    int64_t activated_pid;      /* 0 until activate */
};
/* Runs RT_JOB_SUBSCRIBE for code with last_event_id; returns the status. */
int helper_subscribe(const char *code, int64_t last_event_id, struct helper_stream *s);
/* The same, the replay callback asking to stop after stop_after events. */
int helper_subscribe_part(const char *code, int64_t last_event_id, struct helper_stream *s,
                          int stop_after);
void helper_stream_free(struct helper_stream *s);

#endif /* LIVE_CORE_HELPERS_H */
