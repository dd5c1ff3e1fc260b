/*
 * test_ctx.c -- the game core run without HTTP: jobs against the
 * hand-written counter game (fixture_counter.c), checking message
 * validation, transactions (a rejected handler changes nothing and sends
 * nothing), runtime error reasons naming counter.live lines, sequence
 * numbers, SSE replay, finish, tables, timers, random(), sessions and the
 * admin JSON, plus the string helpers of live.h.
 */
#include "config.h"

#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "ctx.h"
#include "core_helpers.h"
#include "fake_net.h"

static const char *db;
static char codes[4][RT_CODE_MAX];
static const char *session;
static char buf[2048];

static void setup(void)
{
    char err[512];
    db = helper_tmp_db();
    fake_net_reset();
    ck_assert_msg(rt_open(fixture_counter_game(), db, err, sizeof err) == 0, "%s", err);
    session = helper_session(2, codes);
}

static void teardown(void)
{
    rt_close();
    helper_rm_db(db);
    fake_net_reset();
}

/* The JSON of recorded delivery i, parsed (caller decrefs). */
static json_t *delivered(size_t i)
{
    const struct fake_delivery *d = fake_net_get(i);
    ck_assert_ptr_nonnull(d);
    json_t *v = json_loads(d->data, 0, NULL);
    ck_assert_ptr_nonnull(v);
    return v;
}

static int64_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "no integer '%s'", key);
    return json_integer_value(v);
}

/* The session's admin JSON (caller decrefs). */
static json_t *state(void)
{
    char *reply = NULL;
    ck_assert_int_eq(helper_job(RT_JOB_SESSION_STATE, session, NULL, &reply), 200);
    json_t *v = json_loads(reply, 0, NULL);
    free(reply);
    ck_assert_ptr_nonnull(v);
    return v;
}

static json_t *group_fields(json_t *st)
{
    return json_object_get(json_array_get(json_object_get(st, "groups"), 0), "fields");
}

/* ---- validation ------------------------------------------------------------ */

static const struct {
    const char *body;
    const char *reason;
} bad_messages[] = {
    { "{\"type\":\"add\",\"amount\":0}", "field 'amount' must be in 1..1000" },
    { "{\"type\":\"add\",\"amount\":1001}", "field 'amount' must be in 1..1000" },
    { "{\"type\":\"add\",\"amount\":\"5\"}", "field 'amount' must be an integer" },
    { "{\"type\":\"add\",\"amount\":5.5}", "field 'amount' must be an integer" },
    { "{\"type\":\"add\",\"amount\":true}", "field 'amount' must be an integer" },
    { "{\"type\":\"add\",\"amount\":null}", "field 'amount' must be an integer" },
    { "{\"type\":\"add\"}", "missing field 'amount'" },
    { "{\"type\":\"add\",\"amount\":1,\"extra\":2}", "unknown field 'extra'" },
    { "{\"type\":\"note\",\"text\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
      "field 'text' is longer than 50 characters" },
    { "{\"type\":\"note\",\"text\":5}", "field 'text' must be a string" },
    { "{\"type\":\"offer\",\"price\":100.5}", "field 'price' must be in 0..100" },
    { "{\"type\":\"offer\",\"price\":\"1\"}", "field 'price' must be a number" },
    { "{\"type\":\"offer\",\"price\":1,\"side\":\"hold\"}", "field 'side' must be one of \"buy\", \"sell\"" },
    { "{\"type\":\"offer\",\"price\":1,\"fast\":1}", "field 'fast' must be true or false" },
    { "{\"type\":\"nope\"}", "unknown message type 'nope'" },
    { "{\"type\":7}", "field 'type' must be a string" },
    { "42", "message must be a JSON object" },
    { "null", "message must be a JSON object" },
    { "[1,2]", "message must be a JSON object" },
};

