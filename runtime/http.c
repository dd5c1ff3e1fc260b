/*
 * http.c -- the game server's HTTP side: libmicrohttpd set-up, routing,
 * participant pages, embedded files, the admin login, and the glue that
 * turns requests into core jobs (PROTOCOL.md "HTTP"; rt.h).
 *
 * Threads.  libmicrohttpd runs a pool of THREAD_POOL_SIZE epoll threads.  A
 * request that touches game state becomes an rt_job embedded in the
 * request's state (struct req): the HTTP thread suspends the connection and
 * calls rt_submit(); the game thread runs the job and calls job_done(),
 * which only marks the request done and resumes the connection; the HTTP
 * thread is then called again and answers from the job's outputs.  No game
 * code runs here, and no HTTP thread ever waits.
 *
 * Bodies.  Request bodies are collected by the access handler up to
 * BODY_LIMIT bytes; a larger one is read to the end and discarded (so that
 * the client, still writing, reads the answer instead of a reset), unless
 * its Content-Length passes BODY_DISCARD_LIMIT, which is refused at once.
 *
 * Refusals before anything runs.  At the first call (headers only) a
 * request is refused, and its connection closed, when its header fields
 * would leave no room for its answer (431), when its body's framing is
 * ambiguous or unsupported (400, 501: Transfer-Encoding), or when its body
 * is far too big (413); a raw path that encodes '/' or NUL is 404
 * (on_uri).  docs/pages.md lists them.
 *
 * Every answer carries the security headers (nosniff, referrer policy),
 * but for the 431 of a request that nearly filled libmicrohttpd's memory
 * (send_minimal: a fixed JSON text);
 * HTML pages carry a Content-Security-Policy: scripts only from this origin,
 * except game templates, which may carry inline scripts.  Every error body
 * is JSON {"error": "..."}.
 *
 * Admin.  The JSON API under /api/ takes `Authorization: Bearer PASSWORD`
 * or the lv_admin cookie that POST /admin/login sets.  The cookie holds a
 * random token drawn at start-up, never the password; comparisons run in
 * constant time.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "assets.h"
#include "live.h"
#include "rt.h"
#include "net.h"
#include "admission.h"
#include "deadline.h"

/* Largest POST body accepted (PROTOCOL.md: over 64 KiB is 413). */
#define BODY_LIMIT (64 * 1024)
/* A body declared larger than this is refused before it is read (and the
 * connection closed); smaller oversized bodies are read and discarded. */
#define BODY_DISCARD_LIMIT (1024 * 1024)
/* Numbers out of 64-bit or double range rewritten in one body (parse_body)
 * before it is refused as a whole. */
#define NUMBER_REPAIRS_MAX 16
/* Simultaneous connections; each open SSE stream holds one.  The core
 * raises RLIMIT_NOFILE above this at start-up. */
#define CONNECTION_LIMIT 20000
/* Seconds of inactivity before a connection is closed: admission.h
 * (LIMITS_DEFAULT_TIMEOUT_S, --timeout).  Idle SSE streams are suspended (no
 * timeout) and pinged more often than that. */
/* libmicrohttpd's memory per connection, which bounds the request line and
 * headers: a request whose headers do not fit is answered 431 (issue 5),
 * and so is one past REQUEST_FIELDS_LIMIT, which keeps room for the answer.
 * Every open stream holds one, and libmicrohttpd clears it between two
 * requests of a connection: 32 KiB made 10,000 streams take 310 MiB and was
 * the largest memset per POST; 16 KiB (with SSE_BLOCK_SIZE 4 KiB) takes
 * 195 MiB and still leaves ~12 KiB for headers (bench/RESULTS.md). */
#define CONNECTION_MEMORY_LIMIT (16 * 1024)
/* The most a request's header fields may take, as counted by
 * request_fields_size(): the URL, and for every header, cookie and query
 * argument its name, its value and HEADER_RECORD_OVERHEAD.  libmicrohttpd
 * builds the answer in the same CONNECTION_MEMORY_LIMIT pool that holds the
 * request; a request that nearly filled it (a 15.9 KB header, a 7.7 KB
 * Cookie -- kept twice: the header and its parsed copy --, ~241 query
 * arguments) was handled and committed and then got no answer at all
 * ("failed to create response header").  Past this bound the request is
 * answered 431 at its first call, before anything runs; that answer fits
 * unless the pool is within ~125 bytes of full (REQUEST_FIELDS_TIGHT).
 * 14 KiB (README: "about 14 KiB"; browsers send 1-3 KB) leaves 2 KiB of
 * the pool for the answer's header: the largest we send (a template page
 * with its CSP, a room's 303 with its cookie) takes under 800 bytes. */
#define REQUEST_FIELDS_LIMIT (14 * 1024)
/* What one header, cookie or query-argument record costs in the pool besides
 * its name and value (libmicrohttpd's struct MHD_HTTP_Header is ~56 bytes
 * on 64-bit, plus alignment). */
#define HEADER_RECORD_OVERHEAD 64
/* Past this many counted bytes the pool may hold too little even for the
 * 431's usual headers (~250 bytes): it goes out with the fewest header
 * bytes libmicrohttpd allows (~125: status line, Date, Content-Length,
 * Connection).  With libmicrohttpd 0.9.75 a request that leaves less than
 * that free after parsing (headers of ~15.98-16.1 KB) still cannot be
 * answered: it is closed without an answer, but nothing of it ran. */
#define REQUEST_FIELDS_TIGHT (15 * 1024)
/* Seconds during which libmicrohttpd's log messages of one kind (the same
 * text but for its numbers) are printed once, then counted (on_log). */
#define LOG_REPEAT_S 10
/* Retry-After of a stream refused because its participant has too many. */
#define SSE_STREAM_RETRY_S 10
/* libmicrohttpd worker threads.  Each keeps its own list of suspended
 * connections -- every open event stream stays suspended -- and walks all of
 * it whenever one connection is resumed (resume_suspended_connections() in
 * libmicrohttpd 0.9.75), i.e. for every answered message; 8 lists instead of
 * 2 cut the server's CPU per message at 2000 participants by ~10-15% and
 * cost nothing measurable at 64 (bench/RESULTS.md). */
#define THREAD_POOL_SIZE 8
/* listen(2) backlog. */
#define LISTEN_BACKLOG 4096
/* Random bytes of the admin cookie token. */
#define ADMIN_TOKEN_BYTES 32
/* Longest table or export name (rt_job.name). */
#define EXPORT_NAME_MAX ((int)sizeof(((struct rt_job *)0)->name))

#ifndef MHD_HTTP_UNPROCESSABLE_CONTENT    /* libmicrohttpd before 0.9.74 */
#define MHD_HTTP_UNPROCESSABLE_CONTENT 422
#endif

#define CSP_COMMON "default-src 'self'; style-src 'self' 'unsafe-inline'; " \
    "connect-src 'self'; img-src 'self' data:; object-src 'none'; " \
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
#define CSP_FILES CSP_COMMON "; script-src 'self'"
#define CSP_TEMPLATE CSP_COMMON "; script-src 'self' 'unsafe-inline'"
#define LIVE_JS_TAG "<script src=\"/live.js\"></script>"
#define ADMIN_COOKIE "lv_admin"

/* ---- server state ---------------------------------------------------------- */

static struct {
    struct MHD_Daemon *daemon;
    const struct lv_game *game;
    char *admin_password;               /* copy; NULL or "" disables admin */
    char admin_token[2 * ADMIN_TOKEN_BYTES + 1];
    bool stopping;                      /* net_quiesce: new requests get 503 (atomic) */
    char **etags;                       /* one per lv_assets[] entry */
    size_t n_assets;
    /* 200 {"ok":true}, the answer of every accepted message: built once and
     * queued on every such connection (libmicrohttpd counts its users) */
    struct MHD_Response *ok_resp;
    int listen_fd;                      /* net_listen's socket until net_start takes it */
    bool listen_v6;
} net = { .listen_fd = -1 };

/* The body of ok_resp. */
static const char OK_BODY[] = RT_REPLY_OK;

static void ok_resp_free(void)
{
    if (net.ok_resp)
        MHD_destroy_response(net.ok_resp);
    net.ok_resp = NULL;
}

/* ---- requests ---------------------------------------------------------------- */

enum route {
    R_LIVE,             /* POST /p/P/live */
    R_EVENTS,           /* GET  /p/P/events */
    R_PAGE,             /* GET  /p/P */
    R_NEXT,             /* POST /p/P/next */
    R_API_CREATE,       /* POST /api/sessions */
    R_API_LIST,         /* GET  /api/sessions */
    R_API_STATE,        /* GET  /api/sessions/S */
    R_API_EXPORT,       /* GET  /api/sessions/S/export/NAME.csv */
    R_ADMIN_LOGIN,      /* POST /admin/login */
    R_ADMIN_LOGOUT,     /* POST /admin/logout */
    /* experimenter features (runtime/admin.h; route_more) */
    R_ROOM_ENTER,       /* GET  /room/NAME */
    R_ROOM_STATUS,      /* GET  /room/NAME/status */
    R_API_ROOMS_CREATE, /* POST /api/rooms */
    R_API_ROOMS_LIST,   /* GET  /api/rooms */
    R_API_CLOSE,        /* POST /api/sessions/S/close */
    R_API_WATCH,        /* GET  /api/sessions/S/events */
    R_API_DATABASE      /* GET  /api/database */
};

enum phase { PH_READING, PH_WAITING, PH_DONE };

/* One request.  Lives from the first call of the access handler to the
 * completion callback; the job inside it stays valid while the game thread
 * holds it (a suspended connection is never completed).  Calls: the first
 * (headers only), one per piece of body, the last (route, then answer or
 * suspend and submit), and, after job_done resumed it, one more (answer). */
