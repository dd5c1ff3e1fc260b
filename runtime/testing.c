/*
 * testing.c -- runs the test blocks of a .live file (`livec test`, see
 * testing.h and docs/testing.md).
 *
 * Each test gets a fresh core on a private ":memory:" database, a virtual
 * clock starting at LV_TEST_EPOCH_MS and a fixed random seed (0 unless the
 * test says `seed N`), through the hooks of ctx.h (rt_test_hooks).  Every
 * step is one of the runtime's ordinary jobs, run on the calling thread
 * with rt_run_job_sync: the same validation, handlers, transactions and
 * outbox as an HTTP request.  What each player receives is read back from
 * the outbox after every step, as a reconnecting browser would (a SUBSCRIBE
 * job with Last-Event-ID), into the player's inbox; `receives` takes the
 * oldest unread message.  Expressions of a step (the message to send, the
 * pattern, the condition of `expect`) are generated functions run as a
 * handler on the test's group and always rolled back.
 *
 * Output: one line per test, `ok   NAME` or `FAIL NAME` followed by the
 * failing step as written, what was expected and what happened; then
 * `N passed, M failed`.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctx.h"
#include "testing.h"

/* Most batches of timer firings at one instant of the virtual clock: a
 * timer that re-arms itself with no delay would otherwise never let the
 * clock move on. */
#define TEST_MAX_TIMER_BATCHES 10000
/* Most timer firings in one step (a 1 ms timer over `after 1h` would run
 * for minutes). */
#define TEST_MAX_TIMER_FIRINGS 1000000L
/* Longest JSON text shown in a failure (longer texts are cut). */
#define TEST_MAX_SHOWN 2000

/* What one player has received so far. */
struct inbox {
    char code[RT_CODE_MAX];
    int64_t last_seq;           /* the last outbox sequence number read */
    json_t **msgs;              /* every message, in order (owned) */
    size_t n, cap;
    size_t next;                /* the oldest unread */
    bool finished;              /* a finish event arrived */
};

/* One running test. */
struct run {
    const struct lv_game *game;
    struct rt_group *group;     /* the test's group, once the session exists */
    struct inbox *in;           /* game->players of them */
    FILE *out;                  /* the failure report */
};

/* ---- jobs ---------------------------------------------------------------------- */

/* Runs one job of `kind` for `code` on the calling thread.  body (a new
 * reference, or NULL) is stolen.  Returns the status; *reply (if not NULL)
 * gets the malloc'd answer, which the caller frees. */
static int job(enum rt_job_kind kind, const char *code, json_t *body, char **reply)
{
    struct rt_job j;
    memset(&j, 0, sizeof j);
    j.kind = kind;
    j.last_event_id = -1;
    snprintf(j.code, sizeof j.code, "%s", code ? code : "");
    j.body = body;
    rt_run_job_sync(&j);
    if (reply)
        *reply = j.reply;
    else
        free(j.reply);
    return j.status;
}

/* Replay callback: one outbox event for the inbox `stream` (0: go on). */
static int on_replay(void *stream, int64_t seq, const char *event, const char *data)
{
    struct inbox *in = stream;
    if (seq > in->last_seq)
        in->last_seq = seq;
    if (event && strcmp(event, "finish") == 0) {
        in->finished = true;
        return 0;
    }
    json_t *v = json_loads(data, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_string(data);      /* cannot happen: the runtime wrote it */
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 16;
        in->msgs = rt_xrealloc(in->msgs, in->cap * sizeof *in->msgs);
    }
    in->msgs[in->n++] = v;
    return 0;
}

/* Reads every player's new outbox events into its inbox. */
static void collect(struct run *r)
{
    for (int i = 0; r->group && i < r->game->players; i++) {
        struct inbox *in = &r->in[i];
        struct rt_job j;
        memset(&j, 0, sizeof j);
        j.kind = RT_JOB_SUBSCRIBE;
        snprintf(j.code, sizeof j.code, "%s", in->code);
        j.last_event_id = in->last_seq;
        j.stream = in;
        j.replay = on_replay;
        rt_run_job_sync(&j);
        free(j.reply);
    }
}