START_TEST(test_validation_reasons)
{
    char expect[512];
    snprintf(expect, sizeof expect, "{\"error\":\"%s\"}", bad_messages[_i].reason);
    /* the reason is JSON-escaped in the reply: compare the parsed value */
    ck_assert_int_eq(helper_live(codes[0], bad_messages[_i].body, buf, sizeof buf), 422);
    json_t *v = json_loads(buf, 0, NULL);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "error")), bad_messages[_i].reason);
    json_decref(v);
    ck_assert_uint_eq(fake_net_count(), 0);
}
END_TEST

START_TEST(test_validation_accepts)
{
    /* an int takes a JSON real without a fraction; unicode counts code points */
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":5.0}", buf, sizeof buf), 200);
    ck_assert_str_eq(buf, "{\"ok\":true}");
    ck_assert_int_eq(helper_live(codes[0],
        "{\"type\":\"note\",\"text\":\"\\u00e7a va \\u2713 \\u2014 \\u00fcn\\u00efc\\u00f6d\\u00e9 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
        buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"offer\",\"price\":0}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"offer\",\"price\":99.5,\"side\":\"sell\",\"fast\":true}",
                                 buf, sizeof buf), 200);
}
END_TEST

START_TEST(test_unknown_participant)
{
    ck_assert_int_eq(helper_live("nosuchcode", "{\"type\":\"add\",\"amount\":1}", buf, sizeof buf), 404);
    ck_assert_str_eq(buf, "{\"error\":\"unknown participant\"}");
    ck_assert_int_eq(helper_job(RT_JOB_PAGE, "nosuchcode", NULL, NULL), 404);
    ck_assert_int_eq(helper_job(RT_JOB_NEXT, "nosuchcode", NULL, NULL), 404);
    struct helper_stream s;
    ck_assert_int_eq(helper_subscribe("nosuchcode", -1, &s), 404);
    ck_assert_int_eq(s.activated_pid, 0);
    ck_assert_int_eq(helper_job(RT_JOB_SESSION_STATE, "nosuchsession", NULL, NULL), 404);
}
END_TEST

/* ---- transactions ---------------------------------------------------------------- */

START_TEST(test_accepted_sends_in_order)
{
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":5}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 2);          /* send all: both players */
    json_t *a = delivered(0), *b = delivered(1);
    ck_assert_int_eq(jint(a, "total"), 5);
    ck_assert_int_eq(jint(a, "by"), 1);
    ck_assert_int_eq(fake_net_get(0)->seq, 1);
    ck_assert_int_eq(fake_net_get(1)->seq, 1);
    ck_assert_int_ne(fake_net_get(0)->pid, fake_net_get(1)->pid);
    ck_assert_str_eq(fake_net_get(0)->data, fake_net_get(1)->data);
    json_decref(a);
    json_decref(b);

    fake_net_reset();
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"note\",\"text\":\"hi\"}", buf, sizeof buf), 200);
    /* send others (player 2) then send me (player 1), in statement order */
    ck_assert_uint_eq(fake_net_count(), 2);
    json_t *o = delivered(0), *m = delivered(1);
    ck_assert_str_eq(json_string_value(json_object_get(o, "note")), "hi");
    ck_assert_int_eq(fake_net_get(0)->seq, 2);
    ck_assert_str_eq(json_string_value(json_object_get(m, "log")), "hi");
    ck_assert_int_eq(fake_net_get(1)->seq, 2);
    json_decref(o);
    json_decref(m);
}
END_TEST

