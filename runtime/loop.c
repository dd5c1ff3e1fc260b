/*
 * loop.c -- the game thread: the job queue (rt_submit), the batch
 * transaction with group commit, every job kind of rt.h, the timer heap, and
 * the admin JSON and CSV exports.
 *
 * One batch:
 *   1. take up to RT_BATCH_MAX queued jobs plus the timers that are due;
 *   2. BEGIN; run each job in memory with its own lv_ctx (a rejected handler
 *      is rolled back in memory at once and writes only its message-log
 *      row); write what each job changed (store_write_job);
 *   3. COMMIT (the frames reach the WAL file; the disk is not waited for);
 *      read the replays of new streams, arm the timers, and hand the batch
 *      to the sync thread;
 *   4. the sync thread makes it durable (store_sync: one fdatasync for every
 *      batch committed meanwhile) and passes the batches on;
 *   5. the deliver thread then, batch by batch and job by job in order:
 *      activates streams, delivers the job's events (net_deliver), answers
 *      (done()).  The game thread frees the batch afterwards.
 *   When no job is queued behind the batch and both threads are idle, the
 *   game thread does 4 and 5 itself (light load: two wake-ups less per
 *   message, in commit order all the same).
 * So the game thread runs batch k+1's handlers while batch k's fsync is in
 * progress, the next fsync runs while batch k is delivered, and nothing is
 * answered or delivered before it is on disk.  While the sync thread is busy,
 * the game thread keeps its batch open and runs the jobs that arrive
 * meanwhile, so that there is about one COMMIT per fsync (fewer WAL pages
 * per message) rather than many small ones.
 * Handlers never write to SQLite themselves: their changes are written after
 * they finished, so a rejected handler needs no SAVEPOINT.  If any write or
 * the COMMIT fails, the whole batch is rolled back -- SQLite's and memory,
 * every job newest first -- and each job is answered 503 (batches committed
 * before it are not concerned).  If the fdatasync fails, what the disk holds
 * is unknown: the server stops at once without answering the batches it
 * covered, as if it had been killed, and the next start reads back what was
 * durable (the client of an unanswered message cannot assume it was taken).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "admin.h"
#include "ctx.h"
#include "store.h"

/* Places of a batch kept for due timers, so that a steady flood of messages
 * cannot starve them. */
#define RT_BATCH_TIMERS 32
/* Committed batches that may wait for the sync thread before the game thread
 * waits in turn (each holds its jobs' contexts). */
#define RT_SYNC_MAX_PENDING 8

static const char CT_JSON[] = "application/json";
static const char CT_CSV[] = "text/csv; charset=utf-8";

/* ---- the queue ------------------------------------------------------------ */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct rt_job *ring[RT_QUEUE_MAX];
    size_t head, n;
    bool running, stopping;
    pthread_t thread;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* Before main: the game thread's timed waits are on CLOCK_MONOTONIC, so
 * that a step of the system clock does not hold a due timer back. */
__attribute__((constructor)) static void init_wake(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q.wake, &attr);
    pthread_condattr_destroy(&attr);
}

/* See rt.h: thread-safe; -1 when stopping, not started or full. */
int rt_submit(struct rt_job *job)
{
    int rc = -1;
    job->submitted_ms = rt_timer_now_ms();
    pthread_mutex_lock(&q.lock);
    if (q.running && !q.stopping && q.n < RT_QUEUE_MAX) {
        q.ring[(q.head + q.n) % RT_QUEUE_MAX] = job;
        q.n++;
        rc = 0;
        pthread_cond_signal(&q.wake);
    }
    pthread_mutex_unlock(&q.lock);
    return rc;
}

/* ---- timer heap (a binary min-heap on `at`) ------------------------------- */

static struct rt_timer_entry *heap_at(size_t i)
{
    return rt_vec_at(&rt_core->timer_heap, i);
}

static void heap_swap(size_t a, size_t b)
{
    struct rt_timer_entry t = *heap_at(a);
    *heap_at(a) = *heap_at(b);
    *heap_at(b) = t;
}

static void heap_push(struct rt_timer_entry e)
{
    rt_vec_push(&rt_core->timer_heap, &e);
    for (size_t i = rt_core->timer_heap.n - 1; i > 0;) {
        size_t parent = (i - 1) / 2;
        if (heap_at(parent)->at <= heap_at(i)->at)
            break;
        heap_swap(i, parent);
        i = parent;
    }
}

static struct rt_timer_entry heap_pop(void)
{
    struct rt_vec *h = &rt_core->timer_heap;
    struct rt_timer_entry top = *heap_at(0);
    *heap_at(0) = *heap_at(h->n - 1);
    h->n--;
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && heap_at(l)->at < heap_at(m)->at)
            m = l;
        if (r < h->n && heap_at(r)->at < heap_at(m)->at)
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}

/* Drops stale entries from the top; returns the next time to look, or -1. */
static int64_t heap_next(void)
{
    while (rt_core->timer_heap.n > 0) {
        struct rt_timer_entry *e = heap_at(0);
        if (e->group->timer_due[e->timer] == e->due)
            return e->at;
        heap_pop();
    }
    return -1;
}

/* ---- replies ---------------------------------------------------------------- */

/* Sets the job's answer to v (stolen) as JSON. */
static void reply_json(struct rt_job *job, int status, json_t *v)
{
    free(job->reply);
    job->status = status;
    job->reply = rt_json_text(v);
    job->content_type = CT_JSON;
    json_decref(v);
}

static void reply_error(struct rt_job *job, int status, const char *reason)
{
    reply_json(job, status, json_pack("{s:s}", "error", reason));
}

static struct rt_participant *find_participant(struct rt_job *job)
{
    job->code[RT_CODE_MAX - 1] = '\0';
    struct rt_participant *p = rt_map_get(&rt_core->participants_by_code, job->code);
    if (!p) {
        reply_error(job, 404, "unknown participant");
        return NULL;
    }
    job->participant_id = p->id;
    job->id_in_group = p->id_in_group;
    job->page_index = p->page_index;
    return p;
}

static struct rt_session *find_session_job(struct rt_job *job)
{
    job->code[RT_CODE_MAX - 1] = '\0';
    struct rt_session *s = rt_map_get(&rt_core->sessions_by_code, job->code);
    if (!s)
        reply_error(job, 404, "unknown session");
    return s;
}

/* ---- handler calls ------------------------------------------------------------ */

struct recv_call {
    const struct lv_message *msg;
    json_t *body;
};

/* After a runtime error (not a reject) in a handler that answers nobody,
 * a timer's or `on load`'s: keeps "WHERE: REASON" as the group's error for
 * the monitor (ctx.h) and has the monitor told. */
static __attribute__((format(printf, 3, 4)))
void group_error(lv_ctx *ctx, struct rt_group *g, const char *where_fmt, ...)
{
    if (!ctx->runtime_error)
        return;
    char where[128], what[RT_REASON_MAX + 160];
    va_list ap;
    va_start(ap, where_fmt);
    vsnprintf(where, sizeof where, where_fmt, ap);
    va_end(ap);
    snprintf(what, sizeof what, "%s: %s", where, ctx->reason);
    rt_trim_partial_utf8(what);
    free(g->error);
    g->error = rt_xstrdup(what);
    g->error_ms = ctx->now_ms;
    ctx->error_group = g;
}

