/*
 * test_store.c -- the core's storage and life cycle: state, rows, row ids,
 * sequence numbers, pages, timers and the random generator survive closing
 * and reopening a real SQLite file; every random() draw of a committed
 * handler is recorded (draws table, draws.csv), a rejected one's is not;
 * a database of another game is refused;
 * a failing disk (SQLITE_FULL) answers 503 and leaves memory as it was;
 * lv_main's command line (flags, environment, exit status 2, demo session,
 * clean exit on SIGTERM) with the fake network side.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>
#include <sqlite3.h>

#include "ctx.h"
#include "store.h"
#include "core_helpers.h"
#include "fake_net.h"

static char codes[2][RT_CODE_MAX];
static char buf[2048];

static json_t *session_state(const char *session)
{
    char *reply = NULL;
    ck_assert_int_eq(helper_job(RT_JOB_SESSION_STATE, session, NULL, &reply), 200);
    json_t *v = json_loads(reply, 0, NULL);
    free(reply);
    ck_assert_ptr_nonnull(v);
    return v;
}

static json_t *group0(json_t *st)
{
    return json_array_get(json_object_get(st, "groups"), 0);
}

static void open_db(const char *db)
{
    char err[512];
    ck_assert_msg(rt_open(fixture_counter_game(), db, err, sizeof err) == 0, "%s", err);
}

START_TEST(test_persistence)
{
    const char *db = helper_tmp_db();
    char session[RT_CODE_MAX];
    open_db(db);
    snprintf(session, sizeof session, "%s", helper_session(2, codes));
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":5}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"note\",\"text\":\"h\\u00e9llo\"}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"bump\",\"x\":1}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"pick\",\"i\":2}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"offer\",\"price\":1.25,\"side\":\"sell\"}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"offer\",\"price\":2}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"drop\",\"id\":2}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":100000}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"roll\"}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_job(RT_JOB_NEXT, codes[1], NULL, NULL), 303);
    uint64_t rng = rt_core->sessions->rng;
    ck_assert(rng != rt_core->sessions->seed);
    json_t *before = session_state(session);
    rt_close();

    fake_net_reset();
    open_db(db);
    json_t *after = session_state(session);
    char *a = json_dumps(before, JSON_SORT_KEYS | JSON_COMPACT), *b = json_dumps(after, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    json_t *f = json_object_get(group0(after), "fields");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "total")), 6);
    ck_assert_str_eq(json_string_value(json_object_get(f, "log")), "bumped");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(f, "hist"), 2)), 2);
    json_t *rows = json_object_get(json_object_get(group0(after), "tables"), "offer");
    ck_assert_uint_eq(json_array_size(rows), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "side")), "sell");
    ck_assert(json_real_value(json_object_get(json_array_get(rows, 0), "price")) == 1.25);
    json_decref(before);
    json_decref(after);
    ck_assert(rt_core->sessions->rng == rng);

    /* sequence numbers carry on: player 1 had 1 (add) + 1 (note: me) + 1 (bump)
     * + 2 (offers) + 1 (drop) + 1 (roll) = 7 events */
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":1}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 2);
    ck_assert_int_eq(fake_net_get(0)->seq, 8);
    /* row ids carry on past the deleted row 2 */
    fake_net_reset();
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"offer\",\"price\":3}", buf, sizeof buf), 200);
    json_t *v = json_loads(fake_net_get(0)->data, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(v, "offers"), 1), "id")), 3);
    json_decref(v);
    /* the outbox survived: replay everything after seq 6 */
    struct helper_stream s;
    ck_assert_int_eq(helper_subscribe(codes[0], 6, &s), 200);
    ck_assert_int_eq(s.n_replayed, 3);
    ck_assert_int_eq(s.seqs[0], 7);
    ck_assert_ptr_nonnull(strstr(s.data[0], "\"r\":"));
    helper_stream_free(&s);
    /* the timer armed before the restart fires after it */
    fake_net_reset();
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms() + 200000), 1);
    ck_assert_uint_eq(fake_net_count(), 2);
    ck_assert_ptr_nonnull(strstr(fake_net_get(0)->data, "\"tick\":1"));
    rt_close();
    helper_rm_db(db);
}
END_TEST

