/*
 * ceiling.c -- the benchmark's ceiling: the least a live-page server can do
 * per message on this machine with the same HTTP library (issue 6).
 *
 * A libmicrohttpd server configured like the runtime (epoll, a pool of
 * THREAD_POOL_SIZE threads (see there), suspend/resume allowed) that, for every POST,
 * collects the body, parses it with jansson, checks that it is a JSON
 * object, and answers 200 {"ok":true} (400 when it is not JSON).  No game,
 * no database, no SSE.  The game server's figures are reported as ratios to
 * this one's, measured by the same load generator in the same run.
 *
 * With --defer, each answer is given the way a server that answers only
 * after some other thread's work (a commit) must give it with
 * libmicrohttpd: the connection is suspended, handed to one answering
 * thread, which resumes it, and the answer is queued when libmicrohttpd
 * calls the handler again.  No work is done in between: the difference to
 * the plain ceiling is the cost of the hand-off alone.
 *
 *   ceiling [--port N] [--defer]   prints "listening on http://127.0.0.1:PORT/"
 *
 * It stops on SIGINT/SIGTERM, or by itself after MAX_LIFETIME_S.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

/* Threads: 2, the ceiling's fastest setting on the 2-core machine (83-99k
 * messages/s; with the runtime's 8, 75-79k: bench/RESULTS.md), so that the
 * runtime's ratio is not flattered by a slower ceiling. */
#define THREAD_POOL_SIZE 2
#define CONNECTION_LIMIT 20000
#define LISTEN_BACKLOG 4096
/* Largest body read (PROTOCOL.md: larger bodies are refused). */
#define BODY_LIMIT (64 * 1024)
/* A forgotten ceiling server exits by itself. */
#define MAX_LIFETIME_S 900

static const char OK_BODY[] = "{\"ok\":true}";
static const char BAD_BODY[] = "{\"error\":\"body is not JSON\"}";
static struct MHD_Response *ok_resp, *bad_resp;
static volatile sig_atomic_t stop;

struct body {
    size_t len;
    int answer;                 /* --defer: 0 collecting, else the status to send */
    char buf[BODY_LIMIT + 1];
};

/* --defer: connections waiting for the answering thread (a ring). */
#define DEFER_MAX CONNECTION_LIMIT
static bool defer;
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct MHD_Connection *ring[DEFER_MAX];
    size_t head, n;
    bool stop;
} dq = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* The answering thread: resumes every connection handed over, in batches. */
static void *answer_main(void *arg)
{
    (void)arg;
    static struct MHD_Connection *batch[DEFER_MAX];
    pthread_mutex_lock(&dq.lock);
    for (;;) {
        while (dq.n == 0 && !dq.stop)
            pthread_cond_wait(&dq.wake, &dq.lock);
        if (dq.n == 0)
            break;
        size_t n = 0;
        while (dq.n > 0) {
            batch[n++] = dq.ring[dq.head];
            dq.head = (dq.head + 1) % DEFER_MAX;
            dq.n--;
        }
        pthread_mutex_unlock(&dq.lock);
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(batch[i]);
        pthread_mutex_lock(&dq.lock);
    }
    pthread_mutex_unlock(&dq.lock);
    return NULL;
}

/* SIGINT/SIGTERM: ask main to stop. */
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Access handler: collect the body (struct body, freed in on_completed),
 * then parse it and answer with one of the two shared responses. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls; (void)url; (void)method; (void)version;
    struct body *b = *con_cls;
    if (!b) {
        b = malloc(sizeof *b);
        if (!b)
            return MHD_NO;
        b->len = 0;
        b->answer = 0;
        *con_cls = b;
        return MHD_YES;
    }
    if (b->answer)              /* --defer: resumed */
        return MHD_queue_response(c, (unsigned)b->answer,
                                  b->answer == MHD_HTTP_OK ? ok_resp : bad_resp);
    if (*upload_size) {
        size_t n = *upload_size;
        if (b->len + n > BODY_LIMIT)
            n = BODY_LIMIT - b->len;
        memcpy(b->buf + b->len, upload, n);
        b->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    json_error_t err;
    json_t *v = json_loadb(b->buf, b->len, 0, &err);
    bool ok = json_is_object(v);
    json_decref(v);
    if (defer) {
        b->answer = ok ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST;
        MHD_suspend_connection(c);
        pthread_mutex_lock(&dq.lock);
        bool room = dq.n < DEFER_MAX;
        if (room) {
            dq.ring[(dq.head + dq.n) % DEFER_MAX] = c;
            dq.n++;
            pthread_cond_signal(&dq.wake);
        }
        pthread_mutex_unlock(&dq.lock);
        if (!room)
            MHD_resume_connection(c);
        return MHD_YES;
    }
    return MHD_queue_response(c, ok ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST,
                              ok ? ok_resp : bad_resp);
}

/* Request finished: free its body buffer. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)c; (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* Parses --port, starts the server, waits for a signal or MAX_LIFETIME_S. */
int main(int argc, char **argv)
{
    unsigned port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--defer") == 0) {
            defer = true;
        } else {
            fprintf(stderr, "usage: ceiling [--port N] [--defer]\n");
            return 2;
        }
    }
    pthread_t answerer;
    if (defer && pthread_create(&answerer, NULL, answer_main, NULL) != 0) {
        fprintf(stderr, "ceiling: cannot start the answering thread\n");
        return 2;
    }
    ok_resp = MHD_create_response_from_buffer(sizeof OK_BODY - 1, (void *)OK_BODY,
                                              MHD_RESPMEM_PERSISTENT);
    bad_resp = MHD_create_response_from_buffer(sizeof BAD_BODY - 1, (void *)BAD_BODY,
                                               MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(ok_resp, "Content-Type", "application/json");
    MHD_add_response_header(bad_resp, "Content-Type", "application/json");
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREAD_POOL_SIZE,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)LISTEN_BACKLOG,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "ceiling: cannot listen on 127.0.0.1:%u\n", port);
        return 2;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://127.0.0.1:%u/\n", info ? info->port : port);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (int s = 0; s < MAX_LIFETIME_S * 10 && !stop; s++)
        usleep(100000);
    if (defer) {
        pthread_mutex_lock(&dq.lock);
        dq.stop = true;
        pthread_cond_signal(&dq.wake);
        pthread_mutex_unlock(&dq.lock);
        pthread_join(answerer, NULL);
    }
    MHD_stop_daemon(d);
    MHD_destroy_response(ok_resp);
    MHD_destroy_response(bad_resp);
    return 0;
}