/* ---- reporting ------------------------------------------------------------------- */

/* Writes v as compact JSON (cut after TEST_MAX_SHOWN bytes). */
static void show(FILE *fp, json_t *v)
{
    char *s = v ? rt_json_text(v) : NULL;
    if (!s) {
        fputs("(nothing)", fp);
        return;
    }
    if (strlen(s) > TEST_MAX_SHOWN)
        fprintf(fp, "%.*s...", TEST_MAX_SHOWN, s);
    else
        fputs(s, fp);
    free(s);
}

/* The first line of a failure: where and what. */
static void where(struct run *r, const struct lv_test_step *s)
{
    fprintf(r->out, "    %s:%d: %s\n", r->game->source, s->line, s->text);
}

/* "    expected: " / "    actual:   " followed by printf text. */
static void say(struct run *r, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct run *r, const char *label, const char *fmt, ...)
{
    va_list ap;
    fprintf(r->out, "    %-9s ", label);
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
}

/* ---- matching --------------------------------------------------------------------- */

/* JSON equality where numbers compare by value (2 equals 2.0). */
static bool same(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach(a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !same(v, w))
                return false;
        }
        return true;
    }
    return json_equal(a, b);
}

/* Does `actual` match `pattern`: equal, or with `subset`, an object with at
 * least the pattern's keys, each equal. */
static bool matches(json_t *pattern, json_t *actual, bool subset)
{
    if (!subset)
        return same(pattern, actual);
    if (!json_is_object(actual))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach(pattern, k, v) {
        json_t *w = json_object_get(actual, k);
        if (!w || !same(v, w))
            return false;
    }
    return true;
}

/* ---- evaluating a step's expression ------------------------------------------------ */

struct eval_call {
    void (*fn)(lv_ctx *, struct lv_test_value *);
    struct lv_test_value *v;
};

static void call_eval(lv_ctx *ctx, void *arg)
{
    struct eval_call *c = arg;
    c->fn(ctx, c->v);
}

/* Runs s->eval on the test's group (me: player s->player) and rolls it
 * back.  The JSON values in *v are the caller's references (release them
 * with value_free).  Returns 0, or -1 after reporting the runtime error. */
static int eval(struct run *r, const struct lv_test_step *s, struct lv_test_value *v)
{
    memset(v, 0, sizeof *v);
    lv_ctx *ctx = rt_ctx_new(rt_core);
    ctx->group = r->group;
    ctx->me = s->player ? r->group->players[s->player - 1] : NULL;
    struct eval_call c = { s->eval, v };
    int rc = rt_ctx_run(ctx, call_eval, &c);
    if (rc < 0) {
        where(r, s);
        say(r, "error:", "%s\n", ctx->reason);
        memset(v, 0, sizeof *v);
    } else {
        json_incref(v->json);
        json_incref(v->left);
        json_incref(v->right);
    }
    rt_ctx_rollback(ctx);
    rt_ctx_free(ctx);
    return rc;
}

static void value_free(struct lv_test_value *v)
{
    json_decref(v->json);
    json_decref(v->left);
    json_decref(v->right);
}

/* ---- steps ----------------------------------------------------------------------- */

/* Creates the session of one group; 0 or -1 after reporting. */
static int start_session(struct run *r, const struct lv_test_step *s)
{
    char *reply = NULL;
    int status = job(RT_JOB_CREATE_SESSION, NULL,
                     json_pack("{s:i}", "participants", r->game->players), &reply);
    json_t *v = reply ? json_loads(reply, 0, NULL) : NULL;
    json_t *list = json_object_get(v, "participants");
    if (status != 201 || !rt_core->sessions ||
        json_array_size(list) != (size_t)r->game->players) {
        json_t *err = json_object_get(v, "error");
        if (s)
            where(r, s);
        say(r, "error:", "cannot start the session: %s\n",
            json_is_string(err) ? json_string_value(err) : reply ? reply : "no answer");
        json_decref(v);
        free(reply);
        return -1;
    }
    for (int i = 0; i < r->game->players; i++)
        snprintf(r->in[i].code, sizeof r->in[i].code, "%s",
                 json_string_value(json_object_get(json_array_get(list, (size_t)i), "code")));
    r->group = rt_core->sessions->groups[0];
    json_decref(v);
    free(reply);
    collect(r);
    return 0;
}