/* One `sent` row per send, whatever the number of recipients (format 3);
 * a database of storage format 1 (a copy of the text in every recipient's
 * outbox row) or 2 (sent(id, event, data) + outbox(participant_id, seq,
 * sent_id)) is converted when opened, and replay and the sequence numbers
 * carry on across the conversion. */
static void check_old_format_converted(int format)
{
    const char *db = helper_tmp_db();
    open_db(db);
    helper_session(2, codes);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":5}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"add\",\"amount\":2}", buf, sizeof buf), 200);
    sqlite3 *h = store_handle(rt_core->store);
    sqlite3_stmt *q;
    /* two `send all`: two rows, each for both players (bits 0 and 1) */
    ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT count(*), min(recipients), max(recipients), "
                                           "max(prev_id) FROM sent", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 2);
    ck_assert_int_eq(sqlite3_column_int(q, 1), 3);
    ck_assert_int_eq(sqlite3_column_int(q, 2), 3);
    ck_assert_int_eq(sqlite3_column_int(q, 3), 1);      /* the second row follows the first */
    sqlite3_finalize(q);
    rt_close();

    /* rewrite the events as the old format had them */
    static const char per_recipient[] =
        "SELECT p.id AS participant_id, "
        "ROW_NUMBER() OVER (PARTITION BY p.id ORDER BY s.id) AS seq, s.id AS sent_id, "
        "s.event, s.data FROM sent s JOIN participants p ON p.group_id = s.group_id "
        "AND (s.recipients >> (p.id_in_group - 1)) & 1";
    char sql[2048];
    if (format == 1)
        snprintf(sql, sizeof sql,
            "CREATE TABLE old(participant_id INTEGER NOT NULL, seq INTEGER NOT NULL, event TEXT, "
            "data TEXT NOT NULL, PRIMARY KEY(participant_id, seq)) WITHOUT ROWID;"
            "INSERT INTO old SELECT participant_id, seq, event, data FROM (%s);"
            "DROP TABLE sent; ALTER TABLE old RENAME TO outbox;"
            "UPDATE meta SET value = '1' WHERE key = 'format';", per_recipient);
    else
        snprintf(sql, sizeof sql,
            "CREATE TABLE outbox(participant_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
            "sent_id INTEGER NOT NULL, PRIMARY KEY(participant_id, seq)) WITHOUT ROWID;"
            "INSERT INTO outbox SELECT participant_id, seq, sent_id FROM (%s);"
            "CREATE TABLE old(id INTEGER PRIMARY KEY, event TEXT, data TEXT NOT NULL);"
            "INSERT INTO old SELECT id, event, data FROM sent;"
            "DROP TABLE sent; ALTER TABLE old RENAME TO sent;"
            "UPDATE meta SET value = '2' WHERE key = 'format';", per_recipient);
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    fake_net_reset();
    open_db(db);
    struct helper_stream st;
    ck_assert_int_eq(helper_subscribe(codes[0], 0, &st), 200);
    ck_assert_int_eq(st.n_replayed, 2);
    ck_assert_int_eq(st.seqs[0], 1);
    ck_assert_int_eq(st.seqs[1], 2);
    ck_assert_ptr_nonnull(strstr(st.data[1], "7"));     /* total 5 + 2 */
    helper_stream_free(&st);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"add\",\"amount\":1}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 2);
    ck_assert_int_eq(fake_net_get(0)->seq, 3);
    ck_assert_int_eq(helper_subscribe(codes[1], 1, &st), 200);
    ck_assert_int_eq(st.n_replayed, 2);
    ck_assert_int_eq(st.seqs[0], 2);
    ck_assert_ptr_nonnull(strstr(st.data[1], "8"));     /* 5 + 2 + 1 */
    helper_stream_free(&st);
    h = store_handle(rt_core->store);
    ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT (SELECT value FROM meta WHERE key = 'format'), "
                                           "(SELECT count(*) FROM sqlite_schema WHERE name = 'outbox'), "
                                           "(SELECT count(*) FROM sent)", -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "3");
    ck_assert_int_eq(sqlite3_column_int(q, 1), 0);
    /* format 1 had a copy per recipient: four texts, now four rows */
    ck_assert_int_eq(sqlite3_column_int(q, 2), format == 1 ? 5 : 3);
    sqlite3_finalize(q);
    rt_close();
    helper_rm_db(db);
}

START_TEST(test_outbox_format1_converted)
{
    check_old_format_converted(1);
}
END_TEST