struct req {
    enum route route;
    int phase;                          /* enum phase; atomic across threads */
    struct MHD_Connection *conn;
    bool routed;                        /* route() ran */
    bool stopping;                      /* came after net_quiesce: answered 503 */
    bool bad_path;                      /* its raw path encodes '/' or NUL: 404 */
    bool too_big;
    char *body;                         /* malloc'd, NUL-terminated */
    size_t body_len, body_cap;
    bool submitted;
    json_t *body_keep;                  /* our own reference to job.body once
                                           submitted: the core releases the job's,
                                           and the last one -- the free -- happens
                                           here, on the thread that allocated it
                                           (malloc frees across threads cost) */
    bool drain_counted;                 /* counted in drain_pending (issue 5) */
    struct rt_job job;
    struct sse_stream *stream;          /* R_EVENTS until it becomes a response */
};

/* ---- shutdown drain (issue 5) ---------------------------------------------------
 * PROTOCOL.md: on SIGTERM the handlers in flight are finished AND answered.
 * The core runs every accepted job before net_stop(), but the answers are
 * written by libmicrohttpd afterwards; stopping the daemon at once could drop
 * an answer whose message was committed.  So every request whose job the core
 * accepted is counted until its answer was sent (the completion callback),
 * or, for an event stream, until the stream's response is queued; net_stop()
 * waits for the count to reach zero, at most DRAIN_TIMEOUT_MS (a client that
 * does not read its answer cannot hold the shutdown). */

/* Longest wait in net_stop() for accepted requests to get their answers. */
#define DRAIN_TIMEOUT_MS 3000
/* How often net_stop() looks at the count while it waits. */
#define DRAIN_POLL_MS 5

static int drain_pending;               /* atomic */

/* Counts r (whose job is about to be submitted) until drain_leave. */
static void drain_enter(struct req *r)
{
    r->drain_counted = true;
    __atomic_add_fetch(&drain_pending, 1, __ATOMIC_ACQ_REL);
}

/* Stops counting r (its answer is sent, or it never had a job).  Idempotent. */
static void drain_leave(struct req *r)
{
    if (r && r->drain_counted) {
        r->drain_counted = false;
        __atomic_sub_fetch(&drain_pending, 1, __ATOMIC_ACQ_REL);
    }
}

/* Waits until every counted request got its answer, at most DRAIN_TIMEOUT_MS. */
static void drain_wait(void)
{
    for (int waited = 0; waited < DRAIN_TIMEOUT_MS; waited += DRAIN_POLL_MS) {
        if (__atomic_load_n(&drain_pending, __ATOMIC_ACQUIRE) <= 0)
            return;
        struct timespec ts = { 0, DRAIN_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    drain_leave(r);
    free(r->body);
    if (!r->submitted)
        json_decref(r->job.body);       /* never handed to the core */
    json_decref(r->body_keep);
    free(r->job.reply);
    sse_stream_discard(r->stream);
    free(r);
}

/* ---- small helpers ------------------------------------------------------------ */

/* A growable string.  sb_* calls on a failed buffer do nothing; sb_take
 * returns NULL then. */
struct sb {
    char *p;
    size_t len, cap;
    bool failed;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Appends s with & < > " ' escaped for HTML text and attribute values. */
static void sb_html(struct sb *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default: sb_add(b, s, 1); break;
        }
    }
}

/* Returns the buffer (caller frees) or NULL if any append failed. */
static char *sb_take(struct sb *b)
{
    if (b->failed || !b->p) {
        free(b->p);
        return b->failed ? NULL : strdup("");
    }
    return b->p;
}

/* Compares a (untrusted, la bytes) with secret in time that depends only
 * on the length of secret.  Returns true when they are equal. */
static bool ct_equal_n(const char *a, size_t la, const char *secret)
{
    size_t ls = strlen(secret);
    unsigned char diff = (unsigned char)(la != ls);
    for (size_t i = 0; i < ls; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        diff |= (unsigned char)(ca ^ (unsigned char)secret[i]);
    }
    return diff == 0;
}

static bool ct_equal(const char *a, const char *secret)
{
    return ct_equal_n(a, strlen(a), secret);
}

/* A participant or session code: 1..RT_CODE_MAX-1 of [A-Za-z0-9_-]. */
static bool valid_code(const char *s, size_t n)
{
    if (n == 0 || n >= RT_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool method_is(const char *method, const char *m)
{
    return strcmp(method, m) == 0;
}

static bool is_get(const char *method)
{
    return method_is(method, "GET") || method_is(method, "HEAD");
}

/* Last-Event-ID: a non-negative decimal integer, else -1 (a fresh stream). */
static int64_t parse_last_event_id(const char *v)
{
    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v < '0' || *v > '9')
        return -1;
    int64_t n = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (n > (INT64_MAX - (*v - '0')) / 10)
            return -1;
        n = n * 10 + (*v - '0');
    }
    while (*v == ' ' || *v == '\t')
        v++;
    return *v ? -1 : n;
}

/* True when the request has no Origin header or its Origin's host:port is
 * the request's Host (a same-origin form post). */
static bool same_origin(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return true;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    const char *p = strstr(origin, "://");
    if (!host || !p)
        return false;
    return strcasecmp(p + 3, host) == 0;
}

/* The password of an `Authorization: Bearer PASSWORD` header (borrowed),
 * or NULL when the request has none. */
static const char *bearer(struct MHD_Connection *c, size_t *len)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ' || *auth == '\t')
        auth++;
    /* a field value's trailing spaces and tabs are not part of it (RFC 9110
     * 5.5); libmicrohttpd keeps them */
    size_t n = strlen(auth);
    while (n > 0 && (auth[n - 1] == ' ' || auth[n - 1] == '\t'))
        n--;
    if (len)
        *len = n;
    return auth;
}

/* True when the request carries `Authorization: Bearer PASSWORD` with the
 * admin password.  A browser never adds that header by itself, so such a
 * request cannot be forged by another site: it needs no Origin check. */
static bool bearer_ok(struct MHD_Connection *c)
{
    if (!net.admin_password || !net.admin_password[0])
        return false;
    size_t n;
    const char *pw = bearer(c, &n);
    /* a password that itself ends in a space is matched whole, too */
    return pw && (ct_equal_n(pw, n, net.admin_password) | ct_equal(pw, net.admin_password));
}

/* True for the admin: the Bearer password, or the login cookie. */
static bool is_admin(struct MHD_Connection *c)
{
    if (!net.admin_password || !net.admin_password[0])
        return false;
    if (bearer_ok(c))
        return true;
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, ADMIN_COOKIE);
    return cookie && ct_equal(cookie, net.admin_token);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes application/x-www-form-urlencoded text s[0..n) ('+' is a space,
 * %XX a byte).  Returns a malloc'd string (caller frees) or NULL. */
static char *form_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < n &&
                   hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* The decoded value of field `key` in a form body, or NULL (caller frees). */
static char *form_field(const char *body, size_t len, const char *key)
{
    size_t klen = strlen(key);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        const char *eq = memchr(body + i, '=', end - i);
        if (eq && (size_t)(eq - (body + i)) == klen && memcmp(body + i, key, klen) == 0)
            return form_decode(eq + 1, (size_t)(body + end - (eq + 1)));
        i = end + 1;
    }
    return NULL;
}

/* ---- responses ------------------------------------------------------------------ */

enum resp_kind {
    K_DATA,             /* JSON, CSV, text: no caching */
    K_PAGE,             /* HTML from embedded files only */
    K_TEMPLATE,         /* HTML of a game template (inline scripts allowed) */
    K_ASSET             /* an embedded file */
};

static void add_common_headers(struct MHD_Response *resp, enum resp_kind kind)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    switch (kind) {
    case K_DATA:
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        break;
    case K_PAGE:
    case K_TEMPLATE:
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, "Content-Security-Policy",
                                kind == K_PAGE ? CSP_FILES : CSP_TEMPLATE);
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        break;
    case K_ASSET:
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_add_response_header(resp, "Content-Security-Policy", CSP_FILES);
        break;
    }
}

/* Queues a response with body[0..len) and releases it.  mode says who owns
 * body: MHD_RESPMEM_MUST_FREE hands a malloc'd body to libmicrohttpd (freed
 * even on failure), PERSISTENT for static data, MUST_COPY otherwise.  extra
 * is NULL or a NULL-terminated list of header name/value pairs. */
static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status,
                                 const char *ctype, const char *body, size_t len,
                                 enum MHD_ResponseMemoryMode mode,
                                 enum resp_kind kind, const char *const *extra)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    add_common_headers(resp, kind);
    for (; extra && extra[0]; extra += 2)
        MHD_add_response_header(resp, extra[0], extra[1]);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Answers {"error": msg} with status and the extra headers (as for
 * send_body). */