static int step_send(struct run *r, const struct lv_test_step *s)
{
    struct lv_test_value v;
    if (eval(r, s, &v) < 0)
        return -1;
    char *reply = NULL;
    int status = job(RT_JOB_LIVE, r->in[s->player - 1].code, json_incref(v.json), &reply);
    json_t *answer = reply ? json_loads(reply, 0, NULL) : NULL;
    const char *why = json_string_value(json_object_get(answer, "error"));
    int rc = 0;
    collect(r);
    if (status != 200 && status != 422) {
        where(r, s);
        say(r, "error:", "the message got status %d: %s\n", status, why ? why : "");
        rc = -1;
    } else if (!s->rejected && status == 422) {
        where(r, s);
        say(r, "expected:", "accepted\n");
        say(r, "actual:", "rejected \"%s\"\n", why ? why : "");
        rc = -1;
    } else if (s->rejected && status == 200) {
        where(r, s);
        if (s->reason)
            say(r, "expected:", "rejected \"%s\"\n", s->reason);
        else
            say(r, "expected:", "rejected\n");
        say(r, "actual:", "accepted\n");
        rc = -1;
    } else if (s->rejected && s->reason && !strstr(why ? why : "", s->reason)) {
        where(r, s);
        say(r, "expected:", "rejected \"%s\"\n", s->reason);
        say(r, "actual:", "rejected \"%s\"\n", why ? why : "");
        rc = -1;
    }
    if (rc < 0) {
        say(r, "message:", "%s", "");
        show(r->out, v.json);
        fputc('\n', r->out);
    }
    json_decref(answer);
    free(reply);
    value_free(&v);
    return rc;
}

static int step_receive(struct run *r, const struct lv_test_step *s)
{
    struct inbox *in = &r->in[s->player - 1];
    struct lv_test_value v;
    if (eval(r, s, &v) < 0)
        return -1;
    int rc = 0;
    json_t *got = in->next < in->n ? in->msgs[in->next++] : NULL;
    if (!got || !matches(v.json, got, s->subset)) {
        where(r, s);
        say(r, "expected:", "%s", "");
        show(r->out, v.json);
        fputs(s->subset ? " (these keys at least)\n" : "\n", r->out);
        say(r, "actual:", "%s", "");
        show(r->out, got);
        fputc('\n', r->out);
        rc = -1;
    }
    value_free(&v);
    return rc;
}

static int step_nothing(struct run *r, const struct lv_test_step *s)
{
    struct inbox *in = &r->in[s->player - 1];
    if (in->next >= in->n)
        return 0;
    where(r, s);
    say(r, "expected:", "no message\n");
    say(r, "actual:", "%s", "");
    show(r->out, in->msgs[in->next]);
    if (in->n - in->next > 1)
        fprintf(r->out, " and %zu more", in->n - in->next - 1);
    fputc('\n', r->out);
    return -1;
}

static int step_expect(struct run *r, const struct lv_test_step *s)
{
    struct lv_test_value v;
    if (eval(r, s, &v) < 0)
        return -1;
    if (!v.ok) {
        where(r, s);
        if (v.left && v.right && s->op && strcmp(s->op, "==") == 0) {
            say(r, "expected:", "%s", "");
            show(r->out, v.right);
            fputc('\n', r->out);
            say(r, "actual:", "%s", "");
            show(r->out, v.left);
            fputc('\n', r->out);
        } else if (v.left && v.right && s->op) {
            say(r, "expected:", "true\n");
            say(r, "actual:", "%s", "");
            show(r->out, v.left);
            fprintf(r->out, " %s ", s->op);
            show(r->out, v.right);
            fputs(" is false\n", r->out);
        } else {
            say(r, "expected:", "true\n");
            say(r, "actual:", "false\n");
        }
    }
    value_free(&v);
    return v.ok ? 0 : -1;
}