static void call_recv(lv_ctx *ctx, void *arg)
{
    struct recv_call *c = arg;
    c->msg->recv(ctx, c->body);
}

static void call_hook(lv_ctx *ctx, void *arg)
{
    void (**fn)(lv_ctx *) = arg;
    (*fn)(ctx);
}

/* Runs hook (on load, on start, a timer) as a handler: 0 or -1. */
static int run_hook(lv_ctx *ctx, void (*hook)(lv_ctx *))
{
    return rt_ctx_run(ctx, call_hook, &hook);
}

/* ---- jobs ------------------------------------------------------------------ */

static void job_live(lv_ctx *ctx, struct rt_job *job)
{
    const struct lv_game *game = ctx->rt->game;
    struct rt_participant *p = find_participant(job);
    if (!p) {
        if (job->refuse_status)         /* the body's fault comes first */
            reply_error(job, job->refuse_status, job->refuse_reason);
        return;
    }
    ctx->group = p->group;
    ctx->me = p;
    ctx->log_message = true;
    ctx->log_pid = p->id;
    json_t *body = job->body;
    if (job->body_text) {
        ctx->log_body = job->body_text;
    } else {
        ctx->log_body_own = body ? rt_json_text(body) : NULL;
        ctx->log_body = ctx->log_body_own ? ctx->log_body_own : "null";
    }

    int rc = 0;
    json_t *type = json_object_get(body, "type");
    if (json_is_string(type))   /* logged whatever becomes of the message */
        ctx->log_type = rt_xstrdup(json_string_value(type));
    if (job->refuse_status) {
        rt_ctx_set_reason(ctx, "%s", job->refuse_reason);
        ctx->log_accepted = false;
        reply_error(job, job->refuse_status, ctx->reason);
        return;
    }
    if (p->group->session->closed) {
        rt_ctx_set_reason(ctx, "the session is closed");
        rc = -1;
    } else if (!json_is_object(body)) {
        rt_ctx_set_reason(ctx, "message must be a JSON object");
        rc = -1;
    } else if (type && !json_is_string(type)) {
        rt_ctx_set_reason(ctx, "field 'type' must be a string");
        rc = -1;
    } else if (type) {
        const char *name = json_string_value(type);
        const struct lv_message *msg = NULL;
        for (int i = 0; i < game->n_messages && !msg; i++)
            if (strcmp(game->messages[i].name, name) == 0)
                msg = &game->messages[i];
        if (!msg) {
            rt_ctx_set_reason(ctx, "unknown message type '%s'", name);
            rc = -1;
        } else {
            struct recv_call c = { msg, body };
            rc = rt_ctx_run(ctx, call_recv, &c);
        }
    } else if (game->on_load) {
        rc = run_hook(ctx, game->on_load);
    }
    if (rc < 0) {
        rt_ctx_rollback(ctx);
        ctx->log_accepted = false;
        reply_error(job, 422, ctx->reason);
        return;
    }
    rt_ctx_settle(ctx);
    ctx->log_accepted = true;
    free(job->reply);           /* the answer of every accepted message */
    job->status = 200;
    job->reply = rt_xstrdup(RT_REPLY_OK);
    job->content_type = CT_JSON;
}

static void job_subscribe(lv_ctx *ctx, struct rt_job *job)
{
    const struct lv_game *game = ctx->rt->game;
    struct rt_participant *p = find_participant(job);
    if (!p)
        return;
    if (job->admit && !job->admit(job->stream, p->id)) {
        job->status = 429;      /* net answers it (too many open streams) */
        return;
    }
    ctx->subscribe_ok = true;
    job->status = 200;
    if (job->last_event_id >= 0) {
        ctx->replay_of = p;
        ctx->replay_after = job->last_event_id;
        ctx->replay_upto = p->next_seq - 1;
        return;
    }
    if (!game->on_load || p->group->session->closed)    /* a closed session is frozen */
        return;
    ctx->group = p->group;
    ctx->me = p;
    if (run_hook(ctx, game->on_load) < 0) {
        /* a rejected on load sends nothing; the stream opens all the same,
         * and the author learns why from the log (or the test step) */
        if (rt_test_hooks.active)
            snprintf(rt_test_hooks.load_error, sizeof rt_test_hooks.load_error,
                     "on load: %s", ctx->reason);
        else
            fprintf(stderr, "%s: on load of participant %s: %s\n", game->name, p->code,
                    ctx->reason);
        rt_ctx_rollback(ctx);
        group_error(ctx, p->group, "on load of player %d", p->id_in_group);
    } else {
        rt_ctx_settle(ctx);
    }
}

static void job_page(lv_ctx *ctx, struct rt_job *job)
{
    if (find_participant(job))
        job->status = 200;
}

static void job_next(lv_ctx *ctx, struct rt_job *job)
{
    struct rt_participant *p = find_participant(job);
    if (!p)
        return;
    /* (a closed session is frozen: the participant stays where it is; a
     * form that names the page it was on moves on only from that page:
     * the second click of a double click, or a stale tab, moves nothing) */
    const struct lv_game *game = ctx->rt->game;
    job->name[sizeof job->name - 1] = '\0';
    bool from_here = !job->name[0] || strcmp(job->name, rt_page_name(game, p->page_index)) == 0;
    if (p->page_index < game->n_pages && !p->group->session->closed && from_here) {
        rt_ctx_save_bytes(ctx, &p->page_index, sizeof p->page_index);
        p->page_index++;
        rt_ctx_dirty(ctx, RT_DIRTY_PLAYER, p, p->group, 0);
    }
    job->page_index = p->page_index;
    job->status = 303;
}

static void job_create_session(lv_ctx *ctx, struct rt_job *job)
{
    struct rt_core *rt = ctx->rt;
    const struct lv_game *game = rt->game;
    json_t *n = json_object_get(job->body, "participants");
    int64_t count;              /* 4 or 4.0, as an int field of a message takes it */
    if (!rt_json_int(n, &count))
        count = -1;
    char why[RT_REASON_MAX + 64];
    if (!json_is_object(job->body) || count <= 0 || count % game->players != 0 ||
        count > RT_SESSION_MAX_PARTICIPANTS) {
        snprintf(why, sizeof why, "\"participants\" must be a positive multiple of %d, at most %d",
                 game->players, RT_SESSION_MAX_PARTICIPANTS);
        reply_error(job, 400, why);
        return;
    }
    int n_groups = (int)(count / game->players);
    rt_ctx_save_bytes(ctx, &rt->next_session_id, sizeof rt->next_session_id);
    rt_ctx_save_bytes(ctx, &rt->next_group_id, sizeof rt->next_group_id);
    rt_ctx_save_bytes(ctx, &rt->next_participant_id, sizeof rt->next_participant_id);
    struct rt_session *s = rt_session_new(rt, n_groups);
    rt_session_link(rt, s);
    struct rt_undo u = { .kind = RT_UNDO_SESSION_NEW, .session = s };
    rt_vec_push(&ctx->undo, &u);
    rt_ctx_dirty(ctx, RT_DIRTY_SESSION_NEW, s, NULL, 0);
    for (int i = 0; i < n_groups && game->on_start; i++) {
        ctx->group = s->groups[i];
        ctx->me = NULL;
        ctx->ticks = 0;         /* each group's on start has the whole loop budget */
        if (run_hook(ctx, game->on_start) < 0) {
            snprintf(why, sizeof why, "on start of group %d: %s", i + 1, ctx->reason);
            rt_ctx_rollback(ctx);
            reply_error(job, 422, why);
            return;
        }
    }
    rt_ctx_settle(ctx);
    json_t *list = json_array();
    for (int i = 0; i < n_groups; i++) {
        for (int k = 0; k < game->players; k++) {
            struct rt_participant *p = s->groups[i]->players[k];
            char url[RT_CODE_MAX + 8];
            snprintf(url, sizeof url, "/p/%s", p->code);
            json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:i}", "code", p->code,
                                                  "url", url, "group", s->groups[i]->gid,
                                                  "id_in_group", p->id_in_group));
        }
    }
    reply_json(job, 201, json_pack("{s:s, s:o}", "code", s->code, "participants", list));
}

