/* SPDX-License-Identifier: MIT */
/* JSON-RPC 2.0 over newline-delimited JSON: bounded line reading, the queue of received
 * messages, and the writing of results and errors to stdout. */
#ifndef EBPF_AGENT_RPC_H
#define EBPF_AGENT_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "protocol_generated.h"

/* Longest request line accepted; a longer one is discarded and answered with an error. */
#define RPC_MAX_LINE ((size_t)AGENT_MAX_REQUEST_LINE_BYTES)

/* What a handler answers: either result or (error_code, error_message[, error_data]). */
struct rpc_reply {
	struct json_object *result;
	int error_code;
	char *error_message;
	struct json_object *error_data;
	bool relayed;	/* answered by another agent through this one (session.resume): send nothing */
};

__attribute__((format(printf, 3, 4)))
void rpc_reply_error(struct rpc_reply *reply, int code, const char *fmt, ...);
void rpc_reply_free(struct rpc_reply *reply);

/* Writes the reply to request @id (a JSON-RPC id, or NULL for id null) as one line on stdout. */
int rpc_send(struct json_object *id, const struct rpc_reply *reply);
__attribute__((format(printf, 3, 4)))
int rpc_send_error(struct json_object *id, int code, const char *fmt, ...);

/* Writes a notification; takes ownership of @params. */
int rpc_send_notification(const char *method, struct json_object *params);

/* One received line: a parsed message, or why the line could not be parsed. */
struct inbound {
	struct inbound *next;
	struct json_object *msg;	/* NULL when error_code is set */
	int error_code;
	const char *error_message;
};

struct inbound_queue {
	struct inbound *head;
	struct inbound *tail;
};

void inbound_queue_push(struct inbound_queue *q, struct inbound *in);
struct inbound *inbound_queue_pop(struct inbound_queue *q);
/* Removes and returns the queued request whose id equals @id, or NULL. */
struct inbound *inbound_queue_take_id(struct inbound_queue *q, struct json_object *id);
void inbound_free(struct inbound *in);
void inbound_queue_clear(struct inbound_queue *q);

struct line_reader {
	char *buf;
	size_t len;
	size_t cap;
	bool discarding;	/* inside an over-long line, dropping bytes up to its newline */
	struct json_tokener *tok;
};

typedef void (*inbound_fn)(struct inbound *in, void *ctx);

int line_reader_init(struct line_reader *r);
void line_reader_free(struct line_reader *r);
/* Reads once from @fd and hands every complete line to @fn, parsed. Returns 0, 1 at end of
 * input (after handing over an unterminated last line), or a negative errno. */
int line_reader_fill(struct line_reader *r, int fd, inbound_fn fn, void *ctx);

/* Message accessors. The id is NULL for a notification (no "id" member). */
bool rpc_is_notification(struct json_object *msg);
struct json_object *rpc_msg_id(struct json_object *msg);

#endif
