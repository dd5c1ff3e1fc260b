/*
 * fake_net.c -- records what the core delivers instead of serving HTTP (see
 * fake_net.h).  Linked before libliveruntime.a, its net_* definitions keep
 * the linker from pulling in http.c and sse.c.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "fake_net.h"

/* The port net_start reports when asked for port 0. */
#define FAKE_PORT 40000

/* net_deliver runs on the game thread while a test may poll the count. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_delivery *log_v;
static size_t log_n, log_cap;

int net_listen(const struct net_config *cfg)
{
    (void)cfg;
    return 0;
}

int net_start(const struct net_config *cfg)
{
    return cfg->port ? cfg->port : FAKE_PORT;
}

void net_quiesce(void)
{
}

void net_stop(void)
{
}

/* Deliveries are recorded at once: holding them changes nothing here. */
void net_hold(void)
{
}

void net_release(void)
{
}

void net_deliver(int64_t pid, int64_t seq, const char *event, const char *data)
{
    pthread_mutex_lock(&log_lock);
    if (log_n == log_cap) {
        log_cap = log_cap ? log_cap * 2 : 64;
        log_v = realloc(log_v, log_cap * sizeof *log_v);
        if (!log_v)
            abort();
    }
    struct fake_delivery *d = &log_v[log_n++];
    d->pid = pid;
    d->seq = seq;
    snprintf(d->event, sizeof d->event, "%s", event ? event : "");
    d->data = strdup(data);
    if (!d->data)
        abort();
    pthread_mutex_unlock(&log_lock);
}

size_t fake_net_count(void)
{
    pthread_mutex_lock(&log_lock);
    size_t n = log_n;
    pthread_mutex_unlock(&log_lock);
    return n;
}

/* Read it while no game thread runs (the storage may move). */
const struct fake_delivery *fake_net_get(size_t i)
{
    pthread_mutex_lock(&log_lock);
    const struct fake_delivery *d = i < log_n ? &log_v[i] : NULL;
    pthread_mutex_unlock(&log_lock);
    return d;
}

void fake_net_reset(void)
{
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < log_n; i++)
        free(log_v[i].data);
    log_n = 0;
    pthread_mutex_unlock(&log_lock);
}
