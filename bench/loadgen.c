/*
 * loadgen.c -- the livec load generator: plays N participants of a game
 * against a running server on 127.0.0.1 and measures it (issue 6).
 *
 * Each participant holds one SSE stream (GET /p/P/events) and one keep-alive
 * connection for its POSTs (POST /p/P/live); everything is non-blocking and
 * driven by epoll, one event loop per worker thread.  The HTTP/1.1 client,
 * the chunked-transfer decoder and the SSE parser are our own and tiny: the
 * loop only ever parses status lines, a few headers, chunk sizes and the
 * `id:`/`data:` lines of events, and looks for one integer key in an event's
 * JSON.  jansson is used once, to read the participant codes from the answer
 * to POST /api/sessions.
 *
 * Scenarios (--scenario):
 *   ceiling    POST only, to any path, no session and no stream: for the
 *              minimal server (ceiling.c) or any server's raw POST rate.
 *   counter    games/counter.live: every sender POSTs {"type":"add",...}.
 *   market     bench/games/market.live: bids and asks at random prices.
 *   broadcast  bench/games/broadcast.live: --senders players per group shout,
 *              everybody in the group receives every shout.
 *   tictactoe  games/tictactoe.live: a player moves when its stream says it
 *              is its turn; each group plays one game to its end.
 *   streams    opens N streams, waits for every first event, then opens
 *              --probe more one by one while the N stay open and times each
 *              new participant's first event; no messages are sent.
 *
 * Latency.  A sender has at most one POST in flight, so its messages are
 * handled in the order it sent them, and another player's stream receives
 * the events they cause in that order.  An event names its sender (the
 * game's `by`, or `id_in_group` in tic-tac-toe); the k-th event from sender
 * X on receiver R's stream is X's k-th message, whose send time is kept in a
 * ring.  POST-to-delivery latency is recorded for every other player's
 * stream (not the sender's own), POST-to-answer latency for every POST.
 * Both go to log-linear histograms (relative error < 1/64).
 *
 * Load.  Closed loop by default: each sender POSTs again as soon as its
 * answer arrives.  --rate R makes it open loop at R messages/s in total
 * (paced every millisecond, only from senders with nothing in flight; sends
 * that find no idle sender are counted as `missed`).
 *
 * Bounds.  Everything stops by itself: the measurement lasts --warmup plus
 * --duration seconds or until --max-messages were accepted; then senders
 * stop, in-flight work gets DRAIN_S seconds, and connections are closed.
 * Opening streams gives up after OPEN_TIMEOUT_S.
 *
 * Output: a human summary on stderr and one line on stdout,
 * `RESULT key=value ...`, which bench/run turns into its table.
 */
/* memmem, strcasestr */
#define _GNU_SOURCE 1
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* ---- limits ---------------------------------------------------------------- */

/* Participants one run may play (the server's connection limit is 20000;
 * each participant may need two connections). */
#define MAX_PARTICIPANTS 20000
/* Largest group the language allows (LANGUAGE.md §2: players 1..64). */
#define MAX_GROUP 64
/* Participants per POST /api/sessions (the runtime's
 * RT_SESSION_MAX_PARTICIPANTS). */
#define SESSION_MAX 10000
/* Send times a sender remembers, so a receiver may lag this many messages
 * behind before its latencies can no longer be attributed. */
#define SEND_RING 256
/* Bytes of one connection's receive buffer; an event line longer than this
 * is an error (the bench games' events are a few hundred bytes). */
#define RBUF_SIZE (64 * 1024)
/* Longest request we write (a POST with its small JSON body). */
#define WBUF_SIZE 1024
/* epoll events taken per epoll_wait. */
#define EPOLL_BATCH 512
/* Streams being opened at once per worker (so the server's listen queue
 * never overflows while thousands connect). */
#define OPEN_WINDOW 256
/* Seconds allowed to open every stream and receive each first event. */
#define OPEN_TIMEOUT_S 60
/* Seconds for in-flight POSTs and events after the load stops. */
#define DRAIN_S 2
/* Worker threads at most. */
#define MAX_THREADS 8
/* Histogram: slices per power of two, and buckets for values < 2^63 ns. */
#define H_HALF 64
#define H_HALF_BITS 6
#define H_BUCKETS (H_HALF * 60)
/* Bytes of a whole HTTP answer read by the blocking set-up client. */
#define SETUP_MAX (16 * 1024 * 1024)
/* Set-up connections refused this many times, 100 ms apart, give up. */
#define CONNECT_TRIES 30

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

/* ---- small helpers ------------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Print "loadgen: MESSAGE" and exit 1. */
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Monotonic time in nanoseconds. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* calloc or die; the caller frees. */
static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        die("out of memory");
    return p;
}

/* ---- histogram ------------------------------------------------------------------ */

struct hist {
    uint64_t n, sum, max;
    uint64_t b[H_BUCKETS];
};

/* Bucket of a value: exact below 2*H_HALF, then H_HALF slices per octave. */
static unsigned h_index(uint64_t v)
{
    if (v < 2 * H_HALF)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - H_HALF_BITS;
    return shift * H_HALF + (unsigned)(v >> shift);
}

/* Middle of bucket i (the value reported for it). */
static uint64_t h_value(unsigned i)
{
    if (i < 2 * H_HALF)
        return i;
    unsigned shift = i / H_HALF - 1;
    uint64_t lo = (uint64_t)(i - shift * H_HALF) << shift;
    return lo + ((1ull << shift) >> 1);
}