static void job_list_sessions(lv_ctx *ctx, struct rt_job *job)
{
    json_t *list = json_array();
    for (struct rt_session *s = ctx->rt->sessions; s; s = s->next)
        json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:i, s:b}", "code", s->code,
                                              "created", (json_int_t)s->created_ms,
                                              "participants",
                                              (json_int_t)s->n_groups * ctx->rt->game->players,
                                              "groups", s->n_groups, "closed", s->closed));
    reply_json(job, 200, list);
}

static void job_session_state(lv_ctx *ctx, struct rt_job *job)
{
    const struct lv_game *game = ctx->rt->game;
    struct rt_session *s = find_session_job(job);
    if (!s)
        return;
    json_t *groups = json_array();
    for (int i = 0; i < s->n_groups; i++) {
        struct rt_group *grp = s->groups[i];
        json_t *players = json_array();
        for (int k = 0; k < game->players; k++) {
            struct rt_participant *p = grp->players[k];
            json_array_append_new(players, json_pack(
                "{s:s, s:i, s:s, s:o}", "code", p->code, "id_in_group", p->id_in_group,
                "page", rt_page_name(game, p->page_index),
                "fields", rt_struct_json(game->player_fields, game->n_player_fields, p->state)));
        }
        json_t *tables = json_object();
        for (int t = 0; t < game->n_tables; t++) {
            const struct lv_table *tab = &game->tables[t];
            json_t *rows = json_array();
            for (int64_t r = 0; r < grp->tables[t].n; r++) {
                struct rt_row *row = grp->tables[t].v[r];
                json_t *o = json_pack("{s:I}", "id", (json_int_t)rt_row_id(tab, row));
                json_object_update_new(o, rt_struct_json(tab->fields, tab->n_fields, row->data));
                json_array_append_new(rows, o);
            }
            json_object_set_new(tables, tab->name, rows);
        }
        json_t *error = grp->error
            ? json_pack("{s:I, s:s}", "time", (json_int_t)grp->error_ms, "text", grp->error)
            : NULL;
        json_array_append_new(groups, json_pack(
            "{s:i, s:o, s:o, s:o, s:o?}", "id", grp->gid,
            "fields", rt_struct_json(game->group_fields, game->n_group_fields, grp->state),
            "players", players, "tables", tables, "error", error));
    }
    json_t *state = json_pack("{s:s, s:I, s:o}", "code", s->code,
                              "created", (json_int_t)s->created_ms, "groups", groups);
    admin_state_extras(ctx->rt, s, state);      /* "closed", each group's "recent" */
    reply_json(job, 200, state);
}

/* ---- CSV (RFC 4180: CRLF line ends, cells quoted when they need it) ---------- */

struct csv {
    char *s;
    size_t n, cap;
    bool row_started;
};

static void csv_raw(struct csv *c, const char *s, size_t len)
{
    if (c->n + len + 1 > c->cap) {
        c->cap = (c->n + len + 1) * 2;
        c->s = rt_xrealloc(c->s, c->cap);
    }
    memcpy(c->s + c->n, s, len);
    c->n += len;
    c->s[c->n] = '\0';
}

/* Appends one cell (NULL: an empty cell). */
static void csv_cell(struct csv *c, const char *s)
{
    if (c->row_started)
        csv_raw(c, ",", 1);
    c->row_started = true;
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        csv_raw(c, s, strlen(s));
        return;
    }
    csv_raw(c, "\"", 1);
    for (const char *p = s; *p; p++) {
        csv_raw(c, p, 1);
        if (*p == '"')
            csv_raw(c, "\"", 1);     /* a quote is written twice */
    }
    csv_raw(c, "\"", 1);
}

static void csv_int(struct csv *c, int64_t x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, x);
    csv_cell(c, buf);
}

static void csv_end(struct csv *c)
{
    csv_raw(c, "\r\n", 2);
    c->row_started = false;
}

static void csv_field(struct csv *c, const struct lv_field *f, const void *base)
{
    const char *p = (const char *)base + f->offset;
    char buf[48];
    if (f->len > 0) {
        json_t *v = rt_field_json(f, base);
        char *text = rt_json_text(v);
        csv_cell(c, text ? text : "[]");
        free(text);
        json_decref(v);
        return;
    }
    switch (f->type) {
    case LV_INT:
        csv_int(c, *(const int64_t *)p);
        break;
    case LV_FLOAT:
        rt_format_float(buf, sizeof buf, *(const double *)p, true);
        csv_cell(c, buf);
        break;
    case LV_BOOL:
        csv_cell(c, *(const bool *)p ? "true" : "false");
        break;
    case LV_STRING:
        csv_cell(c, *(char *const *)p);
        break;
    }
}

/* The header row: the file's own columns fixed[0..nfixed), then fields
 * f[0..n).  A field named like one of the file's own columns (a player
 * field `participant`, say) is written OWNER.NAME, so that no two columns
 * share a name (pandas and R would rename the second silently). */
static void csv_header(struct csv *c, const char *const *fixed, size_t nfixed,
                       const struct lv_field *f, int n, const char *owner)
{
    for (size_t k = 0; k < nfixed; k++)
        csv_cell(c, fixed[k]);
    for (int i = 0; i < n; i++) {
        bool clash = false;
        for (size_t k = 0; k < nfixed && !clash; k++)
            clash = strcmp(f[i].name, fixed[k]) == 0;
        if (clash) {
            char name[160];
            snprintf(name, sizeof name, "%s.%s", owner, f[i].name);
            csv_cell(c, name);
        } else {
            csv_cell(c, f[i].name);
        }
    }
    csv_end(c);
}

#define NFIXED(a) (sizeof (a) / sizeof (a)[0])

/* Appends time_ms (Unix ms) as UTC ISO 8601: 2026-11-29T12:14:54.500Z. */
static void csv_time(struct csv *c, int64_t time_ms)
{
    char when[40];
    time_t secs = (time_t)(time_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + k, sizeof when - k, ".%03dZ", (int)(time_ms % 1000));
    csv_cell(c, when);
}

