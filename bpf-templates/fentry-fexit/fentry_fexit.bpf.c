// SPDX-License-Identifier: GPL-2.0
/*
 * Every call of the kernel function {{function}}, with its arguments and return value: fentry
 * runs on entry and notes the time, fexit runs on return and sees both the arguments and the
 * result, and sends them as one event through a ring buffer. fentry/fexit attach through a BPF
 * trampoline: cheaper than a kprobe, and the kernel's BTF tells the program the function's
 * arguments (bpf_get_func_arg_cnt/_arg/_ret read them whatever the function is).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "fentry_fexit.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);	/* thread id */
	__type(value, __u64);	/* bpf_ktime_get_ns() at entry */
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/*
 * With a fixed function, name its arguments instead, typed as in its prototype, e.g. for
 * do_faccessat: int BPF_PROG(on_exit, int dfd, const char *filename, int mode, int flags, long ret).
 */
SEC("fentry/{{function}}")
int BPF_PROG(on_entry)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&starts, &tid, &now, BPF_ANY);
	return 0;
}

SEC("fexit/{{function}}")
int BPF_PROG(on_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct call_event *e;
	__u64 *start, value;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid_tgid >> 32;
	e->nr_args = bpf_get_func_arg_cnt(ctx);
	/* The helpers write to the stack (older kernels accept no other memory there), then copied. */
	for (__u32 i = 0; i < MAX_ARGS; i++)
		e->args[i] = bpf_get_func_arg(ctx, i, &value) ? 0 : value; /* 0: it has fewer arguments */
	e->ret = bpf_get_func_ret(ctx, &value) ? 0 : value;
	start = bpf_map_lookup_elem(&starts, &tid);
	e->duration_ns = start ? bpf_ktime_get_ns() - *start : 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}