/* Records value v (ns) in h. */
static void h_add(struct hist *h, uint64_t v)
{
    unsigned i = h_index(v);
    if (i >= H_BUCKETS)
        i = H_BUCKETS - 1;
    h->b[i]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

/* Adds every value recorded in h to into. */
static void h_merge(struct hist *into, const struct hist *h)
{
    for (unsigned i = 0; i < H_BUCKETS; i++)
        into->b[i] += h->b[i];
    into->n += h->n;
    into->sum += h->sum;
    if (h->max > into->max)
        into->max = h->max;
}

/* The q-quantile (0 < q <= 1) of the recorded values; 0 when empty. */
static uint64_t h_quantile(const struct hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->n + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            uint64_t v = h_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- options -------------------------------------------------------------------- */

enum scenario { SC_CEILING, SC_COUNTER, SC_MARKET, SC_BROADCAST, SC_TICTACTOE, SC_STREAMS };

static const char *const scenario_names[] = {
    "ceiling", "counter", "market", "broadcast", "tictactoe", "streams",
};

static struct {
    const char *host;
    int port;
    const char *password;
    enum scenario sc;
    int participants;
    int group;              /* group size of the game */
    int senders;            /* senders per group (0: all) */
    double duration, warmup;
    uint64_t max_messages;
    double rate;            /* 0: closed loop */
    int threads;
    int server_pid;
    int probe;
    double idle;            /* streams: seconds of idle CPU measurement */
    const char *label;
    const char *path;       /* ceiling: path to POST to */
} opt = {
    .host = "127.0.0.1", .password = "bench", .sc = SC_COUNTER, .participants = 200,
    .group = 2, .duration = 5, .warmup = 1, .max_messages = 10000000, .threads = 1,
    .probe = 100, .idle = 1, .label = "", .path = "/p/x/live",
};

/* ---- participants and connections ----------------------------------------------- */

enum cstate { C_IDLE, C_CONNECTING, C_WRITING, C_HEAD, C_BODY, C_CLOSED };

struct part;

struct conn {
    int fd;
    bool is_sse;
    enum cstate st;
    struct part *p;
    struct worker *w;
    char *rbuf;             /* RBUF_SIZE bytes */
    size_t rlen;
    char wbuf[WBUF_SIZE];
    size_t wlen, woff;
    /* answer being read */
    int status;
    bool chunked, close_after;
    long long content_left; /* POST: body bytes still to read */
    long long chunk_left;   /* SSE: bytes left in the current chunk, -1 size line next */
    bool chunk_crlf;        /* SSE: a chunk's CRLF is due before the next size line */
    /* SSE event being assembled */
    char *line;             /* RBUF_SIZE bytes */
    size_t line_len;
    char *data;             /* RBUF_SIZE bytes */
    size_t data_len;
};

struct part {
    char code[48];
    int group;              /* index of the group in the run */
    int id;                 /* id in group, 1-based */
    int index;              /* index in the run */
    bool sender;
    struct conn sse, post;
    /* POST */
    bool in_flight;
    uint64_t t_post;        /* send time of the POST in flight */
    uint64_t n_sent;        /* messages sent */
    uint64_t ring[SEND_RING];
    /* stream */
    uint64_t t_open;
    uint64_t t_first;       /* 0 until the first event */
    uint32_t *from;         /* events received from each sender id (group size) */
    /* tic-tac-toe: what this player's stream last said */
    int ttt_board[9];
    int ttt_turn, ttt_winner;
    bool ttt_dirty;
    int ttt_square;         /* square of the move in flight */
};

struct worker {
    int idx;
    pthread_t th;
    int ep;
    struct part **parts;
    int n_parts;
    struct part **senders;
    int n_senders;
    int rr;                 /* round-robin position for paced sends */
    uint64_t seed;
    /* counters (only while measuring, except the `open` ones) */
    uint64_t accepted, rejected, errors, events, attributed, unmatched, missed, sent;
    uint64_t pace_sent;     /* paced sends since the window opened */
    int streams_open, first_events, opening;
    uint64_t reconnects;
    int games_over;         /* tic-tac-toe players whose game has ended */
    struct hist post_lat, deliver_lat, first_lat;
    uint64_t t_read;        /* when the bytes being parsed were received */
};

static struct part *parts;
static int n_parts;
static struct worker workers[MAX_THREADS];
static struct sockaddr_in server_addr;

/* Phases, set by the main thread and read by the workers. */
enum phase { PH_OPEN, PH_RUN, PH_DRAIN, PH_STOP };
static _Atomic int phase = PH_OPEN;
static _Atomic uint64_t t_measure;      /* window start (ns), 0 until known */
static _Atomic uint64_t t_measure_end;  /* window end (ns) */
static _Atomic uint64_t total_accepted; /* across workers, for --max-messages */

/* Whether time t falls in the measurement window. */
static bool measuring(uint64_t t)
{
    uint64_t a = atomic_load_explicit(&t_measure, memory_order_relaxed);
    uint64_t b = atomic_load_explicit(&t_measure_end, memory_order_relaxed);
    return a && t >= a && t < b;
}

/* The worker's next pseudo-random number (xorshift64). */
static uint64_t rnd(struct worker *w)
{
    w->seed ^= w->seed << 13;
    w->seed ^= w->seed >> 7;
    w->seed ^= w->seed << 17;
    return w->seed;
}

/* ---- sockets -------------------------------------------------------------------- */

/* Closes c's socket (if open); c may be started again. */
static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);   /* also removes it from epoll */
        c->fd = -1;
    }
    c->st = C_CLOSED;
}

/* Start a non-blocking connect; the connection then waits for EPOLLOUT. */
static bool conn_start(struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return false;
    }
    c->fd = fd;
    c->st = C_CONNECTING;
    c->rlen = 0;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c };
    if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        c->fd = -1;
        return false;
    }
    return true;
}

/* Ask epoll for writability only while there is something to write. */
static void conn_want_write(struct conn *c, bool want)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0),
                              .data.ptr = c };
    epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is left of wbuf.  Returns false on a broken connection. */
static bool conn_flush(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t k = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_want_write(c, true);
                return true;
            }
            return false;
        }
        c->woff += (size_t)k;
    }
    c->st = C_HEAD;
    c->status = 0;
    c->chunked = c->close_after = false;
    c->content_left = -1;
    return true;
}

/* ---- messages ------------------------------------------------------------------- */

/* Body of the next message of participant p in this scenario (written into
 * buf); -1 when p has nothing to send. */
static int make_body(struct worker *w, struct part *p, char *buf, size_t size)
{
    switch (opt.sc) {
    case SC_CEILING:
    case SC_COUNTER:
        return snprintf(buf, size, "{\"type\":\"add\",\"amount\":1}");
    case SC_MARKET: {
        int price = 40 + (int)(rnd(w) % 21);
        return snprintf(buf, size, "{\"type\":\"%s\",\"price\":%d}",
                        (rnd(w) & 1) ? "bid" : "ask", price);
    }
    case SC_BROADCAST:
        return snprintf(buf, size, "{\"type\":\"shout\",\"seq\":%" PRIu64 "}", p->n_sent + 1);
    case SC_TICTACTOE: {
        if (p->ttt_winner != 0 || p->ttt_turn != p->id)
            return -1;
        int free_sq[9], n = 0;
        for (int i = 0; i < 9; i++)
            if (p->ttt_board[i] == 0)
                free_sq[n++] = i;
        if (n == 0)
            return -1;
        p->ttt_square = free_sq[rnd(w) % (unsigned)n];
        return snprintf(buf, size, "{\"type\":\"move\",\"square\":%d}", p->ttt_square);
    }
    case SC_STREAMS:
        return -1;
    }
    return -1;
}

