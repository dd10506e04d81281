/* SPDX-License-Identifier: MIT */
/* Streams of a loaded object's ring buffer or perf event array, and the trace_pipe follower:
 * read inside the main poll loop, batched into notifications, bounded, dropping when the
 * client is slow. */
#ifndef EBPF_AGENT_STREAMS_H
#define EBPF_AGENT_STREAMS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "objects.h"

#define STREAMS_MAX 16

/* Adds the fds to poll (at most STREAMS_MAX + 1) to @fds; returns how many. */
size_t streams_poll_fds(struct pollfd *fds);
/* Reads what the polled fds hold, then sends the batches that are due. */
void streams_service(const struct pollfd *fds, size_t n);
/* Milliseconds until the next batch is due; -1 when nothing waits. */
int streams_timeout_ms(void);
/* The object is released: its streams end with a stream.ended notification. */
void streams_object_gone(struct held_object *obj);
/* Stops following trace_pipe; false when it was not followed. */
bool streams_trace_stop(void);
/* A resuming client received @decoded records of stream @id: those sent beyond it were lost with
 * the dropped link and are counted as dropped. False when no such stream runs. */
bool streams_client_decoded(const char *id, unsigned long long decoded);
/* [{streamId, counters}] of every running stream (session.resume's answer); NULL: no memory. */
struct json_object *streams_json(void);
/* At exit: stops every stream and the trace follower. */
void streams_stop_all(void);

#endif
