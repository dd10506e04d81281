// SPDX-License-Identifier: GPL-2.0
/*
 * The flood soak's event source (bench/eventFlood.ts): a getpgid(SOAK_MAGIC | n) call makes n
 * 32-byte ring buffer records (bpf_loop), and per CPU the program counts the records asked for
 * and those the ring buffer had no room for. Those counters make the soak's accounting exact:
 * every record asked for was either read by the agent or refused by a full ring, and counted.
 * Several records per call because a syscall costs ~1 µs on the test machines (a Firecracker
 * guest, 2 cores): a million syscalls a second would leave no CPU to the consumer, where the
 * kernel's own cost of a record (reserve, fill, submit) is a tenth of that. Its own magic (not
 * flood.bpf.c's) keeps the two benches' floods apart.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define SOAK_MAGIC 0x50a60000
#define SOAK_MAGIC_MASK 0xffff0000
/* n is the low 16 bits of the argument; at most this many per call. */
#define SOAK_MAX_PER_CALL 4096

char LICENSE[] SEC("license") = "GPL";

struct soak_event {
	__u64 seq;
	__u32 pid;
	__u32 cpu;
	char comm[16];
};

/* 64 MiB: 1.6 M records of 40 bytes (with the ring's header), so a client that stalls a second
 * at a million records a second loses nothing in the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024 * 1024);
} soak_events SEC(".maps");

enum { SOAK_ASKED, SOAK_RING_FULL, SOAK_COUNTERS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOAK_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} soak_counts SEC(".maps");

__u64 soak_seq = 0;

struct soak_call {
	__u32 pid;
	__u32 cpu;
	__u64 *ring_full;
};

static long emit(__u64 index, void *ctx)
{
	struct soak_call *call = ctx;
	struct soak_event *e;

	e = bpf_ringbuf_reserve(&soak_events, sizeof(*e), 0);
	if (!e) {
		*call->ring_full += 1;	/* per CPU, and a tracepoint program does not nest on one CPU */
		return 0;
	}
	e->seq = __sync_fetch_and_add(&soak_seq, 1);
	e->pid = call->pid;
	e->cpu = call->cpu;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int soak_getpgid(struct trace_event_raw_sys_enter *ctx)
{
	__u32 asked_key = SOAK_ASKED, full_key = SOAK_RING_FULL, n;
	struct soak_call call;
	__u64 *asked;

	if ((ctx->args[0] & SOAK_MAGIC_MASK) != SOAK_MAGIC)
		return 0;
	n = ctx->args[0] & ~SOAK_MAGIC_MASK;
	if (n > SOAK_MAX_PER_CALL)
		n = SOAK_MAX_PER_CALL;
	asked = bpf_map_lookup_elem(&soak_counts, &asked_key);
	call.ring_full = bpf_map_lookup_elem(&soak_counts, &full_key);
	if (!asked || !call.ring_full)
		return 0;
	*asked += n;
	call.pid = bpf_get_current_pid_tgid() >> 32;
	call.cpu = bpf_get_smp_processor_id();
	bpf_loop(n, emit, &call, 0);
	return 0;
}