static void csv_message(void *arg, const struct store_message *m)
{
    struct csv *c = arg;
    csv_time(c, m->time_ms);
    csv_cell(c, m->participant);
    csv_cell(c, m->type);
    csv_cell(c, m->body);
    csv_cell(c, m->outcome);
    csv_cell(c, m->reason);
    csv_int(c, m->group);
    csv_int(c, m->id_in_group);
    csv_end(c);
}

/* What csv_draw writes to: the file and the session's code. */
struct draws_csv {
    struct csv *c;
    const char *session;
};

static void csv_draw(void *arg, const struct store_draw *d)
{
    const struct draws_csv *w = arg;
    struct csv *c = w->c;
    csv_cell(c, w->session);
    csv_int(c, d->n);
    csv_int(c, d->group);
    csv_cell(c, d->participant);
    if (d->message)
        csv_int(c, d->message);
    else
        csv_cell(c, NULL);
    csv_int(c, d->lo);
    csv_int(c, d->hi);
    csv_int(c, d->value);
    csv_time(c, d->time_ms);
    csv_end(c);
}

/* The game table named name, or NULL. */
static const struct lv_table *game_table(const struct lv_game *game, const char *name)
{
    for (int t = 0; t < game->n_tables; t++)
        if (strcmp(game->tables[t].name, name) == 0)
            return &game->tables[t];
    return NULL;
}

/* ---- exports read off the game thread -------------------------------------------- */

static bool sync_running(void);

/* messages.csv and the random draws come from SQLite and grow with the
 * session (a 632k-row message log took 1.3 s, during which every session
 * waited): they are read on a thread of their own, on a read-only
 * connection (WAL: it sees what was committed when it began, which includes
 * every message answered before the export was asked for). */
struct export_job {
    struct rt_job *job;
    struct csv c;               /* the header so far */
    char *path;
    int64_t session_id;
    int64_t upto;               /* the last message id (or draw number) when asked
                                   for: later ones may not be durable yet */
    char session[RT_CODE_MAX];
    bool draws;
};

/* Exports being read at once, at most: each holds a read snapshot, which
 * keeps SQLite from starting its WAL file over, and its CSV in memory
 * (overlapping exports grew the WAL from 6 to 47 MB in 18 s in a review). */
#define EXPORTS_MAX 2

static struct {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int running;
} ex = { .lock = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER };

static void export_free(struct export_job *e)
{
    free(e->c.s);
    free(e->path);
    free(e);
}

/* Reads and answers an export (on its own thread, or on the deliver thread
 * when none could be started). */
static void export_run(struct export_job *e)
{
    char err[RT_REASON_MAX];
    struct draws_csv w = { &e->c, e->session };
    int rc = e->draws ? store_read_log(e->path, true, e->session_id, e->upto, NULL, csv_draw,
                                       &w, err, sizeof err)
                      : store_read_log(e->path, false, e->session_id, e->upto, csv_message, NULL,
                                       &e->c, err, sizeof err);
    struct rt_job *job = e->job;
    free(job->reply);
    job->reply = NULL;
    if (rc < 0) {
        reply_error(job, 503, err);
    } else {
        job->status = 200;
        job->reply = e->c.s;
        job->content_type = CT_CSV;
        e->c.s = NULL;          /* the job's reply now */
    }
    export_free(e);
    job->done(job);
    pthread_mutex_lock(&ex.lock);
    if (--ex.running == 0)
        pthread_cond_broadcast(&ex.idle);
    pthread_mutex_unlock(&ex.lock);
}

static void *export_main(void *arg)
{
    prctl(PR_SET_NAME, "live-export");  /* top -H, perf */
    export_run(arg);
    return NULL;
}

/* Game thread: hands the rest of an export (its header written to *c) to
 * export_main, which answers the job once the batch is delivered
 * (deliver_item).  False when it must be read here: no deliver thread
 * (tests, `livec test`) or an in-memory database. */
static bool defer_export(lv_ctx *ctx, struct rt_job *job, const struct rt_session *s, bool draws,
                         struct csv *c)
{
    const char *path = store_path(ctx->rt->store);
    if (!path || !sync_running() || !job->done)
        return false;
    struct export_job *e = rt_xcalloc(1, sizeof *e);
    e->job = job;
    e->c = *c;
    e->path = rt_xstrdup(path);
    e->session_id = s->id;
    e->upto = store_log_end(ctx->rt->store, draws, s->id);
    snprintf(e->session, sizeof e->session, "%s", s->code);
    e->draws = draws;
    ctx->deferred = e;
    return true;
}

/* Deliver thread: starts the export of ctx (see defer_export). */
static void start_export(lv_ctx *ctx)
{
    struct export_job *e = ctx->deferred;
    ctx->deferred = NULL;
    pthread_mutex_lock(&ex.lock);
    bool full = ex.running >= EXPORTS_MAX;
    if (!full)
        ex.running++;
    pthread_mutex_unlock(&ex.lock);
    if (full) {
        struct rt_job *job = e->job;
        char why[RT_REASON_MAX];
        snprintf(why, sizeof why, "%d exports are being read: try again when one is done",
                 EXPORTS_MAX);
        free(job->reply);
        job->reply = NULL;
        reply_error(job, 503, why);
        export_free(e);
        job->done(job);
        return;
    }
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, export_main, e) != 0)
        export_run(e);          /* no thread: here, then */
    pthread_attr_destroy(&attr);
}

/* A batch that failed: its deferred export is not started. */
static void drop_export(lv_ctx *ctx)
{
    struct export_job *e = ctx ? ctx->deferred : NULL;
    if (!e)
        return;
    export_free(e);
    ctx->deferred = NULL;
}

