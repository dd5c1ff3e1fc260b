/*
 * rt.h -- the runtime's internal boundary between the game core and the
 * network side.  Generated code never sees this header (it sees live.h).
 *
 *   core (ctx.c, loop.c, store.c, main.c): command line, SQLite, in-memory
 *        game state, the single game thread that runs every handler as a
 *        transaction with group commit.
 *   net  (http.c, sse.c): libmicrohttpd, routing, pages, admin login, SSE
 *        subscribers.
 *
 * The only ways across:
 *   net -> core: rt_submit(job).  Every request that reads or changes game
 *        state becomes a job.  The HTTP thread suspends its connection,
 *        submits, and the core calls job->done() once the job's transaction
 *        is durable (or failed), from the game thread or the core's deliver
 *        thread (loop.c); done() must only record the outcome and
 *        MHD_resume_connection().
 *   core -> net: net_deliver(), called after the commit is durable, once per
 *        event per participant, in sequence order, by one core thread at a
 *        time (the deliver thread while the server runs).
 *
 * SSE ordering without loss or duplicates: net registers a new stream as
 * "pending" (pending streams ignore net_deliver), then submits
 * RT_JOB_SUBSCRIBE.  On the game thread the core replays every outbox event
 * with seq > last_event_id straight to that stream via job->replay(), marks it
 * active with job->activate() (after the commit, in job order with the
 * deliveries), and, for a fresh stream (last_event_id < 0), runs `on load`,
 * whose events then reach it through net_deliver.  Because activation and
 * delivery happen on one thread in commit order, an event is either in the
 * replay or delivered live, never both, never neither.
 */
#ifndef LIVE_RT_H
#define LIVE_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>
#include "live.h"

/* Longest participant or session code, including the NUL. */
#define RT_CODE_MAX 40
/* The reply of every accepted live message (PROTOCOL.md); net answers it
 * with one shared response. */
#define RT_REPLY_OK "{\"ok\":true}"

enum rt_job_kind {
    RT_JOB_LIVE,            /* POST /p/P/live: in code, body */
    RT_JOB_SUBSCRIBE,       /* GET /p/P/events: in code, last_event_id, stream */
    RT_JOB_PAGE,            /* GET /p/P: in code; out participant info */
    RT_JOB_NEXT,            /* POST /p/P/next: in code */
    RT_JOB_CREATE_SESSION,  /* POST /api/sessions: in body {"participants": N} */
    RT_JOB_LIST_SESSIONS,   /* GET /api/sessions: out reply (JSON array) */
    RT_JOB_SESSION_STATE,   /* GET /api/sessions/S: in code (session) */
    RT_JOB_EXPORT,          /* GET /api/sessions/S/export/NAME.csv: in code, name */
    /* experimenter features (runtime/admin.h) */
    RT_JOB_ROOM_CREATE,     /* POST /api/rooms: in body {"name", "participants"} */
    RT_JOB_ROOM_LIST,       /* GET /api/rooms */
    RT_JOB_ROOM_ENTER,      /* GET /room/NAME: in name, code (seat cookie or "");
                               out code (the seat), status 303 ready / 200 wait */
    RT_JOB_ROOM_STATUS,     /* GET /room/NAME/status: as ENTER, never assigns */
    RT_JOB_SESSION_CLOSE,   /* POST /api/sessions/S/close: in code */
    RT_JOB_SESSION_WATCH,   /* GET /api/sessions/S/events: in code, stream (as
                               SUBSCRIBE; events "change" {"group": G}) */
    RT_JOB_DATABASE         /* GET /api/database: out reply + reply_len (binary) */
};

/* Longest error text kept for a rejection or a storage failure. */
#define RT_REASON_MAX 512

struct rt_job {
    enum rt_job_kind kind;
    int64_t submitted_ms;       /* set by rt_submit, on the timers' clock: a
                                   timer due before it runs before the job */

    /* ---- in (set by net) ---- */
    char code[RT_CODE_MAX];     /* participant code, or session code */
    json_t *body;               /* LIVE and CREATE_SESSION: parsed JSON; the
                                   job owns one reference, the core releases it */
    char name[64];              /* EXPORT: "players", "groups", "messages", "draws", a table;
                                   NEXT: the page the form was on, or "" */
    int64_t last_event_id;      /* SUBSCRIBE: Last-Event-ID, or -1 for a fresh stream */
    void *stream;               /* SUBSCRIBE: net's stream, passed back to replay/activate */
    int (*replay)(void *stream, int64_t seq, const char *event, const char *data);
    void (*activate)(void *stream, int64_t participant_id);
    /* SUBSCRIBE: asked on the game thread before anything runs; false (the
     * participant has too many streams): status 429, no replay, no `on
     * load`.  NULL admits every stream. */
    bool (*admit)(void *stream, int64_t participant_id);
    /* LIVE: the body as the client sent it, for the message log (net's,
     * valid UTF-8 without NUL, alive until done); NULL: the log holds the
     * body's JSON. */
    const char *body_text;
    /* LIVE: net refused the body (400 not JSON, 422 a number out of range,
     * U+0000, nesting): the core logs the message as rejected with this
     * reason and answers this status.  0: body is the message. */
    int refuse_status;
    char refuse_reason[RT_REASON_MAX];

