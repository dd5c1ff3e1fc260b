/*
 * net.h -- internal header between the two halves of the runtime's network
 * side: http.c (libmicrohttpd, routing, pages, admin login) and sse.c (the
 * Server-Sent Events streams).  Nothing outside runtime/http.c, runtime/sse.c
 * and their unit test includes it; the core sees only rt.h.
 *
 * Life of a stream (see rt.h for the ordering guarantee):
 *   1. http.c creates it with sse_stream_new() ("pending": not registered,
 *      net_deliver cannot see it) and submits RT_JOB_SUBSCRIBE with
 *      job->replay = sse_replay, job->activate = sse_activate.
 *   2. On the game thread the core replays missed events into its buffer and
 *      activates it (it is now registered under its participant id and
 *      receives net_deliver's events).
 *   3. When the job is done, http.c tells it the request's HTTP version
 *      (sse_set_http_version) and either turns it into the streaming
 *      response with sse_response() -- the response then owns the stream and
 *      frees it when the connection closes -- or, on any error status,
 *      destroys it with sse_stream_discard().
 */
#ifndef LIVE_NET_H
#define LIVE_NET_H

#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>

/* Longest time between two comment lines on an idle stream (PROTOCOL.md asks
 * for at least one every 15 s; 10 s leaves a margin for slow proxies). */
#define SSE_PING_INTERVAL_MS 10000

struct sse_stream;

/* Starts the stream registry, the ping thread and the writer thread.
 * Returns 0, or -1 after printing one line to stderr.  Called by net_start
 * before the daemon runs. */
int sse_init(void);
/* Stops the ping thread and makes every stream end: each open stream's
 * reader returns end-of-stream at its next call (after what is still
 * buffered), and every stream written directly or parked is resumed so that
 * it gets that call.  Called by net_stop before
 * MHD_stop_daemon (a suspended connection must not outlive the daemon).
 * net_deliver does nothing afterwards. */
void sse_close_all(void);
/* Stops the writer thread and frees the registry once the daemon is stopped
 * (every stream is gone). */
void sse_fini(void);

/* A new pending stream, or NULL when out of memory.  The caller owns it
 * until it passes it to sse_response() or sse_stream_discard(). */
struct sse_stream *sse_stream_new(void);
/* Destroys a stream that never became a response (unregistering it if it was
 * activated).  Accepts NULL. */
void sse_stream_discard(struct sse_stream *s);

/* The request's HTTP version (the access handler's `version`), which decides
 * how libmicrohttpd frames the stream's body: "HTTP/1.1" chunked, "HTTP/1.0"
 * raw until the connection closes.  sse.c writes events straight to the
 * socket with the same framing once the replay is sent; without this call
 * (or with another version) every event goes through libmicrohttpd. */
void sse_set_http_version(struct sse_stream *s, const char *version);

/* job->replay of RT_JOB_SUBSCRIBE: appends one event to the stream's buffer.
 * event is NULL or "finish"; data is one line of JSON (copied).  A stream
 * takes about SSE_MAX_REPLAY bytes of replay (2 MiB; at least one event):
 * past that it ignores the rest of the replay and every later event and
 * ends after what it holds, so the client reconnects for the next part.
 * Returns non-zero once the stream takes no more (the store stops reading). */
int sse_replay(void *stream, int64_t seq, const char *event, const char *data);
/* job->activate of RT_JOB_SUBSCRIBE: registers the stream under participant
 * pid, after which net_deliver reaches it. */
void sse_activate(void *stream, int64_t pid);

/* job->admit of RT_JOB_SUBSCRIBE (through http.c), on the game thread:
 * registers the stream under pid before it is activated -- counted by
 * sse_count, but given no event and no ping until sse_activate -- unless
 * pid has max streams already (then false: the stream is refused and runs no
 * `on load`).  So streams of one participant admitted at once are counted
 * as they are admitted, not only once each is activated. */
bool sse_reserve(void *stream, int64_t pid, int max);
/* How many activated (or reserved) streams participant pid has now (streams whose
 * connection closed count until libmicrohttpd reports it).  Thread-safe. */
int sse_count(int64_t pid);

/* The 200 text/event-stream response for stream s on connection c, with its
 * headers set except the security headers (http.c adds those).  On success
 * the response owns s (freed by the response's free callback when the
 * connection closes) and the caller owns the response (queue it, then
 * MHD_destroy_response).  Returns NULL when out of memory; then the caller
 * still owns s. */
struct MHD_Response *sse_response(struct sse_stream *s, struct MHD_Connection *c);

/* Test hook: the ping interval in milliseconds for streams started after the
 * next sse_init (default SSE_PING_INTERVAL_MS). */
void sse_set_ping_interval_ms(int ms);
/* Test hook: the number of unsent bytes past which a stream is closed as too
 * slow, from now on (0: the default, 2 MiB). */
void sse_set_max_buffered(size_t bytes);
/* Test hook: the bytes of replay one stream takes before the rest is left
 * to the next stream, from now on (0: the default, SSE_MAX_REPLAY). */
void sse_set_max_replay(size_t bytes);

#endif /* LIVE_NET_H */
