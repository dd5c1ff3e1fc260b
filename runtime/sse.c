/*
 * sse.c -- Server-Sent Events streams: GET /p/P/events (PROTOCOL.md
 * "Server-Sent Events").
 *
 * Each open stream is a libmicrohttpd response driven by a content-reader
 * callback over a mutex-protected buffer of SSE text.  libmicrohttpd sends
 * the headers, the preamble and the replay through that reader.  When the
 * reader first finds the buffer empty, it suspends the connection and, from
 * then on, the stream is in "direct" mode: its events are written by us
 * straight to the connection's socket (libmicrohttpd takes a suspended
 * connection out of its epoll set and never touches its socket until it is
 * resumed; it calls the reader only once the previous chunk was wholly
 * sent, so nothing of its own is pending), with our own framing: HTTP/1.1
 * chunks ("%zx\r\n" text "\r\n") when libmicrohttpd uses chunked encoding
 * (an HTTP/1.1 request), raw bytes for an HTTP/1.0 one (the body then ends
 * with the connection).  So an event costs one send() per stream and no
 * libmicrohttpd wake-up (bench/RESULTS.md: the resume / walk of the
 * suspended list / reader / chunk per event was 40-55% of the CPU).
 *
 * Writing: net_deliver appends the event to each of the participant's
 * streams.  While deliveries are held (net_hold .. net_release, one run of
 * the deliver thread) a direct stream is only marked dirty; net_release writes
 * each dirty stream once, all its pending events as one chunk (one
 * sendmsg).  Without a hold, and for pings, the write happens at once.  A
 * write the socket does not take whole (a slow reader) keeps the rest of the
 * chunk in `out`; the writer thread (its own epoll, EPOLLOUT) finishes it,
 * and events that arrive meanwhile go out as the next chunk.  More than
 * SSE_MAX_BUFFERED unsent bytes close the stream with an error (the client
 * reconnects with Last-Event-ID and loses nothing); a new stream's replay
 * does not count, so that a long history still reaches a client that
 * reconnects with an old id.
 *
 * Long replays go in parts: a stream takes at most SSE_MAX_REPLAY bytes of
 * replay (at least one event).  At the first event past that the replay is
 * cut: nothing more is appended to the stream -- no replay, no live event,
 * no ping -- and it ends cleanly once what it holds is sent, with a short
 * `retry:`.  EventSource then reconnects with the id of the last event it
 * got and the next stream replays the next part, so the history arrives
 * whole and in order, without a gap or a repeat, and no stream holds more
 * than about SSE_MAX_REPLAY of it (16 streams of a participant replaying a
 * 13 MB history held up to 16 x 64 MiB before).
 *
 * Closed peers: each direct stream's socket is in the writer thread's epoll
 * set with EPOLLRDHUP/EPOLLIN (a client never sends anything on an event
 * stream, so readable means gone, or misbehaving).  On a hang-up, a read of
 * 0, an error, or a failed write, the stream leaves direct mode: under its
 * lock its socket is removed from the epoll set (first) and never used
 * again, the stream is marked closing (or `broken` when a chunk was cut, so
 * that the reader ends with an error rather than frame after half a chunk),
 * and the connection is resumed: libmicrohttpd calls the reader, which ends
 * the response, and closes the connection; the response's free callback
 * then unregisters the stream.  sse_close_all (shutdown) does the same for
 * every stream, the reader then hands libmicrohttpd what is still buffered
 * and ends the stream cleanly.  A stream whose framing is not known
 * (sse_set_http_version not called) or whose socket cannot be watched falls
 * back to the old way: the reader parks it (suspends) and whoever appends to
 * it resumes it.
 *
 * Ownership: the fd is only valid while the connection is suspended by us,
 * i.e. while `direct` is set; every use of it is under the stream's lock,
 * and exactly one thread turns `direct` (or `parked`) off and then resumes
 * the connection, after dropping every lock, and never touches the stream
 * again without a reference.  A stream is freed when its reference count
 * drops to zero: the response (or the pending owner) holds one, a place on
 * the held list one, and the writer thread's epoll registration one, which
 * only the writer thread drops, at the top of its loop (so an event of an
 * earlier epoll_wait can never name a freed stream).
 *
 * Registry: active streams are kept in a fixed table of buckets hashed by
 * participant id, each a doubly-linked list; net_deliver walks one bucket,
 * the ping thread walks them all.
 *
 * Lock order: registry lock, then a stream's lock, then the writer's lock
 * (ep.lock: its list of references to drop).  libmicrohttpd calls the reader
 * with its response mutex held, and MHD_suspend_connection takes its own
 * connection mutex under the stream's lock; MHD_resume_connection is always
 * called with no lock of ours held.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sys/prctl.h>

#include "rt.h"
#include "net.h"

/* Number of registry buckets: a power of two; 20000 streams (the connection
 * limit) make chains of ~5, walked only for one participant's events. */