START_TEST(test_outbox_format2_converted)
{
    check_old_format_converted(2);
}
END_TEST

START_TEST(test_overdue_timer_fires_at_startup_thread)
{
    const char *db = helper_tmp_db();
    open_db(db);
    helper_session(2, codes);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":0}", buf, sizeof buf), 200);
    rt_close();
    fake_net_reset();
    open_db(db);
    /* the game thread fires it by itself */
    ck_assert_int_eq(rt_start(), 0);
    for (int i = 0; i < 200 && fake_net_count() < 2; i++)
        usleep(10000);
    rt_stop();
    ck_assert_uint_eq(fake_net_count(), 2);
    ck_assert_ptr_nonnull(strstr(fake_net_get(0)->data, "\"tick\":1"));
    rt_close();
    helper_rm_db(db);
}
END_TEST

/* A second game, to check that a database is not shared between games;
 * its on start fails at line 3 while `fail_start` is set. */
static bool fail_start;

static void other_on_start(lv_ctx *ctx)
{
    int64_t *x = lv_group_w(ctx);
    *x = 42;
    lv_send(ctx, 2, LV_TO_ALL, 0, lv_jint(ctx, 1));
    if (fail_start)
        lv_fail(ctx, 3, "division by zero");
}

static const struct lv_field other_fields[] = { { "x", LV_INT, 0, 0 } };
static const struct lv_page other_pages[] = { { "live", NULL } };
static const struct lv_game other_game = {
    .name = "other", .title = "other", .source = "other.live", .players = 1,
    .group_size = sizeof(int64_t), .group_fields = other_fields, .n_group_fields = 1,
    .player_size = sizeof(int64_t), .player_fields = other_fields, .n_player_fields = 1,
    .on_start = other_on_start,
    .pages = other_pages, .n_pages = 1,
};

START_TEST(test_on_start_rejected)
{
    const char *db = helper_tmp_db();
    char err[512], *reply = NULL;
    ck_assert_int_eq(rt_open(&other_game, db, err, sizeof err), 0);
    fake_net_reset();
    fail_start = true;
    ck_assert_int_eq(helper_job(RT_JOB_CREATE_SESSION, NULL, "{\"participants\":3}", &reply), 422);
    ck_assert_str_eq(reply, "{\"error\":\"on start of group 1: other.live:3: division by zero\"}");
    free(reply);
    ck_assert_int_eq(rt_core->n_sessions, 0);
    ck_assert_uint_eq(fake_net_count(), 0);
    fail_start = false;
    ck_assert_int_eq(helper_job(RT_JOB_CREATE_SESSION, NULL, "{\"participants\":3}", &reply), 201);
    free(reply);
    ck_assert_int_eq(rt_core->n_sessions, 1);
    ck_assert_uint_eq(fake_net_count(), 3);        /* one send per group */
    ck_assert_int_eq(fake_net_get(2)->seq, 1);
    rt_close();
    /* the failed session left nothing in the database either */
    ck_assert_int_eq(rt_open(&other_game, db, err, sizeof err), 0);
    ck_assert_int_eq(rt_core->n_sessions, 1);
    ck_assert_int_eq(rt_core->next_participant_id, 4);
    rt_close();
    helper_rm_db(db);
    fake_net_reset();
}
END_TEST

/* ---- recorded random() draws --------------------------------------------------- */

/* A one-player dice game: on start draws random(10, 20) into group.x; the
 * message roll draws random(1, 6), sends it to me, and then fails when its
 * body has "bad": true (after the draw, which must not be recorded). */
static void dice_on_start(lv_ctx *ctx)
{
    int64_t *x = lv_group_w(ctx);
    *x = lv_random(ctx, 5, 10, 20);
}

static void dice_recv_roll(lv_ctx *ctx, json_t *body)
{
    json_t *o = lv_jobj(ctx);
    lv_put(o, "r", lv_jint(ctx, lv_random(ctx, 8, 1, 6)));
    lv_send(ctx, 8, LV_TO_ME, 0, o);
    if (json_is_true(json_object_get(body, "bad")))
        lv_fail(ctx, 9, "bad roll");
}