static enum MHD_Result send_error_extra(struct MHD_Connection *c, unsigned status,
                                        const char *msg, const char *const *extra)
{
    char clean[1024];
    json_t *o = json_pack("{s:s}", "error", msg);
    if (!o) {                   /* not UTF-8: a quote of the client's bytes */
        snprintf(clean, sizeof clean, "%s", msg);
        rt_utf8_clean(clean, strlen(clean));
        o = json_pack("{s:s}", "error", clean);
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return send_body(c, status, "application/json",
                         "{\"error\":\"internal error\"}", 26,
                         MHD_RESPMEM_PERSISTENT, K_DATA, extra);
    return send_body(c, status, "application/json", text, strlen(text),
                     MHD_RESPMEM_MUST_FREE, K_DATA, extra);
}

/* Answers {"error": msg} with status. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return send_error_extra(c, status, msg, NULL);
}

/* Answers {"error": msg} with status and closes the connection afterwards
 * (a request refused before its body was read: what follows on the
 * connection cannot be trusted to be the next request). */
static enum MHD_Result send_error_close(struct MHD_Connection *c, unsigned status,
                                        const char *msg)
{
    const char *extra[] = { MHD_HTTP_HEADER_CONNECTION, "close", NULL };
    return send_error_extra(c, status, msg, extra);
}

static enum MHD_Result send_redirect(struct MHD_Connection *c, const char *location,
                                     const char *cookie)
{
    const char *extra[] = { MHD_HTTP_HEADER_LOCATION, location,
                            cookie ? MHD_HTTP_HEADER_SET_COOKIE : NULL, cookie,
                            NULL };
    return send_body(c, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", "", 0,
                     MHD_RESPMEM_PERSISTENT, K_DATA, extra);
}

static enum MHD_Result send_method_not_allowed(struct MHD_Connection *c, const char *allow)
{
    json_t *o = json_pack("{s:s}", "error", "method not allowed");
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *extra[] = { MHD_HTTP_HEADER_ALLOW, allow, NULL };
    if (!text)
        return MHD_NO;
    return send_body(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", text,
                     strlen(text), MHD_RESPMEM_MUST_FREE, K_DATA, extra);
}

/* ---- embedded files -------------------------------------------------------------- */

/* Index of the asset called name, or -1. */
static int asset_index(const char *name)
{
    for (int i = 0; lv_assets[i].name; i++)
        if (strcmp(lv_assets[i].name, name) == 0)
            return i;
    return -1;
}

static const struct lv_asset *asset(const char *name)
{
    int i = asset_index(name);
    return i < 0 ? NULL : &lv_assets[i];
}

/* Strong ETags (FNV-1a of the bytes) for conditional GETs. */
static int etags_init(void)
{
    size_t n = 0;
    while (lv_assets[n].name)
        n++;
    net.etags = calloc(n + 1, sizeof *net.etags);
    if (!net.etags)
        return -1;
    net.n_assets = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (size_t j = 0; j < lv_assets[i].len; j++)
            h = (h ^ lv_assets[i].data[j]) * UINT64_C(0x100000001b3);
        net.etags[i] = malloc(24);
        if (!net.etags[i])
            return -1;
        snprintf(net.etags[i], 24, "\"%016" PRIx64 "\"", h);
    }
    return 0;
}

static void etags_free(void)
{
    for (size_t i = 0; net.etags && i < net.n_assets; i++)
        free(net.etags[i]);
    free(net.etags);
    net.etags = NULL;
    net.n_assets = 0;
}

static enum MHD_Result send_asset(struct MHD_Connection *c, const char *name)
{
    int i = asset_index(name);
    if (i < 0)
        return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
    const struct lv_asset *a = &lv_assets[i];
    const char *etag = net.etags ? net.etags[i] : NULL;
    const char *extra[] = { etag ? MHD_HTTP_HEADER_ETAG : NULL, etag, NULL };
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (etag && inm && strstr(inm, etag))
        return send_body(c, MHD_HTTP_NOT_MODIFIED, NULL, "", 0,
                         MHD_RESPMEM_PERSISTENT, K_ASSET, extra);
    bool html = strncmp(a->mime, "text/html", 9) == 0;
    return send_body(c, MHD_HTTP_OK, a->mime, (const char *)a->data, a->len,
                     MHD_RESPMEM_PERSISTENT, html ? K_PAGE : K_ASSET, extra);
}

/* ---- pages ------------------------------------------------------------------------- */

static const char *type_name(enum lv_type t)
{
    switch (t) {
    case LV_INT: return "int";
    case LV_FLOAT: return "float";
    case LV_BOOL: return "bool";
    case LV_STRING: return "string";
    }
    return "string";
}

/* The form description of one message field (see net.md / web.md):
 * {"name","type","required","default","min","max","choices","max_len"}.
 * Returns a new reference, or NULL when out of memory. */
static json_t *field_json(const struct lv_msg_field *f)
{
    json_t *o = json_object(), *def = json_null(), *lo = json_null(),
           *hi = json_null(), *choices = json_null(), *max_len = json_null();
    if (f->has_default) {
        json_decref(def);
        switch (f->type) {
        case LV_INT: def = json_integer(f->idefault); break;
        case LV_FLOAT: def = json_real(f->fdefault); break;
        case LV_BOOL: def = json_boolean(f->idefault); break;
        case LV_STRING: def = json_string(f->sdefault ? f->sdefault : ""); break;
        }
    }
    if (f->has_range) {
        json_decref(lo);
        json_decref(hi);
        if (f->type == LV_FLOAT) {
            lo = json_real(f->flo);
            hi = json_real(f->fhi);
        } else {
            lo = json_integer(f->ilo);
            hi = json_integer(f->ihi);
        }
    }
    if (f->n_choices > 0) {
        json_decref(choices);
        choices = json_array();
        for (int i = 0; i < f->n_choices; i++) {
            if (f->schoices)
                json_array_append_new(choices, json_string(f->schoices[i]));
            else if (f->ichoices)
                json_array_append_new(choices, json_integer(f->ichoices[i]));
        }
    }
    if (f->type == LV_STRING) {
        json_decref(max_len);
        max_len = json_integer(f->max_len);
    }
    if (!o)
        goto fail;
    if (json_object_set_new(o, "name", json_string(f->name)) ||
        json_object_set_new(o, "type", json_string(type_name(f->type))) ||
        json_object_set_new(o, "required", json_boolean(!f->has_default)) ||
        json_object_set_new(o, "default", def) ||
        json_object_set_new(o, "min", lo) ||
        json_object_set_new(o, "max", hi) ||
        json_object_set_new(o, "choices", choices) ||
        json_object_set_new(o, "max_len", max_len)) {
        json_decref(o);
        return NULL;            /* set_new released the values */
    }
    return o;
fail:
    json_decref(def);
    json_decref(lo);
    json_decref(hi);
    json_decref(choices);
    json_decref(max_len);
    return NULL;
}

/* The {{data}} JSON of a page, with '<', '>' and '&' written as \u escapes
 * so that it can sit inside a <script> element.  Returns a malloc'd string
 * (caller frees) or NULL. */
static char *page_data(const char *code, int64_t id_in_group, const char *page)
{
    const struct lv_game *g = net.game;
    json_t *msgs = json_array();
    for (int i = 0; msgs && i < g->n_messages; i++) {
        const struct lv_message *m = &g->messages[i];
        json_t *fields = json_array();
        for (int j = 0; fields && j < m->n_fields; j++) {
            json_t *f = field_json(&m->fields[j]);
            if (!f || json_array_append_new(fields, f)) {
                json_decref(fields);
                fields = NULL;
            }
        }
        json_t *mo = json_pack("{s:s, s:o?}", "name", m->name, "fields", fields);
        if (!mo || json_array_append_new(msgs, mo)) {
            json_decref(msgs);
            msgs = NULL;
        }
    }
    json_t *data = json_pack("{s:s, s:s, s:I, s:s, s:o?}",
                             "title", g->title ? g->title : g->name,
                             "code", code, "id_in_group", (json_int_t)id_in_group,
                             "page", page, "messages", msgs);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text)
        return NULL;
    struct sb b = { 0 };
    for (const char *p = text; *p; p++) {
        if (*p == '<')
            sb_puts(&b, "\\u003c");
        else if (*p == '>')
            sb_puts(&b, "\\u003e");
        else if (*p == '&')
            sb_puts(&b, "\\u0026");
        else
            sb_add(&b, p, 1);
    }
    free(text);
    return sb_take(&b);
}

/* Case-insensitive search for needle in hay. */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

/* Renders the page at index page_index for participant code: the game's
 * template, the default live page (asset live.html) or, at n_pages, the
 * finished page (asset finished.html).  Placeholders {{title}} {{code}}
 * {{id_in_group}} {{page}} {{data}} {{live_js}} are filled; a participant
 * page that does not mention /live.js gets its script tag before </head>.
 * Returns a malloc'd page (caller frees) and sets *kind, or NULL with *err
 * set to a static message. */
static char *render_page(const char *code, int64_t id_in_group, int page_index,
                         enum resp_kind *kind, const char **err)
{
    const struct lv_game *g = net.game;
    const char *src, *page;
    bool finished = page_index < 0 || page_index >= g->n_pages;
    if (finished) {
        page = "finished";
        const struct lv_asset *a = asset("finished.html");
        src = a ? (const char *)a->data : NULL;
        *kind = K_PAGE;
    } else {
        page = g->pages[page_index].name;
        if (g->pages[page_index].html) {
            src = g->pages[page_index].html;
            *kind = K_TEMPLATE;
        } else {
            const struct lv_asset *a = asset("live.html");
            src = a ? (const char *)a->data : NULL;
            *kind = K_PAGE;
        }
    }
    if (!src) {
        *err = finished ? "the finished page (finished.html) is not built in"
                        : "the live page (live.html) is not built in";
        return NULL;
    }
    char *data = page_data(code, id_in_group, page);
    if (!data) {
        *err = "out of memory";
        return NULL;
    }
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%" PRId64, id_in_group);

    struct sb b = { 0 };
    const char *p = src;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            sb_puts(&b, p);
            break;
        }
        sb_add(&b, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            sb_puts(&b, open);
            break;
        }
        size_t n = (size_t)(close - (open + 2));
        const char *name = open + 2;
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
        if (IS("title"))
            sb_html(&b, g->title ? g->title : g->name);
        else if (IS("code"))
            sb_html(&b, code);
        else if (IS("id_in_group"))
            sb_puts(&b, idbuf);
        else if (IS("page"))
            sb_html(&b, page);
        else if (IS("data"))
            sb_puts(&b, data);
        else if (IS("live_js"))
            sb_puts(&b, LIVE_JS_TAG);
        else {                  /* not ours: leave it as written */
            sb_add(&b, open, 2);
            p = open + 2;
            continue;
        }