#define SSE_BUCKETS 4096
/* Bytes a stream may hold unsent (buffered events plus the rest of a chunk
 * being written) before it is closed as too slow. */
#define SSE_MAX_BUFFERED (2u * 1024u * 1024u)
/* Bytes of replay one stream takes (on top of the bound above: a replay may
 * be longer than the bound on live events); a longer history goes in parts,
 * one per stream (see the top).  The replay is sent before any live event. */
#define SSE_MAX_REPLAY (2u * 1024u * 1024u)
/* Appended to a stream whose replay was cut, just before it ends: the
 * client reconnects for the next part after 250 ms instead of the usual
 * 2 s (the next stream's preamble sets 2 s again). */
#define SSE_CUT_RETRY "retry: 250\n\n"
/* Largest chunk handed to libmicrohttpd per reader call (preamble and
 * replay only).  libmicrohttpd allocates this much with every stream's
 * response: 32 KiB cost 38 MiB per 10,000 streams more than 4 KiB
 * (bench/RESULTS.md); a stream with more buffered simply gets more reader
 * calls. */
#define SSE_BLOCK_SIZE (4u * 1024u)
/* What every stream starts with: the reconnection delay for EventSource and
 * a comment, so that the client sees the stream open at once. */
#define SSE_PREAMBLE "retry: 2000\n: connected\n\n"
#define SSE_PING ": ping\n\n"
/* Events up to this size are formatted on the stack (no allocation per
 * event); larger ones are allocated. */
#define SSE_EVENT_LOCAL 2048
/* Longest chunk-size line: 16 hex digits and CRLF. */
#define SSE_CHUNK_HEAD_MAX 20
/* Events one epoll_wait of the writer thread handles at most. */
#define SSE_EPOLL_EVENTS 256

/* How the stream's body is framed on the wire (what libmicrohttpd chose). */
enum framing {
    FRAMING_UNKNOWN,            /* no direct mode: park and resume */
    FRAMING_CHUNKED,            /* HTTP/1.1: Transfer-Encoding: chunked */
    FRAMING_RAW                 /* HTTP/1.0: bytes until the connection closes */
};

struct sse_stream {
    pthread_mutex_t lock;
    int refs;                   /* atomic; see the top */
    /* ---- under lock ---- */
    char *buf;                  /* SSE text not yet sent: buf[off..len) */
    size_t off, len, cap;
    char *out;                  /* direct, chunked: the rest of a chunk partly */
    size_t ooff, olen, ocap;    /* written, out[ooff..olen) */
    bool parked;                /* the reader suspended it, not direct */
    bool direct;                /* the reader suspended it; we write to fd */
    bool closing;               /* end the stream at the next reader call */
    bool overflow;              /* too much unsent: close with an error */
    bool broken;                /* a chunk was cut: close with an error */
    bool dirty;                 /* on the held list (net_hold) */
    bool want_out;              /* fd is watched for EPOLLOUT */
    size_t replay_allow;        /* the replay's bytes, until it went out */
    bool replay_cut;            /* the replay was cut (see the top): nothing
                                   more is appended; ends after what it holds */
    enum framing framing;
    int fd;                     /* the connection's socket while direct */
    struct MHD_Connection *conn;/* set by sse_response */
    /* ---- under registry lock ---- */
    bool registered;
    bool reserved;              /* registered by sse_reserve, not yet activated:
                                 * counted, but gets no event and no ping */
    int64_t pid;
    struct sse_stream *prev, *next;
    /* ---- owned by whoever cleared `parked` or `direct` ---- */
    struct sse_stream *wake_next;
    /* ---- owned by the delivering thread (held list) ---- */
    struct sse_stream *held_next;
    /* ---- owned by the ping thread ---- */
    struct sse_stream *ping_next;
    /* ---- under ep.lock ---- */
    struct sse_stream *drop_next;
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

/* The writer thread: finishes partial writes, notices closed peers. */
static struct {
    pthread_mutex_t lock;
    /* Held by the writer from taking its events to resuming the streams they
     * end: sse_close_all takes it once to know that no resume it decided is
     * still to come (libmicrohttpd aborts when it stops with a suspended
     * connection). */
    pthread_mutex_t wake_lock;
    int epfd;                   /* -1 when not running */
    int evfd;                   /* wakes the thread (stop) */
    pthread_t thread;
    bool running;
    bool stop;                  /* under lock */
    struct sse_stream *drop;    /* under lock: references to drop */
} ep = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_lock = PTHREAD_MUTEX_INITIALIZER,
       .epfd = -1, .evfd = -1 };

