// SPDX-License-Identifier: MIT
/* From a received line to a handler: the method table, cancellation of the running or a queued
 * request, and the envelope checks (jsonrpc, id, method) before a handler sees its params. Kept
 * apart from main.c's poll loop so the fuzz target (fuzz/) drives exactly this path. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "links.h"
#include "streams.h"

volatile sig_atomic_t agent_stop_requested;

/* Before an attached object closes (release, eviction, exit): its streams stop, its links go. */
void agent_object_unloading(struct held_object *obj)
{
	streams_object_gone(obj);
	links_object_gone(obj);
}

bool agent_should_abort(const struct agent *a)
{
	return a->running_cancelled || agent_stop_requested;
}

typedef void (*method_fn)(struct agent *a, struct json_object *params, struct rpc_reply *reply);

static const struct method {
	const char *name;
	method_fn fn;
} methods[] = {
#define X(wire, handler) { wire, method_##handler },
	AGENT_METHODS(X)
#undef X
};

#define METHOD_COUNT (sizeof(methods) / sizeof(methods[0]))

static const char *method_names[METHOD_COUNT + 1];

const char *const *agent_method_names(void)
{
	for (size_t i = 0; i < METHOD_COUNT; i++)
		method_names[i] = methods[i].name;
	return method_names;
}

static const char *method_of(struct json_object *msg)
{
	struct json_object *m;

	if (!json_object_is_type(msg, json_type_object) || !json_object_object_get_ex(msg, "method", &m) ||
	    !json_object_is_type(m, json_type_string))
		return NULL;
	return json_object_get_string(m);
}

/* Cancels the running request, or answers a queued one as cancelled without running it. */
static void handle_cancel(struct agent *a, struct json_object *msg)
{
	struct json_object *params, *id;
	struct inbound *queued;

	if (!json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_object_get_ex(params, "id", &id))
		return;
	if (a->running_id && json_object_equal(a->running_id, id)) {
		a->running_cancelled = true;
		return;
	}
	queued = inbound_queue_take_id(&a->queue, id);
	if (queued) {
		rpc_send_error(id, RPC_REQUEST_CANCELLED, "The request was cancelled before it ran.");
		inbound_free(queued);
	}
}

static void ingest(struct inbound *in, void *ctx)
{
	struct agent *a = ctx;
	const char *method = in->msg ? method_of(in->msg) : NULL;

	if (method && strcmp(method, AGENT_CANCEL_NOTIFICATION) == 0 && rpc_is_notification(in->msg)) {
		handle_cancel(a, in->msg);
		inbound_free(in);
		return;
	}
	inbound_queue_push(&a->queue, in);
}

int agent_pump_input(struct agent *a)
{
	int ret;

	if (a->input_closed)
		return 0;
	ret = line_reader_fill(&a->reader, STDIN_FILENO, ingest, a);
	if (ret == 1)
		a->input_closed = true;
	if (ret < 0) {
		fprintf(stderr, "ebpf-agent: reading stdin failed: %s\n", strerror(-ret));
		a->input_closed = true;
	}
	return ret < 0 ? ret : 0;
}

static bool valid_id(struct json_object *id)
{
	return !id || json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int);
}

static const struct method *find_method(const char *name)
{
	for (size_t i = 0; i < METHOD_COUNT; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

/* Handles one received message. Returns a negative errno only when stdout is gone. */
static int dispatch(struct agent *a, struct inbound *in)
{
	struct json_object *msg = in->msg, *id, *version, *params = NULL;
	struct rpc_reply reply = { 0 };
	const struct method *m;
	const char *name;
	bool notification;
	int err;

	if (in->error_code)
		return rpc_send_error(NULL, in->error_code, "%s", in->error_message);
	if (json_object_is_type(msg, json_type_array))
		return rpc_send_error(NULL, RPC_INVALID_REQUEST, "Batch requests are not supported; send one request per line.");
	if (!json_object_is_type(msg, json_type_object))
		return rpc_send_error(NULL, RPC_INVALID_REQUEST, "A request must be a JSON object {jsonrpc, id, method, params}.");
	notification = rpc_is_notification(msg);
	id = rpc_msg_id(msg);
	if (!valid_id(id))
		return rpc_send_error(NULL, RPC_INVALID_REQUEST, "The request id must be a string, an integer or null.");
	if (!json_object_object_get_ex(msg, "jsonrpc", &version) ||
	    !json_object_is_type(version, json_type_string) || strcmp(json_object_get_string(version), "2.0"))
		return notification ? 0 : rpc_send_error(id, RPC_INVALID_REQUEST, "The request must have \"jsonrpc\": \"2.0\".");
	name = method_of(msg);
	if (!name)
		return notification ? 0 : rpc_send_error(id, RPC_INVALID_REQUEST, "The request must have a string \"method\".");
	m = find_method(name);
	if (!m) {
		if (notification)
			return 0;	/* unknown notifications are ignored, as in LSP */
		return rpc_send_error(id, RPC_METHOD_NOT_FOUND, "The agent has no method \"%.100s\"; see hello's "
				      "capabilities for the methods it answers.", name);
	}
	json_object_object_get_ex(msg, "params", &params);
	a->running_id = notification ? NULL : id;
	a->running_cancelled = false;
	m->fn(a, params, &reply);
	a->running_id = NULL;
	err = notification || reply.relayed ? 0 : rpc_send(id, &reply);
	rpc_reply_free(&reply);
	return err;
}

int agent_dispatch_queued(struct agent *a)
{
	struct inbound *in;
	int err = 0;

	while (!err && !agent_stop_requested && (in = inbound_queue_pop(&a->queue))) {
		err = dispatch(a, in);
		inbound_free(in);
	}
	return err;
}