static void job_export(lv_ctx *ctx, struct rt_job *job)
{
    const struct lv_game *game = ctx->rt->game;
    struct rt_session *s = find_session_job(job);
    if (!s)
        return;
    job->name[sizeof job->name - 1] = '\0';
    struct csv c = { 0 };
    csv_raw(&c, "", 0);
    if (strcmp(job->name, "players") == 0) {
        const char *fixed[] = { "session", "participant", "group", "id_in_group", "page" };
        csv_header(&c, fixed, NFIXED(fixed), game->player_fields, game->n_player_fields, "player");
        for (int i = 0; i < s->n_groups; i++)
            for (int k = 0; k < game->players; k++) {
                struct rt_participant *p = s->groups[i]->players[k];
                csv_cell(&c, s->code);
                csv_cell(&c, p->code);
                csv_int(&c, s->groups[i]->gid);
                csv_int(&c, p->id_in_group);
                csv_cell(&c, rt_page_name(game, p->page_index));
                for (int f = 0; f < game->n_player_fields; f++)
                    csv_field(&c, &game->player_fields[f], p->state);
                csv_end(&c);
            }
    } else if (strcmp(job->name, "groups") == 0) {
        const char *fixed[] = { "session", "group" };
        csv_header(&c, fixed, NFIXED(fixed), game->group_fields, game->n_group_fields, "group");
        for (int i = 0; i < s->n_groups; i++) {
            csv_cell(&c, s->code);
            csv_int(&c, s->groups[i]->gid);
            for (int f = 0; f < game->n_group_fields; f++)
                csv_field(&c, &game->group_fields[f], s->groups[i]->state);
            csv_end(&c);
        }
    } else if (strcmp(job->name, "messages") == 0) {
        const char *fixed[] = { "time", "participant", "type", "body", "outcome", "reason",
                                "group", "id_in_group" };
        csv_header(&c, fixed, NFIXED(fixed), NULL, 0, NULL);
        if (defer_export(ctx, job, s, false, &c))
            return;
        if (store_messages(ctx->rt->store, s->id, csv_message, &c) < 0) {
            free(c.s);
            reply_error(job, 503, store_error(ctx->rt->store));
            return;
        }
    } else if (strcmp(job->name, "random-draws") == 0 ||
               (strcmp(job->name, "draws") == 0 && !game_table(game, "draws"))) {
        /* the log of random() draws: random-draws.csv, and draws.csv unless a
         * game table has that name (LANGUAGE.md allows it; its export wins) */
        const char *fixed[] = { "session", "n", "group", "participant", "message",
                                "lo", "hi", "value", "time" };
        csv_header(&c, fixed, NFIXED(fixed), NULL, 0, NULL);
        if (defer_export(ctx, job, s, true, &c))
            return;
        struct draws_csv w = { &c, s->code };
        if (store_draws(ctx->rt->store, s->id, csv_draw, &w) < 0) {
            free(c.s);
            reply_error(job, 503, store_error(ctx->rt->store));
            return;
        }
    } else {
        const struct lv_table *tab = game_table(game, job->name);
        if (!tab) {
            free(c.s);
            char why[RT_REASON_MAX];
            snprintf(why, sizeof why, "no export named '%s'", job->name);
            reply_error(job, 404, why);
            return;
        }
        int t = (int)(tab - game->tables);
        const char *fixed[] = { "session", "group", "id" };
        csv_header(&c, fixed, NFIXED(fixed), tab->fields, tab->n_fields, tab->name);
        for (int i = 0; i < s->n_groups; i++)
            for (int64_t r = 0; r < s->groups[i]->tables[t].n; r++) {
                struct rt_row *row = s->groups[i]->tables[t].v[r];
                csv_cell(&c, s->code);
                csv_int(&c, s->groups[i]->gid);
                csv_int(&c, rt_row_id(tab, row));
                for (int f = 0; f < tab->n_fields; f++)
                    csv_field(&c, &tab->fields[f], row->data);
                csv_end(&c);
            }
    }
    free(job->reply);
    job->status = 200;
    job->reply = c.s;
    job->content_type = CT_CSV;
}

/* ---- timers as jobs ------------------------------------------------------------ */

static void clear_timer(lv_ctx *ctx, struct rt_group *g, int t)
{
    rt_ctx_save_bytes(ctx, &g->timer_due[t], sizeof g->timer_due[t]);
    g->timer_due[t] = 0;
    rt_ctx_dirty(ctx, RT_DIRTY_TIMER, g, g, t);
}

static void job_timer(lv_ctx *ctx, struct rt_group *g, int t)
{
    const struct lv_game *game = ctx->rt->game;
    ctx->group = g;
    ctx->me = NULL;
    clear_timer(ctx, g, t);
    if (!game->timers[t].fire || g->session->closed)   /* a closed session is frozen */
        return;
    if (run_hook(ctx, game->timers[t].fire) < 0) {
        if (rt_test_hooks.active)   /* `livec test`: the step fails with it */
            snprintf(rt_test_hooks.timer_error, sizeof rt_test_hooks.timer_error,
                     "on timer %s: %s", game->timers[t].name, ctx->reason);
        else
            fprintf(stderr, "%s: timer %s of group %d of session %s: %s\n", game->name,
                    game->timers[t].name, g->gid, g->session->code, ctx->reason);
        rt_ctx_rollback(ctx);
        clear_timer(ctx, g, t);     /* a rejected timer does not fire again */
        group_error(ctx, g, "on timer %s", game->timers[t].name);
        return;
    }
    rt_ctx_settle(ctx);
}

/* ---- the batch -------------------------------------------------------------------- */

struct item {
    struct rt_job *job;                 /* or NULL for a timer */
    struct rt_timer_entry timer;
    lv_ctx *ctx;
};

static void run_item(struct item *it)
{
    struct rt_job *job = it->job;
    lv_ctx *ctx = it->ctx;
    if (!job) {
        /* The same due time can stand in the heap twice (armed twice in one
         * millisecond, or stopped and armed again): only the first entry
         * taken fires; it clears timer_due, the others are then stale. */
        if (it->timer.group->timer_due[it->timer.timer] == it->timer.due)
            job_timer(ctx, it->timer.group, it->timer.timer);
        return;
    }
    job->status = 500;
    job->reply = NULL;
    job->content_type = NULL;
    switch (job->kind) {
    case RT_JOB_LIVE:
        job_live(ctx, job);
        break;
    case RT_JOB_SUBSCRIBE:
        job_subscribe(ctx, job);
        break;
    case RT_JOB_PAGE:
        job_page(ctx, job);
        break;
    case RT_JOB_NEXT:
        job_next(ctx, job);
        break;
    case RT_JOB_CREATE_SESSION:
        job_create_session(ctx, job);
        break;
    case RT_JOB_LIST_SESSIONS:
        job_list_sessions(ctx, job);
        break;
    case RT_JOB_SESSION_STATE:
        job_session_state(ctx, job);
        break;
    case RT_JOB_EXPORT:
        job_export(ctx, job);
        break;
    case RT_JOB_ROOM_CREATE:
        if (rooms_check_create(ctx, job) == 0) {
            job_create_session(ctx, job);
            if (job->status == 201)
                rooms_register(ctx, job);
        }
        break;
    case RT_JOB_ROOM_LIST:
        rooms_list(ctx, job);
        break;
    case RT_JOB_ROOM_ENTER:
    case RT_JOB_ROOM_STATUS:
        rooms_enter(ctx, job, job->kind == RT_JOB_ROOM_ENTER);
        break;
    case RT_JOB_SESSION_CLOSE:
        admin_close_session(ctx, job);
        break;
    case RT_JOB_SESSION_WATCH:
        admin_watch(ctx, job);
        break;
    case RT_JOB_DATABASE:
        admin_database(ctx, job);
        break;
    default:
        reply_error(job, 400, "unknown job");
        break;
    }
}

static void log_failure(const char *why);

/* Game thread, right after the COMMIT of the item's batch: reads the replay
 * of a new stream into its (still private) buffer, arms the timers the job
 * started, releases the job's body. */
static void after_commit_item(struct item *it)
{
    struct rt_job *job = it->job;
    lv_ctx *ctx = it->ctx;
    rt_ctx_commit(ctx);
    if (job && (job->kind == RT_JOB_SUBSCRIBE || job->kind == RT_JOB_SESSION_WATCH) &&
        ctx->subscribe_ok && ctx->replay_upto > ctx->replay_after && job->replay &&
        ctx->replay_of &&
        store_replay(rt_core->store, ctx->replay_of, ctx->replay_after,
                     ctx->replay_upto, job->replay, job->stream) < 0) {
        /* a stream that missed events must not go live: the client
         * retries with the same Last-Event-ID (issue 5) */
        char why[RT_REASON_MAX];
        snprintf(why, sizeof why, "storage failure: replay: %s", store_error(rt_core->store));
        log_failure(why);
        reply_error(job, 503, why);
        ctx->subscribe_ok = false;
    }
    for (size_t i = 0; i < ctx->timers_armed.n; i++)
        heap_push(*(struct rt_timer_entry *)rt_vec_at(&ctx->timers_armed, i));
    if (job) {
        json_decref(job->body);
        job->body = NULL;
    }
}