/* Send p's next message on its POST connection if it is idle.  Returns
 * true if a POST went out. */
static bool post_send(struct worker *w, struct part *p)
{
    struct conn *c = &p->post;
    if (p->in_flight || c->st == C_CONNECTING)
        return false;
    char body[256];
    int n = make_body(w, p, body, sizeof body);
    if (n < 0)
        return false;
    if (c->st == C_CLOSED) {
        if (!conn_start(c)) {
            w->errors++;
            return false;
        }
        w->reconnects++;
    }
    const char *path = opt.path;
    char pbuf[128];
    if (opt.sc != SC_CEILING) {
        snprintf(pbuf, sizeof pbuf, "/p/%s/live", p->code);
        path = pbuf;
    }
    int k = snprintf(c->wbuf, sizeof c->wbuf,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n%s", path, opt.host, opt.port, n, body);
    c->wlen = (size_t)k;
    c->woff = 0;
    p->in_flight = true;
    p->t_post = now_ns();
    p->ring[p->n_sent % SEND_RING] = p->t_post;
    p->n_sent++;
    if (measuring(p->t_post))
        w->sent++;
    if (c->st == C_CONNECTING) {   /* reconnecting: written once connected */
        c->st = C_WRITING;
        return true;
    }
    c->st = C_WRITING;
    if (!conn_flush(c)) {
        conn_close(c);
        p->in_flight = false;
        w->errors++;
    }
    return true;
}

/* A POST answer arrived (status known, body read). */
static void post_done(struct worker *w, struct part *p, int status)
{
    uint64_t t = now_ns();
    p->in_flight = false;
    bool in = measuring(p->t_post);
    if (in) {
        h_add(&w->post_lat, t - p->t_post);
        if (status == 200) {
            w->accepted++;
            atomic_fetch_add_explicit(&total_accepted, 1, memory_order_relaxed);
        } else if (status == 422) {
            w->rejected++;
        } else {
            w->errors++;
        }
    }
    if (status != 200 && opt.sc != SC_TICTACTOE && w->errors < 5 && in)
        fprintf(stderr, "loadgen: POST answered %d\n", status);
    if (status != 200 && status != 422 && opt.sc != SC_TICTACTOE)
        p->n_sent--;    /* no event will name it */
    if (opt.rate == 0 && atomic_load_explicit(&phase, memory_order_relaxed) == PH_RUN &&
        p->sender && opt.sc != SC_TICTACTOE)
        post_send(w, p);
}

/* ---- events ---------------------------------------------------------------------- */

/* The integer after `"key":` in a JSON text, or -1. */
static long json_int_key(const char *s, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (const char *q = s; (q = memchr(q, '"', (size_t)(s + n - q))) != NULL; q++) {
        if ((size_t)(s + n - q) > kl + 2 && memcmp(q + 1, key, kl) == 0 && q[kl + 1] == '"' &&
            q[kl + 2] == ':') {
            const char *v = q + kl + 3;
            if (v < s + n && (*v == '-' || (*v >= '0' && *v <= '9')))
                return strtol(v, NULL, 10);
            return -1;
        }
    }
    return -1;
}

/* Read tic-tac-toe state from an event into p. */
static void ttt_read(struct part *p, const char *d, size_t n)
{
    const char *b = memmem(d, n, "\"board\":[", 9);
    if (b) {
        b += 9;
        for (int i = 0; i < 9 && b < d + n; i++) {
            p->ttt_board[i] = (int)strtol(b, (char **)&b, 10);
            if (b < d + n && *b == ',')
                b++;
        }
    }
    long t = json_int_key(d, n, "whose_turn");
    if (t >= 0)
        p->ttt_turn = (int)t;
    long wn = json_int_key(d, n, "winner");
    if (wn > 0 && p->ttt_winner == 0)
        __atomic_add_fetch(&p->sse.w->games_over, 1, __ATOMIC_RELAXED);
    if (wn >= 0)
        p->ttt_winner = (int)wn;
    p->ttt_dirty = true;
}

/* One complete SSE event (data joined) on p's stream. */
static void on_event(struct worker *w, struct part *p, const char *d, size_t n)
{
    uint64_t t = w->t_read;     /* every event of one recv() arrived together */
    if (!p->t_first) {
        p->t_first = t;
        w->first_events++;
        h_add(&w->first_lat, t - p->t_open);
        if (opt.sc == SC_TICTACTOE)
            ttt_read(p, d, n);
        return;     /* on load's answer: nobody's message */
    }
    if (opt.sc == SC_TICTACTOE)
        ttt_read(p, d, n);
    bool in = measuring(t);
    if (in)
        w->events++;
    long by = json_int_key(d, n, opt.sc == SC_TICTACTOE ? "id_in_group" : "by");
    if (by < 1 || by > opt.group || by == p->id)
        return;
    struct part *s = &parts[p->index - (p->id - 1) + (by - 1)];
    uint64_t k = p->from[by - 1]++;
    if (k >= s->n_sent || s->n_sent - k > SEND_RING) {
        if (in)
            w->unmatched++;
        return;
    }
    uint64_t t0 = s->ring[k % SEND_RING];
    if (measuring(t0)) {
        h_add(&w->deliver_lat, t - t0);
        w->attributed++;
    }
}

/* Feed body bytes of an SSE stream to the line parser.  A line wholly in
 * b is looked at where it is; only a line cut by the end of b is copied to
 * c->line (at 1M events/s the generator's own cost per event counts: it
 * shares the cores with the server). */
static bool sse_feed(struct worker *w, struct conn *c, const char *b, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(b, '\n', n);
        size_t take = nl ? (size_t)(nl - b) : n;
        const char *line = b;
        size_t ll = take;
        if (!nl || c->line_len > 0) {   /* a line in pieces */
            if (c->line_len + take >= RBUF_SIZE)
                return false;
            memcpy(c->line + c->line_len, b, take);
            c->line_len += take;
            if (!nl)
                return true;
            line = c->line;
            ll = c->line_len;
        }
        b += take + 1;
        n -= take + 1;
        c->line_len = 0;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll == 0) {                  /* blank line: dispatch */
            if (c->data_len) {
                on_event(w, c->p, c->data, c->data_len);
                c->data_len = 0;
            }
        } else if (line[0] == 'd' && ll >= 5 && memcmp(line, "data:", 5) == 0) {
            size_t off = (ll > 5 && line[5] == ' ') ? 6 : 5;
            if (c->data_len + (ll - off) + 1 >= RBUF_SIZE)
                return false;
            if (c->data_len)
                c->data[c->data_len++] = '\n';
            memcpy(c->data + c->data_len, line + off, ll - off);
            c->data_len += ll - off;
        }
        /* id:, event:, retry: and comments need nothing from us */
    }
    return true;
}

