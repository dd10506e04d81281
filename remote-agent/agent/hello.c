// SPDX-License-Identifier: MIT
/* hello: what this agent is and what the kernel and toolchain of its host offer. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent.h"
#include "toolchain.h"
#include "vmlinux_cache.h"

static struct json_object *string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

void method_hello(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct json_object *client, *caps;
	char btf_id[BTF_ID_LEN + 1], libbpf_version[32];
	bool has_btf;
	struct utsname u;

	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "clientVersion", &client) ||
	    !json_object_is_type(client, json_type_string)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.clientVersion must be a string (the client's version).");
		return;
	}
	fprintf(stderr, "ebpf-agent: hello from client %.64s\n", json_object_get_string(client));
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	has_btf = access(VMLINUX_BTF_PATH, R_OK) == 0;
	if (!has_btf || vmlinux_btf_id(btf_id))
		btf_id[0] = '\0';
	snprintf(libbpf_version, sizeof(libbpf_version), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	caps = json_object_new_array();
	for (const char *const *m = a->methods; *m; m++)
		json_object_array_add(caps, json_object_new_string(*m));

	r->result = json_object_new_object();
	json_object_object_add(r->result, "agentVersion", json_object_new_string(AGENT_VERSION));
	json_object_object_add(r->result, "protocolVersion", json_object_new_int(AGENT_PROTOCOL_VERSION));
	json_object_object_add(r->result, "kernelRelease", json_object_new_string(u.release));
	json_object_object_add(r->result, "arch", json_object_new_string(u.machine));
	json_object_object_add(r->result, "btf", json_object_new_boolean(has_btf));
	json_object_object_add(r->result, "btfId", string_or_null(btf_id[0] ? btf_id : NULL));
	json_object_object_add(r->result, "clang", string_or_null(clang_version(clang_path())));
	json_object_object_add(r->result, "libbpfVersion", json_object_new_string(libbpf_version));
	json_object_object_add(r->result, "euid", json_object_new_int((int)geteuid()));
	json_object_object_add(r->result, "capabilities", caps);
	json_object_object_add(r->result, "features", features_json(&a->features));
}
