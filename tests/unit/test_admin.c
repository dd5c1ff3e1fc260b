/*
 * test_admin.c -- the core's experimenter features (runtime/admin.c,
 * runtime/rooms.c) run as jobs against the fixture counter game (groups of
 * 2) on a real SQLite file: rooms hand out seats in order and keep them,
 * report readiness, refuse when full, and survive a restart; a closed
 * session refuses live messages, also after a restart; the database copy is
 * a SQLite file; the monitor stream is activated under -session_id and gets
 * one change notice per changed group; the session state carries "closed"
 * and each group's recent messages.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "ctx.h"
#include "core_helpers.h"
#include "fake_net.h"

static char buf[2048];

/* Runs one job with name and code set; returns the status, the reply in
 * *reply (caller frees) and the job's code (the seat) in seat if given. */
static int run_job(enum rt_job_kind kind, const char *name, const char *code, const char *body,
                   char **reply, char *seat)
{
    struct rt_job job;
    memset(&job, 0, sizeof job);
    job.kind = kind;
    job.last_event_id = -1;
    snprintf(job.name, sizeof job.name, "%s", name ? name : "");
    snprintf(job.code, sizeof job.code, "%s", code ? code : "");
    job.body = body ? json_loads(body, 0, NULL) : NULL;
    rt_run_job_sync(&job);
    if (seat)
        snprintf(seat, RT_CODE_MAX, "%s", job.code);
    if (reply)
        *reply = job.reply;
    else
        free(job.reply);
    return job.status;
}

/* The integer member key of the JSON text `text`. */
static long long int_of(const char *text, const char *key)
{
    json_t *v = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(v);
    long long x = json_integer_value(json_object_get(v, key));
    json_decref(v);
    return x;
}

static void open_db(const char *db)
{
    char err[512];
    ck_assert_msg(rt_open(fixture_counter_game(), db, err, sizeof err) == 0, "%s", err);
}

START_TEST(test_rooms)
{
    const char *db = helper_tmp_db();
    open_db(db);
    char *reply = NULL;
    ck_assert_int_eq(run_job(RT_JOB_ROOM_CREATE, NULL, NULL, "{\"name\":\"bad name\",\"participants\":4}",
                             &reply, NULL), 400);
    ck_assert_ptr_nonnull(strstr(reply, "name"));
    free(reply);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_CREATE, NULL, NULL, "{\"name\":\"lab\",\"participants\":3}",
                             NULL, NULL), 400);          /* not a multiple of 2 */
    ck_assert_int_eq(run_job(RT_JOB_ROOM_CREATE, NULL, NULL, "{\"name\":\"lab\",\"participants\":4}",
                             &reply, NULL), 201);
    ck_assert_ptr_nonnull(strstr(reply, "\"url\":\"/room/lab\""));
    free(reply);

    char s1[RT_CODE_MAX], s1again[RT_CODE_MAX], s2[RT_CODE_MAX], s3[RT_CODE_MAX], s4[RT_CODE_MAX];
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "nope", NULL, NULL, NULL, NULL), 404);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_STATUS, "lab", NULL, NULL, NULL, NULL), 404);   /* no seat */
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", NULL, NULL, &reply, s1), 200);     /* waits */
    ck_assert_int_eq(int_of(reply, "arrived"), 1);
    ck_assert_int_eq(int_of(reply, "id_in_group"), 1);
    free(reply);
    /* the cookie brings the same seat back, and takes no new one */
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", s1, NULL, &reply, s1again), 200);
    ck_assert_str_eq(s1, s1again);
    ck_assert_int_eq(int_of(reply, "arrived"), 1);
    free(reply);
    /* the second completes group 1: 303 for it, ready for the first */
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", "unknowncode", NULL, &reply, s2), 303);
    ck_assert_int_eq(int_of(reply, "id_in_group"), 2);
    free(reply);
    ck_assert_str_ne(s1, s2);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_STATUS, "lab", s1, NULL, &reply, NULL), 200);
    ck_assert_ptr_nonnull(strstr(reply, "\"ready\":true"));
    free(reply);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", NULL, NULL, &reply, s3), 200);
    ck_assert_int_eq(int_of(reply, "group"), 2);
    free(reply);
    /* seats survive a restart */
    rt_close();
    open_db(db);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", s3, NULL, NULL, s1again), 200);
    ck_assert_str_eq(s3, s1again);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", NULL, NULL, NULL, s4), 303);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", NULL, NULL, &reply, NULL), 409);
    ck_assert_ptr_nonnull(strstr(reply, "full"));
    free(reply);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_LIST, NULL, NULL, NULL, &reply, NULL), 200);
    ck_assert_ptr_nonnull(strstr(reply, "\"arrived\":4"));
    free(reply);
    /* opening the room again gives it a fresh session */
    ck_assert_int_eq(run_job(RT_JOB_ROOM_CREATE, NULL, NULL, "{\"name\":\"lab\",\"participants\":2}",
                             NULL, NULL), 201);
    ck_assert_int_eq(run_job(RT_JOB_ROOM_ENTER, "lab", s1, NULL, &reply, s1again), 200);
    ck_assert_str_ne(s1, s1again);
    ck_assert_int_eq(int_of(reply, "arrived"), 1);
    free(reply);
    rt_close();
    helper_rm_db(db);
}
END_TEST

