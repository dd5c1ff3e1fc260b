/*
 * test_testing.c -- Check suite for runtime/testing.c, the driver behind
 * `livec test`, against the hand-written counter game
 * (tests/unit/fixture_counter.c) with step tables written the way livec
 * emits them: the report's exact text, the exit statuses, numbers matched
 * by value, subset and exact patterns, rejection reasons as substrings, the
 * virtual clock firing timers at their due time, a fixed seed, test names.
 * (tests/livectest/run.sh checks the same driver end to end through livec.)
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "live.h"
#include "testing.h"

const struct lv_game *fixture_counter_game(void);

/* Largest report a test reads back. */
#define MAX_REPORT 8192

/* Runs lv_test_main on tests (argv: extra names) with stdout captured into
 * out; returns its exit status. */
static int run(const struct lv_test *tests, int n, char **names, int n_names, char *out)
{
    char path[] = "/tmp/livec-test-testing-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    char *argv[8] = { "counter" };
    for (int i = 0; i < n_names && i < 6; i++)
        argv[i + 1] = names[i];
    int rc = lv_test_main(fixture_counter_game(), tests, n, n_names + 1, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t len = read(fd, out, MAX_REPORT - 1);
    out[len > 0 ? len : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

/* ---- step expressions, as livec writes them ---------------------------------- */

static json_t *message(lv_ctx *ctx, const char *type)
{
    json_t *o = lv_jobj(ctx);
    lv_put(o, "type", lv_jstr(ctx, type));
    return o;
}

static void add_5(lv_ctx *ctx, struct lv_test_value *out)
{
    out->json = message(ctx, "add");
    lv_put(out->json, "amount", lv_jint(ctx, 5));
}

static void add_0(lv_ctx *ctx, struct lv_test_value *out)
{
    out->json = message(ctx, "add");
    lv_put(out->json, "amount", lv_jint(ctx, 0));
}

static void arm_1500(lv_ctx *ctx, struct lv_test_value *out)
{
    out->json = message(ctx, "arm");
    lv_put(out->json, "ms", lv_jint(ctx, 1500));
}

static void roll(lv_ctx *ctx, struct lv_test_value *out)
{
    out->json = message(ctx, "roll");
}

/* { total: 5.0 }: a float pattern for an int value */
static void total_5_float(lv_ctx *ctx, struct lv_test_value *out)
{
    out->json = lv_jobj(ctx);
    lv_put(out->json, "total", lv_jfloat(ctx, 5.0));
}

static void total_5(lv_ctx *ctx, struct lv_test_value *out)
{
    out->json = lv_jobj(ctx);
    lv_put(out->json, "total", lv_jint(ctx, 5));
}

static void tick_1(lv_ctx *ctx, struct lv_test_value *out)
{
    out->json = lv_jobj(ctx);
    lv_put(out->json, "tick", lv_jint(ctx, 1));
}

static void ms_1499(lv_ctx *ctx, struct lv_test_value *out)
{
    (void)ctx;
    out->num = 1499;
}

static void ms_1(lv_ctx *ctx, struct lv_test_value *out)
{
    (void)ctx;
    out->num = 1;
}

/* expect now() == EPOCH + 1500 */
static void now_1500(lv_ctx *ctx, struct lv_test_value *out)
{
    out->left = lv_jint(ctx, lv_now(ctx));
    out->right = lv_jint(ctx, LV_TEST_EPOCH_MS + 1500);
    out->ok = lv_now(ctx) == LV_TEST_EPOCH_MS + 1500;
}

/* ---- tests -------------------------------------------------------------------- */

START_TEST(numbers_by_value_and_subsets)
{
    static const struct lv_test_step steps[] = {
        { .kind = LV_STEP_SEND, .line = 1, .text = "s", .player = 1, .eval = add_5 },
        { .kind = LV_STEP_RECEIVE, .line = 2, .text = "r", .player = 2, .eval = total_5_float,
          .subset = true },
        { .kind = LV_STEP_NOTHING, .line = 3, .text = "n", .player = 2 },
    };
    static const struct lv_test tests[] = { { "subset", 1, steps, 3 } };
    char out[MAX_REPORT];
    ck_assert_int_eq(run(tests, 1, NULL, 0, out), 0);
    ck_assert_str_eq(out, "ok   subset\n1 passed, 0 failed\n");
}
END_TEST

START_TEST(exact_patterns_and_the_report)
{
    static const struct lv_test_step steps[] = {
        { .kind = LV_STEP_SEND, .line = 4, .text = "player(1) sends ...;", .player = 1,
          .eval = add_5 },
        { .kind = LV_STEP_RECEIVE, .line = 5, .text = "player(2) receives { total: 5 };",
          .player = 2, .eval = total_5 },
    };
    static const struct lv_test tests[] = { { "exact", 3, steps, 2 }, { "empty", 9, NULL, 0 } };
    char out[MAX_REPORT];
    ck_assert_int_eq(run(tests, 2, NULL, 0, out), 1);
    ck_assert_str_eq(out, "FAIL exact\n"
                          "    counter.live:5: player(2) receives { total: 5 };\n"
                          "    expected: {\"total\":5}\n"
                          "    actual:   {\"total\":5,\"log\":\"\",\"by\":1}\n"
                          "ok   empty\n"
                          "1 passed, 1 failed\n");
}
END_TEST

START_TEST(rejections)
{
    static const struct lv_test_step good[] = {
        { .kind = LV_STEP_SEND, .line = 1, .text = "s", .player = 1, .eval = add_0,
          .rejected = true, .reason = "must be in 1..1000" },
    };
    static const struct lv_test_step bad[] = {
        { .kind = LV_STEP_SEND, .line = 2, .text = "s", .player = 1, .eval = add_0,
          .rejected = true, .reason = "too small" },
    };
    static const struct lv_test tests[] = { { "good", 1, good, 1 }, { "bad", 2, bad, 1 } };
    char out[MAX_REPORT];
    ck_assert_int_eq(run(tests, 2, NULL, 0, out), 1);
    ck_assert_str_eq(out, "ok   good\n"
                          "FAIL bad\n"
                          "    counter.live:2: s\n"
                          "    expected: rejected \"too small\"\n"
                          "    actual:   rejected \"field 'amount' must be in 1..1000\"\n"
                          "    message:  {\"type\":\"add\",\"amount\":0}\n"
                          "1 passed, 1 failed\n");
}
END_TEST

START_TEST(virtual_clock)
{
    static const struct lv_test_step steps[] = {
        { .kind = LV_STEP_SEND, .line = 1, .text = "s", .player = 1, .eval = arm_1500 },
        { .kind = LV_STEP_AFTER, .line = 2, .text = "a", .eval = ms_1499 },
        { .kind = LV_STEP_NOTHING, .line = 3, .text = "n", .player = 1 },
        { .kind = LV_STEP_AFTER, .line = 4, .text = "a", .eval = ms_1 },
        { .kind = LV_STEP_RECEIVE, .line = 5, .text = "r", .player = 2, .eval = tick_1 },
        { .kind = LV_STEP_EXPECT, .line = 6, .text = "e", .eval = now_1500, .op = "==" },
    };
    static const struct lv_test_step late[] = {
        { .kind = LV_STEP_AFTER, .line = 7, .text = "after 1ms;", .eval = ms_1 },
        { .kind = LV_STEP_EXPECT, .line = 8, .text = "expect now() == ...;", .eval = now_1500,
          .op = "==" },
    };
    static const struct lv_test tests[] = { { "clock", 1, steps, 6 }, { "late", 7, late, 2 } };
    char out[MAX_REPORT];
    ck_assert_int_eq(run(tests, 2, NULL, 0, out), 1);
    /* Each test has its own clock, from LV_TEST_EPOCH_MS. */
    ck_assert_str_eq(out, "ok   clock\n"
                          "FAIL late\n"
                          "    counter.live:8: expect now() == ...;\n"
                          "    expected: 1767225601500\n"
                          "    actual:   1767225600001\n"
                          "1 passed, 1 failed\n");
}
END_TEST

START_TEST(seeds)
{
    static const struct lv_test_step seeded[] = {
        { .kind = LV_STEP_SEED, .line = 1, .text = "seed 5;", .num = 5 },
        { .kind = LV_STEP_SEND, .line = 2, .text = "s", .player = 1, .eval = roll },
        { .kind = LV_STEP_SEND, .line = 3, .text = "s", .player = 1, .eval = roll },
        { .kind = LV_STEP_SEND, .line = 4, .text = "s", .player = 1, .eval = roll },
        { .kind = LV_STEP_NOTHING, .line = 5, .text = "n", .player = 1 },
    };
    static const struct lv_test tests[] = { { "a", 1, seeded, 5 }, { "b", 1, seeded, 5 } };
    char out[MAX_REPORT], again[MAX_REPORT];
    ck_assert_int_eq(run(tests, 2, NULL, 0, out), 1);
    ck_assert_int_eq(run(tests, 2, NULL, 0, again), 1);
    ck_assert_str_eq(out, again);
    /* The same seed gives the same draws in both tests of one run too. */
    char *b = strstr(out, "FAIL b\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(strncmp(out + strlen("FAIL a\n"), b + strlen("FAIL b\n"),
                             (size_t)(b - out) - strlen("FAIL a\n")), 0);
    ck_assert_ptr_nonnull(strstr(out, "    expected: no message\n    actual:   {\"r\":"));
    ck_assert_ptr_nonnull(strstr(out, " and 2 more\n"));
}
END_TEST

START_TEST(names)
{
    static const struct lv_test_step steps[] = {
        { .kind = LV_STEP_NOTHING, .line = 1, .text = "n", .player = 1 },
    };
    static const struct lv_test tests[] = { { "one", 1, steps, 1 }, { "two", 2, steps, 1 } };
    char out[MAX_REPORT];
    char *two[] = { "two" }, *nope[] = { "nope" };
    ck_assert_int_eq(run(tests, 2, two, 1, out), 0);
    ck_assert_str_eq(out, "ok   two\n1 passed, 0 failed\n");
    ck_assert_int_eq(run(tests, 2, nope, 1, out), 2);
    ck_assert_str_eq(out, "");
}
END_TEST

static Suite *testing_suite(void)
{
    Suite *s = suite_create("testing");
    TCase *tc = tcase_create("driver");
    tcase_add_test(tc, numbers_by_value_and_subsets);
    tcase_add_test(tc, exact_patterns_and_the_report);
    tcase_add_test(tc, rejections);
    tcase_add_test(tc, virtual_clock);
    tcase_add_test(tc, seeds);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(testing_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
