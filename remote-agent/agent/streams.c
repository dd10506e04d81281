// SPDX-License-Identifier: MIT
/* stream.start/stop and trace.start/stop. Records are copied out of the kernel's buffer into a
 * per-stream queue of at most queueLimitBytes; whole batches are turned into `events` lines only
 * while stdout's buffer has room, so a slow client costs dropped (and counted) records, never a
 * blocked loop or unbounded memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "base64.h"
#include "outbuf.h"
#include "params.h"
#include "streams.h"

#define DEFAULT_BATCH AGENT_STREAM_DEFAULT_BATCH_RECORDS
#define DEFAULT_LATENCY_MS AGENT_STREAM_DEFAULT_LATENCY_MS
#define DEFAULT_QUEUE_LIMIT AGENT_STREAM_DEFAULT_QUEUE_LIMIT_BYTES
/* Records taken from one ring buffer per loop turn, so stdin is never starved by a flood. */
#define RINGBUF_BUDGET 65536
#define PERF_PAGES 64
#define TRACE_QUEUE_LIMIT (4u << 20)
#define TRACE_BATCH 1024
#define TRACE_LATENCY_MS 50

struct counters {
	unsigned long long received, sent, dropped;
};

/* A FIFO of records: their bytes back to back, and their sizes. */
struct record_queue {
	char *data;
	size_t head, len, cap;		/* bytes */
	__u32 *sizes;
	size_t first, count, size_cap;	/* records */
	long long oldest_ms;		/* arrival of the oldest queued record */
};

struct stream {
	char id[24];
	struct held_object *obj;
	const struct bpf_map *map;
	struct ring_buffer *rb;
	struct perf_buffer *pb;
	size_t budget;			/* ring buffer records left this turn */
	size_t max_batch;
	long long latency_ms;
	size_t queue_limit;
	struct record_queue q;
	struct counters c;
};

static struct stream *streams[STREAMS_MAX];
static unsigned long long next_stream_seq;

struct trace_follower {
	int fd;				/* -1: not following */
	char partial[4096];		/* an unterminated line */
	size_t partial_len;
	char *lines;			/* complete lines, each NUL-terminated, back to back */
	size_t len, cap, count;
	long long oldest_ms;
	struct counters c;
};

static struct trace_follower trace = { .fd = -1 };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static size_t queued_bytes(const struct record_queue *q)
{
	return q->len - q->head;
}

/* Queues one record, or counts it dropped when the queue is at its limit. */
static void stream_push(struct stream *s, const void *data, size_t size)
{
	struct record_queue *q = &s->q;

	s->c.received++;
	if (queued_bytes(q) + size > s->queue_limit) {
		s->c.dropped++;
		return;
	}
	if (q->cap - q->len < size && q->head) {
		memmove(q->data, q->data + q->head, q->len - q->head);
		q->len -= q->head;
		q->head = 0;
	}
	if (q->cap - q->len < size) {
		size_t cap = q->cap ? q->cap : 64u << 10;
		char *buf;

		while (cap - q->len < size)
			cap *= 2;
		buf = realloc(q->data, cap);
		if (!buf) {
			s->c.dropped++;
			return;
		}
		q->data = buf;
		q->cap = cap;
	}
	if (q->first + q->count == q->size_cap) {
		if (q->first) {
			memmove(q->sizes, q->sizes + q->first, q->count * sizeof(*q->sizes));
			q->first = 0;
		} else {
			size_t cap = q->size_cap ? q->size_cap * 2 : 4096;
			__u32 *sizes = realloc(q->sizes, cap * sizeof(*sizes));

			if (!sizes) {
				s->c.dropped++;
				return;
			}
			q->sizes = sizes;
			q->size_cap = cap;
		}
	}
	if (!q->count)
		q->oldest_ms = now_ms();
	memcpy(q->data + q->len, data, size);
	q->len += size;
	q->sizes[q->first + q->count++] = size;
}

static int on_ringbuf_record(void *ctx, void *data, size_t size)
{
	struct stream *s = ctx;

	stream_push(s, data, size);
	return --s->budget ? 0 : -EAGAIN;	/* the record is consumed either way */
}

static void on_perf_record(void *ctx, int cpu, void *data, __u32 size)
{
	(void)cpu;
	stream_push(ctx, data, size);
}