START_TEST(test_close_session)
{
    const char *db = helper_tmp_db();
    open_db(db);
    char codes[2][RT_CODE_MAX], session[RT_CODE_MAX];
    snprintf(session, sizeof session, "%s", helper_session(2, codes));
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":5}", buf, sizeof buf), 200);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"arm\",\"ms\":1000}", buf, sizeof buf), 200);
    ck_assert_int_eq(run_job(RT_JOB_SESSION_CLOSE, NULL, "nosuchsession", NULL, NULL, NULL), 404);
    ck_assert_int_eq(run_job(RT_JOB_SESSION_CLOSE, NULL, session, NULL, NULL, NULL), 200);
    ck_assert_int_eq(run_job(RT_JOB_SESSION_CLOSE, NULL, session, NULL, NULL, NULL), 200);
    ck_assert_int_eq(helper_live(codes[1], "{\"type\":\"add\",\"amount\":5}", buf, sizeof buf), 422);
    ck_assert_str_eq(buf, "{\"error\":\"the session is closed\"}");
    /* the session is frozen: a fresh stream opens without `on load`, a
     * replay still works, Next leaves the player on its page, the armed
     * timer does not fire */
    fake_net_reset();
    struct helper_stream hs;
    ck_assert_int_eq(helper_subscribe(codes[1], -1, &hs), 200);
    helper_stream_free(&hs);
    ck_assert_int_eq(helper_subscribe(codes[0], 0, &hs), 200);
    ck_assert_int_gt(hs.n_replayed, 0);
    helper_stream_free(&hs);
    ck_assert_int_eq(helper_job(RT_JOB_NEXT, codes[1], NULL, NULL), 303);
    ck_assert_int_eq(rt_fire_due_timers(rt_now_ms() + 5000), 1);
    ck_assert_uint_eq(fake_net_count(), 0);
    rt_close();
    open_db(db);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":1}", buf, sizeof buf), 422);
    char *reply = NULL;
    ck_assert_int_eq(run_job(RT_JOB_SESSION_STATE, NULL, session, NULL, &reply, NULL), 200);
    json_t *st = json_loads(reply, 0, NULL);
    free(reply);
    ck_assert(json_is_true(json_object_get(st, "closed")));
    json_t *g = json_array_get(json_object_get(st, "groups"), 0);
    /* Next left the player where it was */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(g, "players"), 1),
                                                       "page")), "live");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(g, "fields"), "total")), 5);
    /* recent: newest first, the refused ones with their reason */
    json_t *recent = json_object_get(g, "recent");
    ck_assert_int_eq(json_array_size(recent), 4);
    json_t *newest = json_array_get(recent, 0);
    ck_assert_str_eq(json_string_value(json_object_get(newest, "outcome")), "rejected");
    ck_assert_str_eq(json_string_value(json_object_get(newest, "reason")), "the session is closed");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recent, 2), "outcome")), "accepted");
    json_decref(st);
    ck_assert_int_eq(run_job(RT_JOB_LIST_SESSIONS, NULL, NULL, NULL, &reply, NULL), 200);
    ck_assert_ptr_nonnull(strstr(reply, "\"closed\":true"));
    free(reply);
    rt_close();
    helper_rm_db(db);
}
END_TEST

START_TEST(test_database_copy)
{
    const char *db = helper_tmp_db();
    open_db(db);
    char codes[2][RT_CODE_MAX];
    helper_session(2, codes);
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":5}", buf, sizeof buf), 200);
    struct rt_job job;
    memset(&job, 0, sizeof job);
    job.kind = RT_JOB_DATABASE;
    rt_run_job_sync(&job);
    ck_assert_int_eq(job.status, 200);
    ck_assert_str_eq(job.content_type, "application/vnd.sqlite3");
    ck_assert_uint_gt(job.reply_len, 1024);
    ck_assert_int_eq(memcmp(job.reply, "SQLite format 3", 16), 0);
    ck_assert_int_eq(job.reply[18], 1);         /* a rollback-journal file */
    free(job.reply);
    rt_close();
    helper_rm_db(db);
}
END_TEST

static int64_t activated;
static void on_activate(void *stream, int64_t pid)
{
    (void)stream;
    activated = pid;
}

START_TEST(test_watch)
{
    const char *db = helper_tmp_db();
    open_db(db);
    char codes[4][RT_CODE_MAX], session[RT_CODE_MAX];
    snprintf(session, sizeof session, "%s", helper_session(4, codes));
    int64_t sid = rt_core->sessions->id;
    struct rt_job job;
    memset(&job, 0, sizeof job);
    job.kind = RT_JOB_SESSION_WATCH;
    job.last_event_id = -1;
    job.activate = on_activate;
    snprintf(job.code, sizeof job.code, "%s", session);
    rt_run_job_sync(&job);
    free(job.reply);
    ck_assert_int_eq(job.status, 200);
    ck_assert_int_eq(activated, -sid);

    fake_net_reset();
    ck_assert_int_eq(helper_live(codes[2], "{\"type\":\"add\",\"amount\":5}", buf, sizeof buf), 200);
    int notices = 0;
    for (size_t i = 0; i < fake_net_count(); i++) {
        const struct fake_delivery *d = fake_net_get(i);
        if (d->pid == -sid) {
            notices++;
            ck_assert_str_eq(d->event, "change");
            ck_assert_str_eq(d->data, "{\"group\":2}");
        }
    }
    ck_assert_int_eq(notices, 1);     /* once per changed group per job */
    fake_net_reset();
    ck_assert_int_eq(helper_live(codes[0], "{\"type\":\"add\",\"amount\":0}", buf, sizeof buf), 422);
    ck_assert_int_eq(fake_net_count(), 1);   /* a logged rejection changes "recent" */
    ck_assert_str_eq(fake_net_get(0)->data, "{\"group\":1}");
    rt_close();
    helper_rm_db(db);
}
END_TEST

static Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("admin");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_rooms);
    tcase_add_test(tc, test_close_session);
    tcase_add_test(tc, test_database_copy);
    tcase_add_test(tc, test_watch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(admin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