static const struct lv_message dice_messages[] = { { "roll", NULL, 0, dice_recv_roll } };
static const struct lv_game dice_game = {
    .name = "dice", .title = "dice", .source = "dice.live", .players = 1,
    .group_size = sizeof(int64_t), .group_fields = other_fields, .n_group_fields = 1,
    .player_size = sizeof(int64_t), .player_fields = other_fields, .n_player_fields = 1,
    .messages = dice_messages, .n_messages = 1,
    .on_start = dice_on_start,
    .pages = other_pages, .n_pages = 1,
};

/* Rolls for code; returns the value the player received. */
static int64_t dice_roll(const char *code)
{
    fake_net_reset();
    ck_assert_int_eq(helper_live(code, "{\"type\":\"roll\"}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 1);
    json_t *v = json_loads(fake_net_get(0)->data, 0, NULL);
    ck_assert_ptr_nonnull(v);
    int64_t r = json_integer_value(json_object_get(v, "r"));
    json_decref(v);
    ck_assert(r >= 1 && r <= 6);
    return r;
}

/* The draws table as text, one "n:group_id:participant_id:message_id:lo:hi:value"
 * line per draw (NULL as "-"), into out. */
static void draws_table(char *out, size_t size)
{
    sqlite3 *h = store_handle(rt_core->store);
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT n, group_id, IFNULL(participant_id, '-'), "
                                           "IFNULL(message_id, '-'), lo, hi, value, time_ms FROM draws "
                                           "ORDER BY session_id, n", -1, &q, NULL), SQLITE_OK);
    size_t k = 0;
    out[0] = '\0';
    while (sqlite3_step(q) == SQLITE_ROW) {
        ck_assert(sqlite3_column_int64(q, 7) > 0);
        k += (size_t)snprintf(out + k, size - k, "%s:%s:%s:%s:%s:%s:%s\n",
                              sqlite3_column_text(q, 0), sqlite3_column_text(q, 1),
                              sqlite3_column_text(q, 2), sqlite3_column_text(q, 3),
                              sqlite3_column_text(q, 4), sqlite3_column_text(q, 5),
                              sqlite3_column_text(q, 6));
        ck_assert(k < size);
    }
    sqlite3_finalize(q);
}

