/*
 * deadline.h -- the whole-request deadline of the network side (issue 5;
 * runtime/deadline.c): drops clients that trickle their request (slowloris)
 * or a half-sent body.  The time allowed is limits_get()->timeout_s.
 */
#ifndef LIVE_DEADLINE_H
#define LIVE_DEADLINE_H

#include <microhttpd.h>

/* MHD_OPTION_NOTIFY_CONNECTION callback: tracks each connection from its
 * start to its close (socket_context holds the tracker's entry). */
void deadline_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe);
/* The request on c is completely received (headers and body). */
void deadline_request_received(struct MHD_Connection *c);
/* The request on c is finished; the connection may carry another one, whose
 * deadline starts now. */
void deadline_request_finished(struct MHD_Connection *c);
/* Starts the thread that, once a second, shuts down the connections that
 * passed their deadline.  0, or -1 after one line on stderr naming game. */
int deadline_start(const char *game);
/* Stops that thread (after MHD_stop_daemon). */
void deadline_stop(void);

#endif /* LIVE_DEADLINE_H */
