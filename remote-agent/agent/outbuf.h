/* SPDX-License-Identifier: MIT */
/* The agent's stdout: non-blocking, behind one in-memory buffer. Replies are always queued in
 * full; notifications (stream batches, trace lines) are only produced while the buffer is below
 * its high-water mark, so a client that reads slowly makes the agent drop records, never block. */
#ifndef EBPF_AGENT_OUTBUF_H
#define EBPF_AGENT_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Above this many unsent bytes no new notification is queued. */
#define OUTBUF_HIGH_WATER (1u << 20)

/* Puts stdout in non-blocking mode. Returns 0 or -errno. */
int outbuf_init(void);
/* Appends bytes (a whole line or part of one). Returns 0 or -errno (out of memory, stdout gone). */
int outbuf_append(const void *data, size_t len);
/* Returns room for @len more bytes at the end of the buffer, to be committed with outbuf_commit. */
char *outbuf_reserve(size_t len);
void outbuf_commit(size_t len);
/* Writes what stdout takes now. Returns 0, or -errno when stdout is gone (EPIPE, …). */
int outbuf_flush(void);
size_t outbuf_pending(void);
/* Whether another notification may be queued now. */
bool outbuf_has_room(void);
/* While the client's link is down (session.c), nothing is written and no notification is queued:
 * the streams keep their records (up to their bounds) for the client that resumes. */
void outbuf_hold(bool held);
/* Forgets what is queued and a failure of the previous stdout: its client is gone. */
void outbuf_discard(void);
/* At exit: writes what is left, waiting at most @timeout_ms for a reader. */
void outbuf_drain(int timeout_ms);
void outbuf_free(void);

#endif
