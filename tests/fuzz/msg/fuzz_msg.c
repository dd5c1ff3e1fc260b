/*
 * fuzz_msg.c -- a libFuzzer target for the message path of one game (issue
 * 5): body bytes -> JSON (jansson, as http.c parses them) -> the game's
 * generated decoder -> its handler -> the view encoders -> the core's
 * storage (SQLite) -> the events (checked to be one line of valid JSON).
 *
 * It is linked with one game's generated C (livec --emit-c, compiled with
 * -Dmain=fuzz_game_main) and the runtime core without main.c and without
 * the network side: lv_main() below only captures the game's descriptor,
 * and net_deliver() checks each event.  Each input is: one byte choosing the
 * participant (of one group), then the body of a POST /p/P/live.  The
 * answer must be 200 or 422 (anything else -- a 500, a 503 from storage, a
 * crash, a sanitizer report, a leak -- is a finding); every event must be
 * valid JSON without a newline.  The database lives in /dev/shm (or
 * $TMPDIR) and is started afresh every RESET_EVERY inputs so that it stays
 * small.  Built and run by tests/fuzz/msg/build and tests/fuzz/msg/run.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctx.h"

/* Inputs between two fresh databases. */
#define RESET_EVERY 20000
/* Largest body tried (the server refuses more than 64 KiB with 413). */
#define BODY_MAX (64 * 1024)

int fuzz_game_main(int argc, char **argv);

static const struct lv_game *game;
static char db_path[512];
static char codes[64][RT_CODE_MAX];
static int n_codes;
static long inputs;

/* The generated main() calls this: keep the descriptor, start nothing. */
int lv_main(const struct lv_game *g, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    game = g;
    return 0;
}

/* The core delivers each committed event here: it must be one line of JSON. */
void net_deliver(int64_t pid, int64_t seq, const char *event, const char *data)
{
    (void)pid;
    if (seq < 1 || strchr(data, '\n') || (event && strcmp(event, "finish") != 0)) {
        fprintf(stderr, "fuzz_msg: bad event seq %lld event %s data %s\n", (long long)seq,
                event ? event : "(null)", data);
        abort();
    }
    json_error_t e;
    json_t *v = json_loads(data, JSON_DECODE_ANY, &e);
    if (!v) {
        fprintf(stderr, "fuzz_msg: event is not JSON (%s): %s\n", e.text, data);
        abort();
    }
    json_decref(v);
}

/* Delivery runs (rt.h): nothing to coalesce here. */
void net_hold(void)
{
}

void net_release(void)
{
}

/* Opens a fresh database and creates one group. */
static void open_fresh(void)
{
    char err[1024];
    unlink(db_path);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db_path);
    unlink(side);
    if (rt_open(game, db_path, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_msg: %s\n", err);
        abort();
    }
    struct rt_job job = { .kind = RT_JOB_CREATE_SESSION };
    job.body = json_pack("{s:i}", "participants", game->players);
    rt_run_job_sync(&job);
    json_t *r = job.reply ? json_loads(job.reply, 0, NULL) : NULL;
    json_t *ps = json_object_get(r, "participants");
    if (job.status != 201 || !json_is_array(ps)) {
        fprintf(stderr, "fuzz_msg: cannot create a session: %d %s\n", job.status,
                job.reply ? job.reply : "");
        abort();
    }
    n_codes = 0;
    for (size_t i = 0; i < json_array_size(ps) && n_codes < 64; i++)
        snprintf(codes[n_codes++], RT_CODE_MAX, "%s",
                 json_string_value(json_object_get(json_array_get(ps, i), "code")));
    json_decref(r);
    free(job.reply);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *args[] = { "fuzz", NULL };
    fuzz_game_main(1, args);
    if (!game) {
        fprintf(stderr, "fuzz_msg: the game did not call lv_main\n");
        abort();
    }
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(db_path, sizeof db_path, "%s/livec-fuzz-%s-%ld.sqlite3", dir ? dir : "/tmp",
             game->name, (long)getpid());
    open_fresh();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > BODY_MAX)
        return 0;
    if (++inputs % RESET_EVERY == 0) {
        rt_close();
        open_fresh();
    }
    const char *who = codes[data[0] % n_codes];
    json_error_t e;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, &e);
    if (!body)
        return 0;               /* http.c answers 400 or 422 without the core */
    struct rt_job job = { .kind = RT_JOB_LIVE };
    snprintf(job.code, sizeof job.code, "%s", who);
    job.body = body;            /* the core releases it */
    rt_run_job_sync(&job);
    if (job.status != 200 && job.status != 422) {
        fprintf(stderr, "fuzz_msg: answer %d %s\n", job.status, job.reply ? job.reply : "");
        abort();
    }
    json_t *reply = job.reply ? json_loads(job.reply, 0, NULL) : NULL;
    if (!json_is_object(reply)) {
        fprintf(stderr, "fuzz_msg: the answer is not a JSON object: %s\n", job.reply ? job.reply : "");
        abort();
    }
    json_decref(reply);
    free(job.reply);
    return 0;
}