START_TEST(test_rejected_changes_nothing)
{
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":7}", buf, sizeof buf), 200);
    fake_net_reset();
    /* bump sets log and names[0], sends, then overflows at line 61 */
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"bump\",\"x\":9223372036854775807}", buf, sizeof buf), 422);
    ck_assert_str_eq(buf, "{\"error\":\"counter.live:61: integer overflow\"}");
    ck_assert_uint_eq(fake_net_count(), 0);
    json_t *st = state(), *f = group_fields(st);
    ck_assert_int_eq(jint(f, "total"), 7);
    ck_assert_str_eq(json_string_value(json_object_get(f, "log")), "");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(f, "names"), 0)), "");
    json_decref(st);

    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"div\",\"by\":0}", buf, sizeof buf), 422);
    ck_assert_str_eq(buf, "{\"error\":\"counter.live:55: division by zero\"}");
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"pick\",\"i\":4}", buf, sizeof buf), 422);
    ck_assert_str_eq(buf, "{\"error\":\"counter.live:64: array index out of bounds\"}");
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"pick\",\"i\":-1}", buf, sizeof buf), 422);
    ck_assert_uint_eq(fake_net_count(), 0);

    /* the rejections took no sequence numbers */
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"bump\",\"x\":1}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 2);
    ck_assert_int_eq(fake_net_get(0)->seq, 2);
    ck_assert_int_eq(fake_net_get(1)->seq, 2);
    st = state();
    f = group_fields(st);
    ck_assert_int_eq(jint(f, "total"), 8);
    ck_assert_str_eq(json_string_value(json_object_get(f, "log")), "bumped");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(f, "names"), 0)), "x");
    json_decref(st);
}
END_TEST

START_TEST(test_load_without_type)
{
    ck_assert_int_eq(helper_live(codes[1], "{}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 1);
    json_t *v = delivered(0);
    ck_assert_int_eq(jint(v, "total"), 0);
    ck_assert_int_eq(jint(v, "clicks"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "log")), "");
    json_decref(v);
}
END_TEST

/* ---- streams ------------------------------------------------------------------- */

START_TEST(test_subscribe_fresh_and_replay)
{
    struct helper_stream s;
    ck_assert_int_eq(helper_subscribe(codes[0], -1, &s), 200);
    ck_assert_int_ne(s.activated_pid, 0);
    ck_assert_int_eq(s.n_replayed, 0);
    ck_assert_uint_eq(fake_net_count(), 1);           /* on load: seq 1 */
    ck_assert_int_eq(fake_net_get(0)->seq, 1);
    ck_assert_int_eq(fake_net_get(0)->pid, s.activated_pid);
    for (int i = 1; i <= 3; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"type\":\"add\",\"amount\":%d}", i);
        ck_assert_int_eq(helper_live(codes[1], body, buf, sizeof buf), 200);
    }
    fake_net_reset();
    /* reconnect after seq 2: replays 3 and 4 (totals 3 and 6), runs no on load */
    ck_assert_int_eq(helper_subscribe(codes[0], 2, &s), 200);
    ck_assert_int_eq(s.n_replayed, 2);
    ck_assert_int_eq(s.seqs[0], 3);
    ck_assert_int_eq(s.seqs[1], 4);
    json_t *v = json_loads(s.data[1], 0, NULL);
    ck_assert_int_eq(jint(v, "total"), 6);
    json_decref(v);
    ck_assert_int_ne(s.activated_pid, 0);
    ck_assert_uint_eq(fake_net_count(), 0);
    helper_stream_free(&s);
    /* up to date: nothing to replay */
    ck_assert_int_eq(helper_subscribe(codes[0], 4, &s), 200);
    ck_assert_int_eq(s.n_replayed, 0);
    helper_stream_free(&s);
    /* a stream that takes a part of the replay stops the store's reading */
    ck_assert_int_eq(helper_subscribe_part(codes[0], 0, &s, 2), 200);
    ck_assert_int_eq(s.n_replayed, 2);
    ck_assert_int_eq(s.seqs[0], 1);
    ck_assert_int_eq(s.seqs[1], 2);
    helper_stream_free(&s);
}
END_TEST

/* ---- finish and pages ------------------------------------------------------------ */