/* Deliver thread (or the game thread when there is none), once the item's
 * batch is durable: activates a new stream, delivers the events, sends the admin
 * monitor's notices, answers.  The job must not be touched after done().
 * (Answering only after net_release wrote the whole run's events, so that a
 * client's open streams had its events before its 200, cost 8-10% of the
 * counter row's throughput: every closed-loop client waited for the run's
 * last write.  PROTOCOL.md asks for the events to be queued, as they are.) */
static void deliver_item(struct item *it)
{
    struct rt_job *job = it->job;
    lv_ctx *ctx = it->ctx;
    if (job && (job->kind == RT_JOB_SUBSCRIBE || job->kind == RT_JOB_SESSION_WATCH) &&
        ctx->subscribe_ok && job->activate)
        job->activate(job->stream, job->participant_id);
    for (size_t i = 0; i < ctx->events.n; i++) {
        struct rt_event *e = rt_vec_at(&ctx->events, i);
        net_deliver(e->pid, e->seq, e->event, e->text->s);
    }
    admin_note_changes(ctx);    /* the admin monitor's change notices */
    if (job && ctx->deferred)
        start_export(ctx);      /* it answers */
    else if (job && job->done)
        job->done(job);
}

/* ---- the sync stage --------------------------------------------------------------- */

/* A committed batch on its way through the sync thread. */
struct sync_batch {
    struct sync_batch *next;
    size_t n;
    struct item items[];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work;                /* the sync thread: a batch, or stop */
    pthread_cond_t dwork;               /* the deliver thread: a batch, or stop */
    pthread_cond_t room;                /* the game thread: a batch went through */
    struct sync_batch *todo, **todo_tail;       /* committed, in commit order */
    struct sync_batch *dtodo, **dtodo_tail;     /* durable, not yet delivered */
    struct sync_batch *done;            /* delivered: the game thread frees them */
    size_t pending;                     /* batches handed over and not yet done */
    size_t unsynced;                    /* batches handed over and not yet durable */
    bool running, stop, dstop;
    pthread_t thread, dthread;
} sy = { .lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER,
         .dwork = PTHREAD_COND_INITIALIZER, .room = PTHREAD_COND_INITIALIZER };

/* Makes what was committed durable, or stops the process (see the top). */
static void sync_or_die(void)
{
    char why[RT_REASON_MAX];
    if (store_sync(rt_core->store, why, sizeof why) < 0) {
        fprintf(stderr, "%s: storage failure: %s; stopping without answering the messages "
                "it concerns\n", rt_core->game->name, why);
        _exit(EXIT_FAILURE);
    }
}

static void deliver_batch(struct sync_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        deliver_item(&b->items[i]);
}

/* Game thread: frees a delivered batch's contexts. */
static void free_batch(struct sync_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        rt_ctx_free(b->items[i].ctx);
    free(b);
}

/* Game thread: frees the batches the sync thread has delivered; with all,
 * first waits until every batch handed over went through. */
static void reap_batches(bool all)
{
    pthread_mutex_lock(&sy.lock);
    while (all && sy.pending > 0)
        pthread_cond_wait(&sy.room, &sy.lock);
    struct sync_batch *b = sy.done;
    sy.done = NULL;
    pthread_mutex_unlock(&sy.lock);
    while (b) {
        struct sync_batch *next = b->next;
        free_batch(b);
        b = next;
    }
}

/* Game thread: passes a committed batch on (inline when there is no sync
 * thread: tests, `livec test`). */
static void hand_over(struct item *items, size_t n)
{
    struct sync_batch *b = rt_xmalloc(sizeof *b + n * sizeof *items);
    b->next = NULL;
    b->n = n;
    memcpy(b->items, items, n * sizeof *items);
    /* Nothing queued behind this batch: the next handlers would not run
     * during its fdatasync anyway, so the two hand-offs (sync, then deliver
     * thread) would only add wake-ups to its latency.  Done here instead,
     * when both threads are idle, which keeps the commit order. */
    pthread_mutex_lock(&q.lock);
    bool queue_empty = q.n == 0;
    pthread_mutex_unlock(&q.lock);
    pthread_mutex_lock(&sy.lock);
    if (!sy.running || (queue_empty && sy.pending == 0 && !sy.stop)) {
        pthread_mutex_unlock(&sy.lock);
        sync_or_die();
        net_hold();
        deliver_batch(b);
        net_release();
        free_batch(b);
        return;
    }
    while (sy.pending >= RT_SYNC_MAX_PENDING)
        pthread_cond_wait(&sy.room, &sy.lock);
    *sy.todo_tail = b;
    sy.todo_tail = &b->next;
    __atomic_add_fetch(&sy.pending, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&sy.unsynced, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&sy.work);
    pthread_mutex_unlock(&sy.lock);
}

/* The sync thread: makes the committed batches durable, one fdatasync for
 * all that are waiting, and passes them to the deliver thread.  When told to
 * stop, it stops once nothing is waiting, and tells the deliver thread to
 * stop after delivering what it has. */
static void *sync_thread(void *arg)
{
    prctl(PR_SET_NAME, "live-sync");   /* top -H, perf */
    (void)arg;
    pthread_mutex_lock(&sy.lock);
    for (;;) {
        while (!sy.todo && !sy.stop)
            pthread_cond_wait(&sy.work, &sy.lock);
        if (!sy.todo)
            break;
        struct sync_batch *list = sy.todo, **tail = sy.todo_tail;
        sy.todo = NULL;
        sy.todo_tail = &sy.todo;
        pthread_mutex_unlock(&sy.lock);
        sync_or_die();          /* one fdatasync for all of them */
        size_t k = 0;
        for (struct sync_batch *b = list; b; b = b->next)
            k++;
        pthread_mutex_lock(&sy.lock);
        *sy.dtodo_tail = list;
        sy.dtodo_tail = tail;
        __atomic_sub_fetch(&sy.unsynced, k, __ATOMIC_RELEASE);
        pthread_cond_signal(&sy.dwork);
        pthread_mutex_unlock(&sy.lock);
        /* the game thread may hold a batch open until we are done */
        pthread_mutex_lock(&q.lock);
        pthread_cond_signal(&q.wake);
        pthread_mutex_unlock(&q.lock);
        pthread_mutex_lock(&sy.lock);
    }
    sy.dstop = true;
    pthread_cond_signal(&sy.dwork);
    pthread_mutex_unlock(&sy.lock);
    return NULL;
}

/* The deliver thread: delivers and answers the durable batches in commit
 * order (the only thread that calls net_deliver while the server runs:
 * rt.h), then hands them back to the game thread to be freed. */
