/*
 * core_helpers.c -- see core_helpers.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core_helpers.h"

static char db_dir[256];
static char db_path[300];

const char *helper_tmp_db(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(db_dir, sizeof db_dir, "%s/livec-core-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(db_dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(db_path, sizeof db_path, "%s/game.sqlite3", db_dir);
    return db_path;
}

void helper_rm_db(const char *path)
{
    char buf[400];
    const char *suffix[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "%s%s", path, suffix[i]);
        unlink(buf);
    }
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash) {
        *slash = '\0';
        rmdir(buf);
    }
}

int helper_job(enum rt_job_kind kind, const char *code, const char *body, char **reply)
{
    struct rt_job job;
    memset(&job, 0, sizeof job);
    job.kind = kind;
    job.last_event_id = -1;
    snprintf(job.code, sizeof job.code, "%s", code ? code : "");
    if (body) {
        job.body = json_loads(body, JSON_DECODE_ANY, NULL);
        if (!job.body) {
            fprintf(stderr, "helper_job: bad JSON in a test: %s\n", body);
            abort();
        }
    }
    rt_run_job_sync(&job);
    if (reply)
        *reply = job.reply;
    else
        free(job.reply);
    return job.status;
}

int helper_live(const char *code, const char *body, char *buf, size_t size)
{
    char *reply = NULL;
    int status = helper_job(RT_JOB_LIVE, code, body, &reply);
    snprintf(buf, size, "%s", reply ? reply : "");
    free(reply);
    return status;
}

const char *helper_session(int n, char codes[][RT_CODE_MAX])
{
    static char session[RT_CODE_MAX];
    char body[64], *reply = NULL;
    snprintf(body, sizeof body, "{\"participants\": %d}", n);
    int status = helper_job(RT_JOB_CREATE_SESSION, NULL, body, &reply);
    json_t *v = json_loads(reply ? reply : "", 0, NULL);
    if (status != 201 || !v) {
        fprintf(stderr, "helper_session: %d %s\n", status, reply ? reply : "");
        abort();
    }
    snprintf(session, sizeof session, "%s", json_string_value(json_object_get(v, "code")));
    for (int i = 0; i < n; i++)
        snprintf(codes[i], RT_CODE_MAX, "%s",
                 json_string_value(json_object_get(json_array_get(json_object_get(v, "participants"),
                                                                  (size_t)i), "code")));
    json_decref(v);
    free(reply);
    return session;
}

static int on_replay(void *stream, int64_t seq, const char *event, const char *data)
{
    struct helper_stream *s = stream;
    (void)event;
    if (s->n_replayed < 64) {
        s->seqs[s->n_replayed] = seq;
        s->data[s->n_replayed] = strdup(data);
        s->n_replayed++;
    }
    return s->n_replayed >= s->replay_stop_after && s->replay_stop_after > 0;
}

static void on_activate(void *stream, int64_t pid)
{
    struct helper_stream *s = stream;
    s->activated_pid = pid;
}

int helper_subscribe(const char *code, int64_t last_event_id, struct helper_stream *s)
{
    return helper_subscribe_part(code, last_event_id, s, 0);
}

int helper_subscribe_part(const char *code, int64_t last_event_id, struct helper_stream *s,
                          int stop_after)
{
    struct rt_job job;
    memset(&job, 0, sizeof job);
    memset(s, 0, sizeof *s);
    s->replay_stop_after = stop_after;
    job.kind = RT_JOB_SUBSCRIBE;
    snprintf(job.code, sizeof job.code, "%s", code);
    job.last_event_id = last_event_id;
    job.stream = s;
    job.replay = on_replay;
    job.activate = on_activate;
    rt_run_job_sync(&job);
    free(job.reply);
    return job.status;
}

void helper_stream_free(struct helper_stream *s)
{
    for (int i = 0; i < s->n_replayed; i++)
        free(s->data[i]);
    s->n_replayed = 0;
}