START_TEST(test_finish)
{
    char *reply = NULL;
    ck_assert_int_eq(helper_job(RT_JOB_PAGE, codes[0], NULL, &reply), 200);
    free(reply);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"done\"}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct fake_delivery *d = fake_net_get(i);
        ck_assert_str_eq(d->event, "finish");
        ck_assert_int_eq(d->seq, 1);
        char expect[256];
        snprintf(expect, sizeof expect, "{\"next\":\"/p/%s\"}", codes[i]);
        ck_assert_str_eq(d->data, expect);
    }
    json_t *st = state();
    json_t *p = json_array_get(json_object_get(json_array_get(json_object_get(st, "groups"), 0), "players"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(p, "page")), "finished");
    json_decref(st);
    /* finish on the last page does nothing; messages are still taken */
    fake_net_reset();
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"done\"}", buf, sizeof buf), 200);
    ck_assert_uint_eq(fake_net_count(), 0);
    /* the finish event is replayed like any message */
    struct helper_stream s;
    ck_assert_int_eq(helper_subscribe(codes[1], 0, &s), 200);
    ck_assert_int_eq(s.n_replayed, 1);
    ck_assert_int_eq(s.seqs[0], 1);
    helper_stream_free(&s);
}
END_TEST

START_TEST(test_next_page)
{
    ck_assert_int_eq(helper_job(RT_JOB_NEXT, codes[1], NULL, NULL), 303);
    ck_assert_int_eq(helper_job(RT_JOB_NEXT, codes[1], NULL, NULL), 303);   /* stays finished */
    json_t *st = state();
    json_t *ps = json_object_get(json_array_get(json_object_get(st, "groups"), 0), "players");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ps, 0), "page")), "live");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ps, 1), "page")), "finished");
    json_decref(st);
}
END_TEST

/* ---- tables ---------------------------------------------------------------------- */

static void offer_ids(int64_t *ids, size_t *n)
{
    json_t *st = state();
    json_t *rows = json_object_get(json_object_get(json_array_get(json_object_get(st, "groups"), 0),
                                                   "tables"), "offer");
    *n = json_array_size(rows);
    for (size_t i = 0; i < *n; i++)
        ids[i] = jint(json_array_get(rows, i), "id");
    json_decref(st);
}

START_TEST(test_tables)
{
    int64_t ids[8];
    size_t n;
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"offer\",\"price\":5}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"offer\",\"price\":6,\"side\":\"sell\"}", buf, sizeof buf), 200);
    /* inserted, then rejected: the row disappears */
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"offer\",\"price\":13}", buf, sizeof buf), 422);
    ck_assert_str_eq(buf, "{\"error\":\"unlucky\"}");
    offer_ids(ids, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(ids[1], 2);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"offer\",\"price\":7}", buf, sizeof buf), 200);
    fake_net_reset();
    /* a delete that is rolled back leaves the row */
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"drop\",\"id\":1,\"keep\":true}", buf, sizeof buf), 422);
    offer_ids(ids, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"drop\",\"id\":3}", buf, sizeof buf), 200);
    json_t *v = delivered(0);
    json_t *offers = json_object_get(v, "offers");
    ck_assert_uint_eq(json_array_size(offers), 2);
    ck_assert_int_eq(jint(json_array_get(offers, 1), "id"), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(offers, 1), "side")), "sell");
    json_decref(v);
    /* a committed id is never given again, even after its row was deleted */
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"offer\",\"price\":8}", buf, sizeof buf), 200);
    offer_ids(ids, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ids[2], 4);
}
END_TEST

/* ---- sessions ----------------------------------------------------------------------- */