/* Fires, one by one and each at its own due time (now() equal to it), every
 * timer of the group that falls due up to target, then moves the clock to
 * target.  step_start is the clock when the step began (for messages).  A
 * timer that keeps re-arming itself with no delay fails the step after
 * TEST_MAX_TIMER_BATCHES firings at one instant, and any run of timers after
 * TEST_MAX_TIMER_FIRINGS in one step. */
static int run_timers(struct run *r, const struct lv_test_step *s, int64_t target,
                      int64_t step_start)
{
    long total = 0;
    for (int same = 0;; same++) {
        int64_t due = 0;
        for (int t = 0; t < r->game->n_timers; t++) {
            int64_t d = r->group->timer_due[t];
            if (d && d <= target && (!due || d < due))
                due = d;
        }
        if (!due)
            break;
        if (due > rt_test_hooks.now_ms) {
            rt_test_hooks.now_ms = due;
            same = 0;
        }
        if (same >= TEST_MAX_TIMER_BATCHES || total >= TEST_MAX_TIMER_FIRINGS) {
            where(r, s);
            if (same >= TEST_MAX_TIMER_BATCHES)
                say(r, "error:", "timers fired %d times at %" PRId64 " ms into the step: does "
                    "one re-arm itself with no delay?\n", TEST_MAX_TIMER_BATCHES,
                    due - step_start);
            else
                say(r, "error:", "timers fired %ld times in one step (%" PRId64 " ms into "
                    "it): wait in shorter `after` steps\n", total, due - step_start);
            return -1;
        }
        rt_test_hooks.timer_error[0] = '\0';
        total += rt_fire_due_timers_once(rt_test_hooks.now_ms);
        if (rt_test_hooks.timer_error[0]) {
            where(r, s);
            say(r, "error:", "%s (at %" PRId64 " ms into the step)\n",
                rt_test_hooks.timer_error, due - step_start);
            collect(r);
            return -1;
        }
    }
    rt_test_hooks.now_ms = target;
    collect(r);
    return 0;
}

/* Moves the virtual clock on by the step's duration, firing every timer
 * of the group that falls due on the way, each at its own due time. */
static int step_after(struct run *r, const struct lv_test_step *s)
{
    struct lv_test_value v;
    if (eval(r, s, &v) < 0)
        return -1;
    value_free(&v);
    int64_t target;
    if (v.num < 0 || __builtin_add_overflow(rt_test_hooks.now_ms, v.num, &target)) {
        where(r, s);
        say(r, "error:", "cannot move the clock by %" PRId64 " ms\n", v.num);
        return -1;
    }
    return run_timers(r, s, target, rt_test_hooks.now_ms);
}

static int step_page_job(struct run *r, const struct lv_test_step *s, enum rt_job_kind kind,
                         int want)
{
    char *reply = NULL;
    rt_test_hooks.load_error[0] = '\0';
    int status = job(kind, r->in[s->player - 1].code, NULL, &reply);
    collect(r);
    if (status != want) {
        where(r, s);
        say(r, "error:", "status %d: %s\n", status, reply ? reply : "");
        free(reply);
        return -1;
    }
    free(reply);
    if (rt_test_hooks.load_error[0]) {  /* `loads`: on load was rejected */
        where(r, s);
        say(r, "error:", "%s\n", rt_test_hooks.load_error);
        return -1;
    }
    return 0;
}

static int step_finished(struct run *r, const struct lv_test_step *s)
{
    struct rt_participant *p = r->group->players[s->player - 1];
    if (r->in[s->player - 1].finished)
        return 0;
    where(r, s);
    say(r, "expected:", "a finish event\n");
    say(r, "actual:", "none (the player is on page '%s')\n", rt_page_name(r->game, p->page_index));
    return -1;
}