static void on_perf_lost(void *ctx, int cpu, __u64 lost)
{
	struct stream *s = ctx;

	(void)cpu;
	s->c.received += lost;
	s->c.dropped += lost;
}

static int append_str(const char *s)
{
	return outbuf_append(s, strlen(s));
}

static int append_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int append_fmt(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return outbuf_append(buf, n);
}

static int append_counters(const struct counters *c)
{
	return append_fmt("{\"received\":%llu,\"sent\":%llu,\"dropped\":%llu}", c->received, c->sent, c->dropped);
}

/* Writes the first @n queued records as one `events` line, built by hand: it is the hot path. */
static int send_batch(struct stream *s, size_t n)
{
	struct record_queue *q = &s->q;
	size_t bytes = 0, b64;
	char *dst;
	int err;

	for (size_t i = 0; i < n; i++)
		bytes += q->sizes[q->first + i];
	s->c.sent += n;
	err = append_fmt("{\"jsonrpc\":\"2.0\",\"method\":\"" AGENT_NOTIFY_EVENTS "\",\"params\":{\"streamId\":\"%s\",\"data\":\"", s->id);
	b64 = (bytes + 2) / 3 * 4;
	dst = err ? NULL : outbuf_reserve(b64);
	if (!dst)
		return err ? err : -ENOMEM;
	outbuf_commit(base64_encode_to(dst, q->data + q->head, bytes));
	err = append_str("\",\"sizes\":[");
	for (size_t i = 0; !err && i < n; i++)
		err = append_fmt(i ? ",%u" : "%u", q->sizes[q->first + i]);
	if (!err)
		err = append_str("],\"counters\":");
	if (!err)
		err = append_counters(&s->c);
	if (!err)
		err = append_str("}}\n");
	q->head += bytes;
	q->first += n;
	q->count -= n;
	if (!q->count) {
		q->head = q->len = 0;
		q->first = 0;
	} else {
		q->oldest_ms = now_ms();
	}
	return err;
}

/* Sends the batches that are full or old enough; @all: everything queued, room or not. */
static int stream_flush(struct stream *s, long long now, bool all)
{
	int err = 0;

	while (!err && s->q.count && (all || (outbuf_has_room() &&
		(s->q.count >= s->max_batch || now - s->q.oldest_ms >= s->latency_ms))))
		err = send_batch(s, s->q.count < s->max_batch ? s->q.count : s->max_batch);
	return err;
}

static void stream_consume(struct stream *s)
{
	int err;

	s->budget = RINGBUF_BUDGET;
	err = s->rb ? ring_buffer__consume(s->rb) : perf_buffer__consume(s->pb);
	if (err < 0 && err != -EAGAIN && err != -EINTR)
		fprintf(stderr, "ebpf-agent: %s: reading the buffer failed: %s\n", s->id, strerror(-err));
}

static void stream_free(struct stream *s)
{
	ring_buffer__free(s->rb);
	perf_buffer__free(s->pb);
	free(s->q.data);
	free(s->q.sizes);
	free(s);
}

static struct json_object *counters_json(const struct counters *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "received", json_object_new_int64(c->received));
	json_object_object_add(o, "sent", json_object_new_int64(c->sent));
	json_object_object_add(o, "dropped", json_object_new_int64(c->dropped));
	return o;
}

/* Sends what is left, then frees the stream. */
static void stream_end(int slot, const char *reason)
{
	struct stream *s = streams[slot];
	struct json_object *p;

	stream_consume(s);
	stream_flush(s, now_ms(), true);
	if (reason) {
		p = json_object_new_object();
		json_object_object_add(p, "streamId", json_object_new_string(s->id));
		json_object_object_add(p, "reason", json_object_new_string(reason));
		json_object_object_add(p, "counters", counters_json(&s->c));
		rpc_send_notification(AGENT_NOTIFY_STREAM_ENDED, p);
	}
	streams[slot] = NULL;
	stream_free(s);
}

static void trace_stop(void);
static int trace_read(void);
static int trace_flush(long long now, bool all);

