/*
 * fake_core.h -- a tiny stand-in for the runtime core, for the network
 * side's unit test (test_http.c).  It implements rt_submit() with one
 * thread that answers jobs from a fixed little world of participants, so
 * that http.c and sse.c can be tested over real sockets without SQLite or
 * a game.
 *
 * The world: one session "s1" with participants
 *   "alice" (pid 1, id_in_group 1, page 0: the default live page),
 *   "bob"   (pid 2, id_in_group 2, page 1: a template page),
 *   "carol" (pid 3, id_in_group 1, page 2: finished; the game has 2 pages).
 * LIVE echoes an accepted JSON object as an event to the sender ({"type":
 * "finish"} sends a finish event instead); SUBSCRIBE replays, activates and,
 * for a fresh stream, sends {"loaded":true} like an `on load`.
 */
#ifndef LIVE_FAKE_CORE_H
#define LIVE_FAKE_CORE_H

#include <stdbool.h>

/* Starts the fake's thread; resets the world. */
void fake_core_start(void);
/* Stops the thread after the jobs already queued are done. */
void fake_core_stop(void);
/* While set, rt_submit refuses every job (returns -1), as when overloaded. */
void fake_core_refuse(bool refuse);
/* Number of jobs the fake has finished. */
int fake_core_jobs_done(void);

#endif /* LIVE_FAKE_CORE_H */