/* Decode the chunked (or raw) body bytes in c->rbuf[0..rlen) of a stream.
 * Leaves an incomplete chunk-size line in the buffer. */
static bool sse_body(struct worker *w, struct conn *c)
{
    size_t pos = 0;
    if (!c->chunked) {
        bool ok = sse_feed(w, c, c->rbuf, c->rlen);
        c->rlen = 0;
        return ok;
    }
    while (pos < c->rlen) {
        if (c->chunk_left > 0) {
            size_t take = c->rlen - pos;
            if ((long long)take > c->chunk_left)
                take = (size_t)c->chunk_left;
            if (!sse_feed(w, c, c->rbuf + pos, take))
                return false;
            pos += take;
            c->chunk_left -= (long long)take;
            if (c->chunk_left == 0)
                c->chunk_crlf = true;
            continue;
        }
        char *nl = memchr(c->rbuf + pos, '\n', c->rlen - pos);
        if (!nl)
            break;
        if (c->chunk_crlf) {            /* the CRLF after a chunk's data */
            c->chunk_crlf = false;
            pos = (size_t)(nl - c->rbuf) + 1;
            continue;
        }
        long long sz = strtoll(c->rbuf + pos, NULL, 16);
        pos = (size_t)(nl - c->rbuf) + 1;
        if (sz == 0)
            return false;               /* the server ended the stream */
        c->chunk_left = sz;
    }
    memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
    c->rlen -= pos;
    return true;
}

/* ---- reading answers ------------------------------------------------------------ */

/* Parse the status line and headers if complete; returns bytes consumed,
 * 0 if incomplete, -1 on garbage. */
static long parse_head(struct conn *c)
{
    char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end)
        return c->rlen >= RBUF_SIZE ? -1 : 0;
    *end = '\0';
    if (strncmp(c->rbuf, "HTTP/1.", 7) != 0)
        return -1;
    c->status = atoi(c->rbuf + 9);
    c->content_left = 0;
    for (char *h = strstr(c->rbuf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
        char *v = h + 2;
        if (strncasecmp(v, "content-length:", 15) == 0)
            c->content_left = atoll(v + 15);
        else if (strncasecmp(v, "transfer-encoding:", 18) == 0 && strstr(v, "chunked"))
            c->chunked = true;
        else if (strncasecmp(v, "connection:", 11) == 0 && strcasestr(v, "close"))
            c->close_after = true;
    }
    return (long)(end - c->rbuf) + 4;
}

/* Handle readable data on c.  Returns false when the connection must close. */
static bool conn_read(struct worker *w, struct conn *c)
{
    for (;;) {
        if (c->rlen >= RBUF_SIZE)
            return false;
        ssize_t k = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
        if (k == 0)
            return false;
        if (k < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        c->rlen += (size_t)k;
        if (c->is_sse)
            w->t_read = now_ns();
        if (c->st == C_HEAD) {
            long used = parse_head(c);
            if (used < 0)
                return false;
            if (used == 0)
                continue;
            memmove(c->rbuf, c->rbuf + used, c->rlen - (size_t)used);
            c->rlen -= (size_t)used;
            c->st = C_BODY;
            if (c->is_sse) {
                if (c->status != 200) {
                    if (w->errors++ < 5)
                        fprintf(stderr, "loadgen: stream answered %d\n", c->status);
                    return false;
                }
                c->chunk_left = 0;
                c->chunk_crlf = false;
                w->streams_open++;
                w->opening--;
            }
        }
        if (c->st == C_BODY && c->is_sse) {
            if (!sse_body(w, c))
                return false;
        } else if (c->st == C_BODY) {
            if ((long long)c->rlen < c->content_left)
                continue;
            /* pipelining is never used: whatever follows is garbage */
            c->rlen = 0;
            c->st = C_IDLE;
            bool close_it = c->close_after;
            post_done(w, c->p, c->status);
            if (close_it && c->st == C_IDLE) {
                conn_close(c);
                return true;
            }
            if (c->st != C_HEAD && c->st != C_WRITING)
                return true;
        }
    }
}

/* Begin opening p's stream. */
static bool sse_open(struct worker *w, struct part *p)
{
    struct conn *c = &p->sse;
    if (!conn_start(c))
        return false;
    c->wlen = (size_t)snprintf(c->wbuf, sizeof c->wbuf,
                               "GET /p/%s/events HTTP/1.1\r\nHost: %s:%d\r\n"
                               "Accept: text/event-stream\r\n\r\n", p->code, opt.host, opt.port);
    c->woff = 0;
    c->line_len = c->data_len = 0;
    p->t_open = now_ns();
    w->opening++;
    return true;
}

/* One epoll event on connection c. */
static void conn_event(struct worker *w, struct conn *c, uint32_t ev)
{
    if (c->fd < 0)
        return;
    if (c->st == C_CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            w->errors++;
            if (c->is_sse)
                w->opening--;
            else
                c->p->in_flight = false;
            conn_close(c);
            return;
        }
        if (c->is_sse) {
            c->st = C_WRITING;
        } else if (c->p->in_flight) {
            c->st = C_WRITING;          /* a POST was waiting for the connect */
        } else {
            c->st = C_IDLE;
            conn_want_write(c, false);
            return;
        }
    }
    if (c->st == C_WRITING && (ev & EPOLLOUT)) {
        if (!conn_flush(c))
            goto broken;
        if (c->st == C_HEAD)
            conn_want_write(c, false);
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (!conn_read(w, c))
            goto broken;
    }
    return;
broken:
    if (c->is_sse) {
        if (c->st == C_BODY)
            w->streams_open--;
        else if (c->st != C_CLOSED)
            w->opening--;
        if (atomic_load(&phase) < PH_DRAIN) {
            w->errors++;
            if (w->errors < 5)
                fprintf(stderr, "loadgen: stream of %s closed\n", c->p->code);
        }
    } else if (c->p->in_flight) {
        c->p->in_flight = false;
        c->p->n_sent--;
        w->errors++;
    }
    conn_close(c);
}

/* ---- worker ---------------------------------------------------------------------- */

