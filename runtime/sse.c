/*
 * sse.c -- Server-Sent Events streams: GET /p/P/events (PROTOCOL.md
 * "Server-Sent Events").
 *
 * Each open stream is a libmicrohttpd response driven by a content-reader
 * callback over a mutex-protected output buffer.  Events are appended to the
 * buffer by the core (replay while subscribing, then net_deliver) and
 * by the ping thread (`: ping` comments); the reader copies out whatever is
 * buffered.  When nothing is buffered, the reader marks the stream "parked"
 * and suspends its connection (MHD_suspend_connection) under the stream's
 * lock; whoever appends to a parked stream clears the flag under the lock
 * and resumes the connection after dropping every lock.  So an idle stream
 * costs no thread and no CPU, a parked connection is resumed exactly once,
 * and a connection is never resumed unless it is suspended (DESIGN.md's
 * libmicrohttpd notes).  A parked connection cannot be closed by
 * libmicrohttpd, so a stream found parked stays valid until it is resumed.
 *
 * Registry: active streams are kept in a fixed table of buckets hashed by
 * participant id, each a doubly-linked list; net_deliver walks one bucket,
 * the ping thread walks them all.  Lock order: registry lock, then a
 * stream's lock.  The response's free callback (run once the connection is
 * closed) unregisters the stream and frees it.
 *
 * Memory bound: a client that stops reading while its socket still accepts
 * nothing lets its buffer grow; past SSE_MAX_BUFFERED the stream is closed
 * with an error (the client reconnects with Last-Event-ID and loses nothing).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "rt.h"
#include "net.h"

/* Number of registry buckets: a power of two; 20000 streams (the connection
 * limit) make chains of ~5, walked only for one participant's events. */
#define SSE_BUCKETS 4096
/* Bytes a stream may hold unsent before it is closed as too slow. */
#define SSE_MAX_BUFFERED (2u * 1024u * 1024u)
/* Largest chunk handed to libmicrohttpd per reader call.  libmicrohttpd
 * allocates this much with every stream's response: 32 KiB cost 38 MiB per
 * 10,000 streams more than 4 KiB (bench/RESULTS.md); a stream with more
 * buffered simply gets more reader calls. */
#define SSE_BLOCK_SIZE (4u * 1024u)
/* What every stream starts with: the reconnection delay for EventSource and
 * a comment, so that the client sees the stream open at once. */
#define SSE_PREAMBLE "retry: 2000\n: connected\n\n"
#define SSE_PING ": ping\n\n"
/* Events up to this size are formatted on the stack (no allocation per
 * event); larger ones are allocated. */
#define SSE_EVENT_LOCAL 2048

struct sse_stream {
    pthread_mutex_t lock;
    /* ---- under lock ---- */
    char *buf;                  /* unsent bytes are buf[off..len) */
    size_t off, len, cap;
    bool parked;                /* the reader suspended the connection */
    bool closing;               /* end the stream at the next reader call */
    bool overflow;              /* too much unsent: close with an error */
    struct MHD_Connection *conn;/* set by sse_response */
    /* ---- under registry lock ---- */
    bool registered;
    int64_t pid;
    struct sse_stream *prev, *next;
    /* ---- owned by whoever cleared `parked` ---- */
    struct sse_stream *wake_next;
};

