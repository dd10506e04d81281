// SPDX-License-Identifier: GPL-2.0
/*
 * File opens, opensnoop-style: the entry tracepoint of openat() keeps the file name and flags of
 * the call in a hash map keyed by thread, the exit tracepoint takes them back out and sends them
 * with the result (a file descriptor or -errno) as one event through a ring buffer. Two hooks are
 * needed because the name is only known on entry and the result only on exit.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "opensnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* An openat() in flight: what its entry saw. */
struct open_args {
	int flags;
	char filename[FILENAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);	/* thread id */
	__type(value, struct open_args);
} in_flight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args args = {};

	/* openat(int dfd, const char *filename, int flags, umode_t mode) */
	args.flags = (int)ctx->args[2];
	bpf_probe_read_user_str(args.filename, sizeof(args.filename), (const char *)ctx->args[1]);
	bpf_map_update_elem(&in_flight, &tid, &args, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct open_args *args;
	struct open_event *e;

	args = bpf_map_lookup_elem(&in_flight, &tid);
	if (!args)
		return 0; /* its entry happened before we attached */
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = pid_tgid >> 32;
		e->ret = (int)ctx->ret;
		e->flags = args->flags;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		__builtin_memcpy(e->filename, args->filename, sizeof(e->filename));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&in_flight, &tid);
	return 0;
}