/* Paced sends due by now (open loop). */
static void pace(struct worker *w, uint64_t t)
{
    uint64_t t0 = atomic_load(&t_measure);
    if (!t0 || w->n_senders == 0)
        return;
    double per_worker = opt.rate / opt.threads;
    uint64_t start = t0 - (uint64_t)(opt.warmup * NS_PER_S);
    if (t < start)
        return;
    uint64_t due = (uint64_t)((double)(t - start) / NS_PER_S * per_worker);
    int tries = 0;
    while (w->pace_sent < due) {
        if (tries++ >= w->n_senders) {
            w->missed += due - w->pace_sent;
            w->pace_sent = due;
            break;
        }
        struct part *p = w->senders[w->rr];
        w->rr = (w->rr + 1) % w->n_senders;
        if (post_send(w, p)) {
            w->pace_sent++;
            tries = 0;
        }
    }
}

/* Tic-tac-toe: players whose stream says it is their turn move. */
static void ttt_moves(struct worker *w)
{
    for (int i = 0; i < w->n_parts; i++) {
        struct part *p = w->parts[i];
        if (p->ttt_dirty && !p->in_flight) {
            p->ttt_dirty = false;
            post_send(w, p);
        }
    }
}

/* A worker thread: opens its participants' streams, then sends and reads
 * until the main thread sets PH_STOP.  arg is its struct worker. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[EPOLL_BATCH];
    int next_open = 0;
    bool started = false;
    uint64_t t_open_deadline = now_ns() + OPEN_TIMEOUT_S * NS_PER_S;
    bool want_streams = opt.sc != SC_CEILING;
    for (;;) {
        int ph = atomic_load(&phase);
        uint64_t t = now_ns();
        if (ph == PH_STOP)
            break;
        /* open streams, OPEN_WINDOW at a time */
        if (want_streams && ph == PH_OPEN) {
            while (next_open < __atomic_load_n(&w->n_parts, __ATOMIC_ACQUIRE) &&
                   w->opening < OPEN_WINDOW) {
                if (!sse_open(w, w->parts[next_open]))
                    w->errors++;
                next_open++;
            }
            if (t > t_open_deadline && w->first_events < w->n_parts) {
                fprintf(stderr, "loadgen: worker %d: %d of %d streams got a first event in %ds\n",
                        w->idx, w->first_events, w->n_parts, OPEN_TIMEOUT_S);
                t_open_deadline = UINT64_MAX;
            }
        }
        if (ph == PH_RUN && !started) {
            started = true;
            if (opt.rate == 0 && opt.sc != SC_TICTACTOE)
                for (int i = 0; i < w->n_senders; i++)
                    post_send(w, w->senders[i]);
        }
        if (ph == PH_RUN && opt.rate > 0)
            pace(w, t);
        if (ph == PH_RUN && opt.sc == SC_TICTACTOE)
            ttt_moves(w);
        int n = epoll_wait(w->ep, evs, EPOLL_BATCH, 1);
        for (int i = 0; i < n; i++)
            conn_event(w, evs[i].data.ptr, evs[i].events);
    }
    return NULL;
}

/* ---- set-up: blocking HTTP for POST /api/sessions --------------------------------- */

/* One blocking HTTP/1.0 request; returns the malloc'd body (caller frees)
 * and sets *status. */
static char *http_blocking(const char *method, const char *path, const char *auth,
                           const char *body, int *status)
{
    int fd = -1;
    for (int tries = 0;; tries++) {     /* a server just started may not listen yet */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) == 0)
            break;
        if (fd < 0 || errno != ECONNREFUSED || tries >= CONNECT_TRIES)
            die("cannot connect to %s:%d: %s", opt.host, opt.port, strerror(errno));
        close(fd);
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.0\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, opt.host, opt.port, auth, strlen(body));
    if (write(fd, head, (size_t)hl) != hl ||
        write(fd, body, strlen(body)) != (ssize_t)strlen(body))
        die("cannot send %s %s", method, path);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= SETUP_MAX)
                die("answer to %s too large", path);
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                die("out of memory");
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0)
            die("reading the answer to %s: %s", path, strerror(errno));
        if (k == 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = '\0';
    *status = len > 12 ? atoi(buf + 9) : 0;
    char *b = strstr(buf, "\r\n\r\n");
    if (!b)
        die("no answer to %s", path);
    memmove(buf, b + 4, strlen(b + 4) + 1);
    return buf;
}

/* Create sessions for n participants and fill parts[]. */
static void create_sessions(int n)
{
    int chunk = SESSION_MAX / opt.group * opt.group;
    int made = 0, group_base = 0;
    while (made < n) {
        int want = n - made < chunk ? n - made : chunk;
        char body[64];
        snprintf(body, sizeof body, "{\"participants\": %d}", want);
        int status;
        char *ans = http_blocking("POST", "/api/sessions", opt.password, body, &status);
        if (status != 201)
            die("POST /api/sessions answered %d: %s", status, ans);
        json_error_t jerr;
        json_t *root = json_loads(ans, 0, &jerr);
        json_t *list = json_object_get(root, "participants");
        if (!json_is_array(list) || (int)json_array_size(list) != want)
            die("unexpected answer to POST /api/sessions: %.200s", ans);
        for (int i = 0; i < want; i++) {
            json_t *e = json_array_get(list, (size_t)i);
            struct part *p = &parts[made + i];
            snprintf(p->code, sizeof p->code, "%s",
                     json_string_value(json_object_get(e, "code")));
            int g = (int)json_integer_value(json_object_get(e, "group"));
            p->id = (int)json_integer_value(json_object_get(e, "id_in_group"));
            p->group = group_base + g - 1;
            if (p->id != i % opt.group + 1)
                die("participant %d has id_in_group %d: is --group %d the game's size?",
                    made + i, p->id, opt.group);
        }
        group_base += want / opt.group;
        json_decref(root);
        free(ans);
        made += want;
    }
}

/* ---- server process figures ------------------------------------------------------- */

/* CPU seconds (user + system) from a /proc stat file (a process's or a
 * thread's), or -1; the command name, when name is not NULL, into
 * name[0..size). */