static int ping_interval_ms = SSE_PING_INTERVAL_MS;
/* The bound on a stream's unsent bytes (a test hook may lower it). */
static size_t max_buffered = SSE_MAX_BUFFERED;
/* The bytes of replay one stream takes (a test hook may lower it). */
static size_t max_replay = SSE_MAX_REPLAY;
/* Set (atomically) by sse_close_all: no stream enters direct mode after. */
static int closing_all;

static size_t bucket_of(int64_t pid)
{
    uint64_t h = (uint64_t)pid * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (SSE_BUCKETS - 1);
}

static void stream_destroy(struct sse_stream *s)
{
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s->out);
    free(s);
}

static void stream_ref(struct sse_stream *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

/* Drops one reference; the last one frees the stream (which is then
 * unregistered: the owner's reference goes with unregister()). */
static void stream_unref(struct sse_stream *s)
{
    if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
        stream_destroy(s);
}

/* Bytes s holds unsent.  Caller holds s->lock. */
static size_t unsent(const struct sse_stream *s)
{
    return (s->len - s->off) + (s->olen - s->ooff);
}

/* Appends n bytes to s's buffer.  Caller holds s->lock.  When the stream
 * would hold more than max_buffered unsent or memory runs out, drops
 * the buffer and marks the stream to be closed with an error (the caller
 * then takes it out of direct mode).  Does nothing once the replay was cut
 * (the client gets what follows from its next stream). */
static void buf_append(struct sse_stream *s, const char *p, size_t n)
{
    if (s->overflow || s->replay_cut)
        return;
    if (s->off > 0 && s->off == s->len)
        s->off = s->len = 0;
    if (unsent(s) + n > __atomic_load_n(&max_buffered, __ATOMIC_RELAXED) + s->replay_allow)
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
    const char *end = data + dlen;
    for (const char *nl = memchr(data, '\n', dlen); nl; nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1)))
        lines++;
    size_t cap = 64 + (event ? strlen(event) : 0) + dlen + lines * 7;
    char *out = cap <= bufsize ? buf : malloc(cap);
    if (!out)
        return NULL;
    /* "id: SEQ\n" without snprintf: a broadcast formats one per recipient */
    char digits[24], *d = digits + sizeof digits;
    uint64_t v = seq < 0 ? -(uint64_t)seq : (uint64_t)seq;
    do
        *--d = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (seq < 0)
        *--d = '-';
    size_t nd = (size_t)(digits + sizeof digits - d), len = 4;
    memcpy(out, "id: ", 4);
    memcpy(out + len, d, nd);
    len += nd;
    out[len++] = '\n';
    if (event)
        len += (size_t)snprintf(out + len, cap - len, "event: %s\n", event);
    for (const char *p = data;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
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

/* ---- direct mode ------------------------------------------------------------------ */

/* Takes s out of direct mode: removes its socket from the writer's epoll
 * set and forgets it, keeps unsent whole events for the reader (unless the
 * peer is gone), and hands the writer its reference to drop.  Caller holds
 * s->lock and s->direct is set; the caller then owns the resume: it must
 * push s on a wake list and resume it after dropping every lock.  peer_gone:
 * the client cannot read any more (drop what is buffered, end quietly). */
static void leave_direct(struct sse_stream *s, bool peer_gone)
{
    epoll_ctl(ep.epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->fd = -1;
    s->direct = false;
    s->want_out = false;
    if (s->olen > s->ooff)      /* half a chunk went out: no clean end */
        s->broken = true;
    free(s->out);
    s->out = NULL;
    s->ooff = s->olen = s->ocap = 0;
    if (peer_gone) {
        s->off = s->len = 0;
    }
    s->closing = true;
    pthread_mutex_lock(&ep.lock);
    s->drop_next = ep.drop;
    ep.drop = s;
    pthread_mutex_unlock(&ep.lock);
}

/* Watches s's socket for EPOLLOUT (on) or not.  Caller holds s->lock, s is
 * direct.  Returns false when epoll refuses. */
static bool watch_out(struct sse_stream *s, bool on)
{
    if (s->want_out == on)
        return true;
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u),
        .data.ptr = s,
    };
    if (epoll_ctl(ep.epfd, EPOLL_CTL_MOD, s->fd, &ev) != 0)
        return false;
    s->want_out = on;
    return true;
}

