/*
 * fake_core.c -- the fake core behind test_http.c (see fake_core.h): a
 * queue, one "game thread" that runs each job against a fixed little world
 * and calls job->done() from that thread, exactly as the real core does
 * (rt.h).  Events go through net_deliver() after the job's "commit", and
 * SUBSCRIBE replays through job->replay() before job->activate().
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rt.h"
#include "fake_core.h"

/* Events kept per participant (the fake's outbox). */
#define FAKE_OUTBOX_MAX 64
/* Jobs waiting at once. */
#define FAKE_QUEUE_MAX 256

struct fake_event {
    const char *event;          /* NULL or "finish" (static) */
    char *data;
};

struct fake_participant {
    const char *code;
    int64_t pid, id_in_group;
    int page_index;
    int64_t next_seq;
    struct fake_event outbox[FAKE_OUTBOX_MAX];
    int n_out;
};

static struct fake_participant world[3];

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rt_job *q[FAKE_QUEUE_MAX];
    int head, n;
    bool stop, refuse, running;
    int done;
    pthread_t thread;
} fq = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static struct fake_participant *find(const char *code)
{
    for (size_t i = 0; i < sizeof world / sizeof world[0]; i++)
        if (strcmp(world[i].code, code) == 0)
            return &world[i];
    return NULL;
}

/* Stores an event in p's outbox and delivers it (our "commit" is instant). */
static void emit(struct fake_participant *p, const char *event, const char *data)
{
    if (p->n_out == FAKE_OUTBOX_MAX)
        return;
    int64_t seq = p->next_seq++;
    p->outbox[p->n_out].event = event;
    p->outbox[p->n_out].data = strdup(data);
    p->n_out++;
    net_deliver(p->pid, seq, event, data);
}

static void reply(struct rt_job *j, int status, const char *text)
{
    j->status = status;
    j->reply = text ? strdup(text) : NULL;
    j->content_type = "application/json";
}

static void run(struct rt_job *j)
{
    struct fake_participant *p = find(j->code);
    switch (j->kind) {
    case RT_JOB_LIVE:
        if (j->refuse_status) {         /* as the core: logged, then refused */
            json_t *e = json_pack("{s:s}", "error", j->refuse_reason);
            char *text = json_dumps(e, JSON_COMPACT);
            reply(j, j->refuse_status, text);
            free(text);
            json_decref(e);
        } else if (!p) {
            reply(j, 404, "{\"error\":\"unknown participant\"}");
        } else if (!json_is_object(j->body)) {
            reply(j, 422, "{\"error\":\"message must be a JSON object\"}");
        } else {
            json_t *type = json_object_get(j->body, "type");
            if (json_is_string(type) && strcmp(json_string_value(type), "finish") == 0) {
                char next[64];
                snprintf(next, sizeof next, "{\"next\":\"/p/%s\"}", p->code);
                emit(p, "finish", next);
            } else {
                char *text = json_dumps(j->body, JSON_COMPACT | JSON_SORT_KEYS);
                emit(p, NULL, text);
                free(text);
            }
            reply(j, 200, "{\"ok\":true}");
        }
        break;
    case RT_JOB_SUBSCRIBE:
        if (!p) {
            reply(j, 404, "{\"error\":\"unknown participant\"}");
            break;
        }
        for (int i = 0; j->last_event_id >= 0 && i < p->n_out; i++)
            if (i + 1 > j->last_event_id)
                j->replay(j->stream, i + 1, p->outbox[i].event, p->outbox[i].data);
        j->activate(j->stream, p->pid);
        j->participant_id = p->pid;
        if (j->last_event_id < 0)
            emit(p, NULL, "{\"loaded\":true}");
        reply(j, 200, NULL);
        break;
    case RT_JOB_PAGE:
    case RT_JOB_NEXT:
        if (!p) {
            reply(j, 404, "{\"error\":\"unknown participant\"}");
            break;
        }
        if (j->kind == RT_JOB_NEXT && p->page_index < 2)
            p->page_index++;
        j->participant_id = p->pid;
        j->id_in_group = p->id_in_group;
        j->page_index = p->page_index;
        reply(j, j->kind == RT_JOB_NEXT ? 303 : 200, NULL);
        break;
    case RT_JOB_CREATE_SESSION: {
        json_t *n = json_object_get(j->body, "participants");
        if (!json_is_integer(n) || json_integer_value(n) <= 0 || json_integer_value(n) % 2)
            reply(j, 400, "{\"error\":\"participants must be a positive multiple of 2\"}");
        else
            reply(j, 201, "{\"code\":\"s2\",\"participants\":[]}");
        break;
    }
    case RT_JOB_LIST_SESSIONS:
        reply(j, 200, "[{\"code\":\"s1\"}]");
        break;
    case RT_JOB_SESSION_STATE:
        if (strcmp(j->code, "s1") == 0)
            reply(j, 200, "{\"code\":\"s1\",\"groups\":[]}");
        else
            reply(j, 404, "{\"error\":\"unknown session\"}");
        break;
    case RT_JOB_EXPORT:
        if (strcmp(j->code, "s1") == 0 && strcmp(j->name, "players") == 0) {
            reply(j, 200, "code,page\r\nalice,live\r\n");
            j->content_type = "text/csv";
        } else {
            reply(j, 404, "{\"error\":\"no such export\"}");
        }
        break;
    default:                    /* rooms, close, watch, database: not faked */
        reply(j, 501, "{\"error\":\"not in the fake core\"}");
        break;
    }
    json_decref(j->body);       /* the core releases the job's reference */
    j->body = NULL;
}