static struct {
    pthread_mutex_t lock;
    struct sse_stream *buckets[SSE_BUCKETS];
    bool closed;                /* sse_close_all ran */
    /* ping thread */
    pthread_cond_t cond;        /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool thread_running;
    bool stop;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int ping_interval_ms = SSE_PING_INTERVAL_MS;

static size_t bucket_of(int64_t pid)
{
    uint64_t h = (uint64_t)pid * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (SSE_BUCKETS - 1);
}

/* Appends n bytes to s's buffer.  Caller holds s->lock.  When the buffer
 * would pass SSE_MAX_BUFFERED or memory runs out, drops it and marks the
 * stream to be closed with an error. */
static void buf_append(struct sse_stream *s, const char *p, size_t n)
{
    if (s->overflow)
        return;
    if (s->off > 0 && s->off == s->len)
        s->off = s->len = 0;
    if (s->len - s->off + n > SSE_MAX_BUFFERED)
        goto overflow;
    if (s->len + n > s->cap) {
        if (s->off > 0) {       /* compact first */
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        if (s->len + n > s->cap) {
            size_t cap = s->cap ? s->cap : 256;
            while (cap < s->len + n)
                cap *= 2;
            char *nb = realloc(s->buf, cap);
            if (!nb)
                goto overflow;
            s->buf = nb;
            s->cap = cap;
        }
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return;
overflow:
    free(s->buf);
    s->buf = NULL;
    s->off = s->len = s->cap = 0;
    s->overflow = true;
}

/* Formats one event: "id: SEQ\n", "event: EVENT\n" when event is not NULL,
 * one "data: " line per line of data, and a blank line.  Uses buf (bufsize
 * bytes) when it fits, else a malloc'd string the caller frees (when the
 * result is not buf).  Returns the text and its length in *n, or NULL when
 * out of memory. */
static char *format_event(int64_t seq, const char *event, const char *data, size_t *n,
                          char *buf, size_t bufsize)
{
    size_t dlen = strlen(data), lines = 1;
    for (size_t i = 0; i < dlen; i++)
        if (data[i] == '\n')
            lines++;
    size_t cap = 64 + (event ? strlen(event) : 0) + dlen + lines * 7;
    char *out = cap <= bufsize ? buf : malloc(cap);
    if (!out)
        return NULL;
    size_t len = (size_t)snprintf(out, cap, "id: %" PRId64 "\n", seq);
    if (event)
        len += (size_t)snprintf(out + len, cap - len, "event: %s\n", event);
    const char *p = data;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l > 0 && p[l - 1] == '\r')
            l--;
        memcpy(out + len, "data: ", 6);
        len += 6;
        memcpy(out + len, p, l);
        len += l;
        out[len++] = '\n';
        if (!nl)
            break;
        p = nl + 1;
    }
    out[len++] = '\n';
    out[len] = '\0';
    *n = len;
    return out;
}

/* Resumes every stream of the wake list (linked through wake_next).  Called
 * with no lock held; each of them was parked, so each is still alive until
 * its resume call. */
static void wake_all(struct sse_stream *w)
{
    while (w) {
        struct sse_stream *next = w->wake_next;   /* before: it may re-park */
        MHD_resume_connection(w->conn);
        w = next;
    }
}

/* Appends bytes to a registered stream and, if it was parked, unparks it and
 * pushes it on *wake.  Caller holds the registry lock (not s->lock). */
static void push_locked(struct sse_stream *s, const char *p, size_t n,
                        struct sse_stream **wake)
{
    pthread_mutex_lock(&s->lock);
    buf_append(s, p, n);
    if (s->parked) {
        s->parked = false;
        s->wake_next = *wake;
        *wake = s;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Removes s from the registry if it is there.  Takes the registry lock. */
static void unregister(struct sse_stream *s)
{
    pthread_mutex_lock(&reg.lock);
    if (s->registered) {
        if (s->prev)
            s->prev->next = s->next;
        else
            reg.buckets[bucket_of(s->pid)] = s->next;
        if (s->next)
            s->next->prev = s->prev;
        s->registered = false;
        s->prev = s->next = NULL;
    }
    pthread_mutex_unlock(&reg.lock);
}

static void stream_destroy(struct sse_stream *s)
{
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s);
}

struct sse_stream *sse_stream_new(void)
{
    struct sse_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    buf_append(s, SSE_PREAMBLE, strlen(SSE_PREAMBLE));
    if (s->overflow) {
        stream_destroy(s);
        return NULL;
    }
    return s;
}

void sse_stream_discard(struct sse_stream *s)
{
    if (!s)
        return;
    unregister(s);
    stream_destroy(s);
}

void sse_replay(void *stream, int64_t seq, const char *event, const char *data)
{
    struct sse_stream *s = stream;
    size_t n;
    char local[SSE_EVENT_LOCAL];
    char *ev = format_event(seq, event, data, &n, local, sizeof local);
    pthread_mutex_lock(&s->lock);
    if (ev)
        buf_append(s, ev, n);
    else
        s->overflow = true;     /* an event lost: the client must reconnect */
    pthread_mutex_unlock(&s->lock);
    if (ev != local)
        free(ev);
}

void sse_activate(void *stream, int64_t pid)
{
    struct sse_stream *s = stream;
    pthread_mutex_lock(&reg.lock);
    if (!s->registered) {
        size_t b = bucket_of(pid);
        s->pid = pid;
        s->prev = NULL;
        s->next = reg.buckets[b];
        if (s->next)
            s->next->prev = s;
        reg.buckets[b] = s;
        s->registered = true;
        if (reg.closed) {
            pthread_mutex_lock(&s->lock);
            s->closing = true;
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_unlock(&reg.lock);
}

/* See net.h (issue 5: the cap on streams per participant). */
int sse_count(int64_t pid)
{
    int n = 0;
    pthread_mutex_lock(&reg.lock);
    for (struct sse_stream *s = reg.buckets[bucket_of(pid)]; s; s = s->next)
        if (s->registered && s->pid == pid)
            n++;
    pthread_mutex_unlock(&reg.lock);
    return n;
}

/* Streams that net_deliver made ready while deliveries are held (net_hold),
 * linked through wake_next: resumed by net_release.  Only the one thread
 * that delivers touches them (rt.h). */
static struct sse_stream *held_wake;
static bool holding;

void net_hold(void)
{
    holding = true;
}

void net_release(void)
{
    struct sse_stream *w = held_wake;
    holding = false;
    held_wake = NULL;
    wake_all(w);
}

void net_deliver(int64_t pid, int64_t seq, const char *event, const char *data)
{
    size_t n;
    char local[SSE_EVENT_LOCAL];
    char *ev = format_event(seq, event, data, &n, local, sizeof local);
    struct sse_stream *wake = NULL;

    pthread_mutex_lock(&reg.lock);
    if (!reg.closed) {
        for (struct sse_stream *s = reg.buckets[bucket_of(pid)]; s; s = s->next) {
            if (s->pid != pid)
                continue;
            if (ev) {
                push_locked(s, ev, n, &wake);
            } else {            /* out of memory: close it, the client replays */
                pthread_mutex_lock(&s->lock);
                s->overflow = true;
                if (s->parked) {
                    s->parked = false;
                    s->wake_next = wake;
                    wake = s;
                }
                pthread_mutex_unlock(&s->lock);
            }
        }
    }
    pthread_mutex_unlock(&reg.lock);
    if (holding) {              /* one resume per stream for the whole batch */
        while (wake) {
            struct sse_stream *next = wake->wake_next;
            wake->wake_next = held_wake;
            held_wake = wake;
            wake = next;
        }
    } else {
        wake_all(wake);
    }
    if (ev != local)
        free(ev);
}

/* The content reader of a stream's response (libmicrohttpd calls it on one
 * of its threads).  Copies out what is buffered; with nothing buffered it
 * parks: suspends the connection under the stream's lock and returns 0. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct sse_stream *s = cls;
    ssize_t r;

    pthread_mutex_lock(&s->lock);
    if (s->overflow) {
        r = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (s->len > s->off) {
        size_t n = s->len - s->off;
        if (n > max)
            n = max;
        memcpy(out, s->buf + s->off, n);
        s->off += n;
        if (s->off == s->len)
            s->off = s->len = 0;
        r = (ssize_t)n;
    } else if (s->closing) {
        r = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        s->parked = true;
        MHD_suspend_connection(s->conn);
        r = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* The response's free callback: the connection is closed. */
static void stream_free(void *cls)
{
    sse_stream_discard(cls);
}

struct MHD_Response *sse_response(struct sse_stream *s, struct MHD_Connection *c)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE, stream_read, s, stream_free);
    if (!resp)
        return NULL;
    pthread_mutex_lock(&s->lock);
    s->conn = c;
    pthread_mutex_unlock(&s->lock);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return resp;
}

/* The ping thread: every ping_interval_ms, a comment to every active stream
 * (which also resumes the parked ones, so that libmicrohttpd notices closed
 * peers and keeps the connections' timeouts fresh). */
static void *ping_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&reg.lock);
    while (!reg.stop) {
        struct timespec due;
        clock_gettime(CLOCK_MONOTONIC, &due);
        due.tv_sec += ping_interval_ms / 1000;
        due.tv_nsec += (long)(ping_interval_ms % 1000) * 1000000L;
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!reg.stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&reg.cond, &reg.lock, &due);
        if (reg.stop)
            break;
        struct sse_stream *wake = NULL;
        for (size_t b = 0; b < SSE_BUCKETS; b++)
            for (struct sse_stream *s = reg.buckets[b]; s; s = s->next)
                push_locked(s, SSE_PING, strlen(SSE_PING), &wake);
        pthread_mutex_unlock(&reg.lock);
        wake_all(wake);
        pthread_mutex_lock(&reg.lock);
    }
    pthread_mutex_unlock(&reg.lock);
    return NULL;
}