#undef IS
        p = close + 2;
    }
    free(data);
    char *out = sb_take(&b);
    if (!out) {
        *err = "out of memory";
        return NULL;
    }
    if (!finished && !strstr(out, "/live.js")) {
        const char *head = find_ci(out, "</head>");
        size_t at = head ? (size_t)(head - out) : 0;
        struct sb b2 = { 0 };
        sb_add(&b2, out, at);
        sb_puts(&b2, LIVE_JS_TAG);
        if (!head)
            sb_puts(&b2, "\n");
        sb_puts(&b2, out + at);
        free(out);
        out = sb_take(&b2);
        if (!out) {
            *err = "out of memory";
            return NULL;
        }
    }
    return out;
}

/* ---- jobs --------------------------------------------------------------------------- */

/* job->admit of a participant's event stream (rt.h), on the game thread:
 * false when the participant already has its most open (or admitted)
 * streams, so that a stream that will be refused runs no `on load`; else
 * the stream counts from now on (sse_reserve). */
static bool stream_admit(void *stream, int64_t participant_id)
{
    return sse_reserve(stream, participant_id, LIMITS_STREAMS_PER_PARTICIPANT);
}

/* job->done, on a core thread (rt.h): record and resume, nothing else. */
static void job_done(struct rt_job *job)
{
    struct req *r = job->udata;
    __atomic_store_n(&r->phase, PH_DONE, __ATOMIC_RELEASE);
    MHD_resume_connection(r->conn);
}

/* True if text[0..n) is one JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number_token(const char *t, size_t n)
{
    size_t i = 0;
    if (i < n && t[i] == '-')
        i++;
    if (i < n && t[i] == '0') {
        i++;
    } else if (i < n && t[i] >= '1' && t[i] <= '9') {
        while (i < n && t[i] >= '0' && t[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && t[i] == '.') {
        size_t d = ++i;
        while (i < n && t[i] >= '0' && t[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < n && (t[i] == '+' || t[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && t[i] >= '0' && t[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

/* The number that ends at byte `end` of text[0..len) -- jansson reported it
 * out of range -- as [*start, end): true if it is one JSON number standing
 * where a value may (after the start, whitespace, '[', ',' or ':'), false
 * if the text is not JSON there anyway. */
static bool overflow_token(const char *text, size_t len, size_t end, size_t *start)
{
    if (end == 0 || end > len)
        return false;
    size_t i = end;
    while (i > 0 && strchr("0123456789+-.eE", text[i - 1]) && text[i - 1] != '\0')
        i--;
    if (i == end || !json_number_token(text + i, end - i))
        return false;
    if (i > 0 && !strchr(" \t\r\n[,:", text[i - 1]))
        return false;
    *start = i;
    return true;
}

/* True when byte `start` of text lies directly in the top-level object
 * (depth 1, outside strings). */
static bool at_top_level(const char *text, size_t start)
{
    size_t i = 0;
    while (i < start && strchr(" \t\r\n", text[i]))
        i++;
    if (i >= start || text[i] != '{')
        return false;
    int depth = 0;
    bool in_string = false;
    for (; i < start; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return depth == 1 && !in_string;
}

/* The name of the message field whose value starts at byte `start` (a
 * number: see overflow_token), decoded, in key[0..size); false if that
 * value is not a member of the top-level object. */
static bool member_key(const char *text, size_t start, char *key, size_t size)
{
    if (!at_top_level(text, start))
        return false;
    size_t i = start;
    while (i > 0 && strchr(" \t\r\n", text[i - 1]))
        i--;
    if (i == 0 || text[i - 1] != ':')
        return false;
    i--;
    while (i > 0 && strchr(" \t\r\n", text[i - 1]))
        i--;
    if (i == 0 || text[i - 1] != '"')
        return false;
    size_t close = --i;         /* the key's closing quote */
    while (i > 0) {             /* its opening quote: one not escaped */
        size_t bs = 0;
        while (i - 1 >= bs + 1 && text[i - 2 - bs] == '\\')
            bs++;
        if (text[i - 1] == '"' && bs % 2 == 0)
            break;
        i--;
    }
    if (i == 0)
        return false;
    /* the key as jansson reads it (escapes decoded) */
    json_t *k = json_loadb(text + i - 1, close - i + 2, JSON_DECODE_ANY, NULL);
    if (!json_is_string(k)) {
        json_decref(k);
        return false;
    }
    snprintf(key, size, "%s", json_string_value(k));
    json_decref(k);
    rt_trim_partial_utf8(key);
    return true;
}

/* Parses the collected body as one JSON value into r->job.body (a new
 * reference the job owns).  Returns 0 on success; otherwise the status to
 * refuse it with, the reason in why: 400 for text that is not JSON, 422 for
 * JSON that C cannot hold (U+0000 in a string, nesting deeper than
 * jansson's limit, a number beyond the double range: naming its field when
 * it is one of the message's).  An integer beyond 64 bits is valid JSON
 * too: it is parsed as a float (".0" appended), which a float field takes
 * and an int field refuses naming itself. */
static unsigned parse_body(struct req *r, char *why, size_t size)
{
    json_error_t e;
    const char *text = r->body ? r->body : "";
    size_t len = r->body_len;
    char *copy = NULL;
    char refuse[256] = "";
    size_t start;
    for (int round = 0;; round++) {
        r->job.body = json_loadb(text, len, JSON_DECODE_ANY, &e);
        if (r->job.body || json_error_code(&e) != json_error_numeric_overflow ||
            e.position < 0 || !overflow_token(text, len, (size_t)e.position, &start))
            break;
        size_t end = (size_t)e.position;
        bool is_real = false;
        for (size_t i = start; i < end; i++)
            is_real = is_real || text[i] == '.' || text[i] == 'e' || text[i] == 'E';
        if (round == NUMBER_REPAIRS_MAX) {
            snprintf(refuse, sizeof refuse, "too many numbers out of range");
            break;
        }
        const char *put;        /* what replaces the number */
        size_t tok;
        if (is_real) {
            /* a float beyond the double range: nothing holds it; the message
             * is refused once the rest is known to be JSON (a placeholder
             * stands in for it meanwhile) */
            if (!refuse[0]) {
                char key[64];
                int tl = (int)(end - start < 40 ? end - start : 40);
                const char *more = end - start > 40 ? "..." : "";
                if (member_key(text, start, key, sizeof key))
                    snprintf(refuse, sizeof refuse, "field '%s' is out of range: %.*s%s", key,
                             tl, text + start, more);
                else
                    snprintf(refuse, sizeof refuse, "a number is out of range: %.*s%s", tl,
                             text + start, more);
            }
            put = "0";
            tok = 1;
        } else if (text[start] == '-' && strtod(text + start, NULL) >= -0x1p63) {
            /* just below INT64_MIN it would round to -2^63, which an int
             * field takes: the next double below instead (one unit in the
             * last place off for a float field, for a number nobody sends) */
            put = "-9223372036854777856.0";
            tok = strlen(put);
        } else {
            /* an integer beyond 64 bits: the same digits as a float */
            put = NULL;
            tok = end - start + 2;
        }
        size_t n = len - (end - start) + tok;
        char *next = malloc(n + 1);
        if (!next)
            break;
        memcpy(next, text, start);
        if (put) {
            memcpy(next + start, put, tok);
        } else {
            memcpy(next + start, text + start, end - start);
            memcpy(next + end, ".0", 2);
        }
        memcpy(next + start + tok, text + end, len - end);
        next[n] = '\0';
        free(copy);
        text = copy = next;
        len = n;
    }
    free(copy);
    if (r->job.body && !refuse[0])
        return 0;
    if (r->job.body) {          /* JSON, with a number nothing can hold */
        json_decref(r->job.body);
        r->job.body = NULL;
        snprintf(why, size, "%s", refuse);
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    }
    if (json_error_code(&e) == json_error_numeric_overflow && refuse[0]) {
        snprintf(why, size, "%s", refuse);      /* too many */
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    }
    /* Valid JSON, but C strings cannot carry it: refused like any invalid
     * message, not as malformed. */
    if (json_error_code(&e) == json_error_null_character) {
        snprintf(why, size, "strings must not contain the character U+0000");
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    }
    /* An escaped UTF-16 surrogate without its pair ("\ud800") is JSON by
     * RFC 8259's grammar, but no character: refused as invalid, like U+0000
     * (jansson: "invalid Unicode '\uD800'"; a bad escape such as "\u12G4"
     * is "invalid escape", malformed). */
    if (strncmp(e.text, "invalid Unicode '\\u", 18) == 0) {
        /* JSON only if the rest is: the same text with every surrogate
         * escape made a letter must parse */
        char *t = malloc(len + 1);
        json_t *v = NULL;
        json_error_t e2;
        if (t) {
            memcpy(t, text, len);
            t[len] = '\0';
            for (size_t i = 0; i + 5 < len; i++) {
                if (t[i] != '\\')
                    continue;
                if (t[i + 1] == 'u' && (t[i + 2] == 'd' || t[i + 2] == 'D') && t[i + 3] &&
                    strchr("89abcdefABCDEF", t[i + 3]) && isxdigit((unsigned char)t[i + 4]) &&
                    isxdigit((unsigned char)t[i + 5]))
                    memcpy(t + i + 2, "0041", 4);
                i++;            /* the escaped character is not an escape */
            }
            v = json_loadb(t, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e2);
            free(t);
        }
        if (v) {
            json_decref(v);
            snprintf(why, size, "strings must not contain an unpaired surrogate (\\%.5s)",
                     e.text + 18);
            rt_utf8_clean(why, strlen(why));
            return MHD_HTTP_UNPROCESSABLE_CONTENT;
        }
        if (t) {
            snprintf(why, size, "malformed JSON: %s", e2.text);
            rt_trim_partial_utf8(why);
            rt_utf8_clean(why, strlen(why));
            return MHD_HTTP_BAD_REQUEST;
        }
    }
    if (json_error_code(&e) == json_error_stack_overflow) {
        snprintf(why, size, "arrays and objects nested too deeply");
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    }
    snprintf(why, size, "malformed JSON: %s", e.text);
    rt_trim_partial_utf8(why);
    rt_utf8_clean(why, strlen(why));    /* jansson quotes the client's bytes */
    return MHD_HTTP_BAD_REQUEST;
}

/* Answers 429 {"error": msg} with Retry-After: retry_s (issue 5: the message
 * rate limit and the cap on streams per participant). */
static enum MHD_Result send_too_many(struct MHD_Connection *c, int retry_s, const char *msg)
{
    json_t *o = json_pack("{s:s, s:i}", "error", msg, "retry_after", retry_s);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return MHD_NO;
    char retry[16];
    snprintf(retry, sizeof retry, "%d", retry_s);
    const char *extra[] = { MHD_HTTP_HEADER_RETRY_AFTER, retry, NULL };
    return send_body(c, MHD_HTTP_TOO_MANY_REQUESTS, "application/json", text, strlen(text),
                     MHD_RESPMEM_MUST_FREE, K_DATA, extra);
}

/* The client's address as text ("?" when libmicrohttpd has none). */
static void client_addr(struct MHD_Connection *c, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(buf, size, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)size);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)size);
}

