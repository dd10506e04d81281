// SPDX-License-Identifier: GPL-2.0
/* A program the verifier rejects, to show what a rejection looks like in the editor:
 * bpf_map_lookup_elem() returns NULL when the key is not in the map, and the result is
 * used without a check. The verifier's error lands on line 25; the code lens above
 * count_execve links to the full log. Add `if (!count) return 0;` before it and save. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} execve_calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int count_execve(struct trace_event_raw_sys_enter *ctx)
{
	__u32 uid = bpf_get_current_uid_gid();
	__u64 *count;

	count = bpf_map_lookup_elem(&execve_calls, &uid);
	/* Missing: if (!count) return 0; */

	*count += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