/* Runs one test; true if it passed.  The failure report goes to out. */
static bool run_test(const struct lv_game *game, const struct lv_test *t, FILE *out)
{
    char err[RT_REASON_MAX + 600];
    struct run R = { .game = game, .out = out }, *r = &R;
    bool ok = true;

    rt_test_hooks.active = true;
    rt_test_hooks.now_ms = LV_TEST_EPOCH_MS;
    rt_test_hooks.seed = 0;
    if (rt_open(game, ":memory:", err, sizeof err) < 0) {
        fprintf(out, "    error: %s\n", err);
        return false;
    }
    r->in = rt_xcalloc((size_t)game->players, sizeof *r->in);
    for (int i = 0; ok && i < t->n_steps; i++) {
        const struct lv_test_step *s = &t->steps[i];
        if (s->kind == LV_STEP_SEED) {
            rt_test_hooks.seed = (uint64_t)s->num;
            continue;
        }
        if (!r->group && (start_session(r, s) < 0 ||
                          run_timers(r, s, rt_test_hooks.now_ms, rt_test_hooks.now_ms) < 0)) {
            ok = false;
            break;
        }
        int rc = 0;
        switch (s->kind) {
        case LV_STEP_SEED:
            break;
        case LV_STEP_SEND:
            rc = step_send(r, s);
            break;
        case LV_STEP_RECEIVE:
            rc = step_receive(r, s);
            break;
        case LV_STEP_NOTHING:
            rc = step_nothing(r, s);
            break;
        case LV_STEP_LOAD:
            rc = step_page_job(r, s, RT_JOB_SUBSCRIBE, 200);
            break;
        case LV_STEP_NEXT:
            rc = step_page_job(r, s, RT_JOB_NEXT, 303);
            break;
        case LV_STEP_FINISHED:
            rc = step_finished(r, s);
            break;
        case LV_STEP_EXPECT:
            rc = step_expect(r, s);
            break;
        case LV_STEP_AFTER:
            rc = step_after(r, s);
            break;
        }
        /* a timer a handler armed with no delay fires at once, as in a
         * server, before the next step */
        if (rc == 0 && (s->kind == LV_STEP_SEND || s->kind == LV_STEP_LOAD ||
                        s->kind == LV_STEP_NEXT))
            rc = run_timers(r, s, rt_test_hooks.now_ms, rt_test_hooks.now_ms);
        ok = rc == 0;
    }
    if (ok && !r->group && start_session(r, NULL) < 0)
        ok = false;
    for (int i = 0; i < game->players; i++) {
        for (size_t k = 0; k < r->in[i].n; k++)
            json_decref(r->in[i].msgs[k]);
        free(r->in[i].msgs);
    }
    free(r->in);
    rt_close();
    rt_test_hooks.active = false;
    return ok;
}

/* See testing.h. */
int lv_test_main(const struct lv_game *game, const struct lv_test *tests, int n_tests,
                 int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        bool known = false;
        for (int k = 0; k < n_tests && !known; k++)
            known = strcmp(tests[k].name, argv[i]) == 0;
        if (!known) {
            fprintf(stderr, "livec test: game '%s' has no test named '%s'\n", game->name, argv[i]);
            return 2;
        }
    }
    for (int k = 0; k < n_tests; k++) {
        bool chosen = argc < 2;
        for (int i = 1; i < argc && !chosen; i++)
            chosen = strcmp(tests[k].name, argv[i]) == 0;
        if (!chosen)
            continue;
        char *report = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&report, &len);
        if (!out) {
            perror("open_memstream");
            return 2;
        }
        bool ok = run_test(game, &tests[k], out);
        fclose(out);
        printf("%s %s\n", ok ? "ok  " : "FAIL", tests[k].name);
        if (!ok)
            fputs(report, stdout);
        fflush(stdout);
        free(report);
        if (ok)
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
