/*
 * admission.h -- admission limits of the game server's network side (issue 5):
 * the per-participant message rate limit, the per-address connection cap,
 * the timeout and whole-request deadline that drop stalled clients.
 * main.c sets the configuration from the command line before net_start();
 * http.c applies it (runtime/admission.c holds the configuration and the rate
 * limiter, runtime/deadline.c the deadline).
 */
#ifndef LIVE_ADMISSION_H
#define LIVE_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default messages per second per participant (--rate, LIVE_RATE).  Far
 * above what a person clicks, low enough that one runaway page cannot take
 * the game thread from everybody else. */
#define LIMITS_DEFAULT_RATE 100.0
/* Default cap on simultaneous connections from one IP address
 * (--max-per-ip, LIVE_MAX_PER_IP): a lab behind one NAT address with a few
 * hundred participants, each with a stream or two, stays well under it. */
#define LIMITS_DEFAULT_PER_IP 1000
/* Default seconds (--timeout, LIVE_TIMEOUT) a connection may be silent, and
 * also the most time a client may take to send one whole request (headers
 * and body), counted from the moment the connection could send it.  Idle
 * event streams are not concerned: they are suspended, and pinged. */
#define LIMITS_DEFAULT_TIMEOUT_S 30
/* Event streams one participant may open per second, and at once: a page
 * opens one per load and EventSource reconnects every 2 s at most, while a
 * full replay of a long history costs the game thread tens of ms (so a
 * client reopening in a loop takes at most a fifth of it, after its burst). */
#define LIMITS_STREAM_OPENS_PER_S 5.0
#define LIMITS_STREAM_OPENS_BURST 120.0
/* Wrong admin passwords one client address may try per second, and at
 * once: a typo costs nothing, guessing a weak --admin-password is slowed to
 * about 86,000 tries a day (the generated one has 16 random letters and
 * digits); past the burst, admin requests with a password or login cookie
 * from that address are 429 until the bucket refills. */
#define LIMITS_ADMIN_GUESSES_PER_S 1.0
#define LIMITS_ADMIN_GUESSES_BURST 100.0
/* Message bytes one participant may send per second, and at once: every
 * message is kept whole in the message log (PROTOCOL.md: messages.csv), so
 * without it one participant could grow the database by 6.5 MB a second
 * (100 bodies of 64 KiB) and fill the disk in hours.  32 KiB/s is 230 MB an
 * hour at most; 2 MiB lets 32 bodies of the largest size through at once,
 * and a person's messages of a few hundred bytes never come near.  Off with
 * the message limit (--rate 0). */
#define LIMITS_BYTES_PER_S 32768.0
#define LIMITS_BYTES_BURST 2097152.0
/* Most open event streams of one participant (tabs); one more is 429. */
#define LIMITS_STREAMS_PER_PARTICIPANT 16

struct limits_config {
    double rate;                /* messages/s per participant; 0: no limit */
    unsigned max_per_ip;        /* 0: no cap */
    unsigned timeout_s;         /* >= 1 */
};

/* The configuration in force (defaults until limits_set). */
const struct limits_config *limits_get(void);
/* Sets the configuration; call before net_start(). */
void limits_set(const struct limits_config *cfg);

/* Parses a rate: "N", "N/s", "N/min" (N a decimal number >= 0; "0" or
 * "off" turn the limit off).  Returns 0 and sets *rate (per second), or -1. */
int limits_parse_rate(const char *s, double *rate);

/* Token buckets of participant `code` for a message of `bytes` bytes: one
 * counts messages (capacity: ten seconds' worth of the rate, at least one
 * message), one bytes (LIMITS_BYTES_*).  True, taking from both, if the
 * message may go now; otherwise false, *retry_after_s is the whole number
 * of seconds (>= 1) until it may, and *by_bytes says whether the bytes
 * (alone) stopped it.  Thread-safe.  Codes share a fixed
 * table: codes whose hashes meet share a bucket (see admission.c). */
bool limits_message_allowed(const char *code, size_t bytes, int *retry_after_s, bool *by_bytes);

/* The slot of the rate tables that key (a participant code or client
 * address) uses: a keyed hash, secret to clients (for tests). */
size_t limits_slot(const char *key);

/* The same for opening an event stream (LIMITS_STREAM_OPENS_*): each open
 * costs the game thread a replay or an `on load`, so a client that opens
 * and drops streams in a loop must not keep it from everybody else.  Off
 * with the message limit (--rate 0). */
bool limits_stream_allowed(const char *code, int *retry_after_s);

/* Whether client address `addr` may try an admin password now (its bucket
 * of wrong guesses is not empty; LIMITS_ADMIN_GUESSES_*); if not, false and
 * *retry_after_s.  Takes nothing: limits_admin_guess_failed() does, for each
 * wrong password or login cookie.  Always on (--rate 0 does not lift it). */
bool limits_admin_guess_allowed(const char *addr, int *retry_after_s);
void limits_admin_guess_failed(const char *addr);

#endif /* LIVE_ADMISSION_H */