size_t streams_poll_fds(struct pollfd *fds)
{
	size_t n = 0;

	for (int i = 0; i < STREAMS_MAX; i++)
		if (streams[i])
			fds[n++] = (struct pollfd){ .fd = streams[i]->rb ? ring_buffer__epoll_fd(streams[i]->rb) :
							 perf_buffer__epoll_fd(streams[i]->pb), .events = POLLIN };
	if (trace.fd >= 0)
		fds[n++] = (struct pollfd){ .fd = trace.fd, .events = POLLIN };
	return n;
}

void streams_service(const struct pollfd *fds, size_t n)
{
	long long now;
	size_t k = 0;

	for (int i = 0; i < STREAMS_MAX; i++) {
		if (!streams[i])
			continue;
		if (k < n && fds[k].revents)
			stream_consume(streams[i]);
		k++;
	}
	if (trace.fd >= 0 && k < n && fds[k].revents && trace_read())
		trace_stop();
	now = now_ms();
	for (int i = 0; i < STREAMS_MAX; i++)
		if (streams[i])
			stream_flush(streams[i], now, false);
	if (trace.fd >= 0)
		trace_flush(now, false);
}

int streams_timeout_ms(void)
{
	long long now = now_ms(), best = 0;
	bool waiting = false;	/* a batch is queued; @best may then be overdue (negative) */

	for (int i = 0; i < STREAMS_MAX; i++) {
		struct stream *s = streams[i];

		if (s && s->q.count) {
			long long due = s->q.oldest_ms + s->latency_ms - now;

			if (!waiting || due < best)
				best = due;
			waiting = true;
		}
	}
	if (trace.fd >= 0 && trace.count) {
		long long due = trace.oldest_ms + TRACE_LATENCY_MS - now;

		if (!waiting || due < best)
			best = due;
		waiting = true;
	}
	/* Without room on stdout, batches wait for its POLLOUT. With room, a batch overdue (it waited
	 * while a session's client was away) is due now, not never: poll again soon rather than spin. */
	if (!waiting || !outbuf_has_room())
		return -1;
	return best < 1 ? 1 : (int)best;
}

void streams_object_gone(struct held_object *obj)
{
	char reason[96];

	snprintf(reason, sizeof(reason), "Object %s was released.", obj->id);
	for (int i = 0; i < STREAMS_MAX; i++)
		if (streams[i] && streams[i]->obj == obj)
			stream_end(i, reason);
}

bool streams_client_decoded(const char *id, unsigned long long decoded)
{
	for (int i = 0; i < STREAMS_MAX; i++) {
		struct stream *s = streams[i];

		if (!s || strcmp(s->id, id))
			continue;
		if (decoded < s->c.sent) {
			s->c.dropped += s->c.sent - decoded;
			s->c.sent = decoded;
		}
		return true;
	}
	return false;
}

struct json_object *streams_json(void)
{
	struct json_object *list = json_object_new_array(), *o;

	for (int i = 0; list && i < STREAMS_MAX; i++) {
		if (!streams[i])
			continue;
		o = json_object_new_object();
		if (!o) {
			json_object_put(list);
			return NULL;
		}
		json_object_object_add(o, "streamId", json_object_new_string(streams[i]->id));
		json_object_object_add(o, "counters", counters_json(&streams[i]->c));
		json_object_array_add(list, o);
	}
	return list;
}

void streams_stop_all(void)
{
	for (int i = 0; i < STREAMS_MAX; i++)
		if (streams[i])
			stream_end(i, "The agent is exiting.");
	trace_stop();
}

static int free_slot(void)
{
	for (int i = 0; i < STREAMS_MAX; i++)
		if (!streams[i])
			return i;
	return -1;
}

static bool open_reader(struct stream *s, struct bpf_map *map, struct rpc_reply *r)
{
	enum bpf_map_type type = bpf_map__type(map);
	int err;

	if (type == BPF_MAP_TYPE_RINGBUF) {
		s->rb = ring_buffer__new(bpf_map__fd(map), on_ringbuf_record, s, NULL);
		err = s->rb ? 0 : -errno;
	} else {
		LIBBPF_OPTS(perf_buffer_opts, opts);

		s->pb = perf_buffer__new(bpf_map__fd(map), PERF_PAGES, on_perf_record, on_perf_lost, s, &opts);
		err = s->pb ? 0 : -errno;
	}
	if (err)
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Opening map %s for reading failed: %s.", bpf_map__name(map),
				strerror(-err));
	return !err;
}

