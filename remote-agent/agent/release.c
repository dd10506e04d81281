// SPDX-License-Identifier: MIT
/* release: forget a compiled object and delete its work directory. reset: forget every one of
 * them and stop following trace_pipe, so the agent holds nothing a next client could see. */
#include "agent.h"
#include "streams.h"

void method_release(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct json_object *id;
	struct held_object *obj;

	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "objectId", &id) || !json_object_is_type(id, json_type_string)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.objectId must be a string returned by compile.");
		return;
	}
	obj = objects_find(&a->objects, json_object_get_string(id));
	if (!obj) {
		rpc_reply_error(r, RPC_UNKNOWN_OBJECT, "Object \"%.64s\" is not held by the agent (never compiled, "
				"already released, or evicted).", json_object_get_string(id));
		return;
	}
	objects_drop(&a->objects, obj);
	r->result = json_object_new_object();
}

void method_reset(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	int released = 0;
	bool trace_stopped;

	if (params && !json_object_is_type(params, json_type_object)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params must be an object (reset takes none).");
		return;
	}
	for (int i = 0; i < OBJECT_TABLE_SLOTS; i++) {
		if (!a->objects.slots[i].id[0])
			continue;
		objects_drop(&a->objects, &a->objects.slots[i]);
		released++;
	}
	trace_stopped = streams_trace_stop();
	r->result = json_object_new_object();
	json_object_object_add(r->result, "releasedObjects", json_object_new_int(released));
	json_object_object_add(r->result, "traceStopped", json_object_new_boolean(trace_stopped));
}