void sse_set_ping_interval_ms(int ms)
{
    if (ms > 0)
        ping_interval_ms = ms;
}

int sse_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&reg.cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_lock(&reg.lock);
    reg.closed = false;
    reg.stop = false;
    pthread_mutex_unlock(&reg.lock);
    int rc = pthread_create(&reg.thread, NULL, ping_main, NULL);
    if (rc != 0) {
        fprintf(stderr, "cannot start the SSE ping thread: %s\n", strerror(rc));
        pthread_cond_destroy(&reg.cond);
        return -1;
    }
    reg.thread_running = true;
    return 0;
}

void sse_close_all(void)
{
    if (reg.thread_running) {
        pthread_mutex_lock(&reg.lock);
        reg.stop = true;
        pthread_cond_signal(&reg.cond);
        pthread_mutex_unlock(&reg.lock);
        pthread_join(reg.thread, NULL);
        reg.thread_running = false;
    }
    struct sse_stream *wake = NULL;
    pthread_mutex_lock(&reg.lock);
    reg.closed = true;
    for (size_t b = 0; b < SSE_BUCKETS; b++) {
        for (struct sse_stream *s = reg.buckets[b]; s; s = s->next) {
            pthread_mutex_lock(&s->lock);
            s->closing = true;
            if (s->parked) {
                s->parked = false;
                s->wake_next = wake;
                wake = s;
            }
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_unlock(&reg.lock);
    wake_all(wake);
}

void sse_fini(void)
{
    pthread_cond_destroy(&reg.cond);
}