START_TEST(test_create_session)
{
    char *reply = NULL;
    const char *bad[] = { "{\"participants\":3}", "{\"participants\":0}", "{\"participants\":-2}",
                          "{\"participants\":\"4\"}", "{}", "[]", "{\"participants\":2.5}",
                          "{\"participants\":100000000}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(helper_job(RT_JOB_CREATE_SESSION, NULL, bad[i], &reply), 400);
        ck_assert_ptr_nonnull(strstr(reply, "\"error\""));
        free(reply);
    }
    ck_assert_int_eq(helper_job(RT_JOB_CREATE_SESSION, NULL, "{\"participants\":4}", &reply), 201);
    json_t *v = json_loads(reply, 0, NULL);
    free(reply);
    json_t *ps = json_object_get(v, "participants");
    ck_assert_uint_eq(json_array_size(ps), 4);
    ck_assert_int_eq(jint(json_array_get(ps, 0), "group"), 1);
    ck_assert_int_eq(jint(json_array_get(ps, 1), "id_in_group"), 2);
    ck_assert_int_eq(jint(json_array_get(ps, 2), "group"), 2);
    ck_assert_int_eq(jint(json_array_get(ps, 2), "id_in_group"), 1);
    const char *code = json_string_value(json_object_get(json_array_get(ps, 3), "code"));
    const char *url = json_string_value(json_object_get(json_array_get(ps, 3), "url"));
    ck_assert_uint_eq(strlen(code), RT_CODE_LEN);
    ck_assert_str_eq(url + 3, code);
    ck_assert_int_eq(strncmp(url, "/p/", 3), 0);
    /* on start ran for each group */
    ck_assert_int_eq(helper_job(RT_JOB_SESSION_STATE, json_string_value(json_object_get(v, "code")),
                                NULL, &reply), 200);
    json_t *st = json_loads(reply, 0, NULL);
    free(reply);
    ck_assert_uint_eq(json_array_size(json_object_get(st, "groups")), 2);
    ck_assert(json_is_true(json_object_get(group_fields(st), "started")));
    json_decref(st);
    json_decref(v);

    ck_assert_int_eq(helper_job(RT_JOB_LIST_SESSIONS, NULL, NULL, &reply), 200);
    v = json_loads(reply, 0, NULL);
    free(reply);
    ck_assert_uint_eq(json_array_size(v), 2);
    ck_assert_int_eq(jint(json_array_get(v, 0), "participants"), 4);
    ck_assert_int_eq(jint(json_array_get(v, 0), "groups"), 2);
    json_decref(v);
}
END_TEST

/* ---- random and timers ------------------------------------------------------------------ */

START_TEST(test_random)
{
    int seen[7] = { 0 };
    for (int i = 0; i < 120; i++) {
        fake_net_reset();
        ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"roll\"}", buf, sizeof buf), 200);
        json_t *v = delivered(0);
        int64_t r = jint(v, "r");
        json_decref(v);
        ck_assert(r >= 1 && r <= 6);
        seen[r]++;
    }
    for (int k = 1; k <= 6; k++)
        ck_assert_int_gt(seen[k], 0);
}
END_TEST

START_TEST(test_timer_fires)
{
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":-5}", buf, sizeof buf), 422);
    ck_assert_str_eq(buf, "{\"error\":\"counter.live:84: timer delay -5 ms is negative\"}");
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":60000}", buf, sizeof buf), 200);
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms()), 0);      /* not due yet */
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms() + 120000), 1);
    ck_assert_uint_eq(fake_net_count(), 2);
    json_t *v = delivered(1);
    ck_assert_int_eq(jint(v, "tick"), 1);
    json_decref(v);
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms() + 240000), 0);  /* fired once */
    /* re-arming replaces the due time: one firing */
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":1000}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":500000}", buf, sizeof buf), 200);
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms() + 10000), 0);
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms() + 600000), 1);
    /* a timer due at the end of time keeps its place at the end of the heap
     * (its place on the timers' clock once wrapped to a negative number,
     * which read as "no timer" and stopped every timer of the server) */
    ck_assert(rt_timer_at(INT64_MAX) == INT64_MAX);
    ck_assert(rt_timer_at(INT64_MAX - 1) >= INT64_MAX - 2);
    ck_assert(rt_timer_at(0) >= 0);
    char far[96];
    snprintf(far, sizeof far, "{\"type\":\"arm\",\"ms\":%" PRId64 "}", INT64_MAX - rt_now_ms() - 5);
    ck_assert_int_eq(helper_live(codes[0], far, buf, sizeof buf), 200);
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms() + 600000), 0);
}
END_TEST

