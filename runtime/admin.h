/*
 * admin.h -- the game core's experimenter features beyond the normative
 * protocol: rooms (rooms.c) and the admin extras of admin.c (closing a
 * session, downloading the SQLite file, the live monitor's event stream,
 * recent messages in the session state).  Only loop.c calls these, on the
 * game thread, from its job switch (rt.h job kinds RT_JOB_ROOM_* and
 * RT_JOB_SESSION_CLOSE, RT_JOB_SESSION_WATCH, RT_JOB_DATABASE).
 *
 * Storage: three tables of their own, created next to the core's at open
 * (CREATE TABLE IF NOT EXISTS, so older databases gain them; they are not
 * part of the game's schema fingerprint):
 *   rooms(name PRIMARY KEY, session_id, created_ms)   a room's open session
 *   room_seats(participant_id PRIMARY KEY, session_id, room, time_ms)
 *                                                     who arrived through a room
 *   closed_sessions(session_id PRIMARY KEY, time_ms)  sessions closed by the admin
 * Statements are prepared per call (these are rare requests) and always
 * finalized before returning, so nothing outlives store_close().  Writes run
 * inside the game thread's batch transaction: a failed batch rolls them back
 * with everything else.
 */
#ifndef LIVE_ADMIN_H
#define LIVE_ADMIN_H

#include <stdbool.h>
#include <jansson.h>
#include "ctx.h"

/* Creates the tables above if need be and marks the closed sessions of rt
 * (rt_session.closed).  Called by rt_open after the store is loaded.  0, or
 * -1 with one line in err. */
int admin_open(struct rt_core *rt, char *err, size_t errsize);

/* Sets job's answer to v (a new reference, stolen) as JSON with status. */
void admin_reply_json(struct rt_job *job, int status, json_t *v);
/* Sets job's answer to {"error": reason} with status. */
void admin_reply_error(struct rt_job *job, int status, const char *reason);
/* The linked session with database id `id`, or NULL. */
struct rt_session *admin_session_by_id(struct rt_core *rt, int64_t id);

/* ---- rooms (rooms.c) --------------------------------------------------------- */

/* Longest room name, including the NUL (names are [A-Za-z0-9_-]). */
#define ROOM_NAME_MAX 40

/* RT_JOB_ROOM_CREATE, before the session is made: checks job->body's "name".
 * 0 when it is a valid room name; else answers 400 and returns -1. */
int rooms_check_create(lv_ctx *ctx, struct rt_job *job);
/* RT_JOB_ROOM_CREATE, after job_create_session answered 201: points the room
 * at the new session (rt->sessions, the newest) and adds "room" and "url"
 * to the 201 answer.  On a storage failure it rolls the job back and answers
 * 503. */
void rooms_register(lv_ctx *ctx, struct rt_job *job);
/* RT_JOB_ROOM_LIST: 200 [{"name", "session", "url", "participants",
 * "arrived", "closed"}, ...] ordered by name. */
void rooms_list(lv_ctx *ctx, struct rt_job *job);
/* RT_JOB_ROOM_ENTER (assign = true) and RT_JOB_ROOM_STATUS (false):
 * job->name is the room, job->code the participant code of the browser's
 * seat cookie or "".  ENTER keeps that seat when it belongs to the room's
 * open session, else gives the next free participant (in order: group 1's
 * players, then group 2's ...).  STATUS never assigns (404 without a seat).
 * On success job->code is the seat's participant code, the answer is
 * {"room", "code", "url", "group", "id_in_group", "arrived", "needed",
 * "ready"} and the status 303 when the seat's group is full (ENTER) or 200.
 * 404 unknown room, 409 room full or its session closed. */
void rooms_enter(lv_ctx *ctx, struct rt_job *job, bool assign);

/* ---- admin extras (admin.c) ------------------------------------------------- */

/* RT_JOB_SESSION_CLOSE: job->code is the session.  Marks it closed (in
 * memory and in closed_sessions); afterwards every live message of its
 * participants is refused with 422 "the session is closed".  200
 * {"code", "closed": true}; closing twice is not an error. */
void admin_close_session(lv_ctx *ctx, struct rt_job *job);
/* RT_JOB_DATABASE: a consistent copy of the whole SQLite file as it was at
 * the last COMMIT (read through a second, read-only connection), in
 * job->reply / job->reply_len, content type application/vnd.sqlite3. */
void admin_database(lv_ctx *ctx, struct rt_job *job);
/* RT_JOB_SESSION_WATCH: job->code is the session.  Marks the job a
 * subscription (ctx->subscribe_ok, nothing to replay) whose stream loop.c
 * activates under the pseudo participant id -session_id, where
 * admin_note_changes sends its events. */
void admin_watch(lv_ctx *ctx, struct rt_job *job);
/* After a job's COMMIT (loop.c's delivery step): for a watched session whose
 * groups the job changed (state, players, rows, timers, or a logged
 * message), sends event "change" with data {"group": GID} to the session's
 * monitor streams, once per group per job. */
void admin_note_changes(lv_ctx *ctx);
/* Adds to a session-state answer `state` ({"groups": [...]} in the order of
 * s->groups) the keys "closed" and, per group, "recent": the group's latest
 * messages, newest first, [{"time", "id_in_group", "type", "body",
 * "outcome", "reason"}].  Best effort: a storage error leaves "recent" out. */
void admin_state_extras(struct rt_core *rt, struct rt_session *s, json_t *state);

#endif /* LIVE_ADMIN_H */