/* Writes the chunk-size line of an n-byte chunk ("%zx\r\n", without the
 * cost of printf) into head (SSE_CHUNK_HEAD_MAX bytes); returns its length. */
static size_t chunk_head(char *head, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[sizeof(size_t) * 2];
    size_t k = 0;
    do {
        tmp[k++] = hex[n & 0xf];
        n >>= 4;
    } while (n > 0);
    for (size_t i = 0; i < k; i++)
        head[i] = tmp[k - 1 - i];
    head[k] = '\r';
    head[k + 1] = '\n';
    return k + 2;
}

/* Whether errno after a failed send means "try later". */
static bool would_block(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Writes what s holds to its socket, as far as the socket takes it: first
 * the rest of a partly written chunk, then everything buffered as one new
 * chunk (or raw bytes).  What is left waits for EPOLLOUT.  Caller holds
 * s->lock and s->direct is set.  Returns false when the stream had to leave
 * direct mode (write error, or too much unsent): the caller then owns the
 * resume (see leave_direct). */
static bool flush_direct(struct sse_stream *s)
{
    if (s->overflow) {
        leave_direct(s, false);
        return false;
    }
    if (s->olen > s->ooff) {    /* finish the chunk in progress */
        ssize_t w = send(s->fd, s->out + s->ooff, s->olen - s->ooff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && !would_block())
            goto gone;
        if (w > 0)
            s->ooff += (size_t)w;
        if (s->ooff < s->olen)
            goto later;
        free(s->out);           /* slow readers only: do not keep it */
        s->out = NULL;
        s->ooff = s->olen = s->ocap = 0;
    }
    size_t n = s->len - s->off;
    if (n > 0) {
        char head[SSE_CHUNK_HEAD_MAX];
        struct iovec iov[3];
        int cnt = 0;
        size_t total = n;
        if (s->framing == FRAMING_CHUNKED) {
            size_t hl = chunk_head(head, n);
            iov[cnt++] = (struct iovec){ head, hl };
            total += hl + 2;
        }
        iov[cnt++] = (struct iovec){ s->buf + s->off, n };
        if (s->framing == FRAMING_CHUNKED)
            iov[cnt++] = (struct iovec){ (void *)"\r\n", 2 };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
        ssize_t w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (!would_block())
                goto gone;
            goto later;         /* nothing went: the chunk can still grow */
        }
        if ((size_t)w == total) {
            s->off = s->len = 0;
        } else if (s->framing == FRAMING_RAW) {
            s->off += (size_t)w;
            goto later;
        } else {                /* keep the rest of this chunk in out */
            size_t rest = total - (size_t)w;
            if (rest > s->ocap) {
                char *nb = realloc(s->out, rest);
                if (!nb) {      /* cannot finish the chunk */
                    s->overflow = true;
                    leave_direct(s, false);
                    return false;
                }
                s->out = nb;
                s->ocap = rest;
            }
            size_t k = 0, skip = (size_t)w;
            for (int i = 0; i < cnt; i++) {
                size_t l = iov[i].iov_len;
                const char *p = iov[i].iov_base;
                if (skip >= l) {
                    skip -= l;
                    continue;
                }
                memcpy(s->out + k, p + skip, l - skip);
                k += l - skip;
                skip = 0;
            }
            s->ooff = 0;
            s->olen = k;
            s->off = s->len = 0;
            goto later;
        }
    }
    if (!watch_out(s, false))
        goto gone;
    return true;
later:
    if (!watch_out(s, true))
        goto gone;
    return true;
gone:
    leave_direct(s, true);
    return false;
}

