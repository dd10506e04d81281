// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest useful program: every time the tracepoint {{tracepoint}} fires, write one line to the
 * kernel's trace pipe with bpf_printk, and count the hits in a one-slot array the loader reads.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tracepoint_printk.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("tracepoint/{{tracepoint}}")
int on_tracepoint(void *ctx)
{
	__u32 slot = 0;
	__u64 *count = bpf_map_lookup_elem(&hits, &slot);

	if (count)
		__sync_fetch_and_add(count, 1);
	bpf_printk("{{tracepoint}} hit by pid %d", bpf_get_current_pid_tgid() >> 32);
	return 0;
}