void method_stream_start(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	long long batch = DEFAULT_BATCH, latency = DEFAULT_LATENCY_MS, limit = DEFAULT_QUEUE_LIMIT;
	const char *object_id, *map_name;
	struct held_object *held;
	struct bpf_map *map;
	struct stream *s;
	int slot;

	if (!params_object(params, r) || !param_string(params, "params", "objectId", true, &object_id, r) ||
	    !param_string(params, "params", "map", true, &map_name, r) ||
	    !param_int(params, "params", "maxBatchRecords", 1, 65536, &batch, NULL, r) ||
	    !param_int(params, "params", "maxLatencyMs", 1, 60000, &latency, NULL, r) ||
	    !param_int(params, "params", "queueLimitBytes", 4096, 1LL << 30, &limit, NULL, r))
		return;
	held = objects_find(&a->objects, object_id);
	if (!held) {
		rpc_reply_error(r, RPC_UNKNOWN_OBJECT, "Object \"%.64s\" is not held by the agent.", object_id);
		return;
	}
	if (!held->loaded) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "Object %s is not loaded yet: attach one of its programs before "
				"streaming its maps.", held->id);
		return;
	}
	map = bpf_object__find_map_by_name(held->loaded, map_name);
	if (!map) {
		rpc_reply_error(r, RPC_UNKNOWN_HANDLE, "Object %s has no map named \"%.200s\".", held->id, map_name);
		return;
	}
	if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF && bpf_map__type(map) != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.map: map %s is a %s map; only ringbuf and perf_event_array "
				"maps can be streamed (read others with map.dump).", map_name,
				libbpf_bpf_map_type_str(bpf_map__type(map)));
		return;
	}
	for (int i = 0; i < STREAMS_MAX; i++) {
		if (streams[i] && streams[i]->map == map) {
			/* one reader per map: a second would take the first one's records */
			rpc_reply_error(r, RPC_INVALID_PARAMS, "Map %s of %s is already streamed as %s; stop that stream first.",
					map_name, held->id, streams[i]->id);
			return;
		}
	}
	slot = free_slot();
	if (slot < 0) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "The agent already runs %d streams; stop one first.", STREAMS_MAX);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return;
	}
	snprintf(s->id, sizeof(s->id), "stream-%llu", ++next_stream_seq);
	s->obj = held;
	s->map = map;
	s->max_batch = batch;
	s->latency_ms = latency;
	s->queue_limit = limit;
	if (!open_reader(s, map, r)) {
		stream_free(s);
		return;
	}
	streams[slot] = s;
	r->result = json_object_new_object();
	json_object_object_add(r->result, "streamId", json_object_new_string(s->id));
	json_object_object_add(r->result, "kind", json_object_new_string(s->rb ? "ringbuf" : "perf"));
}

void method_stream_stop(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	const char *id;

	(void)a;
	if (!params_object(params, r) || !param_string(params, "params", "streamId", true, &id, r))
		return;
	for (int i = 0; i < STREAMS_MAX; i++) {
		if (streams[i] && strcmp(streams[i]->id, id) == 0) {
			struct counters c;

			stream_consume(streams[i]);
			stream_flush(streams[i], now_ms(), true);
			c = streams[i]->c;
			stream_end(i, NULL);
			r->result = counters_json(&c);
			return;
		}
	}
	rpc_reply_error(r, RPC_UNKNOWN_HANDLE, "Stream \"%.64s\" is not running (stopped, or its object was released).", id);
}

/* trace_pipe ----------------------------------------------------------------------------- */

static void trace_push(const char *line, size_t len)
{
	trace.c.received++;
	if (trace.len + len + 1 > TRACE_QUEUE_LIMIT) {
		trace.c.dropped++;
		return;
	}
	if (trace.cap - trace.len < len + 1) {
		size_t cap = trace.cap ? trace.cap * 2 : 64u << 10;
		char *buf;

		while (cap - trace.len < len + 1)
			cap *= 2;
		buf = realloc(trace.lines, cap);
		if (!buf) {
			trace.c.dropped++;
			return;
		}
		trace.lines = buf;
		trace.cap = cap;
	}
	if (!trace.count)
		trace.oldest_ms = now_ms();
	memcpy(trace.lines + trace.len, line, len);
	trace.lines[trace.len + len] = '\0';
	trace.len += len + 1;
	trace.count++;
}

