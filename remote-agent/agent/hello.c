// SPDX-License-Identifier: MIT
/* hello: what this agent is and what the kernel and toolchain of its host offer. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent.h"
#include "params.h"
#include "session.h"
#include "toolchain.h"
#include "vmlinux_cache.h"

static struct json_object *string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* Newer than some uapi headers: CAP_PERFMON and CAP_BPF came with Linux 5.8. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define UNPRIVILEGED_BPF_SYSCTL "/proc/sys/kernel/unprivileged_bpf_disabled"

static const struct {
	int cap;
	const char *name;
} bpf_caps[] = {
	{ CAP_BPF, "bpf" },
	{ CAP_PERFMON, "perfmon" },
	{ CAP_SYS_ADMIN, "sys_admin" },
	{ CAP_NET_ADMIN, "net_admin" },
};

/* The agent's effective capability sets (two 32-bit words), read with capget on itself. */
static int effective_caps(__u32 effective[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	effective[0] = data[0].effective;
	effective[1] = data[1].effective;
	return 0;
}

/* kernel.unprivileged_bpf_disabled, or -1 when it cannot be read. */
static int unprivileged_bpf_disabled(void)
{
	FILE *f = fopen(UNPRIVILEGED_BPF_SYSCTL, "r");
	int value = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

static struct json_object *privileges_json(void)
{
	struct json_object *o = json_object_new_object(), *caps = json_object_new_array();
	__u32 effective[2] = { 0, 0 };
	int disabled = unprivileged_bpf_disabled(), err = effective_caps(effective);

	if (err)
		fprintf(stderr, "ebpf-agent: capget failed: %s\n", strerror(-err));
	for (size_t i = 0; i < sizeof(bpf_caps) / sizeof(bpf_caps[0]); i++) {
		int cap = bpf_caps[i].cap;

		if (effective[cap / 32] & (1u << (cap % 32)))
			json_object_array_add(caps, json_object_new_string(bpf_caps[i].name));
	}
	json_object_object_add(o, "effectiveCapabilities", caps);
	json_object_object_add(o, "unprivilegedBpfDisabled", disabled < 0 ? NULL : json_object_new_int(disabled));
	return o;
}

struct json_object *hello_result(struct agent *a)
{
	struct json_object *result, *caps;
	char btf_id[BTF_ID_LEN + 1], libbpf_version[32];
	bool has_btf;
	struct utsname u;

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

	result = json_object_new_object();
	json_object_object_add(result, "agentVersion", json_object_new_string(AGENT_VERSION));
	json_object_object_add(result, "protocolVersion", json_object_new_int(AGENT_PROTOCOL_VERSION));
	json_object_object_add(result, "kernelRelease", json_object_new_string(u.release));
	json_object_object_add(result, "arch", json_object_new_string(u.machine));
	json_object_object_add(result, "btf", json_object_new_boolean(has_btf));
	json_object_object_add(result, "btfId", string_or_null(btf_id[0] ? btf_id : NULL));
	json_object_object_add(result, "clang", string_or_null(clang_version(clang_path())));
	json_object_object_add(result, "libbpfVersion", json_object_new_string(libbpf_version));
	json_object_object_add(result, "euid", json_object_new_int((int)geteuid()));
	json_object_object_add(result, "capabilities", caps);
	json_object_object_add(result, "features", features_json(&a->features));
	json_object_object_add(result, "privileges", privileges_json());
	json_object_object_add(result, "resume", NULL);
	return result;
}

void method_hello(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct json_object *client;
	long long grace = 0;

	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "clientVersion", &client) ||
	    !json_object_is_type(client, json_type_string)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.clientVersion must be a string (the client's version).");
		return;
	}
	if (!param_int(params, "params", "graceSeconds", 0, AGENT_SESSION_MAX_GRACE_SECONDS, &grace, NULL, r))
		return;
	fprintf(stderr, "ebpf-agent: hello from client %.64s\n", json_object_get_string(client));
	r->result = hello_result(a);
	if (grace > 0)
		json_object_object_add(r->result, "resume", session_keep(a, (unsigned)grace));
	else
		session_end();
}