/* Called by the reader (libmicrohttpd's thread, s->lock held) right after it
 * suspended the connection: switches s to direct mode if its framing is
 * known and its socket can be watched.  Returns whether it did. */
static bool enter_direct(struct sse_stream *s)
{
    if (s->framing == FRAMING_UNKNOWN || ep.epfd < 0 ||
        __atomic_load_n(&closing_all, __ATOMIC_ACQUIRE))
        return false;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || ci->connect_fd == MHD_INVALID_SOCKET)
        return false;
    int fd = ci->connect_fd;
    /* events must leave at once: nothing corked, no Nagle delay */
    int one = 1, zero = 0;
    setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = s };
    if (epoll_ctl(ep.epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return false;
    stream_ref(s);              /* the writer's; dropped after leave_direct */
    s->fd = fd;
    s->direct = true;
    s->want_out = false;
    return true;
}

/* The writer thread: drops the references of streams that left direct mode
 * (none of its events can name them any more: they were removed from the
 * set before, and it holds no event of an earlier wait), then waits for
 * sockets that can take more or whose peer went away. */
static void *writer_main(void *arg)
{
    prctl(PR_SET_NAME, "live-writer");   /* top -H, perf */
    (void)arg;
    struct epoll_event evs[SSE_EPOLL_EVENTS];
    for (;;) {
        pthread_mutex_lock(&ep.lock);
        struct sse_stream *drop = ep.drop;
        ep.drop = NULL;
        bool stop = ep.stop;
        pthread_mutex_unlock(&ep.lock);
        while (drop) {
            struct sse_stream *next = drop->drop_next;
            stream_unref(drop);
            drop = next;
        }
        if (stop)
            break;
        int n = epoll_wait(ep.epfd, evs, SSE_EPOLL_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "SSE writer: epoll_wait: %s\n", strerror(errno));
            break;
        }
        struct sse_stream *wake = NULL;
        pthread_mutex_lock(&ep.wake_lock);
        for (int i = 0; i < n; i++) {
            struct sse_stream *s = evs[i].data.ptr;
            if (!s) {           /* the eventfd: stop, or drops to do */
                uint64_t v;
                ssize_t r = read(ep.evfd, &v, sizeof v);
                (void)r;
                continue;
            }
            uint32_t e = evs[i].events;
            pthread_mutex_lock(&s->lock);
            if (s->direct) {
                bool gone = (e & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0;
                if (!gone && (e & EPOLLIN)) {
                    /* a client sends nothing on an event stream: 0 is the
                     * end, and anything else ends the stream too */
                    char c;
                    ssize_t r = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
                    gone = r >= 0 || !would_block();
                }
                bool left;
                if (gone) {
                    leave_direct(s, true);
                    left = true;
                } else {
                    left = (e & EPOLLOUT) && !flush_direct(s);
                }
                if (left) {
                    s->wake_next = wake;
                    wake = s;
                }
            }
            pthread_mutex_unlock(&s->lock);
        }
        while (wake) {
            struct sse_stream *next = wake->wake_next;
            MHD_resume_connection(wake->conn);
            wake = next;
        }
        pthread_mutex_unlock(&ep.wake_lock);
    }
    return NULL;
}

/* Wakes the writer thread (to stop, or to drop references soon). */
static void writer_kick(void)
{
    uint64_t one = 1;
    ssize_t w = write(ep.evfd, &one, sizeof one);
    (void)w;
}

/* ---- registry and delivery -------------------------------------------------------- */

/* Resumes every stream of the wake list (linked through wake_next).  Called
 * with no lock held; each of them is suspended until its resume call, so
 * each is still alive until then. */
static void wake_all(struct sse_stream *w)
{
    while (w) {
        struct sse_stream *next = w->wake_next;   /* before: it may be freed */
        MHD_resume_connection(w->conn);
        w = next;
    }
}

/* Streams that net_deliver made dirty while deliveries are held (net_hold),
 * linked through held_next, each holding a reference: written by
 * net_release.  Only the one thread that delivers touches them (rt.h). */
static struct sse_stream *held;
static bool holding;

/* Appends an event to a stream and gets it going: a direct stream is written
 * at once (or marked dirty when hold is set), a parked one is unparked.
 * When s must be resumed, pushes it on *wake.  Caller holds the registry
 * lock (not s->lock).  p NULL: an event was lost (out of memory): close. */
static void push_locked(struct sse_stream *s, const char *p, size_t n, bool hold,
                        struct sse_stream **wake)
{
    pthread_mutex_lock(&s->lock);
    if (p)
        buf_append(s, p, n);
    else
        s->overflow = true;     /* the client must reconnect and replay */
    bool resume = false;
    if (s->direct) {
        if (hold && !s->overflow) {
            if (!s->dirty) {
                s->dirty = true;
                stream_ref(s);
                s->held_next = held;
                held = s;
            }
        } else {
            resume = !flush_direct(s);
        }
    } else if (s->parked) {
        s->parked = false;
        resume = true;
    }
    if (resume) {
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

struct sse_stream *sse_stream_new(void)
{
    struct sse_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->refs = 1;
    s->fd = -1;
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
    stream_unref(s);
}

/* See net.h. */
void sse_set_http_version(struct sse_stream *s, const char *version)
{
    enum framing f = FRAMING_UNKNOWN;
    if (version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0)
        f = FRAMING_RAW;
    else if (version && strncmp(version, "HTTP/1.", 7) == 0 &&
             version[7] >= '1' && version[7] <= '9' && version[8] == '\0')
        f = FRAMING_CHUNKED;    /* libmicrohttpd: 1.1 and "1.1 compatible" */
    pthread_mutex_lock(&s->lock);
    s->framing = f;
    pthread_mutex_unlock(&s->lock);
}

int sse_replay(void *stream, int64_t seq, const char *event, const char *data)
{
    struct sse_stream *s = stream;
    size_t n;
    char local[SSE_EVENT_LOCAL];
    pthread_mutex_lock(&s->lock);
    bool cut = s->replay_cut;
    pthread_mutex_unlock(&s->lock);
    if (cut)                    /* the rest goes to the next stream */
        return 1;
    char *ev = format_event(seq, event, data, &n, local, sizeof local);
    pthread_mutex_lock(&s->lock);
    if (ev && s->replay_allow > 0 &&
        s->replay_allow + n > __atomic_load_n(&max_replay, __ATOMIC_RELAXED)) {
        /* this part is full: end the stream after it (see the top) */
        s->replay_allow += strlen(SSE_CUT_RETRY);
        buf_append(s, SSE_CUT_RETRY, strlen(SSE_CUT_RETRY));
        s->replay_cut = true;
        s->closing = true;
    } else if (ev) {
        s->replay_allow += n;
        buf_append(s, ev, n);
    } else {
        s->overflow = true;     /* an event lost: the client must reconnect */
    }
    bool stop = s->replay_cut || s->overflow;
    pthread_mutex_unlock(&s->lock);
    if (ev != local)
        free(ev);
    return stop;                /* 1: read no more of the replay */
}

/* Puts s in pid's bucket.  Caller holds the registry lock. */
static void register_locked(struct sse_stream *s, int64_t pid)
{
    size_t b = bucket_of(pid);
    s->pid = pid;
    s->prev = NULL;
    s->next = reg.buckets[b];
    if (s->next)
        s->next->prev = s;
    reg.buckets[b] = s;
    s->registered = true;
}

/* Streams registered (or reserved) under pid.  Caller holds the registry
 * lock. */
static int count_locked(int64_t pid)
{
    int n = 0;
    for (struct sse_stream *s = reg.buckets[bucket_of(pid)]; s; s = s->next)
        if (s->registered && s->pid == pid)
            n++;
    return n;
}

/* See net.h. */
bool sse_reserve(void *stream, int64_t pid, int max)
{
    struct sse_stream *s = stream;
    bool ok = true;
    pthread_mutex_lock(&reg.lock);
    if (!s->registered) {
        ok = count_locked(pid) < max;
        if (ok) {
            register_locked(s, pid);
            s->reserved = true;
        }
    }
    pthread_mutex_unlock(&reg.lock);
    return ok;
}

void sse_activate(void *stream, int64_t pid)
{
    struct sse_stream *s = stream;
    pthread_mutex_lock(&reg.lock);
    s->reserved = false;        /* reserved: already in pid's bucket */
    if (!s->registered) {
        register_locked(s, pid);
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
    pthread_mutex_lock(&reg.lock);
    int n = count_locked(pid);
    pthread_mutex_unlock(&reg.lock);
    return n;
}

void net_hold(void)
{
    holding = true;
}

void net_release(void)
{
    struct sse_stream *s = held, *wake = NULL;
    holding = false;
    held = NULL;
    while (s) {
        struct sse_stream *next = s->held_next;
        pthread_mutex_lock(&s->lock);
        s->dirty = false;
        if (s->direct && !flush_direct(s)) {
            s->wake_next = wake;
            wake = s;
        }
        pthread_mutex_unlock(&s->lock);
        stream_unref(s);        /* never the last while s awaits its resume */
        s = next;
    }
    wake_all(wake);
}

void net_deliver(int64_t pid, int64_t seq, const char *event, const char *data)
{
    size_t n;
    char local[SSE_EVENT_LOCAL];
    char *ev = format_event(seq, event, data, &n, local, sizeof local);
    struct sse_stream *wake = NULL;

    pthread_mutex_lock(&reg.lock);
    if (!reg.closed)
        for (struct sse_stream *s = reg.buckets[bucket_of(pid)]; s; s = s->next)
            if (s->pid == pid && !s->reserved)
                push_locked(s, ev, n, holding, &wake);
    pthread_mutex_unlock(&reg.lock);
    wake_all(wake);             /* parked streams; direct ones that failed */
    if (ev != local)
        free(ev);
}

/* ---- the response ----------------------------------------------------------------- */

/* The content reader of a stream's response (libmicrohttpd calls it on one
 * of its threads, only once what it returned before was wholly sent, and
 * never while the connection is suspended).  Copies out what is buffered;
 * with nothing buffered it suspends the connection and switches the stream
 * to direct mode (or parks it) under the stream's lock, and returns 0. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct sse_stream *s = cls;
    ssize_t r;
    (void)pos;

    pthread_mutex_lock(&s->lock);
    if (s->overflow || s->broken) {
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
        s->replay_allow = 0;    /* the replay is out: live events only now */
        MHD_suspend_connection(s->conn);
        if (!enter_direct(s))
            s->parked = true;
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
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store, no-transform");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return resp;
}

/* ---- threads, start and stop ------------------------------------------------------ */

/* One round of pings: a comment appended to every active stream; the direct
 * ones are written after the registry lock is dropped (each holding a
 * reference meanwhile), so that net_deliver does not wait for thousands of
 * sends; the parked ones are resumed.  Caller holds the registry lock, which
 * is dropped and taken again. */
static void ping_round(void)
{
    struct sse_stream *wake = NULL, *todo = NULL;
    for (size_t b = 0; b < SSE_BUCKETS; b++) {
        for (struct sse_stream *s = reg.buckets[b]; s; s = s->next) {
            if (s->reserved)    /* its replay comes first */
                continue;
            pthread_mutex_lock(&s->lock);
            buf_append(s, SSE_PING, strlen(SSE_PING));
            if (s->direct) {
                stream_ref(s);
                s->ping_next = todo;
                todo = s;
            } else if (s->parked) {
                s->parked = false;
                s->wake_next = wake;
                wake = s;
            }
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_unlock(&reg.lock);
    while (todo) {
        struct sse_stream *s = todo, *next = s->ping_next;
        pthread_mutex_lock(&s->lock);
        if (s->direct && !flush_direct(s)) {
            s->wake_next = wake;
            wake = s;
        }
        pthread_mutex_unlock(&s->lock);
        stream_unref(s);        /* never the last while s awaits its resume */
        todo = next;
    }
    wake_all(wake);
    pthread_mutex_lock(&reg.lock);
}

/* The ping thread: every ping_interval_ms, a comment to every active stream,
 * written at once (a write to a closed peer fails, so pings also find the
 * peers that went away without a FIN; a parked stream is resumed). */
static void *ping_main(void *arg)
{
    prctl(PR_SET_NAME, "live-ping");   /* top -H, perf */
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
        ping_round();
    }
    pthread_mutex_unlock(&reg.lock);
    return NULL;
}

void sse_set_ping_interval_ms(int ms)
{
    if (ms > 0)
        ping_interval_ms = ms;
}

void sse_set_max_buffered(size_t bytes)
{
    __atomic_store_n(&max_buffered, bytes ? bytes : SSE_MAX_BUFFERED, __ATOMIC_RELAXED);
}

void sse_set_max_replay(size_t bytes)
{
    __atomic_store_n(&max_replay, bytes ? bytes : SSE_MAX_REPLAY, __ATOMIC_RELAXED);
}

/* Starts the writer thread and its epoll set.  Returns 0, or -1 after
 * printing one line to stderr. */
static int writer_start(void)
{
    ep.epfd = epoll_create1(EPOLL_CLOEXEC);
    ep.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (ep.epfd < 0 || ep.evfd < 0 ||
        epoll_ctl(ep.epfd, EPOLL_CTL_ADD, ep.evfd, &ev) != 0) {
        fprintf(stderr, "cannot start the SSE writer: %s\n", strerror(errno));
        goto fail;
    }
    ep.stop = false;
    int rc = pthread_create(&ep.thread, NULL, writer_main, NULL);
    if (rc != 0) {
        fprintf(stderr, "cannot start the SSE writer thread: %s\n", strerror(rc));
        goto fail;
    }
    ep.running = true;
    return 0;
fail:
    if (ep.epfd >= 0)
        close(ep.epfd);
    if (ep.evfd >= 0)
        close(ep.evfd);
    ep.epfd = ep.evfd = -1;
    return -1;
}

/* Stops the writer thread (every stream is gone or out of direct mode) and
 * drops the references it still held. */
static void writer_stop(void)
{
    if (ep.running) {
        pthread_mutex_lock(&ep.lock);
        ep.stop = true;
        pthread_mutex_unlock(&ep.lock);
        writer_kick();
        pthread_join(ep.thread, NULL);
        ep.running = false;
    }
    pthread_mutex_lock(&ep.lock);
    struct sse_stream *drop = ep.drop;
    ep.drop = NULL;
    pthread_mutex_unlock(&ep.lock);
    while (drop) {
        struct sse_stream *next = drop->drop_next;
        stream_unref(drop);
        drop = next;
    }
    if (ep.epfd >= 0)
        close(ep.epfd);
    if (ep.evfd >= 0)
        close(ep.evfd);
    ep.epfd = ep.evfd = -1;
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
    __atomic_store_n(&closing_all, 0, __ATOMIC_RELEASE);
    if (writer_start() != 0) {
        pthread_cond_destroy(&reg.cond);
        return -1;
    }
    int rc = pthread_create(&reg.thread, NULL, ping_main, NULL);
    if (rc != 0) {
        fprintf(stderr, "cannot start the SSE ping thread: %s\n", strerror(rc));
        writer_stop();
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
    __atomic_store_n(&closing_all, 1, __ATOMIC_RELEASE);
    struct sse_stream *wake = NULL;
    pthread_mutex_lock(&reg.lock);
    reg.closed = true;
    for (size_t b = 0; b < SSE_BUCKETS; b++) {
        for (struct sse_stream *s = reg.buckets[b]; s; s = s->next) {
            pthread_mutex_lock(&s->lock);
            s->closing = true;
            bool resume = false;
            if (s->direct) {
                /* what the socket did not take yet goes through the reader */
                leave_direct(s, false);
                resume = true;
            } else if (s->parked) {
                s->parked = false;
                resume = true;
            }
            if (resume) {
                s->wake_next = wake;
                wake = s;
            }
            pthread_mutex_unlock(&s->lock);
        }
    }
    pthread_mutex_unlock(&reg.lock);
    wake_all(wake);
    /* No stream is direct any more, so the writer decides no new resume;
     * one it decided before has been made once we get the lock. */
    pthread_mutex_lock(&ep.wake_lock);
    pthread_mutex_unlock(&ep.wake_lock);
    if (ep.running)
        writer_kick();          /* drop the references soon */
}

void sse_fini(void)
{
    writer_stop();
    pthread_cond_destroy(&reg.cond);
}