/* Reads what trace_pipe holds. Returns nonzero when it failed for good. */
static int trace_read(void)
{
	char buf[16384];

	for (int turns = 0; turns < 64; turns++) {
		ssize_t n = read(trace.fd, buf, sizeof(buf));
		size_t start = 0;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0)
			return 0;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n')
				continue;
			if (trace.partial_len) {
				size_t take = i - start;

				if (take > sizeof(trace.partial) - trace.partial_len)
					take = sizeof(trace.partial) - trace.partial_len;
				memcpy(trace.partial + trace.partial_len, buf + start, take);
				trace_push(trace.partial, trace.partial_len + take);
				trace.partial_len = 0;
			} else {
				trace_push(buf + start, i - start);
			}
			start = i + 1;
		}
		if (start < (size_t)n) {	/* keep the unterminated rest, cut at 4 KiB */
			size_t take = n - start;

			if (take > sizeof(trace.partial) - trace.partial_len)
				take = sizeof(trace.partial) - trace.partial_len;
			memcpy(trace.partial + trace.partial_len, buf + start, take);
			trace.partial_len += take;
		}
	}
	return 0;
}

static int trace_send(void)
{
	struct json_object *p = json_object_new_object(), *lines = json_object_new_array();
	size_t off = 0, n = 0;

	while (n < trace.count && n < TRACE_BATCH) {
		size_t len = strlen(trace.lines + off);

		json_object_array_add(lines, json_object_new_string_len(trace.lines + off, len));
		off += len + 1;
		n++;
	}
	memmove(trace.lines, trace.lines + off, trace.len - off);
	trace.len -= off;
	trace.count -= n;
	trace.c.sent += n;
	trace.oldest_ms = now_ms();
	json_object_object_add(p, "lines", lines);
	json_object_object_add(p, "dropped", json_object_new_int64(trace.c.dropped));
	return rpc_send_notification(AGENT_NOTIFY_TRACE, p);
}

static int trace_flush(long long now, bool all)
{
	int err = 0;

	while (!err && trace.count && (all || (outbuf_has_room() &&
		(trace.count >= TRACE_BATCH || now - trace.oldest_ms >= TRACE_LATENCY_MS))))
		err = trace_send();
	return err;
}

static void trace_stop(void)
{
	if (trace.fd < 0)
		return;
	close(trace.fd);
	free(trace.lines);
	trace = (struct trace_follower){ .fd = -1 };
}

bool streams_trace_stop(void)
{
	if (trace.fd < 0)
		return false;
	trace_stop();
	return true;
}

void method_trace_start(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	char path[PATH_MAX];

	(void)params;
	if (trace.fd >= 0) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "trace_pipe is already followed by this agent (one follower per "
				"agent); call trace.stop first.");
		return;
	}
	if (!a->features.tracefs[0]) {
		rpc_reply_error(r, RPC_KERNEL_FEATURE_MISSING, "tracefs is not mounted (and the agent could not mount it): "
				"there is no trace_pipe to follow; run `mount -t tracefs tracefs /sys/kernel/tracing`.");
		return;
	}
	snprintf(path, sizeof(path), "%s/trace_pipe", a->features.tracefs);
	trace.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (trace.fd < 0 && errno == EBUSY) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Opening %s failed: another process is reading it (the kernel "
				"gives trace_pipe to one reader: a `cat trace_pipe`, `bpftool prog tracelog`); stop it "
				"to see bpf_printk lines here.", path);
		return;
	}
	if (trace.fd < 0) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Opening %s failed: %s.", path, strerror(errno));
		return;
	}
	r->result = json_object_new_object();
}

void method_trace_stop(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	(void)a;
	(void)params;
	if (trace.fd < 0) {
		rpc_reply_error(r, RPC_UNKNOWN_HANDLE, "trace_pipe is not being followed; call trace.start first.");
		return;
	}
	if (!trace_read())
		trace_flush(now_ms(), true);
	r->result = counters_json(&trace.c);
	trace_stop();
}