START_TEST(test_draws_recorded)
{
    const char *db = helper_tmp_db();
    char err[512], table[1024], expect[1024];
    char dcodes[2][RT_CODE_MAX], session[RT_CODE_MAX];
    ck_assert_int_eq(rt_open(&dice_game, db, err, sizeof err), 0);
    fake_net_reset();
    snprintf(session, sizeof session, "%s", helper_session(2, dcodes));
    json_t *st = session_state(session);
    int64_t x1 = json_integer_value(json_object_get(json_object_get(
        json_array_get(json_object_get(st, "groups"), 0), "fields"), "x"));
    int64_t x2 = json_integer_value(json_object_get(json_object_get(
        json_array_get(json_object_get(st, "groups"), 1), "fields"), "x"));
    json_decref(st);
    ck_assert(x1 >= 10 && x1 <= 20 && x2 >= 10 && x2 <= 20);

    int64_t r3 = dice_roll(dcodes[0]);                  /* message row 1 */
    uint64_t rng = rt_core->sessions->rng;
    ck_assert_int_eq(helper_live(dcodes[0], "{\"type\":\"roll\",\"bad\":true}", buf, sizeof buf), 422);
    ck_assert_str_eq(buf, "{\"error\":\"dice.live:9: bad roll\"}");   /* message row 2 */
    ck_assert(rt_core->sessions->rng == rng);           /* the draw was undone ... */
    ck_assert_int_eq(rt_core->sessions->n_draws, 3);    /* ... and its number */
    int64_t r4 = dice_roll(dcodes[1]);                  /* message row 3 */
    rt_close();

    /* numbering carries on after a restart */
    fake_net_reset();
    ck_assert_int_eq(rt_open(&dice_game, db, err, sizeof err), 0);
    ck_assert_int_eq(rt_core->sessions->n_draws, 4);
    int64_t r5 = dice_roll(dcodes[1]);                  /* message row 4 */
    draws_table(table, sizeof table);
    snprintf(expect, sizeof expect,
             "1:1:-:-:10:20:%" PRId64 "\n2:2:-:-:10:20:%" PRId64 "\n3:1:1:1:1:6:%" PRId64 "\n"
             "4:2:2:3:1:6:%" PRId64 "\n5:2:2:4:1:6:%" PRId64 "\n", x1, x2, r3, r4, r5);
    ck_assert_str_eq(table, expect);

    /* the export: group numbers, participant codes, message rows of messages.csv */
    struct rt_job job;
    memset(&job, 0, sizeof job);
    job.kind = RT_JOB_EXPORT;
    snprintf(job.code, sizeof job.code, "%s", session);
    snprintf(job.name, sizeof job.name, "draws");
    rt_run_job_sync(&job);
    ck_assert_int_eq(job.status, 200);
    ck_assert_str_eq(job.content_type, "text/csv; charset=utf-8");
    char *line = job.reply;
    char rows[5][256];
    snprintf(rows[0], sizeof rows[0], "%s,1,1,,,10,20,%" PRId64 ",", session, x1);
    snprintf(rows[1], sizeof rows[1], "%s,2,2,,,10,20,%" PRId64 ",", session, x2);
    snprintf(rows[2], sizeof rows[2], "%s,3,1,%s,1,1,6,%" PRId64 ",", session, dcodes[0], r3);
    snprintf(rows[3], sizeof rows[3], "%s,4,2,%s,3,1,6,%" PRId64 ",", session, dcodes[1], r4);
    snprintf(rows[4], sizeof rows[4], "%s,5,2,%s,4,1,6,%" PRId64 ",", session, dcodes[1], r5);
    for (int i = 0; i < 6; i++) {
        char *end = strstr(line, "\r\n");
        ck_assert_ptr_nonnull(end);
        *end = '\0';
        if (i == 0)
            ck_assert_str_eq(line, "session,n,group,participant,message,lo,hi,value,time");
        else {
            ck_assert_msg(strncmp(line, rows[i - 1], strlen(rows[i - 1])) == 0, "%s", line);
            ck_assert_msg(strlen(line) == strlen(rows[i - 1]) + strlen("2026-11-29T12:14:54.500Z") &&
                          line[strlen(line) - 1] == 'Z', "%s", line);
        }
        line = end + 2;
    }
    ck_assert_str_eq(line, "");
    free(job.reply);
    rt_close();

    /* a database from before the draws table still opens and gets one */
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "DROP TABLE draws", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    fake_net_reset();
    ck_assert_int_eq(rt_open(&dice_game, db, err, sizeof err), 0);
    ck_assert_int_eq(rt_core->sessions->n_draws, 0);
    int64_t r = dice_roll(dcodes[0]);                   /* message row 5 */
    draws_table(table, sizeof table);
    snprintf(expect, sizeof expect, "1:1:1:5:1:6:%" PRId64 "\n", r);
    ck_assert_str_eq(table, expect);
    rt_close();
    helper_rm_db(db);
    fake_net_reset();
}
END_TEST

/* ---- the game thread ---------------------------------------------------------- */

#define FLOOD_JOBS 600

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count, done_ok;

