// SPDX-License-Identifier: GPL-2.0
/* Two tracepoint programs that pass the verifier: one streams every execve to user space
 * through a ring buffer, the other counts openat calls per process in a hash map.
 * Save this file and each program gets its verdict from the target's kernel above it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct exec_event {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} openat_calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int trace_execve(struct trace_event_raw_sys_enter *ctx)
{
	struct exec_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Only this process's calls when a loader sets it (ebpfStudio.loadPresets {"globals": {"targ_pid": N}}). */
const volatile __u32 targ_pid = 0;

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *count;

	if (targ_pid && pid != targ_pid)
		return 0;
	count = bpf_map_lookup_elem(&openat_calls, &pid);
	if (!count) {
		bpf_map_update_elem(&openat_calls, &pid, &one, BPF_NOEXIST);
		return 0;
	}
	__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