static void *deliver_thread(void *arg)
{
    prctl(PR_SET_NAME, "live-deliver");   /* top -H, perf */
    (void)arg;
    pthread_mutex_lock(&sy.lock);
    for (;;) {
        while (!sy.dtodo && !sy.dstop)
            pthread_cond_wait(&sy.dwork, &sy.lock);
        if (!sy.dtodo)
            break;
        struct sync_batch *list = sy.dtodo;
        sy.dtodo = NULL;
        sy.dtodo_tail = &sy.dtodo;
        pthread_mutex_unlock(&sy.lock);
        size_t k = 0;
        struct sync_batch *last = NULL;
        net_hold();
        for (struct sync_batch *b = list; b; b = b->next, k++) {
            deliver_batch(b);
            last = b;
        }
        net_release();
        pthread_mutex_lock(&sy.lock);
        last->next = sy.done;
        sy.done = list;
        __atomic_sub_fetch(&sy.pending, k, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&sy.room);
    }
    pthread_mutex_unlock(&sy.lock);
    return NULL;
}

/* A batch transaction being filled. */
struct open_batch {
    bool failed;                /* a write failed: the rest is not run */
    size_t ran;                 /* items run (and written) so far */
};

static void batch_begin(struct open_batch *b)
{
    b->failed = store_begin(rt_core->store) < 0;
    b->ran = 0;
}

/* Runs and writes items[b->ran..n) inside the open transaction. */
static void batch_run(struct open_batch *b, struct item *items, size_t n)
{
    for (; !b->failed && b->ran < n; b->ran++) {
        items[b->ran].ctx = rt_ctx_new(rt_core);
        run_item(&items[b->ran]);
        if (store_write_job(rt_core->store, items[b->ran].ctx) < 0)
            b->failed = true;
    }
}

/* Seconds between two lines on stderr for storage failures that repeat
 * (a full disk fails every batch: thousands a second, and a stderr that
 * nobody reads would stop the game thread once its pipe is full). */
#define FAILURE_LOG_INTERVAL_MS 10000

/* Game thread: logs a storage failure, the same one at most once per
 * FAILURE_LOG_INTERVAL_MS, with the count of those left out. */
static void log_failure(const char *why)
{
    static char last[RT_REASON_MAX];
    static int64_t last_ms;
    static unsigned long left_out;
    int64_t now = rt_now_ms();
    if (strcmp(why, last) == 0 && now - last_ms < FAILURE_LOG_INTERVAL_MS && now >= last_ms) {
        left_out++;
        return;
    }
    if (left_out)
        fprintf(stderr, "%s: (%lu more of: %s)\n", rt_core->game->name, left_out, last);
    fprintf(stderr, "%s: %s\n", rt_core->game->name, why);
    snprintf(last, sizeof last, "%s", why);
    last_ms = now;
    left_out = 0;
}

/* Commits items[0..n) and hands them to the sync stage, or rolls all of them
 * back and answers 503 (see the top of the file). */
