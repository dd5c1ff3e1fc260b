/*
 * admission.c -- admission limits of the game server (issue 5; see admission.h).
 *
 * Rate limit.  Token buckets in a fixed, direct-mapped table under one
 * mutex (a check is a hash and a few arithmetic operations), one bucket per
 * slot: a participant code (or client address) uses the bucket of its slot,
 * refilled at `rate` tokens per second up to RATE_BURST_S seconds' worth; a
 * message takes one token, or is answered 429 with Retry-After.  The table
 * never grows, so codes made up by a client cannot exhaust memory.  Codes
 * whose hashes share a slot share its bucket (two real participants in one
 * slot of 16,384 each get at least half the limit, which a person never
 * nears).  A bucket is never reset when another code lands in its slot: it
 * was, and a participant refilled their own bucket at will by sending one
 * request under a made-up code of the same slot (found offline), which took
 * the limit away.  The slot is a hash keyed with a secret drawn at start, so
 * that nobody can pick a code or an address that shares the slot of
 * another participant, or of the admin's address, to throttle them.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "rt.h"
#include "admission.h"

/* Buckets of the rate table: a power of two.  More participants than this
 * at once only make collisions (a more lenient limit). */
#define RATE_SLOTS 16384
/* Bucket capacity in seconds of the rate: a page may send a quick run of
 * messages (100/s by default: 1,000 at once), while the sustained rate stays
 * bounded. */
#define RATE_BURST_S 10.0

