// SPDX-License-Identifier: GPL-2.0
/*
 * Calls of the syscall {{syscall}}, counted per process. SEC("ksyscall/…") lets libbpf find the
 * kernel's entry function for the syscall on this architecture (__x64_sys_…, __arm64_sys_…), and
 * BPF_KSYSCALL reads the syscall's own arguments, wherever the architecture keeps them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "ksyscall.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);	/* process id (tgid) */
	__type(value, __u64);	/* calls */
} calls SEC(".maps");

/*
 * To read arguments, name them after the syscall's own signature, e.g. for unlinkat:
 * BPF_KSYSCALL(on_syscall, int dfd, const char *pathname, int flag); pointers are user memory
 * (bpf_probe_read_user_str).
 */
SEC("ksyscall/{{syscall}}")
int BPF_KSYSCALL(on_syscall)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *count;

	count = bpf_map_lookup_elem(&calls, &pid);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&calls, &pid, &one, BPF_NOEXIST);
	return 0;
}