    /* ---- out (set by the core before done) ---- */
    int status;                 /* HTTP status: 200, 201, 303, 400, 404, 422, 503 ... */
    char *reply;                /* malloc'd response body (JSON, CSV, text) or NULL;
                                   net frees it with free() */
    const char *content_type;   /* static string, e.g. "application/json" */
    /* PAGE, NEXT, SUBSCRIBE: the participant, when found */
    int64_t participant_id;     /* database id, used by net_deliver */
    int64_t id_in_group;
    int page_index;             /* index into game->pages; == n_pages: "finished" */
    size_t reply_len;           /* DATABASE: the length of a binary reply */

    /* Called once, on a core thread, when the job is finished (durable). */
    void (*done)(struct rt_job *job);
    void *udata;                /* net's (the connection) */
};

/* Enqueues job for the game thread.  Thread-safe.  Returns 0, or -1 when the
 * server is shutting down or the queue is over its limit (answer 503); then
 * done() will not be called. */
int rt_submit(struct rt_job *job);

/* ---- net side, called by the core ---------------------------------------- */

struct net_config {
    const struct lv_game *game;
    const char *host;           /* "127.0.0.1" */
    int port;                   /* 0: any free port */
    const char *admin_password;
};

/* Opens, binds and listens on cfg's host and port, so that a port in use is
 * found before the database is opened or created.  Returns 0, or -1 after
 * printing one clear line to stderr (e.g. "tictactoe: cannot listen on
 * 127.0.0.1:8000: Address already in use").  Optional: net_start does it
 * when it was not done. */
int net_listen(const struct net_config *cfg);
/* Starts libmicrohttpd on the socket of net_listen (opened now if it was
 * not).  Returns the port actually bound, or -1 after printing one clear
 * line to stderr. */
int net_start(const struct net_config *cfg);
/* Stops taking new requests (first step of a clean shutdown): each is
 * answered 503 {"error": "the server is stopping"}; those under way go on. */
void net_quiesce(void);
/* Closes every stream and stops libmicrohttpd (last step of shutdown). */
void net_stop(void);

/* Delivers one event to every active stream of participant pid.  event is
 * NULL for an ordinary message, "finish" for a finish event; data is one
 * line of JSON.  Called by one core thread at a time, in seq order. */
void net_deliver(int64_t pid, int64_t seq, const char *event, const char *data);
/* Between net_hold() and net_release() (same thread as net_deliver),
 * net_deliver only queues its events: each stream that got some is woken
 * once, by net_release, whatever the number of events (bench/RESULTS.md,
 * finding 4: every wake-up costs libmicrohttpd a walk of its suspended
 * connections). */
void net_hold(void);
void net_release(void);

/* Drops a partial UTF-8 character at the end of s (one that a fixed-size
 * snprintf cut: a reason quoting a long message type, say), so that the
 * text stays valid UTF-8 for JSON.  Used by net and core alike. */
static inline void rt_trim_partial_utf8(char *s)
{
    size_t n = strlen(s), i = n, cont = 0;
    while (i > 0 && cont < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (lead >= 0xC0 && cont + 1 < need)
        s[i - 1] = '\0';
}

/* Length of the well-formed UTF-8 character at p (at most n bytes), or 0
 * (RFC 3629, table 3-7 of Unicode: the second byte's range depends on the
 * first). */
static inline size_t rt_utf8_char_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c >= 0x01 && c <= 0x7F)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;          /* overlong */
        else if (c == 0xED)
            hi = 0x9F;          /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;          /* overlong */
        else if (c == 0xF4)
            hi = 0x8F;          /* past U+10FFFF */
    } else {
        return 0;               /* NUL, a continuation byte, C0, C1, F5..FF */
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < need; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    return need;
}

/* Makes s[0..n) valid UTF-8 in place: each byte that does not begin a
 * well-formed character (RFC 3629: no overlong forms, surrogates or code
 * points past U+10FFFF), and each NUL, becomes '?'.  Text that a client sent
 * and a refusal quotes or the message log keeps goes through it, since
 * JSON (answers, the monitor) takes nothing else. */
static inline void rt_utf8_clean(char *s, size_t n)
{
    unsigned char *p = (unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = rt_utf8_char_len(p + i, n - i);
        if (k == 0) {
            p[i++] = '?';
        } else {
            i += k;
        }
    }
}

#endif /* LIVE_RT_H */