/* True when the request shows an admin credential, right or wrong: a
 * Bearer header or the login cookie. */
static bool shows_credential(struct MHD_Connection *c)
{
    return bearer(c, NULL) || MHD_lookup_connection_value(c, MHD_COOKIE_KIND, ADMIN_COOKIE);
}

/* The admin check: false for the admin.  Otherwise answers the request
 * into *ret -- 401, or 429 when its address has tried too many wrong
 * passwords (admission.h: LIMITS_ADMIN_GUESSES_*) -- and returns true.  A
 * wrong credential costs the address one try. */
static bool admin_refused(struct MHD_Connection *c, enum MHD_Result *ret)
{
    char addr[64];
    int retry = 1;
    bool shown = shows_credential(c);
    client_addr(c, addr, sizeof addr);
    if (shown && !limits_admin_guess_allowed(addr, &retry)) {
        *ret = send_too_many(c, retry, "too many wrong admin passwords: wait");
        return true;
    }
    if (is_admin(c))
        return false;
    if (shown)
        limits_admin_guess_failed(addr);
    *ret = send_error(c, MHD_HTTP_UNAUTHORIZED, "admin password required");
    return true;
}

/* The body is complete: answer what needs no job, or submit the job. */
static enum MHD_Result start_request(struct req *r)
{
    struct MHD_Connection *c = r->conn;
    char why[RT_REASON_MAX];
    unsigned status;

    if (r->too_big)
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "message body over 64 KiB");

    switch (r->route) {
    case R_LIVE: {
        int retry_s = 1;
        bool by_bytes;
        if (!limits_message_allowed(r->job.code, r->body_len, &retry_s, &by_bytes))
            return send_too_many(c, retry_s, by_bytes ? "too much message data: slow down"
                                                      : "too many messages: slow down");
        r->job.kind = RT_JOB_LIVE;
        /* A body refused here is still a message received: the core logs
         * it (PROTOCOL.md: messages.csv) and answers the refusal. */
        r->job.refuse_status = (int)parse_body(r, r->job.refuse_reason,
                                               sizeof r->job.refuse_reason);
        /* The log keeps the text as sent.  A body jansson took is valid
         * UTF-8 without NUL already (it refuses anything else); only a
         * refused one may need cleaning. */
        if (r->body && r->job.refuse_status)
            rt_utf8_clean(r->body, r->body_len);
        r->job.body_text = r->body ? r->body : "";
        break;
    }
    case R_API_CREATE:
        r->job.kind = RT_JOB_CREATE_SESSION;
        /* any body it cannot take is 400 (PROTOCOL.md), 1e400 included */
        if (parse_body(r, why, sizeof why) != 0)
            return send_error(c, MHD_HTTP_BAD_REQUEST, why);
        break;
    case R_EVENTS: {
        int retry_s = 1;
        if (!limits_stream_allowed(r->job.code, &retry_s))
            return send_too_many(c, retry_s, "too many event streams opened: slow down");
        r->job.kind = RT_JOB_SUBSCRIBE;
        r->job.admit = stream_admit;
        r->stream = sse_stream_new();
        if (!r->stream)
            return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        r->job.stream = r->stream;
        r->job.replay = sse_replay;
        r->job.activate = sse_activate;
        /* the header, as EventSource sends it when it reconnects; else the
         * query argument, which live.js puts on a new EventSource when the
         * browser gave up on the last one (after an error status) */
        const char *lei = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
        if (!lei)
            lei = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last_event_id");
        r->job.last_event_id = parse_last_event_id(lei);
        break;
    }
    case R_PAGE: r->job.kind = RT_JOB_PAGE; break;
    case R_NEXT: {
        /* the page the form was on (live.js adds it): only a participant
         * still there moves on, so a second click skips nothing */
        r->job.kind = RT_JOB_NEXT;
        char *pg = r->body ? form_field(r->body, r->body_len, "page") : NULL;
        if (pg)
            snprintf(r->job.name, sizeof r->job.name, "%s", pg);
        free(pg);
        break;
    }
    case R_API_LIST: r->job.kind = RT_JOB_LIST_SESSIONS; break;
    case R_API_STATE: r->job.kind = RT_JOB_SESSION_STATE; break;
    case R_API_EXPORT: r->job.kind = RT_JOB_EXPORT; break;
    case R_ROOM_ENTER: r->job.kind = RT_JOB_ROOM_ENTER; break;
    case R_ROOM_STATUS: r->job.kind = RT_JOB_ROOM_STATUS; break;
    case R_API_ROOMS_LIST: r->job.kind = RT_JOB_ROOM_LIST; break;
    case R_API_CLOSE: r->job.kind = RT_JOB_SESSION_CLOSE; break;
    case R_API_DATABASE: r->job.kind = RT_JOB_DATABASE; break;
    case R_API_ROOMS_CREATE:
        r->job.kind = RT_JOB_ROOM_CREATE;
        if ((status = parse_body(r, why, sizeof why)) != 0)
            return send_error(c, status, why);
        break;
    case R_API_WATCH:           /* the monitor's stream: as R_EVENTS, no replay */
        r->job.kind = RT_JOB_SESSION_WATCH;
        r->stream = sse_stream_new();
        if (!r->stream)
            return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        r->job.stream = r->stream;
        r->job.replay = sse_replay;
        r->job.activate = sse_activate;
        r->job.last_event_id = -1;
        break;
    case R_ADMIN_LOGIN: {
        char addr[64];
        int retry = 1;
        client_addr(c, addr, sizeof addr);
        if (!limits_admin_guess_allowed(addr, &retry))
            return send_too_many(c, retry, "too many wrong admin passwords: wait");
        char *pw = r->body ? form_field(r->body, r->body_len, "password") : NULL;
        bool ok = pw && net.admin_password && net.admin_password[0] &&
                  ct_equal(pw, net.admin_password);
        free(pw);
        if (!ok) {
            limits_admin_guess_failed(addr);
            return send_redirect(c, "/admin?error=1", NULL);
        }
        char cookie[sizeof net.admin_token + 80];
        snprintf(cookie, sizeof cookie,
                 ADMIN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", net.admin_token);
        return send_redirect(c, "/admin", cookie);
    }
    case R_ADMIN_LOGOUT:
        return send_redirect(c, "/admin",
                             ADMIN_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    }

    r->job.done = job_done;
    r->job.udata = r;
    r->phase = PH_WAITING;
    r->submitted = true;
    r->body_keep = json_incref(r->job.body);
    drain_enter(r);
    MHD_suspend_connection(c);
    if (rt_submit(&r->job) != 0) {
        /* Never accepted: the job's body is still ours (req_free). */
        drain_leave(r);
        r->submitted = false;
        r->job.status = MHD_HTTP_SERVICE_UNAVAILABLE;
        __atomic_store_n(&r->phase, PH_DONE, __ATOMIC_RELEASE);
        MHD_resume_connection(c);
    }
    return MHD_YES;
}

/* Answers the job's status and reply as they are: the core's content type
 * (JSON when it set none, always JSON for an error) unless ctype_override is
 * given for a success.  extra (as for send_body) only goes with a success. */
static enum MHD_Result send_job_reply(struct req *r, const char *ctype_override,
                                      const char *const *extra)
{
    struct rt_job *j = &r->job;
    unsigned status = j->status >= 100 && j->status <= 599 ? (unsigned)j->status : 500;
    if (!j->reply) {
        if (status >= 400)
            return send_error(r->conn, status,
                              status == 503 ? "server is shutting down or overloaded"
                              : status == 404 ? "not found" : "request failed");
        j->reply = strdup("");
        if (!j->reply)
            return MHD_NO;
    }
    if (status == MHD_HTTP_OK && !extra && net.ok_resp && strcmp(j->reply, OK_BODY) == 0 &&
        (!j->content_type || strcmp(j->content_type, "application/json") == 0)) {
        free(j->reply);
        j->reply = NULL;
        return MHD_queue_response(r->conn, MHD_HTTP_OK, net.ok_resp);
    }
    char *body = j->reply;
    j->reply = NULL;
    const char *ctype = status >= 400 ? "application/json"   /* errors are JSON */
                      : ctype_override ? ctype_override
                      : j->content_type ? j->content_type : "application/json";
    return send_body(r->conn, status, ctype, body, strlen(body),
                     MHD_RESPMEM_MUST_FREE, K_DATA, status < 400 ? extra : NULL);
}

/* ---- experimenter features (runtime/admin.h) -------------------------------------- */

/* Cookie that keeps a browser's seat in a room: the participant code, scoped
 * to the room's path. */
#define ROOM_COOKIE "lv_seat"
/* How long a seat cookie lives (s): longer than any lab session. */
#define ROOM_COOKIE_MAX_AGE_S (7 * 24 * 3600)

/* GET /room/NAME is done: 303 to the participant's page when the group is
 * full, else the wait page (room.html, which polls /room/NAME/status); both
 * (re)set the seat cookie.  Errors pass through as JSON. */
static enum MHD_Result finish_room_enter(struct req *r)
{
    struct rt_job *j = &r->job;
    if (j->status != 200 && j->status != 303)
        return send_job_reply(r, NULL, NULL);
    char cookie[RT_CODE_MAX + sizeof j->name + 120];
    snprintf(cookie, sizeof cookie, ROOM_COOKIE "=%s; Path=/room/%s; Max-Age=%d; HttpOnly; "
             "SameSite=Lax", j->code, j->name, ROOM_COOKIE_MAX_AGE_S);
    if (j->status == 303) {
        char loc[RT_CODE_MAX + 8];
        snprintf(loc, sizeof loc, "/p/%s", j->code);
        return send_redirect(r->conn, loc, cookie);
    }
    const struct lv_asset *a = asset("room.html");
    if (!a)
        return send_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "the wait page (room.html) is not built in");
    const char *extra[] = { MHD_HTTP_HEADER_SET_COOKIE, cookie, NULL };
    return send_body(r->conn, MHD_HTTP_OK, a->mime, (const char *)a->data, a->len,
                     MHD_RESPMEM_PERSISTENT, K_PAGE, extra);
}