static double stat_cpu(const char *path, char *name, size_t size)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) */
    if (!open || !close || close < open ||
        sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    if (name)
        snprintf(name, size, "%.*s", (int)(close - open - 1), open + 1);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds (user + system) used so far by process pid, or -1. */
static double proc_cpu(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    return stat_cpu(path, NULL, 0);
}

/* The server's CPU by thread name (the runtime names its threads live-game,
 * live-sync, live-deliver, ...; libmicrohttpd's are MHD-worker): seconds used
 * so far, summed over the threads of each name. */
#define SPLIT_MAX 16
struct split {
    int n;
    char name[SPLIT_MAX][24];
    double secs[SPLIT_MAX];
};

static void proc_split(int pid, struct split *sp)
{
    char path[96], name[sizeof sp->name[0]];
    sp->n = 0;
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/stat", pid, e->d_name);
        double secs = stat_cpu(path, name, sizeof name);
        if (secs < 0)
            continue;
        int i = 0;
        while (i < sp->n && strcmp(sp->name[i], name) != 0)
            i++;
        if (i == sp->n) {
            if (sp->n == SPLIT_MAX)
                continue;
            snprintf(sp->name[i], sizeof sp->name[i], "%s", name);
            sp->secs[i] = 0;
            sp->n++;
        }
        sp->secs[i] += secs;
    }
    closedir(d);
}

/* "name:us,name:us,..." -- CPU microseconds per accepted message by thread
 * name between a and b (threads under 0.05 us left out), in out. */
static void split_text(const struct split *a, const struct split *b, uint64_t accepted,
                       char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < b->n && accepted > 0; i++) {
        double before = 0;
        for (int j = 0; j < a->n; j++)
            if (strcmp(a->name[j], b->name[i]) == 0)
                before = a->secs[j];
        double us = (b->secs[i] - before) * 1e6 / (double)accepted;
        if (us < 0.05)
            continue;
        int k = snprintf(out + used, size - used, "%s%s:%.1f", used ? "," : "", b->name[i], us);
        if (k < 0 || (size_t)k >= size - used)
            break;
        used += (size_t)k;
    }
    if (!out[0])
        snprintf(out, size, "-");
}

/* A "VmRSS"/"VmHWM" figure of process pid in MiB, or -1. */
static double proc_mem(int pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    double v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = atof(line + kl + 1) / 1024.0;
    fclose(f);
    return v;
}

/* Busy and total jiffies of the whole machine (the "cpu" line of /proc/stat). */
static void machine_cpu(double *busy, double *total)
{
    unsigned long long v[8] = { 0 };
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) == 8) {
        for (int i = 0; i < 8; i++)
            *total += (double)v[i];
        *busy = *total - (double)v[3] - (double)v[4];     /* minus idle and iowait */
    }
    fclose(f);
}

/* CPU seconds this process (all its threads) has used. */
static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* ---- main ------------------------------------------------------------------------ */

/* Prints the usage and exits 2. */
static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port N [--host 127.0.0.1] [--scenario S] [--password PW]\n"
            "         [--participants N] [--group G] [--senders K] [--duration S] [--warmup S]\n"
            "         [--max-messages M] [--rate R] [--threads T] [--pid PID] [--probe P]\n"
            "         [--path /p/x/live] [--idle S] [--label TEXT]\n"
            "scenarios: ceiling counter market broadcast tictactoe streams\n");
    exit(2);
}

/* Sleeps until monotonic time t (ns). */
static void sleep_until(uint64_t t)
{
    for (;;) {
        uint64_t n = now_ns();
        if (n >= t)
            return;
        uint64_t d = t - n;
        struct timespec ts = { (time_t)(d / NS_PER_S), (long)(d % NS_PER_S) };
        nanosleep(&ts, NULL);
    }
}

/* Streams that have received their first event, across workers. */
static int total_first_events(void)
{
    int n = 0;
    for (int i = 0; i < opt.threads; i++)
        n += __atomic_load_n(&workers[i].first_events, __ATOMIC_RELAXED);
    return n;
}

