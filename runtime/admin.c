/*
 * admin.c -- the experimenter's extras of the game core (admin.h): closing a
 * session, a consistent download of the SQLite file, the live monitor's
 * event stream, and the recent messages and closed flag of a session's
 * state.  Everything here runs on the game thread, called from loop.c.
 *
 * The monitor stream.  GET /api/sessions/S/events is an ordinary SSE stream
 * of net's (sse.c), registered under the pseudo participant id -S.id (real
 * participant ids are positive, so the two never meet).  After each job's
 * COMMIT, admin_note_changes sends it one small event per changed group,
 * `event: change` / `data: {"group": G}`; the monitor page then fetches the
 * session's state (GET /api/sessions/S).  Sending a notice instead of the
 * state keeps the game thread's cost per job tiny, and nothing at all is
 * sent for a session nobody ever watched (rt_session.watched).
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

/* Most recent messages shown per group in the monitor. */
#define ADMIN_RECENT_PER_GROUP 10
/* The recent messages are looked for among the server's latest this many
 * messages, so that the query costs the same however long the log is. */
#define ADMIN_RECENT_WINDOW 5000
/* How long reading the database copy waits for a lock (ms). */
#define ADMIN_COPY_BUSY_MS 5000

static const char ADMIN_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS rooms(name TEXT PRIMARY KEY, session_id INTEGER NOT NULL, "
    "created_ms INTEGER NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS room_seats(participant_id INTEGER PRIMARY KEY, "
    "session_id INTEGER NOT NULL, room TEXT NOT NULL, time_ms INTEGER NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS room_seats_session ON room_seats(session_id);\n"
    "CREATE TABLE IF NOT EXISTS closed_sessions(session_id INTEGER PRIMARY KEY, "
    "time_ms INTEGER NOT NULL);\n";

/* Sequence numbers of monitor events (the SSE id: line; never replayed). */
static int64_t watch_seq;

/* See admin.h. */
void admin_reply_json(struct rt_job *job, int status, json_t *v)
{
    free(job->reply);
    job->status = status;
    job->reply = v ? rt_json_text(v) : NULL;
    job->content_type = "application/json";
    json_decref(v);
}

/* See admin.h. */
void admin_reply_error(struct rt_job *job, int status, const char *reason)
{
    admin_reply_json(job, status, json_pack("{s:s}", "error", reason));
}

/* See admin.h. */
struct rt_session *admin_session_by_id(struct rt_core *rt, int64_t id)
{
    for (struct rt_session *s = rt->sessions; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

/* See admin.h. */
int admin_open(struct rt_core *rt, char *err, size_t errsize)
{
    sqlite3 *db = store_handle(rt->store);
    char *msg = NULL;
    if (sqlite3_exec(db, ADMIN_SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errsize, "cannot create the rooms tables: %s",
                 msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT session_id FROM closed_sessions", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "cannot read the closed sessions: %s", sqlite3_errmsg(db));
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rt_session *s = admin_session_by_id(rt, sqlite3_column_int64(st, 0));
        if (s)
            s->closed = true;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errsize, "cannot read the closed sessions: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static struct rt_session *find_session(lv_ctx *ctx, struct rt_job *job)
{
    job->code[RT_CODE_MAX - 1] = '\0';
    struct rt_session *s = rt_map_get(&ctx->rt->sessions_by_code, job->code);
    if (!s)
        admin_reply_error(job, 404, "unknown session");
    return s;
}

/* ---- closing a session ------------------------------------------------------ */

/* See admin.h. */
void admin_close_session(lv_ctx *ctx, struct rt_job *job)
{
    struct rt_session *s = find_session(ctx, job);
    if (!s)
        return;
    if (!s->closed) {
        sqlite3 *db = store_handle(ctx->rt->store);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO closed_sessions(session_id, time_ms) "
                                        "VALUES (?, ?)", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, s->id);
            sqlite3_bind_int64(st, 2, ctx->now_ms ? ctx->now_ms : rt_now_ms());
            rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            char why[RT_REASON_MAX];
            snprintf(why, sizeof why, "storage failure: %s", sqlite3_errmsg(db));
            admin_reply_error(job, 503, why);
            return;
        }
        /* undone with the rest of the batch if its COMMIT fails */
        rt_ctx_save_bytes(ctx, &s->closed, sizeof s->closed);
        s->closed = true;
    }
    admin_reply_json(job, 200, json_pack("{s:s, s:b}", "code", s->code, "closed", 1));
}

/* ---- the database file -------------------------------------------------------- */

/* See admin.h. */
void admin_database(lv_ctx *ctx, struct rt_job *job)
{
    const char *path = sqlite3_db_filename(store_handle(ctx->rt->store), "main");
    if (!path || !path[0]) {
        admin_reply_error(job, 404, "the database is not a file");
        return;
    }
    /* A second connection reads the last committed state; the batch this job
     * runs in has not committed yet and is not in the copy. */
    sqlite3 *db = NULL;
    sqlite3_int64 size = 0;
    unsigned char *bytes = NULL;
    char why[RT_REASON_MAX] = "";
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "cannot open the database: %s",
                 db ? sqlite3_errmsg(db) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(db, ADMIN_COPY_BUSY_MS);
    /* one read transaction around the copy: a consistent snapshot */
    if (sqlite3_exec(db, "BEGIN; SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, sizeof why, "cannot read the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    bytes = sqlite3_serialize(db, "main", &size, 0);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (!bytes || size < 100) {
        snprintf(why, sizeof why, "cannot copy the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    /* The file is in WAL mode (header bytes 18 and 19 are 2); the copy
     * comes without its -wal file, so mark it a rollback-journal database,
     * which every SQLite tool opens, read-only media included. */
    bytes[18] = 1;
    bytes[19] = 1;
    free(job->reply);
    job->reply = rt_xmalloc((size_t)size);
    memcpy(job->reply, bytes, (size_t)size);
    job->reply_len = (size_t)size;
    job->status = 200;
    job->content_type = "application/vnd.sqlite3";
done:
    sqlite3_free(bytes);
    sqlite3_close(db);
    if (why[0])
        admin_reply_error(job, 503, why);
}

/* ---- the monitor stream ----------------------------------------------------------- */

/* See admin.h. */
void admin_watch(lv_ctx *ctx, struct rt_job *job)
{
    struct rt_session *s = find_session(ctx, job);
    if (!s)
        return;
    /* never undone: at worst a few unread notices; atomic: loop.c's sync
     * thread reads it (note_group) */
    __atomic_store_n(&s->watched, true, __ATOMIC_RELAXED);
    ctx->subscribe_ok = true;
    ctx->replay_after = ctx->replay_upto = 0;
    job->participant_id = -s->id;
    job->status = 200;
}

/* Sends one change notice for group g unless it went out already for this
 * job (seen[0..*n) of at most max). */
static void note_group(struct rt_group *g, struct rt_group **seen, size_t *n, size_t max)
{
    if (!g || !g->session || !__atomic_load_n(&g->session->watched, __ATOMIC_RELAXED))
        return;
    for (size_t i = 0; i < *n; i++)
        if (seen[i] == g)
            return;
    if (*n < max)
        seen[(*n)++] = g;
    char data[48];
    snprintf(data, sizeof data, "{\"group\":%d}", g->gid);
    net_deliver(-g->session->id, ++watch_seq, "change", data);
}

/* See admin.h. */
void admin_note_changes(lv_ctx *ctx)
{
    struct rt_group *seen[16];
    size_t n = 0;
    for (size_t i = 0; i < ctx->dirty.n; i++) {
        struct rt_dirty *d = rt_vec_at(&ctx->dirty, i);
        if (d->kind == RT_DIRTY_SESSION_NEW)
            continue;
        note_group(d->group, seen, &n, sizeof seen / sizeof seen[0]);
    }
    if (ctx->log_message && ctx->me)
        note_group(ctx->me->group, seen, &n, sizeof seen / sizeof seen[0]);
    if (ctx->error_group)
        note_group(ctx->error_group, seen, &n, sizeof seen / sizeof seen[0]);
}

/* ---- session state extras ------------------------------------------------------------ */

/* See admin.h. */
void admin_state_extras(struct rt_core *rt, struct rt_session *s, json_t *state)
{
    json_object_set_new(state, "closed", json_boolean(s->closed));
    json_t *groups = json_object_get(state, "groups");
    if (!json_is_array(groups) || json_array_size(groups) != (size_t)s->n_groups)
        return;
    sqlite3 *db = store_handle(rt->store);
    sqlite3_stmt *st = NULL;
    /* CROSS JOIN keeps messages the outer loop: newest first by rowid, so the
     * LIMIT stops the scan early. */
    static const char sql[] =
        "SELECT m.time_ms, g.gid, p.id_in_group, m.type, m.body, m.outcome, m.reason "
        "FROM messages m CROSS JOIN participants p CROSS JOIN groups g "
        "WHERE p.id = m.participant_id AND g.id = p.group_id AND p.session_id = ?1 "
        "AND m.id > (SELECT coalesce(max(id), 0) FROM messages) - ?2 "
        "ORDER BY m.id DESC LIMIT ?3";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, ADMIN_RECENT_WINDOW);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)s->n_groups * ADMIN_RECENT_PER_GROUP);
    json_t **recent = rt_xcalloc((size_t)s->n_groups, sizeof *recent);
    for (int i = 0; i < s->n_groups; i++)
        recent[i] = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t gid = sqlite3_column_int64(st, 1);
        if (gid < 1 || gid > s->n_groups ||
            json_array_size(recent[gid - 1]) >= ADMIN_RECENT_PER_GROUP)
            continue;
        const char *type = (const char *)sqlite3_column_text(st, 3);
        const char *reason = (const char *)sqlite3_column_text(st, 6);
        const char *body = (const char *)sqlite3_column_text(st, 4);
        const char *outcome = (const char *)sqlite3_column_text(st, 5);
        json_array_append_new(recent[gid - 1], json_pack(
            "{s:I, s:I, s:s?, s:s, s:s, s:s?}",
            "time", (json_int_t)sqlite3_column_int64(st, 0),
            "id_in_group", (json_int_t)sqlite3_column_int64(st, 2),
            "type", type, "body", body ? body : "", "outcome", outcome ? outcome : "",
            "reason", reason));
    }
    sqlite3_finalize(st);
    for (int i = 0; i < s->n_groups; i++) {
        if (rc == SQLITE_DONE)
            json_object_set(json_array_get(groups, (size_t)i), "recent", recent[i]);
        json_decref(recent[i]);
    }
    free(recent);
}
