/*
 * fake_net.h -- a stand-in for the runtime's network side (http.c, sse.c)
 * for the core's unit tests: net_start/net_quiesce/net_stop do nothing and
 * net_deliver records every event, so tests can check what would have been
 * pushed to the participants' streams, in order.
 */
#ifndef LIVE_FAKE_NET_H
#define LIVE_FAKE_NET_H

#include <stddef.h>
#include <stdint.h>

/* Longest event name recorded ("finish"). */
#define FAKE_EVENT_MAX 16

struct fake_delivery {
    int64_t pid;
    int64_t seq;
    char event[FAKE_EVENT_MAX];     /* "" for an ordinary message */
    char *data;                     /* owned by the recorder */
};

/* How many events net_deliver recorded since the last reset. */
size_t fake_net_count(void);
/* The i-th recorded event (borrowed, valid until the next reset). */
const struct fake_delivery *fake_net_get(size_t i);
/* Forgets every recorded event. */
void fake_net_reset(void);

#endif /* LIVE_FAKE_NET_H */