static void flood_done(struct rt_job *job)
{
    pthread_mutex_lock(&done_lock);
    done_count++;
    if (job->status == 200)
        done_ok++;
    free(job->reply);
    job->reply = NULL;
    pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

struct flood {
    const char *code;
    struct rt_job jobs[FLOOD_JOBS / 2];
};

static void *flood_thread(void *arg)
{
    struct flood *f = arg;
    for (int i = 0; i < FLOOD_JOBS / 2; i++) {
        struct rt_job *j = &f->jobs[i];
        memset(j, 0, sizeof *j);
        j->kind = RT_JOB_LIVE;
        snprintf(j->code, sizeof j->code, "%s", f->code);
        j->body = json_pack("{s:s, s:i}", "type", "add", "amount", 1);
        j->done = flood_done;
        while (rt_submit(j) != 0)       /* full: try again */
            usleep(1000);
    }
    return NULL;
}

START_TEST(test_game_thread_batches)
{
    const char *db = helper_tmp_db();
    open_db(db);
    const char *session = helper_session(2, codes);
    fake_net_reset();
    ck_assert_int_eq(rt_start(), 0);
    static struct flood f[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        f[i].code = codes[i];
        pthread_create(&t[i], NULL, flood_thread, &f[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_lock(&done_lock);
    while (done_count < FLOOD_JOBS)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    rt_stop();
    ck_assert_int_eq(done_ok, FLOOD_JOBS);
    /* every job's send reached both players, numbered 1..N per player in order */
    ck_assert_uint_eq(fake_net_count(), 2 * FLOOD_JOBS);
    int64_t last[2] = { 0, 0 }, pid0 = fake_net_get(0)->pid;
    for (size_t i = 0; i < fake_net_count(); i++) {
        const struct fake_delivery *d = fake_net_get(i);
        int k = d->pid == pid0 ? 0 : 1;
        ck_assert_int_eq(d->seq, last[k] + 1);
        last[k] = d->seq;
    }
    ck_assert_int_eq(last[1], FLOOD_JOBS);
    json_t *st = session_state(session);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(group0(st), "fields"), "total")),
                     FLOOD_JOBS);
    json_decref(st);
    /* stopped: new jobs are refused */
    struct rt_job j = { .kind = RT_JOB_LIST_SESSIONS };
    ck_assert_int_eq(rt_submit(&j), -1);
    rt_close();
    helper_rm_db(db);
}
END_TEST

/* The page (by name) of the participant with code in a session's state. */
static const char *page_of(json_t *st, const char *code)
{
    json_t *ps = json_object_get(group0(st), "players"), *p;
    size_t i;
    json_array_foreach(ps, i, p)
        if (strcmp(json_string_value(json_object_get(p, "code")), code) == 0)
            return json_string_value(json_object_get(p, "page"));
    return NULL;
}

START_TEST(test_timer_before_later_messages)
{
    /* A timer runs before a message that came after it fell due, also when
     * both wait for the same batch: the game thread is held up (another
     * connection holds the database's write lock), the timer falls due, a
     * message comes, the lock goes. */
    const char *db = helper_tmp_db();
    open_db(db);
    helper_session(2, codes);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":150}", buf, sizeof buf), 200);
    sqlite3 *blocker;
    ck_assert_int_eq(sqlite3_open(db, &blocker), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    fake_net_reset();
    done_count = done_ok = 0;
    ck_assert_int_eq(rt_start(), 0);
    static struct rt_job jobs[2];
    const int amounts[2] = { 1, 10 };
    for (int i = 0; i < 2; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].kind = RT_JOB_LIVE;
        snprintf(jobs[i].code, sizeof jobs[i].code, "%s", codes[0]);
        jobs[i].body = json_pack("{s:s, s:i}", "type", "add", "amount", amounts[i]);
        jobs[i].done = flood_done;
        ck_assert_int_eq(rt_submit(&jobs[i]), 0);       /* the first: before the timer is due */
        usleep(i == 0 ? 250000 : 50000);                 /* the second: 100 ms after */
    }
    ck_assert_int_eq(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    pthread_mutex_lock(&done_lock);
    while (done_count < 2)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    rt_stop();
    sqlite3_close(blocker);
    ck_assert_int_eq(done_ok, 2);
    /* player 1 got: the first message's event, the tick, the second's */
    const char *want[3] = { "\"total\":1,", "\"tick\":1", "\"total\":11," };
    int k = 0;
    int64_t pid = fake_net_get(0)->pid;
    for (size_t i = 0; i < fake_net_count(); i++)
        if (fake_net_get(i)->pid == pid) {
            ck_assert_int_lt(k, 3);
            ck_assert_msg(strstr(fake_net_get(i)->data, want[k]) != NULL, "event %d: %s", k,
                          fake_net_get(i)->data);
            k++;
        }
    ck_assert_int_eq(k, 3);
    rt_close();
    helper_rm_db(db);
}
END_TEST

