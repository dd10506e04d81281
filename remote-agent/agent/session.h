/* SPDX-License-Identifier: MIT */
/* Sessions that survive their link: with a grace period asked in hello, an agent whose client's
 * link drops keeps everything it holds (streams keep queueing, up to their bounds) and waits on a
 * private Unix socket for a freshly started agent of the same user to hand it the session's
 * token (session.resume); it then serves that client through it. When the grace period ends
 * first, the agent exits and releases everything as it always did. */
#ifndef EBPF_AGENT_SESSION_H
#define EBPF_AGENT_SESSION_H

#include <stdbool.h>

#include <json-c/json.h>

struct agent;

/* hello asked for @grace_s seconds (> 0): makes the socket and the token once, and returns the
 * ResumeTicket; NULL when the socket cannot be made (stderr says why). */
struct json_object *session_keep(struct agent *a, unsigned grace_s);
/* No grace period from now on (session.end, or hello without one); the socket goes. */
void session_end(void);
/* Whether a dropped link leaves the agent waiting rather than exiting. */
bool session_kept(void);
/* The client's link is gone (stdin ended, stdout failed, SIGHUP): forget the client, hold
 * output, and start the grace period. */
void session_orphan(struct agent *a, const char *why);
bool session_orphaned(void);
/* Whether the grace period of an orphaned session is over. */
bool session_expired(void);
/* Milliseconds left of the grace period; -1 when not orphaned. */
int session_wait_ms(void);
/* The listening socket to poll (-1: none). */
int session_listen_fd(void);
/* The listening socket is readable: take a resuming client if its request is right. */
void session_accept(struct agent *a);
/* At exit: the socket is closed and removed. */
void session_close(void);

#endif