/* GET /api/database is done: the binary copy of the SQLite file. */
static enum MHD_Result finish_database(struct req *r)
{
    struct rt_job *j = &r->job;
    if (j->status != 200 || !j->reply)
        return send_job_reply(r, NULL, NULL);
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.sqlite3\"", net.game->name);
    const char *extra[] = { "Content-Disposition", disp, NULL };
    char *body = j->reply;
    j->reply = NULL;
    return send_body(r->conn, MHD_HTTP_OK, "application/vnd.sqlite3", body, j->reply_len,
                     MHD_RESPMEM_MUST_FREE, K_DATA, extra);
}

/* Routes of the experimenter features: rooms, closing a session, its monitor
 * stream, the database download (runtime/admin.h).  Returns 0 when url is
 * none of them; 1 when it answered at once (*ret); 2 when it filled *rt and
 * *job, which the caller submits. */
static int route_more(struct req *r, const char *url, const char *method,
                      enum route *rt, struct rt_job *job, enum MHD_Result *ret)
{
    struct MHD_Connection *c = r->conn;
    if (strncmp(url, "/room/", 6) == 0) {
        const char *name = url + 6, *slash = strchr(name, '/');
        size_t n = slash ? (size_t)(slash - name) : strlen(name);
        if (slash && strcmp(slash, "/status") != 0) {
            *ret = send_error(c, MHD_HTTP_NOT_FOUND, "not found");
            return 1;
        }
        /* HEAD is safe (RFC 9110 9.3.2): the status, which only reads,
         * answers it like GET without the body; entering takes a seat, so
         * a HEAD there is refused */
        if (slash ? !is_get(method) : !method_is(method, "GET")) {
            *ret = send_method_not_allowed(c, slash ? "GET, HEAD" : "GET");
            return 1;
        }
        if (!valid_code(name, n) || n >= sizeof job->name) {
            *ret = send_error(c, MHD_HTTP_NOT_FOUND, "there is no such room");
            return 1;
        }
        memcpy(job->name, name, n);
        job->name[n] = '\0';
        const char *seat = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, ROOM_COOKIE);
        if (seat && valid_code(seat, strlen(seat)))
            snprintf(job->code, sizeof job->code, "%s", seat);
        *rt = slash ? R_ROOM_STATUS : R_ROOM_ENTER;
        return 2;
    }
    bool rooms = strcmp(url, "/api/rooms") == 0;
    bool database = strcmp(url, "/api/database") == 0;
    const char *code = NULL, *slash = NULL;
    if (strncmp(url, "/api/sessions/", 14) == 0) {
        code = url + 14;
        slash = strchr(code, '/');
        if (!slash || (strcmp(slash, "/close") != 0 && strcmp(slash, "/events") != 0))
            return 0;
    } else if (!rooms && !database) {
        return 0;
    }
    bool post = rooms ? method_is(method, "POST") : (code && slash[1] == 'c');
    if (post && !method_is(method, "POST")) {
        *ret = send_method_not_allowed(c, "POST");
        return 1;
    }
    if (!post && !(rooms || database ? is_get(method) : method_is(method, "GET"))) {
        *ret = send_method_not_allowed(c, rooms ? "GET, HEAD, POST" : "GET");
        return 1;
    }
    if (post && !same_origin(c) && !bearer_ok(c)) {
        *ret = send_error(c, MHD_HTTP_FORBIDDEN, "cross-origin request refused");
        return 1;
    }
    if (admin_refused(c, ret))
        return 1;
    if (rooms) {
        *rt = post ? R_API_ROOMS_CREATE : R_API_ROOMS_LIST;
    } else if (database) {
        *rt = R_API_DATABASE;
    } else {
        size_t n = (size_t)(slash - code);
        if (!valid_code(code, n)) {
            *ret = send_error(c, MHD_HTTP_NOT_FOUND, "unknown session");
            return 1;
        }
        memcpy(job->code, code, n);
        job->code[n] = '\0';
        *rt = post ? R_API_CLOSE : R_API_WATCH;
    }
    return 2;
}

/* The job is done: answer from its outputs. */
static enum MHD_Result finish_request(struct req *r)
{
    struct MHD_Connection *c = r->conn;
    struct rt_job *j = &r->job;

    switch (r->route) {
    case R_API_WATCH:
    case R_EVENTS: {
        if (j->status != 200 && j->status != 429) {
            sse_stream_discard(r->stream);
            r->stream = NULL;
            return send_job_reply(r, NULL, NULL);
        }
        if (r->route == R_EVENTS &&     /* issue 5; this stream is counted */
            (j->status == 429 || sse_count(j->participant_id) > LIMITS_STREAMS_PER_PARTICIPANT)) {
            sse_stream_discard(r->stream);
            r->stream = NULL;
            return send_too_many(c, SSE_STREAM_RETRY_S,
                                 "too many open event streams for this participant");
        }
        struct MHD_Response *resp = sse_response(r->stream, c);
        if (!resp)
            return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        r->stream = NULL;       /* the response owns it now */
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        drain_leave(r);         /* a stream is answered once it started */
        return ret;
    }
    case R_PAGE: {
        if (j->status != 200)
            return send_job_reply(r, NULL, NULL);
        enum resp_kind kind;
        const char *err = NULL;
        char *html = render_page(j->code, j->id_in_group, j->page_index, &kind, &err);
        if (!html)
            return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
        return send_body(c, MHD_HTTP_OK, "text/html; charset=utf-8", html,
                         strlen(html), MHD_RESPMEM_MUST_FREE, kind, NULL);
    }
    case R_NEXT: {
        if (j->status >= 400)
            return send_job_reply(r, NULL, NULL);
        char loc[RT_CODE_MAX + 8];
        snprintf(loc, sizeof loc, "/p/%s", j->code);
        return send_redirect(c, loc, NULL);
    }
    case R_ROOM_ENTER:
        return finish_room_enter(r);
    case R_API_DATABASE:
        return finish_database(r);
    case R_API_EXPORT: {
        char disp[RT_CODE_MAX + EXPORT_NAME_MAX + 48];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-%s.csv\"", j->code, j->name);
        const char *extra[] = { "Content-Disposition", disp, NULL };
        return send_job_reply(r, j->status == 200 ? "text/csv; charset=utf-8" : NULL, extra);
    }
    default:
        return send_job_reply(r, NULL, NULL);
    }
}

/* ---- routing ------------------------------------------------------------------------ */

/* Copies the code s[0..n) into job->code; false if it is not a valid code. */
static bool set_code(struct rt_job *job, const char *s, size_t n)
{
    if (!valid_code(s, n))
        return false;
    memcpy(job->code, s, n);
    job->code[n] = '\0';
    return true;
}

/* The request is complete (its body collected): answers at once what needs
 * no job and returns the result with *go = false; otherwise fills r->route
 * and r->job's inputs and sets *go (the caller goes on to start_request).
 * Answers are queued only now, not at the first call: libmicrohttpd
 * closes a connection whose answer came before its request was read (only
 * the refusals of refuse_at_first_call want that). */