/* ---- exports -------------------------------------------------------------------------------- */

START_TEST(test_csv_exports)
{
    char *reply = NULL;
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"note\",\"text\":\"a,\\\"b\\\"\\nc\"}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":0}", buf, sizeof buf), 422);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"offer\",\"price\":2.5}", buf, sizeof buf), 200);

    ck_assert_int_eq(helper_job(RT_JOB_EXPORT, session, NULL, &reply), 404);   /* name "" */
    free(reply);

    struct rt_job job;
    memset(&job, 0, sizeof job);
    job.kind = RT_JOB_EXPORT;
    snprintf(job.code, sizeof job.code, "%s", session);
    snprintf(job.name, sizeof job.name, "groups");
    rt_run_job_sync(&job);
    ck_assert_int_eq(job.status, 200);
    ck_assert_str_eq(job.content_type, "text/csv; charset=utf-8");
    char expect[512];
    snprintf(expect, sizeof expect,
             "session,group,total,log,hist,names,ticks,started\r\n"
             "%s,1,0,\"a,\"\"b\"\"\nc\",\"[0,0,0,0]\",\"[\"\"\"\",\"\"\"\"]\",0,true\r\n", session);
    ck_assert_str_eq(job.reply, expect);
    free(job.reply);

    snprintf(job.name, sizeof job.name, "players");
    rt_run_job_sync(&job);
    ck_assert_int_eq(job.status, 200);
    snprintf(expect, sizeof expect,
             "session,participant,group,id_in_group,page,clicks\r\n%s,%s,1,1,live,0\r\n%s,%s,1,2,live,0\r\n",
             session, codes[0], session, codes[1]);
    ck_assert_str_eq(job.reply, expect);
    free(job.reply);

    snprintf(job.name, sizeof job.name, "offer");
    rt_run_job_sync(&job);
    snprintf(expect, sizeof expect, "session,group,id,seller,price,side\r\n%s,1,1,2,2.5,buy\r\n", session);
    ck_assert_str_eq(job.reply, expect);
    free(job.reply);

    snprintf(job.name, sizeof job.name, "messages");
    rt_run_job_sync(&job);
    ck_assert_int_eq(job.status, 200);
    ck_assert_ptr_nonnull(strstr(job.reply, "time,participant,type,body,outcome,reason,group,id_in_group\r\n"));
    ck_assert_ptr_nonnull(strstr(job.reply, ",add,\"{\"\"type\"\":\"\"add\"\",\"\"amount\"\":0}\",rejected,"
                                            "field 'amount' must be in 1..1000,1,1\r\n"));
    ck_assert_ptr_nonnull(strstr(job.reply, ",offer,"));
    ck_assert_ptr_nonnull(strstr(job.reply, ",accepted,,1,"));
    free(job.reply);

    snprintf(job.name, sizeof job.name, "nosuch");
    rt_run_job_sync(&job);
    ck_assert_int_eq(job.status, 404);
    free(job.reply);
}
END_TEST

/* ---- live.h helpers --------------------------------------------------------------------------- */