static void *game_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fq.lock);
    for (;;) {
        while (fq.n == 0 && !fq.stop)
            pthread_cond_wait(&fq.cond, &fq.lock);
        if (fq.n == 0)
            break;
        struct rt_job *j = fq.q[fq.head];
        fq.head = (fq.head + 1) % FAKE_QUEUE_MAX;
        fq.n--;
        pthread_mutex_unlock(&fq.lock);
        run(j);
        j->done(j);
        pthread_mutex_lock(&fq.lock);
        fq.done++;
    }
    pthread_mutex_unlock(&fq.lock);
    return NULL;
}

int rt_submit(struct rt_job *job)
{
    pthread_mutex_lock(&fq.lock);
    if (!fq.running || fq.stop || fq.refuse || fq.n == FAKE_QUEUE_MAX) {
        pthread_mutex_unlock(&fq.lock);
        return -1;
    }
    fq.q[(fq.head + fq.n) % FAKE_QUEUE_MAX] = job;
    fq.n++;
    pthread_cond_signal(&fq.cond);
    pthread_mutex_unlock(&fq.lock);
    return 0;
}

void fake_core_start(void)
{
    static const struct fake_participant init[3] = {
        { .code = "alice", .pid = 1, .id_in_group = 1, .page_index = 0, .next_seq = 1 },
        { .code = "bob", .pid = 2, .id_in_group = 2, .page_index = 1, .next_seq = 1 },
        { .code = "carol", .pid = 3, .id_in_group = 1, .page_index = 2, .next_seq = 1 },
    };
    memcpy(world, init, sizeof world);
    fq.head = fq.n = fq.done = 0;
    fq.stop = fq.refuse = false;
    fq.running = true;
    pthread_create(&fq.thread, NULL, game_thread, NULL);
}

void fake_core_stop(void)
{
    pthread_mutex_lock(&fq.lock);
    fq.stop = true;
    pthread_cond_signal(&fq.cond);
    pthread_mutex_unlock(&fq.lock);
    pthread_join(fq.thread, NULL);
    fq.running = false;
    for (size_t i = 0; i < sizeof world / sizeof world[0]; i++)
        for (int k = 0; k < world[i].n_out; k++)
            free(world[i].outbox[k].data);
}

void fake_core_refuse(bool refuse)
{
    pthread_mutex_lock(&fq.lock);
    fq.refuse = refuse;
    pthread_mutex_unlock(&fq.lock);
}

int fake_core_jobs_done(void)
{
    pthread_mutex_lock(&fq.lock);
    int n = fq.done;
    pthread_mutex_unlock(&fq.lock);
    return n;
}
