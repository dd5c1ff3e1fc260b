/*
 * testing.h -- the test driver of `livec test` (docs/testing.md).
 *
 * `livec test FILE.live` emits the game's C as for a server, plus one table
 * of steps per `test "name" { ... }` block, and a main() that calls
 * lv_test_main() instead of lv_main().  The driver runs each test against a
 * fresh in-memory database with the runtime's own jobs (the same code paths
 * as HTTP requests, without HTTP): a session of one group, messages through
 * the real validation and handlers, the players' messages read back from the
 * outbox, a virtual clock that fires timers, a fixed random seed.
 *
 * Generated test code includes this header after live.h; nothing else does.
 */
#ifndef LIVE_TESTING_H
#define LIVE_TESTING_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "live.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The virtual clock of every test starts here: 2026-01-01T00:00:00Z, in
 * Unix milliseconds (now() in a test is this plus the `after`s so far). */
#define LV_TEST_EPOCH_MS INT64_C(1767225600000)

enum lv_step_kind {
    LV_STEP_SEED,       /* seed N: num (before anything else) */
    LV_STEP_SEND,       /* player(P) sends OBJ [rejected ["why"]] */
    LV_STEP_RECEIVE,    /* player(P) receives OBJ: the next message matches */
    LV_STEP_NOTHING,    /* player(P) receives nothing */
    LV_STEP_LOAD,       /* player(P) loads: a fresh page runs on load */
    LV_STEP_NEXT,       /* player(P) advances: the page's Next button */
    LV_STEP_FINISHED,   /* player(P) finished: a finish event arrived */
    LV_STEP_EXPECT,     /* expect COND */
    LV_STEP_AFTER       /* after D: the clock moves on, due timers fire */
};

/* What a step's eval function computes.  JSON values are owned by ctx (the
 * driver takes its own references). */
struct lv_test_value {
    json_t *json;       /* SEND: the message; RECEIVE: the pattern */
    bool ok;            /* EXPECT: the condition */
    json_t *left;       /* EXPECT of a comparison: both sides, else NULL */
    json_t *right;
    int64_t num;        /* AFTER: milliseconds */
};

struct lv_test_step {
    enum lv_step_kind kind;
    int line;                   /* .live line of the step */
    const char *text;           /* the step as written (one line) */
    int player;                 /* P of player(P), 1-based; 0 if none */
    /* Evaluates the step's expression on the test's group (`me` is player P
     * when there is one), or NULL.  Runs as a handler that is always rolled
     * back: it cannot change the game. */
    void (*eval)(lv_ctx *ctx, struct lv_test_value *out);
    int64_t num;                /* SEED: the seed */
    bool rejected;              /* SEND: must be rejected */
    const char *reason;         /* SEND: ... with a reason containing this, or NULL */
    bool subset;                /* RECEIVE: the pattern ended with `...` */
    const char *op;             /* EXPECT of a comparison: "==", "<", ...; else NULL */
};

struct lv_test {
    const char *name;
    int line;                   /* of `test` */
    const struct lv_test_step *steps;
    int n_steps;
};

/* Runs the tests in order and prints one line per test (`ok   NAME` or
 * `FAIL NAME` followed by the failing step, expected and actual), then
 * `N passed, M failed`.  Returns the exit status: 0 if all passed, 1 if
 * any failed, 2 for a bad command line.  argv may name tests to run (all
 * when none). */
int lv_test_main(const struct lv_game *game, const struct lv_test *tests, int n_tests,
                 int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* LIVE_TESTING_H */