START_TEST(test_strings)
{
    lv_ctx *ctx = rt_ctx_new(rt_core);
    ck_assert_str_eq(lv_str_float(ctx, 0.1), "0.1");
    ck_assert_str_eq(lv_str_float(ctx, 3.0), "3.0");
    ck_assert_str_eq(lv_str_float(ctx, -2.5), "-2.5");
    ck_assert_str_eq(lv_str_float(ctx, 1.0 / 3.0), "0.3333333333333333");
    ck_assert_str_eq(lv_str_float(ctx, 1e20), "1e+20");
    ck_assert_str_eq(lv_str_int(ctx, INT64_MIN), "-9223372036854775808");
    ck_assert_str_eq(lv_str_bool(ctx, true), "true");
    ck_assert_str_eq(lv_str_cat(ctx, 1, "ab", "cd"), "abcd");
    ck_assert_int_eq(lv_str_len("\xc3\xa7" "a \xe2\x9c\x93"), 4);
    ck_assert_int_lt(lv_str_cmp("a", "b"), 0);
    /* many strings: the arena grows */
    for (int i = 0; i < 2000; i++) {
        char expect[8];
        snprintf(expect, sizeof expect, "%d", i % 10);
        ck_assert_str_eq(lv_str_int(ctx, i % 10), expect);
    }
    char big[10000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_uint_eq(strlen(lv_str_dup(ctx, big)), sizeof big - 1);
    /* JSON builders: values are owned by the ctx */
    json_t *o = lv_jobj(ctx);
    lv_put(o, "a", lv_jint(ctx, 1));
    json_t *p = lv_jobj(ctx);
    lv_put(p, "a", lv_jint(ctx, 2));
    lv_put(p, "b", lv_jstr(ctx, "bad \xff utf8"));
    lv_spread(o, p);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(text, "{\"a\":2,\"b\":\"bad \xef\xbf\xbd utf8\"}");
    free(text);
    /* floats in sent JSON: as short as reads back exactly */
    json_t *f = json_pack("{s:f, s:[f, f]}", "a", 0.1, "b", 3.0, 1e-7);
    text = rt_json_text(f);
    ck_assert_str_eq(text, "{\"a\":0.1,\"b\":[3.0,1e-7]}");
    free(text);
    json_array_append_new(json_object_get(f, "b"), json_real(1.0 / 3.0));
    text = rt_json_text(f);
    ck_assert_str_eq(text, "{\"a\":0.1,\"b\":[3.0,1e-7,0.3333333333333333]}");
    free(text);
    json_array_append_new(json_object_get(f, "b"), json_real(0.30000000000000004));
    text = rt_json_text(f);     /* 0.1 + 0.2 needs 17 digits: then all get 17 */
    ck_assert_ptr_nonnull(strstr(text, "0.30000000000000004"));
    ck_assert_ptr_nonnull(strstr(text, "0.33333333333333331"));
    free(text);
    json_decref(f);
    rt_ctx_free(ctx);
}
END_TEST

static void ftoi_big(lv_ctx *ctx, void *arg)
{
    (void)arg;
    lv_ftoi(ctx, 12, 1e19);
}

static void ftoi_ok(lv_ctx *ctx, void *arg)
{
    int64_t *out = arg;
    *out = lv_ftoi(ctx, 12, -2.9);
}

START_TEST(test_ftoi_range)
{
    lv_ctx *ctx = rt_ctx_new(rt_core);
    int64_t x = 0;
    ck_assert_int_eq(rt_ctx_run(ctx, ftoi_ok, &x), 0);
    ck_assert_int_eq(x, -2);
    ck_assert_int_eq(rt_ctx_run(ctx, ftoi_big, NULL), -1);
    ck_assert_str_eq(ctx->reason, "counter.live:12: float value out of int range");
    rt_ctx_free(ctx);
}
END_TEST

static Suite *ctx_suite(void)
{
    Suite *s = suite_create("ctx");
    TCase *tc = tcase_create("jobs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_validation_reasons, 0, (int)(sizeof bad_messages / sizeof bad_messages[0]));
    tcase_add_test(tc, test_validation_accepts);
    tcase_add_test(tc, test_unknown_participant);
    tcase_add_test(tc, test_accepted_sends_in_order);
    tcase_add_test(tc, test_rejected_changes_nothing);
    tcase_add_test(tc, test_load_without_type);
    tcase_add_test(tc, test_subscribe_fresh_and_replay);
    tcase_add_test(tc, test_finish);
    tcase_add_test(tc, test_next_page);
    tcase_add_test(tc, test_tables);
    tcase_add_test(tc, test_create_session);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_timer_fires);
    tcase_add_test(tc, test_csv_exports);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_ftoi_range);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ctx_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