static struct limits_config config = {
    .rate = LIMITS_DEFAULT_RATE,
    .max_per_ip = LIMITS_DEFAULT_PER_IP,
    .timeout_s = LIMITS_DEFAULT_TIMEOUT_S,
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* See admission.h. */
const struct limits_config *limits_get(void)
{
    return &config;
}

/* See admission.h. */
void limits_set(const struct limits_config *cfg)
{
    config = *cfg;
    if (config.timeout_s < 1)
        config.timeout_s = 1;
}

/* See admission.h. */
int limits_parse_rate(const char *s, double *rate)
{
    if (strcmp(s, "off") == 0) {
        *rate = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    if (strcmp(end, "") == 0 || strcmp(end, "/s") == 0)
        *rate = v;
    else if (strcmp(end, "/min") == 0 || strcmp(end, "/m") == 0)
        *rate = v / 60.0;
    else
        return -1;
    return 0;
}

/* ---- rate limit --------------------------------------------------------------- */

struct bucket {
    double tokens;
    int64_t at_ms;              /* when tokens was computed; 0: never used (full) */
};

static struct bucket *buckets;  /* messages: RATE_SLOTS, allocated on first use */
static struct bucket *byte_buckets;     /* message bytes: the same */
static struct bucket *stream_buckets;   /* stream opens: the same */
static struct bucket *guess_buckets;    /* wrong admin passwords, by address */
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

/* The secret key of slot_of, drawn from the OS at the first use (0: not
 * yet).  Without it the slots of codes and addresses could be worked out
 * offline: a client could then share a slot with a participant it wants
 * to throttle, or the admin's address. */
static uint64_t slot_key[2];

static uint64_t mix64(uint64_t z)      /* splitmix64's finalizer */
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Keyed hash of key into RATE_SLOTS.  Caller holds rate_lock. */
static size_t slot_of(const char *key)
{
    if (slot_key[0] == 0) {
        if (getrandom(slot_key, sizeof slot_key, 0) != (ssize_t)sizeof slot_key) {
            struct timespec ts;         /* no entropy: still not computable */
            clock_gettime(CLOCK_REALTIME, &ts);
            slot_key[1] = (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)getpid();
        }
        slot_key[0] |= 1;
    }
    uint64_t h = slot_key[0];
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = mix64(h ^ *p ^ slot_key[1]);
    return (size_t)(h & (RATE_SLOTS - 1));
}

/* See admission.h. */
size_t limits_slot(const char *key)
{
    pthread_mutex_lock(&rate_lock);
    size_t k = slot_of(key);
    pthread_mutex_unlock(&rate_lock);
    return k;
}

/* The bucket at `slot` (slot_of) in *table (allocated on first use),
 * refilled up to `cap` at `rate` per second; NULL when out of memory (then
 * nothing is limited).  Caller holds rate_lock. */
static struct bucket *bucket_at(struct bucket **table, size_t slot, double rate, double cap,
                                int64_t now)
{
    if (!*table)
        *table = calloc(RATE_SLOTS, sizeof **table);
    if (!*table)
        return NULL;
    struct bucket *b = &(*table)[slot];
    if (b->at_ms == 0) {
        b->tokens = cap;
        b->at_ms = now;
    }
    b->tokens = fmin(cap, b->tokens + (double)(now - b->at_ms) * rate / 1000.0);
    b->at_ms = now;
    return b;
}

/* Whole seconds (>= 1) until b holds `need` tokens at `rate` per second. */
static int wait_s(const struct bucket *b, double need, double rate)
{
    double s = (need - b->tokens) / rate;
    return s < 1.0 ? 1 : (int)ceil(s);
}

/* Whether the bucket of `code` in *table holds a token (with take, takes
 * it); otherwise false and *retry_after_s.  The bucket holds `cap` tokens
 * and refills at `rate` per second. */
static bool bucket_token(struct bucket **table, const char *code, double rate, double cap,
                         bool take, int *retry_after_s)
{
    bool ok = true;
    pthread_mutex_lock(&rate_lock);
    struct bucket *b = bucket_at(table, slot_of(code), rate, cap, now_ms());
    if (b && b->tokens >= 1.0) {
        if (take)
            b->tokens -= 1.0;
    } else if (b) {
        ok = false;
        *retry_after_s = wait_s(b, 1.0, rate);
    }
    pthread_mutex_unlock(&rate_lock);
    return ok;
}

/* See admission.h. */
bool limits_message_allowed(const char *code, size_t bytes, int *retry_after_s, bool *by_bytes)
{
    *by_bytes = false;
    double rate = config.rate;
    if (rate <= 0)
        return true;
    double size = fmin((double)bytes, LIMITS_BYTES_BURST);
    bool ok = true;
    pthread_mutex_lock(&rate_lock);
    int64_t now = now_ms();
    size_t slot = slot_of(code);        /* the same in both tables */
    struct bucket *m = bucket_at(&buckets, slot, rate, fmax(1.0, rate * RATE_BURST_S), now);
    struct bucket *b = bucket_at(&byte_buckets, slot, LIMITS_BYTES_PER_S, LIMITS_BYTES_BURST, now);
    if (m && b) {
        if (m->tokens >= 1.0 && b->tokens >= size) {
            m->tokens -= 1.0;
            b->tokens -= size;
        } else {
            ok = false;
            int wm = m->tokens >= 1.0 ? 0 : wait_s(m, 1.0, rate);
            int wb = b->tokens >= size ? 0 : wait_s(b, size, LIMITS_BYTES_PER_S);
            *retry_after_s = wm > wb ? wm : wb;
            *by_bytes = wm == 0;
        }
    }
    pthread_mutex_unlock(&rate_lock);
    return ok;
}

/* See admission.h. */
bool limits_stream_allowed(const char *code, int *retry_after_s)
{
    if (config.rate <= 0)
        return true;
    return bucket_token(&stream_buckets, code, LIMITS_STREAM_OPENS_PER_S,
                        LIMITS_STREAM_OPENS_BURST, true, retry_after_s);
}

/* See admission.h. */
bool limits_admin_guess_allowed(const char *addr, int *retry_after_s)
{
    return bucket_token(&guess_buckets, addr, LIMITS_ADMIN_GUESSES_PER_S,
                        LIMITS_ADMIN_GUESSES_BURST, false, retry_after_s);
}

/* See admission.h. */
void limits_admin_guess_failed(const char *addr)
{
    int retry;
    (void)bucket_token(&guess_buckets, addr, LIMITS_ADMIN_GUESSES_PER_S,
                       LIMITS_ADMIN_GUESSES_BURST, true, &retry);
}
