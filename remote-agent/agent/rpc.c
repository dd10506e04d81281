// SPDX-License-Identifier: MIT
/* JSON-RPC framing: lines in (bounded, parsed strictly), replies out (one line each, flushed). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbuf.h"
#include "rpc.h"

#define READ_CHUNK (64u << 10)

void rpc_reply_error(struct rpc_reply *reply, int code, const char *fmt, ...)
{
	va_list ap;

	free(reply->error_message);
	reply->error_message = NULL;
	reply->error_code = code;
	va_start(ap, fmt);
	if (vasprintf(&reply->error_message, fmt, ap) < 0)
		reply->error_message = NULL;
	va_end(ap);
}

void rpc_reply_free(struct rpc_reply *reply)
{
	json_object_put(reply->result);
	json_object_put(reply->error_data);
	free(reply->error_message);
	memset(reply, 0, sizeof(*reply));
}

static int write_line(struct json_object *msg)
{
	const char *text;
	int err;

	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	err = outbuf_append(text, strlen(text));
	if (!err)
		err = outbuf_append("\n", 1);
	return err ? err : outbuf_flush();
}

static struct json_object *new_envelope(struct json_object *id)
{
	struct json_object *msg = json_object_new_object();

	if (!msg)
		return NULL;
	json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(msg, "id", id ? json_object_get(id) : NULL);
	return msg;
}

int rpc_send(struct json_object *id, const struct rpc_reply *reply)
{
	struct json_object *msg, *err;
	int ret;

	msg = new_envelope(id);
	if (!msg)
		return -ENOMEM;
	if (reply->error_code) {
		err = json_object_new_object();
		json_object_object_add(err, "code", json_object_new_int(reply->error_code));
		json_object_object_add(err, "message", json_object_new_string(
			reply->error_message ? reply->error_message : "The agent ran out of memory."));
		if (reply->error_data)
			json_object_object_add(err, "data", json_object_get(reply->error_data));
		json_object_object_add(msg, "error", err);
	} else {
		json_object_object_add(msg, "result", reply->result ?
				       json_object_get(reply->result) : json_object_new_object());
	}
	ret = write_line(msg);
	json_object_put(msg);
	return ret;
}

int rpc_send_error(struct json_object *id, int code, const char *fmt, ...)
{
	struct rpc_reply reply = { .error_code = code };
	va_list ap;
	int ret;

	va_start(ap, fmt);
	if (vasprintf(&reply.error_message, fmt, ap) < 0)
		reply.error_message = NULL;
	va_end(ap);
	ret = rpc_send(id, &reply);
	rpc_reply_free(&reply);
	return ret;
}

int rpc_send_notification(const char *method, struct json_object *params)
{
	struct json_object *msg = json_object_new_object();
	int ret;

	if (!msg) {
		json_object_put(params);
		return -ENOMEM;
	}
	json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(msg, "method", json_object_new_string(method));
	json_object_object_add(msg, "params", params);
	ret = write_line(msg);
	json_object_put(msg);
	return ret;
}

bool rpc_is_notification(struct json_object *msg)
{
	return !json_object_object_get_ex(msg, "id", NULL);
}

struct json_object *rpc_msg_id(struct json_object *msg)
{
	struct json_object *id = NULL;

	json_object_object_get_ex(msg, "id", &id);
	return id;
}

void inbound_queue_push(struct inbound_queue *q, struct inbound *in)
{
	in->next = NULL;
	if (q->tail)
		q->tail->next = in;
	else
		q->head = in;
	q->tail = in;
}

struct inbound *inbound_queue_pop(struct inbound_queue *q)
{
	struct inbound *in = q->head;

	if (!in)
		return NULL;
	q->head = in->next;
	if (!q->head)
		q->tail = NULL;
	in->next = NULL;
	return in;
}

struct inbound *inbound_queue_take_id(struct inbound_queue *q, struct json_object *id)
{
	struct inbound **link, *prev = NULL;

	for (link = &q->head; *link; prev = *link, link = &(*link)->next) {
		struct inbound *in = *link;
		struct json_object *msg_id;

		if (!in->msg || rpc_is_notification(in->msg))
			continue;
		msg_id = rpc_msg_id(in->msg);
		if (!msg_id || !json_object_equal(msg_id, id))
			continue;
		*link = in->next;
		if (q->tail == in)
			q->tail = prev;
		in->next = NULL;
		return in;
	}
	return NULL;
}

void inbound_free(struct inbound *in)
{
	if (!in)
		return;
	json_object_put(in->msg);
	free(in);
}

void inbound_queue_clear(struct inbound_queue *q)
{
	struct inbound *in;

	while ((in = inbound_queue_pop(q)))
		inbound_free(in);
}

int line_reader_init(struct line_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->tok = json_tokener_new();
	if (!r->tok)
		return -ENOMEM;
	json_tokener_set_flags(r->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return 0;
}

void line_reader_free(struct line_reader *r)
{
	free(r->buf);
	if (r->tok)
		json_tokener_free(r->tok);
	memset(r, 0, sizeof(*r));
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static struct inbound *parse_line(struct line_reader *r, const char *line, size_t len)
{
	struct inbound *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	json_tokener_reset(r->tok);
	in->msg = json_tokener_parse_ex(r->tok, line, (int)len);
	if (in->msg && json_tokener_get_parse_end(r->tok) < len &&
	    !is_blank(line + json_tokener_get_parse_end(r->tok),
		      len - json_tokener_get_parse_end(r->tok))) {
		json_object_put(in->msg);
		in->msg = NULL;
	}
	if (!in->msg && json_tokener_get_error(r->tok) == json_tokener_success) {
		in->error_code = RPC_INVALID_REQUEST;	/* the line is JSON null */
		in->error_message = "A request must be a JSON object, not null.";
	} else if (!in->msg) {
		in->error_code = RPC_PARSE_ERROR;
		in->error_message = "The line is not valid JSON (UTF-8, one JSON-RPC message per line).";
	}
	return in;
}