static enum MHD_Result route(struct req *r, const char *url, const char *method,
                             bool *go)
{
    struct MHD_Connection *c = r->conn;
    enum route rt;
    struct rt_job job;
    enum MHD_Result ret;
    memset(&job, 0, sizeof job);
    *go = false;

    if (r->bad_path)            /* no code or name needs an escaped '/' or NUL */
        return send_error(c, MHD_HTTP_NOT_FOUND, "not found");

    enum MHD_Result more_ret = MHD_NO;
    switch (route_more(r, url, method, &rt, &job, &more_ret)) {
    case 1: return more_ret;
    case 2: goto make;
    default: break;
    }

    if (strcmp(url, "/healthz") == 0) {
        if (!is_get(method))
            return send_method_not_allowed(c, "GET, HEAD");
        return send_body(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok", 2,
                         MHD_RESPMEM_PERSISTENT, K_DATA, NULL);
    }
    if (strcmp(url, "/favicon.ico") == 0) {
        /* browsers ask for it on every first page: no icon, and no 404 in
         * the participant's console */
        if (!is_get(method))
            return send_method_not_allowed(c, "GET, HEAD");
        return send_body(c, MHD_HTTP_NO_CONTENT, "image/x-icon", "", 0,
                         MHD_RESPMEM_PERSISTENT, K_DATA, NULL);
    }
    if (strcmp(url, "/live.js") == 0) {
        if (!is_get(method))
            return send_method_not_allowed(c, "GET, HEAD");
        return send_asset(c, "live.js");
    }
    if (strncmp(url, "/static/", 8) == 0) {
        if (!is_get(method))
            return send_method_not_allowed(c, "GET, HEAD");
        return send_asset(c, url + 8);  /* only embedded names exist */
    }
    if (strcmp(url, "/admin") == 0 || strcmp(url, "/admin/") == 0) {
        if (!is_get(method))
            return send_method_not_allowed(c, "GET, HEAD");
        return send_asset(c, "admin.html");
    }
    if (strcmp(url, "/admin/login") == 0 || strcmp(url, "/admin/logout") == 0) {
        if (!method_is(method, "POST"))
            return send_method_not_allowed(c, "POST");
        if (!same_origin(c))
            return send_error(c, MHD_HTTP_FORBIDDEN, "cross-origin request refused");
        rt = url[7] == 'l' && url[8] == 'o' && url[9] == 'g' && url[10] == 'i'
             ? R_ADMIN_LOGIN : R_ADMIN_LOGOUT;
        goto make;
    }
    if (strncmp(url, "/p/", 3) == 0) {
        const char *code = url + 3, *slash = strchr(code, '/');
        size_t n = slash ? (size_t)(slash - code) : strlen(code);
        const char *rest = slash ? slash : "";
        if (strcmp(rest, "") == 0) {
            if (!is_get(method))
                return send_method_not_allowed(c, "GET, HEAD");
            rt = R_PAGE;
        } else if (strcmp(rest, "/live") == 0) {
            if (!method_is(method, "POST"))
                return send_method_not_allowed(c, "POST");
            rt = R_LIVE;
        } else if (strcmp(rest, "/events") == 0) {
            if (!method_is(method, "GET"))
                return send_method_not_allowed(c, "GET");
            rt = R_EVENTS;
        } else if (strcmp(rest, "/next") == 0) {
            if (!method_is(method, "POST"))
                return send_method_not_allowed(c, "POST");
            if (!same_origin(c))
                return send_error(c, MHD_HTTP_FORBIDDEN, "cross-origin request refused");
            rt = R_NEXT;
        } else {
            return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
        }
        if (!set_code(&job, code, n))
            return send_error(c, MHD_HTTP_NOT_FOUND, "unknown participant");
        goto make;
    }
    if (strncmp(url, "/api/sessions", 13) == 0 && (url[13] == '\0' || url[13] == '/')) {
        const char *rest = url + 13;
        if (*rest == '\0' || strcmp(rest, "/") == 0) {
            if (method_is(method, "POST"))
                rt = R_API_CREATE;
            else if (is_get(method))
                rt = R_API_LIST;
            else
                return send_method_not_allowed(c, "GET, HEAD, POST");
        } else {
            const char *code = rest + 1, *slash = strchr(code, '/');
            size_t n = slash ? (size_t)(slash - code) : strlen(code);
            if (!slash) {
                rt = R_API_STATE;
            } else if (strncmp(slash, "/export/", 8) == 0) {
                const char *name = slash + 8;
                size_t nl = strlen(name);
                if (nl <= 4 || strcmp(name + nl - 4, ".csv") != 0 ||
                    nl - 4 >= (size_t)EXPORT_NAME_MAX || !valid_code(name, nl - 4))
                    return send_error(c, MHD_HTTP_NOT_FOUND, "no such export");
                memcpy(job.name, name, nl - 4);
                job.name[nl - 4] = '\0';
                rt = R_API_EXPORT;
            } else {
                return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
            }
            if (!is_get(method))
                return send_method_not_allowed(c, "GET, HEAD");
            if (admin_refused(c, &ret))
                return ret;
            if (!set_code(&job, code, n))
                return send_error(c, MHD_HTTP_NOT_FOUND, "unknown session");
            goto make;
        }
        if (rt == R_API_CREATE && !same_origin(c) && !bearer_ok(c))     /* issue 5: CSRF */
            return send_error(c, MHD_HTTP_FORBIDDEN, "cross-origin request refused");
        if (admin_refused(c, &ret))
            return ret;
        goto make;
    }
    return send_error(c, MHD_HTTP_NOT_FOUND, "not found");

make:
    r->route = rt;
    r->job = job;
    *go = true;
    return MHD_YES;
}

/* Appends upload data to r's body, or notes that it is too big. */
static void collect(struct req *r, const char *data, size_t n)
{
    if (r->too_big)
        return;
    if (r->body_len + n > BODY_LIMIT) {
        r->too_big = true;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb) {
            r->too_big = true;  /* answered 413: the best we can do */
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            return;
        }
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

/* ---- checks at the first call -------------------------------------------------------- */

/* The body of the 431 answer. */
static const char FIELDS_TOO_LARGE_BODY[] = "{\"error\":\"request header fields too large\"}";

/* Answers status with the JSON body (static) and as few header bytes as
 * possible, closing the connection: the answer to a request that may have
 * filled libmicrohttpd's pool, in which the answer's header is built. */
static enum MHD_Result send_minimal(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* MHD_get_connection_values_n iterator: adds one record's cost (see
 * REQUEST_FIELDS_LIMIT) to the size_t at cls. */
static enum MHD_Result add_record_size(void *cls, enum MHD_ValueKind kind,
                                       const char *key, size_t key_size,
                                       const char *value, size_t value_size)
{
    (void)kind;
    (void)key;
    (void)value;
    *(size_t *)cls += key_size + value_size + HEADER_RECORD_OVERHEAD;
    return MHD_YES;
}

/* What request c's fields take in libmicrohttpd's pool, as
 * REQUEST_FIELDS_LIMIT counts it: url's length plus every header, cookie and
 * query-argument record. */
static size_t request_fields_size(struct MHD_Connection *c, const char *url)
{
    size_t sum = strlen(url);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND | MHD_COOKIE_KIND | MHD_GET_ARGUMENT_KIND,
                                add_record_size, &sum);
    return sum;
}

/* The framing headers of a request, gathered by note_framing. */
struct framing_headers {
    int n_length;               /* Content-Length fields */
    bool lengths_differ;        /* two of them have different values */
    const char *length;         /* the first one's value */
    int n_coding;               /* Transfer-Encoding fields */
    const char *coding;         /* the first one's value */
};

/* MHD_get_connection_values iterator over the headers: fills the struct
 * framing_headers at cls. */
static enum MHD_Result note_framing(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
    struct framing_headers *f = cls;
    (void)kind;
    if (!key || !value)
        return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->n_length++ == 0)
            f->length = value;
        else if (strcmp(value, f->length) != 0)
            f->lengths_differ = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        if (f->n_coding++ == 0)
            f->coding = value;
    }
    return MHD_YES;
}

/* The checks of a request's first call (only its headers are in), before
 * anything runs or is queued.  Returns true when it answered the request
 * (*ret: the result to return): 431 when its fields pass REQUEST_FIELDS_LIMIT
 * (the answer could not be built later); 400 when its body's length is
 * ambiguous -- Transfer-Encoding with Content-Length, or two different
 * Content-Lengths (RFC 9112 6.1, 6.3: behind a proxy that reads it the
 * other way, that smuggles a request); 501 for a transfer coding other
 * than "chunked" (libmicrohttpd would wait for the body's end until the
 * timeout); 413 for a declared body over BODY_DISCARD_LIMIT.  Every such
 * answer closes the connection. */
static bool refuse_at_first_call(struct MHD_Connection *c, const char *url,
                                 enum MHD_Result *ret)
{
    size_t fields = request_fields_size(c, url);
    if (fields > REQUEST_FIELDS_LIMIT) {
        if (fields > REQUEST_FIELDS_TIGHT)
            *ret = send_minimal(c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                FIELDS_TOO_LARGE_BODY);
        else
            *ret = send_error_close(c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                                    "request header fields too large");
        return true;
    }
    struct framing_headers f = { 0 };
    MHD_get_connection_values(c, MHD_HEADER_KIND, note_framing, &f);
    if (f.n_coding > 0 && f.n_length > 0) {
        *ret = send_error_close(c, MHD_HTTP_BAD_REQUEST,
                                "both Transfer-Encoding and Content-Length");
        return true;
    }
    if (f.lengths_differ) {
        *ret = send_error_close(c, MHD_HTTP_BAD_REQUEST, "conflicting Content-Length headers");
        return true;
    }
    if (f.n_coding > 1 || (f.n_coding == 1 && strcasecmp(f.coding, "chunked") != 0)) {
        *ret = send_error_close(c, MHD_HTTP_NOT_IMPLEMENTED,
                                "unsupported Transfer-Encoding: only chunked is accepted");
        return true;
    }
    if (f.length && strtoull(f.length, NULL, 10) > BODY_DISCARD_LIMIT) {
        *ret = send_error_close(c, MHD_HTTP_CONTENT_TOO_LARGE, "message body over 64 KiB");
        return true;
    }
    return false;
}

/* Context that on_uri gives a request whose raw path encodes '/' (%2F) or a
 * NUL byte (%00): libmicrohttpd decodes the path before routing, which
 * would make "/p/P%2Fevents" a stream and "/healthz%00x" the health check.
 * Participant, session and room codes never need an escape; such a request
 * is answered 404 (route).  Only its address is used. */
static char uri_refused;

/* MHD_OPTION_URI_LOG_CALLBACK: sees the raw request target before
 * libmicrohttpd decodes it; what it returns is the request's first context
 * (on_request's *con_cls): &uri_refused or NULL.  Allocates nothing (a
 * request that fails before the access handler still gets on_completed). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    size_t n = strcspn(uri, "?#");
    for (size_t i = 0; i + 2 < n; i++) {
        if (uri[i] != '%')
            continue;
        if ((uri[i + 1] == '0' && uri[i + 2] == '0') ||
            (uri[i + 1] == '2' && (uri[i + 2] == 'f' || uri[i + 2] == 'F')))
            return &uri_refused;
    }
    return NULL;
}

/* The path of a request target: url itself in origin form ("/..."); the
 * path of an absolute-form target ("http://host:port/path", which a server
 * must accept: RFC 9112 3.2.2), or "/" when it has none. */