/* Tic-tac-toe players whose game has ended, across workers. */
static int total_games_over(void)
{
    int n = 0;
    for (int i = 0; i < opt.threads; i++)
        n += __atomic_load_n(&workers[i].games_over, __ATOMIC_RELAXED);
    return n;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        { "host", 1, 0, 'h' }, { "port", 1, 0, 'p' }, { "password", 1, 0, 'P' },
        { "scenario", 1, 0, 's' }, { "participants", 1, 0, 'n' }, { "group", 1, 0, 'g' },
        { "senders", 1, 0, 'k' }, { "duration", 1, 0, 'd' }, { "warmup", 1, 0, 'w' },
        { "max-messages", 1, 0, 'm' }, { "rate", 1, 0, 'r' }, { "threads", 1, 0, 't' },
        { "pid", 1, 0, 'i' }, { "probe", 1, 0, 'b' }, { "label", 1, 0, 'l' },
        { "path", 1, 0, 'a' }, { "idle", 1, 0, 'I' }, { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'P': opt.password = optarg; break;
        case 's': {
            int found = -1;
            for (int i = 0; i < (int)(sizeof scenario_names / sizeof *scenario_names); i++)
                if (strcmp(optarg, scenario_names[i]) == 0)
                    found = i;
            if (found < 0)
                usage();
            opt.sc = (enum scenario)found;
            break;
        }
        case 'n': opt.participants = atoi(optarg); break;
        case 'g': opt.group = atoi(optarg); break;
        case 'k': opt.senders = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'm': opt.max_messages = strtoull(optarg, NULL, 10); break;
        case 'r': opt.rate = atof(optarg); break;
        case 't': opt.threads = atoi(optarg); break;
        case 'i': opt.server_pid = atoi(optarg); break;
        case 'b': opt.probe = atoi(optarg); break;
        case 'l': opt.label = optarg; break;
        case 'a': opt.path = optarg; break;
        case 'I': opt.idle = atof(optarg); break;
        default: usage();
        }
    }
    if (opt.port <= 0 || opt.participants < 1 || opt.group < 1 || opt.group > MAX_GROUP ||
        opt.threads < 1 || opt.threads > MAX_THREADS || opt.duration <= 0 ||
        opt.duration > 600 || opt.warmup < 0 || opt.warmup > 60 || opt.idle <= 0 ||
        opt.idle > 60)
        usage();
    if (opt.sc == SC_CEILING)
        opt.group = 1;
    if (opt.sc == SC_STREAMS)
        opt.threads = 1;
    int probe = opt.sc == SC_STREAMS ? opt.probe : 0;
    n_parts = opt.participants + probe;
    if (n_parts > MAX_PARTICIPANTS || opt.participants % opt.group || probe % opt.group)
        die("participants (and --probe) must be multiples of the group size, at most %d in all",
            MAX_PARTICIPANTS);

    /* a stream and a POST connection per participant (streams: no POSTs),
     * and some slack */
    int fds = (opt.sc == SC_STREAMS ? 1 : 2) * n_parts + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)fds)
            die("need %d file descriptors, have %lu", fds, (unsigned long)rl.rlim_cur);
    }
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1)
        die("--host must be an IPv4 address");
    if ((ntohl(server_addr.sin_addr.s_addr) >> 24) != 127)
        die("refusing to load %s: only loopback addresses (127.0.0.0/8)", opt.host);

    parts = xcalloc((size_t)n_parts, sizeof *parts);
    if (opt.sc != SC_CEILING)
        create_sessions(n_parts);
    for (int i = 0; i < n_parts; i++) {
        struct part *p = &parts[i];
        p->index = i;
        if (opt.sc == SC_CEILING) {
            p->id = 1;
            p->group = i;
        }
        p->sender = opt.sc != SC_STREAMS && (opt.senders == 0 || p->id <= opt.senders);
        p->from = xcalloc((size_t)opt.group, sizeof *p->from);
        p->sse.fd = p->post.fd = -1;
        p->sse.st = p->post.st = C_CLOSED;
        p->sse.is_sse = true;
        p->sse.p = p->post.p = p;
        p->ttt_turn = 1;
    }

    /* groups to workers, whole groups only (events stay inside a worker) */
    int n_groups = opt.participants / opt.group;
    if (opt.threads > n_groups)
        opt.threads = n_groups;
    for (int t = 0; t < opt.threads; t++) {
        struct worker *w = &workers[t];
        w->idx = t;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->parts = xcalloc((size_t)n_parts, sizeof *w->parts);
        w->senders = xcalloc((size_t)n_parts, sizeof *w->senders);
        w->seed = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1);
    }
    for (int i = 0; i < opt.participants; i++) {
        struct part *p = &parts[i];
        struct worker *w = &workers[p->group % opt.threads];
        w->parts[w->n_parts++] = p;
        if (p->sender)
            w->senders[w->n_senders++] = p;
        for (struct conn *c = &p->sse; c; c = c == &p->sse ? &p->post : NULL) {
            c->w = w;
            c->rbuf = xcalloc(1, RBUF_SIZE);
            if (c->is_sse) {
                c->line = xcalloc(1, RBUF_SIZE);
                c->data = xcalloc(1, RBUF_SIZE);
            }
        }
    }

    fprintf(stderr, "loadgen: %s, %d participants in groups of %d, %d thread(s)\n",
            scenario_names[opt.sc], opt.participants, opt.group, opt.threads);
    uint64_t t_begin = now_ns();
    for (int t = 0; t < opt.threads; t++)
        if (pthread_create(&workers[t].th, NULL, worker_main, &workers[t]) != 0)
            die("cannot start a worker thread");

    /* wait for every stream's first event */
    if (opt.sc != SC_CEILING) {
        uint64_t deadline = t_begin + OPEN_TIMEOUT_S * NS_PER_S;
        while (total_first_events() < opt.participants && now_ns() < deadline)
            sleep_until(now_ns() + NS_PER_MS);
    }
    uint64_t t_opened = now_ns();
    int opened = total_first_events();
    double rss_open = opt.server_pid ? proc_mem(opt.server_pid, "VmRSS") : -1;

    /* streams: probes, one at a time, while the others stay open */
    struct hist probe_lat = { 0 };
    double idle_cpu = -1;
    if (opt.sc == SC_STREAMS) {
        /* the server's CPU with every stream open and idle, for --idle
         * seconds (16 covers one round of `: ping` comments) */
        double c0 = opt.server_pid ? proc_cpu(opt.server_pid) : -1;
        sleep_until(now_ns() + (uint64_t)(opt.idle * NS_PER_S));
        if (opt.server_pid)
            idle_cpu = (proc_cpu(opt.server_pid) - c0) * 100.0 / opt.idle;
        struct worker *w = &workers[0];
        for (int i = opt.participants; i < n_parts; i++) {
            struct part *p = &parts[i];
            p->sse.w = w;
            p->sse.rbuf = xcalloc(1, RBUF_SIZE);
            p->sse.line = xcalloc(1, RBUF_SIZE);
            p->sse.data = xcalloc(1, RBUF_SIZE);
        }
        /* the worker opens nothing more by itself: hand it one probe at a time */
        for (int i = opt.participants; i < n_parts; i++) {
            struct part *p = &parts[i];
            int before = total_first_events();
            __atomic_store_n(&w->parts[w->n_parts], p, __ATOMIC_RELEASE);
            __atomic_add_fetch(&w->n_parts, 1, __ATOMIC_RELEASE);
            uint64_t deadline = now_ns() + 5 * NS_PER_S;
            while (total_first_events() == before && now_ns() < deadline)
                sleep_until(now_ns() + 100000);
            if (p->t_first)
                h_add(&probe_lat, p->t_first - p->t_open);
        }
    }

    double cpu0 = -1, cpu1 = -1, gen0 = 0, gen1 = 0, mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0;
    struct split split0 = { 0 }, split1 = { 0 };
    uint64_t t0 = now_ns() + (uint64_t)(opt.warmup * NS_PER_S);
    uint64_t t1 = t0 + (uint64_t)(opt.duration * NS_PER_S);
    if (opt.sc != SC_STREAMS) {
        atomic_store(&t_measure_end, t1);
        atomic_store(&t_measure, t0);
        atomic_store(&phase, PH_RUN);
        sleep_until(t0);
        cpu0 = opt.server_pid ? proc_cpu(opt.server_pid) : -1;
        if (opt.server_pid)
            proc_split(opt.server_pid, &split0);
        gen0 = self_cpu();
        machine_cpu(&mb0, &mt0);
        while (now_ns() < t1 && atomic_load(&total_accepted) < opt.max_messages &&
               !(opt.sc == SC_TICTACTOE && total_games_over() == opt.participants))
            sleep_until(now_ns() + NS_PER_MS);
        t1 = now_ns();
        atomic_store(&t_measure_end, t1);
        cpu1 = opt.server_pid ? proc_cpu(opt.server_pid) : -1;
        if (opt.server_pid)
            proc_split(opt.server_pid, &split1);
        gen1 = self_cpu();
        machine_cpu(&mb1, &mt1);
        atomic_store(&phase, PH_DRAIN);
        sleep_until(now_ns() + DRAIN_S * NS_PER_S);
    }
    double rss = opt.server_pid ? proc_mem(opt.server_pid, "VmRSS") : -1;
    double hwm = opt.server_pid ? proc_mem(opt.server_pid, "VmHWM") : -1;
    atomic_store(&phase, PH_STOP);
    for (int t = 0; t < opt.threads; t++)
        pthread_join(workers[t].th, NULL);

    struct worker sum = { 0 };
    for (int t = 0; t < opt.threads; t++) {
        struct worker *w = &workers[t];
        sum.accepted += w->accepted;
        sum.rejected += w->rejected;
        sum.errors += w->errors;
        sum.events += w->events;
        sum.attributed += w->attributed;
        sum.unmatched += w->unmatched;
        sum.missed += w->missed;
        sum.sent += w->sent;
        sum.reconnects += w->reconnects;
        h_merge(&sum.post_lat, &w->post_lat);
        h_merge(&sum.deliver_lat, &w->deliver_lat);
        h_merge(&sum.first_lat, &w->first_lat);
    }
    double secs = (double)(t1 - t0) / NS_PER_S;
    double cpu_pct = cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) / secs * 100.0 : -1;
