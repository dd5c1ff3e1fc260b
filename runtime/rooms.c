/*
 * rooms.c -- rooms, as oTree has them (admin.h): a fixed address /room/NAME
 * that hands each arriving browser the next free participant of the room's
 * open session.
 *
 * The admin makes a room with POST /api/rooms {"name", "participants"}: a new
 * session of that many participants is created and becomes the room's open
 * session (making the room again opens a fresh session in it).  Seats are
 * given in participant order -- group 1's players, then group 2's ... -- so
 * the k-th browser to arrive gets participant k and groups fill one after
 * the other; a group is "ready" when all its players have arrived.  The seat
 * is kept by a cookie (set by http.c) holding the participant code, so a
 * reload or a second visit finds the same seat.  All state is in SQLite
 * (tables rooms and room_seats, see admin.h), read and written on the game
 * thread inside its batch transaction.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "admin.h"
#include "store.h"

/* A room name: 1..ROOM_NAME_MAX-1 of [A-Za-z0-9_-] (it is a URL segment). */
static bool valid_room_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ROOM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Answers 503 "storage failure: ..." from db's last error. */
static void storage_failure(struct rt_job *job, sqlite3 *db)
{
    char why[RT_REASON_MAX];
    snprintf(why, sizeof why, "storage failure: %s", sqlite3_errmsg(db));
    admin_reply_error(job, 503, why);
}

/* The number of seats taken in session sid, or -1 on a storage error. */
static int64_t seats_taken(sqlite3 *db, int64_t sid)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM room_seats WHERE session_id = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, sid);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* See admin.h. */
int rooms_check_create(lv_ctx *ctx, struct rt_job *job)
{
    (void)ctx;
    json_t *name = json_object_get(job->body, "name");
    if (!json_is_string(name) || !valid_room_name(json_string_value(name))) {
        char why[128];
        snprintf(why, sizeof why, "\"name\" must be 1 to %d letters, digits, '-' or '_'",
                 ROOM_NAME_MAX - 1);
        admin_reply_error(job, 400, why);
        return -1;
    }
    return 0;
}

/* See admin.h. */
void rooms_register(lv_ctx *ctx, struct rt_job *job)
{
    struct rt_session *s = ctx->rt->sessions;       /* the one just made */
    const char *name = json_string_value(json_object_get(job->body, "name"));
    sqlite3 *db = store_handle(ctx->rt->store);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO rooms(name, session_id, created_ms) "
                                    "VALUES (?, ?, ?)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, s->id);
        sqlite3_bind_int64(st, 3, s->created_ms);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        rt_ctx_rollback(ctx);           /* the session goes too */
        storage_failure(job, db);
        return;
    }
    json_t *reply = job->reply ? json_loads(job->reply, 0, NULL) : NULL;
    if (!reply)
        reply = json_pack("{s:s}", "code", s->code);
    char url[ROOM_NAME_MAX + 8];
    snprintf(url, sizeof url, "/room/%s", name);
    json_object_set_new(reply, "room", json_string(name));
    json_object_set_new(reply, "url", json_string(url));
    admin_reply_json(job, 201, reply);
}

/* See admin.h. */
void rooms_list(lv_ctx *ctx, struct rt_job *job)
{
    struct rt_core *rt = ctx->rt;
    sqlite3 *db = store_handle(rt->store);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name, session_id FROM rooms ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        storage_failure(job, db);
        return;
    }
    json_t *list = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        struct rt_session *s = admin_session_by_id(rt, sqlite3_column_int64(st, 1));
        if (!name || !s)
            continue;
        char url[ROOM_NAME_MAX + 8];
        snprintf(url, sizeof url, "/room/%s", name);
        json_array_append_new(list, json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:b}", "name", name, "session", s->code, "url", url,
            "participants", (json_int_t)s->n_groups * rt->game->players,
            "arrived", (json_int_t)seats_taken(db, s->id), "closed", s->closed));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        storage_failure(job, db);
        return;
    }
    admin_reply_json(job, 200, list);
}

/* The open session of room `name`: its id in *sid, or 0 when there is no
 * such room, -1 on a storage error. */
static int room_session(sqlite3 *db, const char *name, int64_t *sid)
{
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_prepare_v2(db, "SELECT session_id FROM rooms WHERE name = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *sid = sqlite3_column_int64(st, 0);
            found = 1;
        } else if (rc == SQLITE_DONE) {
            found = 0;
        }
    }
    sqlite3_finalize(st);
    return found;
}

/* Records that participant p took a seat of room `name`: 0 or -1. */
static int take_seat(sqlite3 *db, const char *name, const struct rt_participant *p, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO room_seats(participant_id, session_id, room, time_ms) "
                                    "VALUES (?, ?, ?, ?)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, p->id);
        sqlite3_bind_int64(st, 2, p->group->session->id);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, now);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* See admin.h. */
void rooms_enter(lv_ctx *ctx, struct rt_job *job, bool assign)
{
    struct rt_core *rt = ctx->rt;
    const int players = rt->game->players;
    sqlite3 *db = store_handle(rt->store);
    char why[RT_REASON_MAX];
    job->name[sizeof job->name - 1] = '\0';
    job->code[RT_CODE_MAX - 1] = '\0';
    const char *name = job->name;

    int64_t sid = 0;
    int found = room_session(db, name, &sid);
    if (found < 0) {
        storage_failure(job, db);
        return;
    }
    struct rt_session *s = found ? admin_session_by_id(rt, sid) : NULL;
    if (!s) {
        snprintf(why, sizeof why, "there is no room named '%s'", name);
        admin_reply_error(job, 404, why);
        return;
    }
    if (s->closed) {
        snprintf(why, sizeof why, "the session of room '%s' is closed", name);
        admin_reply_error(job, 409, why);
        return;
    }
    int64_t taken = seats_taken(db, s->id);
    if (taken < 0) {
        storage_failure(job, db);
        return;
    }
    struct rt_participant *p = job->code[0] ? rt_map_get(&rt->participants_by_code, job->code) : NULL;
    if (p && p->group->session != s)
        p = NULL;               /* a seat of an older session of the room */
    if (!p && !assign) {
        snprintf(why, sizeof why, "you have no seat in room '%s' yet: open /room/%s", name, name);
        admin_reply_error(job, 404, why);
        return;
    }
    if (!p) {
        int64_t total = (int64_t)s->n_groups * players;
        if (taken >= total) {
            snprintf(why, sizeof why, "room '%s' is full: all %" PRId64 " participants have arrived",
                     name, total);
            admin_reply_error(job, 409, why);
            return;
        }
        p = s->groups[taken / players]->players[taken % players];
        if (take_seat(db, name, p, ctx->now_ms ? ctx->now_ms : rt_now_ms()) < 0) {
            storage_failure(job, db);
            return;
        }
        taken++;
    }
    int64_t first = (int64_t)(p->group->gid - 1) * players;
    int64_t arrived = taken - first > players ? players : taken - first;
    bool ready = arrived >= players;
    char url[RT_CODE_MAX + 8];
    snprintf(url, sizeof url, "/p/%s", p->code);
    snprintf(job->code, sizeof job->code, "%s", p->code);
    job->participant_id = p->id;
    job->id_in_group = p->id_in_group;
    admin_reply_json(job, ready && assign ? 303 : 200, json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:I, s:i, s:b}", "room", name, "code", p->code, "url", url,
        "group", p->group->gid, "id_in_group", p->id_in_group, "arrived", (json_int_t)arrived,
        "needed", players, "ready", ready));
}