static const char *target_path(const char *url)
{
    if (url[0] == '/')
        return url;
    const char *sep = strstr(url, "://");
    if (!sep || !((sep - url == 4 && strncasecmp(url, "http", 4) == 0) ||
                  (sep - url == 5 && strncasecmp(url, "https", 5) == 0)))
        return url;
    const char *path = strchr(sep + 3, '/');
    return path ? path : "/";
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    struct req *r = *con_cls;
    if (!r || r == (void *)&uri_refused) {
        /* First call: only the headers are in. */
        bool bad_path = r != NULL;
        *con_cls = NULL;
        enum MHD_Result ret;
        if (refuse_at_first_call(c, url, &ret))
            return ret;
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->conn = c;
        r->bad_path = bad_path;
        r->phase = PH_READING;
        r->stopping = __atomic_load_n(&net.stopping, __ATOMIC_ACQUIRE);
        *con_cls = r;
        return MHD_YES;
    }
    switch (__atomic_load_n(&r->phase, __ATOMIC_ACQUIRE)) {
    case PH_READING:
        if (r->stopping) {      /* its body is read and dropped, then 503 */
            if (*upload_data_size) {
                *upload_data_size = 0;
                return MHD_YES;
            }
            return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is stopping");
        }
        if (*upload_data_size) {
            collect(r, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (!r->routed) {
            bool go;
            r->routed = true;
            deadline_request_received(c);         /* its deadline is met */
            enum MHD_Result ret = route(r, target_path(url), method, &go);
            if (!go)
                return ret;
        }
        return start_request(r);
    case PH_DONE:
        if (*upload_data_size) {        /* cannot happen: the body was read */
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (r->stream)                  /* its framing, for sse_response */
            sse_set_http_version(r->stream, version);
        return finish_request(r);
    default:
        return MHD_YES;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    if (*con_cls != (void *)&uri_refused)
        req_free(*con_cls);
    *con_cls = NULL;
    deadline_request_finished(c);         /* the next request's deadline runs */
}

/* Kinds of libmicrohttpd message that on_log folds at the same time: an
 * oversized request alone logs two alternating lines ("Not enough memory in
 * pool ..." and "Error processing request ... 431"), which folding only the
 * last line never folded (~670 bad requests made ~1264 lines). */
#define LOG_KINDS 8
/* Bytes of a message that tell its kind (digits aside). */
#define LOG_KEY_MAX 160
/* Bytes of a message quoted in its count line. */
#define LOG_QUOTE_MAX 60

/* The kinds of message on_log printed lately: for each, when it was last
 * printed and how often it came again since, unprinted. */
static struct {
    pthread_mutex_t lock;
    struct log_kind {
        bool used;
        char key[LOG_KEY_MAX];          /* the message, each run of digits as '#' */
        char quote[LOG_QUOTE_MAX + 4];  /* its start, as printed */
        time_t printed_at;
        unsigned long repeats;
    } kinds[LOG_KINDS];
} logs = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The kind of msg: msg with each run of digits replaced by one '#' (a port,
 * a status, a count does not make another kind), cut to LOG_KEY_MAX - 1. */
static void log_key(const char *msg, char *key)
{
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < LOG_KEY_MAX; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n == 0 || key[n - 1] != '#')
                key[n++] = '#';
        } else {
            key[n++] = *p;
        }
    }
    key[n] = '\0';
}

/* Prints how often kind k came again unprinted, if it did, and resets the
 * count.  Caller holds logs.lock. */
static void log_repeats(const char *name, struct log_kind *k)
{
    if (k->used && k->repeats > 0)
        fprintf(stderr, "%s: http: (\"%s\" came %lu more time%s)\n", name, k->quote,
                k->repeats, k->repeats == 1 ? "" : "s");
    k->repeats = 0;
}

/* libmicrohttpd's error log, prefixed with the game's name.  A client that
 * goes away (a closed tab ends its event stream) is ordinary and is not
 * logged. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
    const char *name = cls;
    char msg[512], key[LOG_KEY_MAX];
    va_list copy;
    va_copy(copy, ap);
    vsnprintf(msg, sizeof msg, fmt, copy);
    va_end(copy);
    if (strstr(msg, "closed by remote peer") || strstr(msg, "no longer available for sending"))
        return;
    /* A message of a kind printed within LOG_REPEAT_S (a flood of refused
     * connections or oversized requests, say) is counted, not printed; the
     * count is printed when its kind is printed again, is pushed out by
     * another kind, or the server stops.  The log stays readable and small
     * whatever clients do. */
    time_t now = time(NULL);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_key(msg, key);
    pthread_mutex_lock(&logs.lock);
    struct log_kind *k = NULL;
    for (int i = 0; i < LOG_KINDS && !k; i++)
        if (logs.kinds[i].used && strcmp(logs.kinds[i].key, key) == 0)
            k = &logs.kinds[i];
    if (k && now - k->printed_at < LOG_REPEAT_S) {
        k->repeats++;
        pthread_mutex_unlock(&logs.lock);
        return;
    }
    if (!k) {                   /* a free slot, else the kind printed longest ago */
        k = &logs.kinds[0];
        for (int i = 0; i < LOG_KINDS; i++) {
            if (!logs.kinds[i].used) {
                k = &logs.kinds[i];
                break;
            }
            if (logs.kinds[i].printed_at < k->printed_at)
                k = &logs.kinds[i];
        }
    }
    log_repeats(name, k);
    k->used = true;
    memcpy(k->key, key, sizeof k->key);
    snprintf(k->quote, sizeof k->quote, "%.*s%s", LOG_QUOTE_MAX, msg,
             n > LOG_QUOTE_MAX ? "..." : "");
    k->printed_at = now;
    fprintf(stderr, "%s: http: %s\n", name, msg);
    pthread_mutex_unlock(&logs.lock);
}

/* Prints the counts of every kind and forgets them (net_stop). */
static void log_flush(const char *name)
{
    pthread_mutex_lock(&logs.lock);
    for (int i = 0; i < LOG_KINDS; i++) {
        log_repeats(name, &logs.kinds[i]);
        logs.kinds[i].used = false;
    }
    pthread_mutex_unlock(&logs.lock);
}

/* ---- start and stop ------------------------------------------------------------------ */

/* Opens, binds and listens on host:port.  Returns the socket and sets *v6,
 * or -1 after printing one line to stderr. */
static int open_listener(const char *game, const char *host, int port, bool *v6)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", game, host, port,
                gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", game, host, port,
                strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    *v6 = ai->ai_family == AF_INET6;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", game, host, port,
                strerror(errno));
        close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int net_listen(const struct net_config *cfg)
{
    if (net.listen_fd >= 0)
        close(net.listen_fd);
    net.listen_fd = open_listener(cfg->game->name, cfg->host, cfg->port, &net.listen_v6);
    return net.listen_fd < 0 ? -1 : 0;
}

int net_start(const struct net_config *cfg)
{
    const char *game = cfg->game->name;
    net.game = cfg->game;

    unsigned char rnd[ADMIN_TOKEN_BYTES];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "%s: cannot draw random bytes: %s\n", game, strerror(errno));
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(net.admin_token + 2 * i, 3, "%02x", rnd[i]);
    free(net.admin_password);
    net.admin_password = cfg->admin_password ? strdup(cfg->admin_password) : NULL;
    if (!net.ok_resp) {
        net.ok_resp = MHD_create_response_from_buffer(strlen(OK_BODY), (void *)OK_BODY,
                                                      MHD_RESPMEM_PERSISTENT);
        if (net.ok_resp) {
            MHD_add_response_header(net.ok_resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
            add_common_headers(net.ok_resp, K_DATA);
        }
    }
    if (etags_init() != 0) {
        fprintf(stderr, "%s: out of memory\n", game);
        goto fail;
    }

    if (net.listen_fd < 0 && net_listen(cfg) < 0)
        goto fail;
    int fd = net.listen_fd;
    bool v6 = net.listen_v6;
    net.listen_fd = -1;         /* libmicrohttpd's (or closed below) from now on */
    if (sse_init() != 0) {
        close(fd);
        goto fail;
    }
    if (deadline_start(game) != 0) {
        sse_close_all();
        sse_fini();
        close(fd);
        goto fail;
    }
    const struct limits_config *lim = limits_get();
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    net.daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, on_log, (void *)game,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREAD_POOL_SIZE,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, lim->timeout_s,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim->max_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_LIMIT,
        MHD_OPTION_NOTIFY_CONNECTION, deadline_notify_connection, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
    if (!net.daemon) {
        fprintf(stderr, "%s: cannot start the HTTP server on %s:%d\n", game,
                cfg->host, cfg->port);
        deadline_stop();
        sse_close_all();
        sse_fini();
        close(fd);
        goto fail;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(net.daemon, MHD_DAEMON_INFO_BIND_PORT);
    int port = info && info->port ? info->port : cfg->port;
    return port;
fail:
    ok_resp_free();
    etags_free();
    free(net.admin_password);
    net.admin_password = NULL;
    return -1;
}

/* New requests are answered 503 from now on; those under way go on.
 * (Not MHD_quiesce_daemon: with a thread pool on epoll, libmicrohttpd
 * 0.9.75 aborts when a worker removes the listen socket from its epoll set
 * before the quiescing thread does -- seen in test_http's teardown.) */
void net_quiesce(void)
{
    __atomic_store_n(&net.stopping, true, __ATOMIC_RELEASE);
}

void net_stop(void)
{
    if (!net.daemon)
        return;
    drain_wait();
    sse_close_all();
    MHD_stop_daemon(net.daemon);
    net.daemon = NULL;
    log_flush(net.game ? net.game->name : "server");     /* the counts of floods that stopped */
    ok_resp_free();
    deadline_stop();
    sse_fini();
    __atomic_store_n(&net.stopping, false, __ATOMIC_RELEASE);
    etags_free();
    free(net.admin_password);
    net.admin_password = NULL;
}