START_TEST(test_pages_changed)
{
    /* pages are stored as indexes: a version of the game with a page put in
     * front keeps everybody on the page they were on; one without the page
     * somebody is on is refused */
    const char *db = helper_tmp_db();
    char session[RT_CODE_MAX], err[512];
    open_db(db);
    snprintf(session, sizeof session, "%s", helper_session(2, codes));
    ck_assert_int_eq(helper_job(RT_JOB_NEXT, codes[1], NULL, NULL), 303);
    rt_close();

    const struct lv_game *g = fixture_counter_game();
    ck_assert_int_eq(g->n_pages, 1);
    struct lv_page pages[2] = { { "intro", NULL }, g->pages[0] };
    struct lv_game v2 = *g;
    v2.pages = pages;
    v2.n_pages = 2;
    ck_assert_msg(rt_open(&v2, db, err, sizeof err) == 0, "%s", err);
    json_t *st = session_state(session);
    ck_assert_str_eq(page_of(st, codes[0]), g->pages[0].name);
    ck_assert_str_eq(page_of(st, codes[1]), "finished");
    json_decref(st);
    rt_close();

    struct lv_page other[1] = { { "other", NULL } };
    struct lv_game v3 = *g;
    v3.pages = other;
    ck_assert_int_eq(rt_open(&v3, db, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "1 participant of this database is on page 'live'") != NULL, "%s", err);
    ck_assert_ptr_null(rt_core);

    open_db(db);                /* the first version again: all as it was */
    st = session_state(session);
    ck_assert_str_eq(page_of(st, codes[0]), g->pages[0].name);
    ck_assert_str_eq(page_of(st, codes[1]), "finished");
    json_decref(st);
    rt_close();
    helper_rm_db(db);
}
END_TEST

START_TEST(test_other_game_refused)
{
    const char *db = helper_tmp_db();
    char err[512];
    open_db(db);
    rt_close();
    ck_assert_int_eq(rt_open(&other_game, db, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "belongs to game 'counter', not 'other'"));
    ck_assert_ptr_null(rt_core);
    helper_rm_db(db);
}
END_TEST