#define US(h, q) ((double)h_quantile(&(h), q) / 1000.0)
    if (opt.sc == SC_STREAMS) {
        fprintf(stderr, "loadgen: %d/%d streams open in %.2f s; first event p50 %.1f ms "
                "p99 %.1f ms; server RSS %.1f MiB (peak %.1f), idle CPU %.1f%%\n",
                opened, opt.participants, (double)(t_opened - t_begin) / NS_PER_S,
                US(sum.first_lat, 0.5) / 1000, US(sum.first_lat, 0.99) / 1000,
                rss_open, hwm, idle_cpu);
        fprintf(stderr, "loadgen: %" PRIu64 " probes: first event p50 %.2f ms p99 %.2f ms max %.2f ms\n",
                probe_lat.n, US(probe_lat, 0.5) / 1000, US(probe_lat, 0.99) / 1000,
                (double)probe_lat.max / 1e6);
        printf("RESULT label=%s scenario=streams streams=%d opened=%d open_s=%.2f "
               "first_p50_ms=%.2f first_p99_ms=%.2f probes=%" PRIu64 " probe_p50_ms=%.2f "
               "probe_p99_ms=%.2f probe_max_ms=%.2f rss_mib=%.1f hwm_mib=%.1f idle_cpu_pct=%.1f "
               "errors=%" PRIu64 "\n",
               opt.label, opt.participants, opened, (double)(t_opened - t_begin) / NS_PER_S,
               US(sum.first_lat, 0.5) / 1000, US(sum.first_lat, 0.99) / 1000, probe_lat.n,
               US(probe_lat, 0.5) / 1000, US(probe_lat, 0.99) / 1000,
               (double)probe_lat.max / 1e6, rss_open, hwm, idle_cpu, sum.errors);
        return sum.errors || opened < opt.participants ? 1 : 0;
    }
    double acc_s = (double)sum.accepted / secs;
    /* what the rest of the machine used meanwhile, in % of one core: the
     * busy share of all cores, minus the server and the generator */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double machine_pct = mt1 > mt0 ? (mb1 - mb0) / (mt1 - mt0) * 100.0 * (double)ncpu : -1;
    double others_pct = machine_pct - (cpu_pct > 0 ? cpu_pct : 0) - (gen1 - gen0) / secs * 100.0;
    if (others_pct < 0)
        others_pct = 0;
    double ev_s = (double)sum.events / secs;
    char threads[512];
    split_text(&split0, &split1, sum.accepted, threads, sizeof threads);
    fprintf(stderr,
            "loadgen: %.2f s: %" PRIu64 " accepted (%.0f/s), %" PRIu64 " rejected, %" PRIu64
            " errors, %" PRIu64 " missed; POST->answer p50 %.0f us p99 %.0f us p99.9 %.0f us\n",
            secs, sum.accepted, acc_s, sum.rejected, sum.errors, sum.missed,
            US(sum.post_lat, 0.5), US(sum.post_lat, 0.99), US(sum.post_lat, 0.999));
    if (opt.sc != SC_CEILING)
        fprintf(stderr,
                "loadgen: %" PRIu64 " events (%.0f/s); POST->delivery (%" PRIu64 " samples, %"
                PRIu64 " unmatched) p50 %.0f us p99 %.0f us p99.9 %.0f us max %.0f us\n",
                sum.events, ev_s, sum.attributed, sum.unmatched, US(sum.deliver_lat, 0.5),
                US(sum.deliver_lat, 0.99), US(sum.deliver_lat, 0.999),
                (double)sum.deliver_lat.max / 1000);
    if (opt.server_pid)
        fprintf(stderr, "loadgen: server CPU %.0f%% (%.1f us per accepted message), RSS %.1f MiB "
                "(peak %.1f); load generator CPU %.0f%%; other processes %.0f%%\n", cpu_pct,
                sum.accepted ? (cpu1 - cpu0) * 1e6 / (double)sum.accepted : 0, rss, hwm,
                (gen1 - gen0) / secs * 100.0, others_pct);
    if (opt.server_pid)
        fprintf(stderr, "loadgen: server CPU by thread, us per accepted message: %s\n", threads);
    printf("RESULT label=%s scenario=%s participants=%d group=%d senders=%d rate=%.0f secs=%.2f "
           "accepted=%" PRIu64 " accepted_per_s=%.0f rejected=%" PRIu64 " errors=%" PRIu64
           " missed=%" PRIu64 " post_p50_us=%.0f post_p99_us=%.0f post_p999_us=%.0f "
           "events_per_s=%.0f deliver_n=%" PRIu64 " unmatched=%" PRIu64 " deliver_p50_us=%.0f "
           "deliver_p99_us=%.0f deliver_p999_us=%.0f deliver_max_us=%.0f first_p50_ms=%.2f "
           "cpu_pct=%.0f cpu_us_per_msg=%.1f rss_mib=%.1f hwm_mib=%.1f gen_cpu_pct=%.0f "
           "others_cpu_pct=%.0f threads=%s\n",
           opt.label, scenario_names[opt.sc], opt.participants, opt.group,
           opt.senders ? opt.senders : opt.group, opt.rate, secs, sum.accepted, acc_s,
           sum.rejected, sum.errors, sum.missed, US(sum.post_lat, 0.5), US(sum.post_lat, 0.99),
           US(sum.post_lat, 0.999), ev_s, sum.attributed, sum.unmatched,
           US(sum.deliver_lat, 0.5), US(sum.deliver_lat, 0.99), US(sum.deliver_lat, 0.999),
           (double)sum.deliver_lat.max / 1000, US(sum.first_lat, 0.5) / 1000, cpu_pct,
           sum.accepted ? (cpu1 - cpu0) * 1e6 / (double)sum.accepted : 0, rss, hwm,
           (gen1 - gen0) / secs * 100.0, others_pct, threads);
    return 0;
}
