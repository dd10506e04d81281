// SPDX-License-Identifier: MIT
/* object.put: hold an object compiled elsewhere (on the client, against this kernel's BTF) as a
 * successful compile would, so load, attach and release work on it the same way. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "base64.h"
#include "params.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

/* A 64-bit ELF relocatable for the BPF machine, in either byte order; libbpf checks the rest. */
static bool is_bpf_object(const unsigned char *data, size_t size)
{
	unsigned int machine;

	if (size < sizeof(Elf64_Ehdr) || memcmp(data, ELFMAG, SELFMAG) != 0 || data[EI_CLASS] != ELFCLASS64)
		return false;
	if (data[EI_DATA] == ELFDATA2LSB)
		machine = data[18] | data[19] << 8;
	else if (data[EI_DATA] == ELFDATA2MSB)
		machine = data[18] << 8 | data[19];
	else
		return false;
	return machine == EM_BPF;
}

void method_object_put(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	const char *name, *text;
	struct held_object *obj;
	char *name_copy;
	void *data = NULL;
	size_t size;

	if (!params_object(params, r) || !param_string(params, "params", "name", true, &name, r) ||
	    !param_string(params, "params", "object", true, &text, r))
		return;
	if (!param_name_ok(name, ".-", 64)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.name must be 1-64 of [A-Za-z0-9_.-].");
		return;
	}
	if (base64_decode(text, &data, &size)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.object must be base64.");
		return;
	}
	if (size > AGENT_OBJECT_MAX_BYTES || !is_bpf_object(data, size)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.object must be a BPF ELF object (clang -target bpf) of at "
				"most %d bytes.", AGENT_OBJECT_MAX_BYTES);
		free(data);
		return;
	}
	name_copy = strdup(name);
	if (!name_copy) {
		free(data);
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return;
	}
	obj = objects_add(&a->objects, name_copy, NULL, data, size);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "objectId", json_object_new_string(obj->id));
}
