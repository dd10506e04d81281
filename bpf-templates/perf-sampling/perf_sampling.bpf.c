// SPDX-License-Identifier: GPL-2.0
/*
 * A CPU profiler: the perf_event program runs on every sample of a perf event (the loader uses the
 * software cpu-clock, which every kernel has, PMU or not), records the interrupted task's kernel
 * and user stacks in a stack-trace map, and counts samples per (process, kernel stack, user stack).
 * Where a CPU spends its time is then the keys with the largest counts.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "perf_sampling.h"

char LICENSE[] SEC("license") = "GPL";

/* Stack id -> the stack's instruction pointers. Identical stacks share one id. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sample_key);
	__type(value, __u64);
} sample_counts SEC(".maps");

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	struct sample_key key = {};
	__u64 one = 1, *count;

	key.pid = bpf_get_current_pid_tgid() >> 32;
	if (key.pid == 0)
		return 0;	/* the idle task: a CPU with nothing to do */
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.kernel_stack_id = bpf_get_stackid(ctx, &stacks, 0);
	key.user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

	count = bpf_map_lookup_elem(&sample_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&sample_counts, &key, &one, BPF_NOEXIST);
	return 0;
}