static struct inbound *too_long_line(void)
{
	struct inbound *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->error_code = RPC_INVALID_REQUEST;
	in->error_message = "The request line is longer than the agent's limit of 32 MiB; it was discarded.";
	return in;
}

static int emit(struct line_reader *r, const char *line, size_t len, inbound_fn fn, void *ctx)
{
	struct inbound *in;

	if (len && line[len - 1] == '\r')
		len--;
	if (is_blank(line, len))
		return 0;
	in = parse_line(r, line, len);
	if (!in)
		return -ENOMEM;
	fn(in, ctx);
	return 0;
}

/* Hands over the complete lines in the buffer and keeps the unterminated rest. */
static int drain_lines(struct line_reader *r, inbound_fn fn, void *ctx)
{
	size_t start = 0;
	char *nl;
	int err;

	while (start < r->len && (nl = memchr(r->buf + start, '\n', r->len - start))) {
		size_t end = nl - r->buf;

		if (r->discarding) {
			r->discarding = false;
		} else {
			err = emit(r, r->buf + start, end - start, fn, ctx);
			if (err)
				return err;
		}
		start = end + 1;
	}
	memmove(r->buf, r->buf + start, r->len - start);
	r->len -= start;
	if (r->len > RPC_MAX_LINE) {
		struct inbound *in;

		if (!r->discarding) {
			in = too_long_line();
			if (!in)
				return -ENOMEM;
			fn(in, ctx);
		}
		r->discarding = true;
		r->len = 0;
	}
	return 0;
}

static int reserve(struct line_reader *r, size_t want)
{
	size_t cap = r->cap ? r->cap : READ_CHUNK;
	char *buf;

	if (r->cap - r->len >= want)
		return 0;
	while (cap - r->len < want)
		cap *= 2;
	buf = realloc(r->buf, cap);
	if (!buf)
		return -ENOMEM;
	r->buf = buf;
	r->cap = cap;
	return 0;
}

int line_reader_fill(struct line_reader *r, int fd, inbound_fn fn, void *ctx)
{
	ssize_t n;
	int err;

	err = reserve(r, READ_CHUNK);
	if (err)
		return err;
	n = read(fd, r->buf + r->len, r->cap - r->len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		if (r->len && !r->discarding)
			err = emit(r, r->buf, r->len, fn, ctx);
		r->len = 0;
		r->discarding = false;
		return err ? err : 1;
	}
	r->len += n;
	return drain_lines(r, fn, ctx);
}
