/*
 * deadline.c -- the whole-request deadline (issue 5; see deadline.h).
 *
 * libmicrohttpd's timeout closes a connection that stays silent, but a
 * client that trickles a byte now and then (slowloris), or sends half a body
 * slowly, would hold its connection for ever.  So every connection is
 * tracked from its start (MHD_OPTION_NOTIFY_CONNECTION) to its close: while
 * it is receiving a request it carries a deadline (limits_get()->timeout_s
 * after the connection started or its previous request finished); a thread
 * looks once a second and shuts down the sockets past their deadline, and
 * libmicrohttpd then closes them as it would any broken connection.  The
 * shutdown happens under the tracker's lock, and libmicrohttpd reports the
 * close (removing the entry under that lock) before it closes the socket,
 * so a descriptor is never touched after it was closed.  Connections waiting
 * for the game thread or streaming events have their request received and
 * carry no deadline.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/prctl.h>

#include "admission.h"
#include "deadline.h"

/* How often the deadline thread looks (ms). */
#define SWEEP_INTERVAL_MS 1000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct tracked {
    struct MHD_Connection *conn;
    bool receiving;             /* a request is being received */
    int64_t since_ms;           /* ... since then */
    struct tracked *prev, *next;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct tracked *head;
    pthread_t thread;
    bool running, stop;
} trk = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* See deadline.h. */
void deadline_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct tracked *t = calloc(1, sizeof *t);
        *socket_context = t;
        if (!t)
            return;             /* untracked: only the timeout applies */
        t->conn = c;
        t->receiving = true;
        t->since_ms = now_ms();
        pthread_mutex_lock(&trk.lock);
        t->next = trk.head;
        if (trk.head)
            trk.head->prev = t;
        trk.head = t;
        pthread_mutex_unlock(&trk.lock);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct tracked *t = *socket_context;
        *socket_context = NULL;
        if (!t)
            return;
        pthread_mutex_lock(&trk.lock);
        if (t->prev)
            t->prev->next = t->next;
        else
            trk.head = t->next;
        if (t->next)
            t->next->prev = t->prev;
        pthread_mutex_unlock(&trk.lock);
        free(t);
    }
}

static struct tracked *tracked_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void set_receiving(struct MHD_Connection *c, bool receiving)
{
    struct tracked *t = tracked_of(c);
    if (!t)
        return;
    pthread_mutex_lock(&trk.lock);
    t->receiving = receiving;
    t->since_ms = now_ms();
    pthread_mutex_unlock(&trk.lock);
}

/* See deadline.h. */
void deadline_request_received(struct MHD_Connection *c)
{
    set_receiving(c, false);
}

/* See deadline.h. */
void deadline_request_finished(struct MHD_Connection *c)
{
    set_receiving(c, true);
}

/* Shuts down every connection past its deadline.  Caller holds trk.lock. */
static void sweep_locked(void)
{
    int64_t limit = now_ms() - (int64_t)limits_get()->timeout_s * 1000;
    for (struct tracked *t = trk.head; t; t = t->next) {
        if (!t->receiving || t->since_ms > limit)
            continue;
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(t->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info)
            shutdown(info->connect_fd, SHUT_RDWR);
        t->receiving = false;   /* once is enough: libmicrohttpd closes it */
    }
}

static void *sweeper(void *arg)
{
    prctl(PR_SET_NAME, "live-sweeper");   /* top -H, perf */
    (void)arg;
    pthread_mutex_lock(&trk.lock);
    while (!trk.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);    /* trk.cond's clock (deadline_start) */
        ts.tv_sec += SWEEP_INTERVAL_MS / 1000;
        ts.tv_nsec += (long)(SWEEP_INTERVAL_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&trk.cond, &trk.lock, &ts);
        if (!trk.stop)
            sweep_locked();
    }
    pthread_mutex_unlock(&trk.lock);
    return NULL;
}

/* See deadline.h. */
int deadline_start(const char *game)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&trk.cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_lock(&trk.lock);
    trk.stop = false;
    pthread_mutex_unlock(&trk.lock);
    /* the signals main.c waits for stay blocked in this thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&trk.thread, NULL, sweeper, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot start the deadline thread: %s\n", game, strerror(rc));
        return -1;
    }
    trk.running = true;
    return 0;
}

/* See deadline.h. */
void deadline_stop(void)
{
    if (!trk.running)
        return;
    pthread_mutex_lock(&trk.lock);
    trk.stop = true;
    pthread_cond_signal(&trk.cond);
    pthread_mutex_unlock(&trk.lock);
    pthread_join(trk.thread, NULL);
    trk.running = false;
}
