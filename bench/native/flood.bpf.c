// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's event source: one small ring buffer record per getpgid(FLOOD_MAGIC) call. The
 * magic argument keeps every other process's getpgid() out of the count; syscallFlood calls it in
 * a tight loop. Both consumers (the native one and eBPF Studio) load this same file.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define FLOOD_MAGIC 0x5eed5eed

char LICENSE[] SEC("license") = "GPL";

struct flood_event {
	__u64 seq;
	__u32 pid;
	__u32 cpu;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024 * 1024);
} flood SEC(".maps");

__u64 next_seq = 0;

SEC("tracepoint/syscalls/sys_enter_getpgid")
int on_getpgid(struct trace_event_raw_sys_enter *ctx)
{
	struct flood_event *e;

	if (ctx->args[0] != FLOOD_MAGIC)
		return 0;
	e = bpf_ringbuf_reserve(&flood, sizeof(struct flood_event), 0);
	if (!e)
		return 0;
	e->seq = __sync_fetch_and_add(&next_seq, 1);
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