START_TEST(test_foreign_database_refused)
{
    /* Another program's SQLite file: refused before anything is written
     * (it stays in rollback-journal mode, with only its own table). */
    const char *db = helper_tmp_db();
    char err[512];
    struct rt_store *st = NULL;
    sqlite3 *x = NULL;
    ck_assert_int_eq(sqlite3_open(db, &x), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(x, "CREATE TABLE sessions(name TEXT)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(x);
    ck_assert_int_eq(store_open(&st, fixture_counter_game(), db, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a livec database (it holds 1 table of another program)"), "%s", err);
    ck_assert_int_eq(sqlite3_open(db, &x), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(x, "SELECT (SELECT count(*) FROM sqlite_master), "
                                           "(SELECT journal_mode FROM pragma_journal_mode)", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 1), "delete");
    sqlite3_finalize(s);
    sqlite3_close(x);
    helper_rm_db(db);
}
END_TEST

START_TEST(test_one_server_per_database)
{
    const char *db = helper_tmp_db();
    char err[512];
    struct rt_store *second = NULL;
    open_db(db);
    ck_assert_int_eq(store_open(&second, fixture_counter_game(), db, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "is in use by another server"));
    ck_assert_ptr_null(second);
    rt_close();
    ck_assert_int_eq(store_open(&second, fixture_counter_game(), db, err, sizeof err), 0);
    store_close(second);
    helper_rm_db(db);
}
END_TEST

START_TEST(test_disk_full)
{
    const char *db = helper_tmp_db();
    open_db(db);
    const char *session = helper_session(2, codes);
    sqlite3 *h = store_handle(rt_core->store);
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA page_count", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int pages = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %d", pages);
    ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    int accepted = 0, status = 200;
    for (int i = 0; i < 5000 && status == 200; i++) {
        fake_net_reset();
        status = helper_live(codes[0], "{\"type\":\"note\",\"text\":\"fill the disk with text, fill it up\"}",
                             buf, sizeof buf);
        if (status == 200)
            accepted++;
    }
    ck_assert_int_eq(status, 503);
    ck_assert_ptr_nonnull(strstr(buf, "storage failure:"));
    ck_assert_uint_eq(fake_net_count(), 0);
    fake_net_reset();
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":3}", buf, sizeof buf), 503);
    /* memory is as before the failed batches */
    json_t *st = session_state(session);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(group0(st), "fields"), "total")), 0);
    json_t *p1 = json_array_get(json_object_get(group0(st), "players"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p1, "fields"), "clicks")), 0);
    json_decref(st);
    /* room again: it carries on, sequence numbers without a gap */
    ck_assert_int_eq(sqlite3_exec(h, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":3}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 2);
    ck_assert_int_eq(fake_net_get(0)->seq, accepted + 1);
    rt_close();
    helper_rm_db(db);
}
END_TEST

/* ---- lv_main ------------------------------------------------------------------------ */

static int run_main(int argc, char **argv)
{
    return lv_main(fixture_counter_game(), argc, argv);
}

START_TEST(test_main_usage_errors)
{
    char *a1[] = { "counter", "--bogus", NULL };
    ck_assert_int_eq(run_main(2, a1), 2);
    char *a2[] = { "counter", "--port", "70000", NULL };
    ck_assert_int_eq(run_main(3, a2), 2);
    char *a3[] = { "counter", "--port", NULL };
    ck_assert_int_eq(run_main(2, a3), 2);
    char *a4[] = { "counter", "--port", "0", "--db", "/nonexistent-dir/x/y.sqlite3", NULL };
    ck_assert_int_eq(run_main(5, a4), 2);
    setenv("LIVE_PORT", "abc", 1);
    char *a5[] = { "counter", NULL };
    ck_assert_int_eq(run_main(1, a5), 2);
    unsetenv("LIVE_PORT");
    char *a6[] = { "counter", "--help", NULL };
    ck_assert_int_eq(run_main(2, a6), 0);
}
END_TEST

static void *send_sigterm(void *arg)
{
    (void)arg;
    usleep(300000);
    kill(getpid(), SIGTERM);
    return NULL;
}

/* Runs lv_main with argv until a SIGTERM 0.3 s later; returns its status and
 * puts its stdout in out. */
static int run_main_until_term(char **argv, int argc, char *out, size_t size)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);      /* the killer thread inherits it */
    pthread_t t;
    pthread_create(&t, NULL, send_sigterm, NULL);
    char path[] = "/tmp/livec-core-out-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    int rc = run_main(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    pthread_join(t, NULL);
    ssize_t n = pread(fd, out, size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

START_TEST(test_main_runs_and_stops)
{
    const char *db = helper_tmp_db();
    char out[4096];
    char *argv[] = { "counter", "--port", "0", "--db", (char *)db, "--admin-password", "pw", NULL };
    setenv("LIVE_PORT", "not-a-port", 1);      /* the flag wins */
    ck_assert_int_eq(run_main_until_term(argv, 7, out, sizeof out), 0);
    unsetenv("LIVE_PORT");
    ck_assert_ptr_nonnull(strstr(out, "listening on http://127.0.0.1:40000/\n"));
    ck_assert_ptr_nonnull(strstr(out, "player 1: http://127.0.0.1:40000/p/"));
    ck_assert_ptr_nonnull(strstr(out, "player 2: http://127.0.0.1:40000/p/"));
    ck_assert_ptr_nonnull(strstr(out, "admin: http://127.0.0.1:40000/admin\n"));
    ck_assert_ptr_null(strstr(out, "admin password"));
    ck_assert_ptr_null(rt_core);
    char first[256];
    const char *p1 = strstr(out, "player 1: ");
    snprintf(first, sizeof first, "%.*s", (int)strcspn(p1, "\n"), p1);
    /* again on the same database: no new demo session, its links again; a
     * generated password */
    char *argv2[] = { "counter", "--port=0", "--db", (char *)db, NULL };
    ck_assert_int_eq(run_main_until_term(argv2, 4, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "listening on http://127.0.0.1:40000/\n"));
    ck_assert_ptr_nonnull(strstr(out, first));
    ck_assert_ptr_null(strstr(out, "player 3:"));
    ck_assert_ptr_nonnull(strstr(out, "admin: http://127.0.0.1:40000/admin\n"));
    ck_assert_ptr_nonnull(strstr(out, "admin password: "));
    /* the database has exactly the demo session */
    open_db(db);
    ck_assert_int_eq(rt_core->n_sessions, 1);
    rt_close();
    helper_rm_db(db);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_persistence);
    tcase_add_test(tc, test_overdue_timer_fires_at_startup_thread);
    tcase_add_test(tc, test_outbox_format1_converted);
    tcase_add_test(tc, test_outbox_format2_converted);
    tcase_add_test(tc, test_pages_changed);
    tcase_add_test(tc, test_timer_before_later_messages);
    tcase_add_test(tc, test_other_game_refused);
    tcase_add_test(tc, test_foreign_database_refused);
    tcase_add_test(tc, test_one_server_per_database);
    tcase_add_test(tc, test_on_start_rejected);
    tcase_add_test(tc, test_draws_recorded);
    tcase_add_test(tc, test_game_thread_batches);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_main_usage_errors);
    tcase_add_test(tc, test_main_runs_and_stops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
