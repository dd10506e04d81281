// SPDX-License-Identifier: GPL-2.0
/*
 * How long the kernel function {{function}} takes: a kprobe on its entry notes the time per
 * thread, a kretprobe on its return adds the elapsed nanoseconds to a log2 histogram in an array
 * map, which the loader prints. Set targ_tgid (before load) to time one process only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "kprobe_latency.h"

char LICENSE[] SEC("license") = "GPL";

/* The process to time (its pid); 0 times every caller. Read-only once loaded. */
const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);	/* thread id */
	__type(value, __u64);	/* bpf_ktime_get_ns() at entry */
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

/* floor(log2(v)) for v > 0, without loops (the verifier then has nothing to unroll). */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32((__u32)v);
}

SEC("kprobe/{{function}}")
int BPF_KPROBE(on_entry)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 now;

	if (targ_tgid && (pid_tgid >> 32) != targ_tgid)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &tid, &now, BPF_ANY);
	return 0;
}

SEC("kretprobe/{{function}}")
int BPF_KRETPROBE(on_return)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *start, delta, *count;
	__u32 slot;

	start = bpf_map_lookup_elem(&starts, &tid);
	if (!start)
		return 0; /* entered before we attached, or another process */
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&starts, &tid);
	slot = delta ? log2_u64(delta) : 0;
	if (slot >= HIST_SLOTS)
		slot = HIST_SLOTS - 1;
	count = bpf_map_lookup_elem(&hist, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}
