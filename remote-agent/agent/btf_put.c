// SPDX-License-Identifier: MIT
/* btf.put: keep another kernel's BTF, so that `compile { btfId }` builds against its vmlinux.h
 * here, for a target that has no clang of its own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "base64.h"
#include "params.h"
#include "vmlinux_cache.h"

void method_btf_put(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	const char *btf_id, *text;
	void *data = NULL;
	size_t size;
	int err;

	if (!params_object(params, r) || !param_string(params, "params", "btfId", true, &btf_id, r) ||
	    !param_string(params, "params", "data", true, &text, r))
		return;
	if (!btf_id_valid(btf_id)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.btfId must be 16 lowercase hex digits, as hello's btfId.");
		return;
	}
	if (base64_decode(text, &data, &size)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.data must be base64.");
		return;
	}
	if (size > AGENT_BTF_MAX_BYTES) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.data holds %zu bytes of BTF, more than the %d accepted.",
				size, AGENT_BTF_MAX_BYTES);
		goto out;
	}
	err = vmlinux_btf_store(a->cache_dir, btf_id, data, size);
	if (err == -EBADMSG)
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.btfId %s is not the hash of params.data: send the BTF "
				"exactly as the target's btf.vmlinux gave it.", btf_id);
	else if (err == -EINVAL)
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.data is not BTF that libbpf can parse.");
	else if (err)
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot store the BTF in the cache directory %s: %s.",
				a->cache_dir, strerror(-err));
	else
		r->result = json_object_new_object();
out:
	free(data);
}