static void batch_end(struct open_batch *b, struct item *items, size_t n)
{
    struct rt_store *st = rt_core->store;
    bool failed = b->failed;
    size_t ran = b->ran;
    if (!failed && store_commit(st) < 0)
        failed = true;
    if (failed) {
        char why[RT_REASON_MAX];
        snprintf(why, sizeof why, "storage failure: %s", store_error(st));
        log_failure(why);
        store_rollback(st);
        for (size_t i = ran; i-- > 0;)
            rt_ctx_rollback(items[i].ctx);
        for (size_t i = 0; i < n; i++) {
            if (items[i].job) {
                reply_error(items[i].job, 503, why);
            } else {
                /* look at the timer again in a second */
                struct rt_timer_entry e = items[i].timer;
                e.at = rt_timer_now_ms() + 1000;
                heap_push(e);
            }
        }
    } else {
        for (size_t i = 0; i < n; i++)
            after_commit_item(&items[i]);
        hand_over(items, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct rt_job *job = items[i].job;
        drop_export(items[i].ctx);
        rt_ctx_free(items[i].ctx);
        items[i].ctx = NULL;
        if (!job)
            continue;
        json_decref(job->body);
        job->body = NULL;
        if (job->done)
            job->done(job);
    }
}

/* Runs items[0..n) as one transaction. */
static void run_batch(struct item *items, size_t n)
{
    struct open_batch b;
    batch_begin(&b);
    batch_run(&b, items, n);
    batch_end(&b, items, n);
}

/* Game thread: true while the sync and deliver threads run (rt_start). */
static bool sync_running(void)
{
    return sy.running;
}

/* True while the sync thread has batches it has not made durable yet. */
static bool sync_busy(void)
{
    return __atomic_load_n(&sy.unsynced, __ATOMIC_ACQUIRE) > 0;
}

/* Moves queued jobs to items (up to the jobs' share of a batch).  Caller
 * holds q.lock. */
static void take_jobs(struct item *items, size_t *n)
{
    while (q.n > 0 && *n < RT_BATCH_MAX - RT_BATCH_TIMERS) {
        struct item it = { .job = q.ring[q.head] };
        items[(*n)++] = it;
        q.head = (q.head + 1) % RT_QUEUE_MAX;
        q.n--;
    }
}

/* Appends due timers to items (at most max - *n); returns how many. */
static size_t take_timers(struct item *items, size_t *n, size_t max, int64_t now)
{
    size_t taken = 0;
    while (*n < max) {
        int64_t at = heap_next();
        if (at < 0 || at > now)
            break;
        struct item it = { .job = NULL, .timer = heap_pop() };
        items[(*n)++] = it;
        taken++;
    }
    return taken;
}

/* The game thread's "now" for timers: the timers' clock one millisecond
 * back.  It and the wall clock that now() reads may differ by a millisecond
 * at a boundary (each is truncated on its own), so a timer fires at the
 * earliest when now() says its time is up. */
static int64_t due_now(void)
{
    return rt_timer_now_ms() - 1;
}

/* items[from..n) are jobs in the order they came, then due timers in due
 * order: merges the timers in by time, so that a timer runs before every
 * message that came after it fell due (an auction's deadline, then a late
 * bid in the same batch: refused), and after those that came before. */
static void order_by_time(struct item *items, size_t from, size_t n)
{
    static struct item merged[RT_BATCH_MAX];
    size_t j = from, t = from;
    while (t < n && items[t].job)
        t++;
    size_t timers = t, k = 0;
    if (timers == from || timers == n)
        return;                 /* only jobs, or only timers */
    while (j < timers || t < n) {
        if (t < n && (j == timers || items[t].timer.at <= items[j].job->submitted_ms))
            merged[k++] = items[t++];
        else
            merged[k++] = items[j++];
    }
    memcpy(items + from, merged, k * sizeof *merged);
}

static void *game_thread(void *arg)
{
    prctl(PR_SET_NAME, "live-game");   /* top -H, perf */
    static struct item items[RT_BATCH_MAX];
    pthread_mutex_lock(&q.lock);
    for (;;) {
        int64_t next = -1;
        while (q.n == 0 && !q.stopping) {
            next = heap_next();
            int64_t now = due_now();
            if (next >= 0 && next <= now)
                break;
            if (next < 0) {
                pthread_cond_wait(&q.wake, &q.lock);
            } else {
                /* q.wake waits on CLOCK_MONOTONIC (init_wake) */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (next - now);
                ts.tv_sec = at / 1000;
                ts.tv_nsec = (at % 1000) * 1000000;
                pthread_cond_timedwait(&q.wake, &q.lock, &ts);
            }
        }
        if (q.stopping && q.n == 0)
            break;
        size_t n = 0;
        take_jobs(items, &n);
        pthread_mutex_unlock(&q.lock);
        reap_batches(false);
        take_timers(items, &n, RT_BATCH_MAX, due_now());
        order_by_time(items, 0, n);
        if (n == 0) {
            pthread_mutex_lock(&q.lock);
            continue;
        }
        struct open_batch b;
        batch_begin(&b);
        batch_run(&b, items, n);
        /* While the sync thread still syncs earlier batches, keep the
         * transaction open and run what arrives meanwhile: one COMMIT per
         * fdatasync, and the handlers run while the disk works. */
        pthread_mutex_lock(&q.lock);
        while (!b.failed && n < RT_BATCH_MAX - RT_BATCH_TIMERS && sync_busy() && !q.stopping) {
            if (q.n == 0) {
                pthread_cond_wait(&q.wake, &q.lock);
                continue;
            }
            size_t from = n;
            take_jobs(items, &n);
            pthread_mutex_unlock(&q.lock);
            take_timers(items, &n, RT_BATCH_MAX, due_now());
            order_by_time(items, from, n);
            batch_run(&b, items, n);
            pthread_mutex_lock(&q.lock);
        }
        pthread_mutex_unlock(&q.lock);
        batch_end(&b, items, n);
        pthread_mutex_lock(&q.lock);
    }
    pthread_mutex_unlock(&q.lock);
    reap_batches(true);         /* everything accepted is answered before we stop */
    return NULL;
}

/* ---- the core's life --------------------------------------------------------------- */

/* See ctx.h. */
int rt_open(const struct lv_game *game, const char *path, char *err, size_t errsize)
{
    struct rt_core *rt = rt_xcalloc(1, sizeof *rt);
    rt->game = game;
    rt_map_init(&rt->sessions_by_code);
    rt_map_init(&rt->participants_by_code);
    rt_vec_init(&rt->timer_heap, sizeof(struct rt_timer_entry));
    rt_core = rt;
    if (store_open(&rt->store, game, path, err, errsize) < 0 ||
        store_load(rt->store, rt, err, errsize) < 0 ||
        admin_open(rt, err, errsize) < 0) {
        rt_close();
        return -1;
    }
    /* due times are wall-clock: each where it falls on the timers' clock */
    for (struct rt_session *s = rt->sessions; s; s = s->next)
        for (int i = 0; i < s->n_groups; i++)
            for (int t = 0; t < game->n_timers; t++)
                if (s->groups[i]->timer_due[t]) {
                    struct rt_timer_entry e = { .at = rt_timer_at(s->groups[i]->timer_due[t]),
                                                .due = s->groups[i]->timer_due[t],
                                                .group = s->groups[i], .timer = t };
                    heap_push(e);
                }
    return 0;
}

/* See ctx.h. */
void rt_close(void)
{
    struct rt_core *rt = rt_core;
    if (!rt)
        return;
    store_close(rt->store);
    while (rt->sessions) {
        struct rt_session *s = rt->sessions;
        rt->sessions = s->next;
        rt_session_free(rt->game, s);
    }
    rt_map_free(&rt->sessions_by_code);
    rt_map_free(&rt->participants_by_code);
    rt_vec_free(&rt->timer_heap);
    free(rt);
    rt_core = NULL;
}

/* Stops the sync thread once it has gone through every batch handed over. */
static void stop_sync_thread(void)
{
    pthread_mutex_lock(&sy.lock);
    bool was_running = sy.running;
    sy.stop = true;
    pthread_cond_signal(&sy.work);
    pthread_mutex_unlock(&sy.lock);
    if (was_running) {
        pthread_join(sy.thread, NULL);
        pthread_join(sy.dthread, NULL);
    }
    pthread_mutex_lock(&sy.lock);
    sy.running = false;
    pthread_mutex_unlock(&sy.lock);
    reap_batches(true);
}

/* See ctx.h. */
int rt_start(void)
{
    pthread_mutex_lock(&sy.lock);
    sy.todo = sy.dtodo = NULL;
    sy.todo_tail = &sy.todo;
    sy.dtodo_tail = &sy.dtodo;
    sy.stop = sy.dstop = false;
    int src = pthread_create(&sy.dthread, NULL, deliver_thread, NULL);
    if (src == 0) {
        src = pthread_create(&sy.thread, NULL, sync_thread, NULL);
        if (src != 0) {
            sy.dstop = true;
            pthread_cond_signal(&sy.dwork);
            pthread_mutex_unlock(&sy.lock);
            pthread_join(sy.dthread, NULL);
            pthread_mutex_lock(&sy.lock);
        }
    }
    sy.running = src == 0;
    pthread_mutex_unlock(&sy.lock);
    if (src != 0) {
        fprintf(stderr, "%s: cannot start the sync thread: %s\n", rt_core->game->name, strerror(src));
        return -1;
    }
    pthread_mutex_lock(&q.lock);
    q.running = true;
    q.stopping = false;
    pthread_mutex_unlock(&q.lock);
    int rc = pthread_create(&q.thread, NULL, game_thread, NULL);
    if (rc != 0) {
        pthread_mutex_lock(&q.lock);
        q.running = false;
        pthread_mutex_unlock(&q.lock);
        fprintf(stderr, "%s: cannot start the game thread: %s\n", rt_core->game->name, strerror(rc));
        stop_sync_thread();
        return -1;
    }
    return 0;
}

/* See ctx.h. */
void rt_stop(void)
{
    pthread_mutex_lock(&q.lock);
    bool was_running = q.running;
    q.stopping = true;
    pthread_cond_broadcast(&q.wake);
    pthread_mutex_unlock(&q.lock);
    if (was_running)
        pthread_join(q.thread, NULL);
    pthread_mutex_lock(&q.lock);
    q.running = false;
    pthread_mutex_unlock(&q.lock);
    stop_sync_thread();
    pthread_mutex_lock(&ex.lock);       /* exports still being read answer first */
    while (ex.running > 0)
        pthread_cond_wait(&ex.idle, &ex.lock);
    pthread_mutex_unlock(&ex.lock);
}

/* See ctx.h. */
void rt_run_job_sync(struct rt_job *job)
{
    struct item it = { .job = job };
    run_batch(&it, 1);
}

/* See ctx.h. */
int rt_fire_due_timers(int64_t now_ms)
{
    struct item items[RT_BATCH_MAX];
    size_t n = 0, total = 0;
    while (take_timers(items, &n, RT_BATCH_MAX, now_ms) > 0) {
        run_batch(items, n);
        total += n;
        n = 0;
    }
    return (int)total;
}

/* See ctx.h. */
int rt_fire_due_timers_once(int64_t now_ms)
{
    struct item items[RT_BATCH_MAX];
    size_t n = 0;
    take_timers(items, &n, RT_BATCH_MAX, now_ms);
    if (n > 0)
        run_batch(items, n);
    return (int)n;
}
