// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF LSM policy: the file_open hook runs on every open of a file, after the kernel's own
 * permission checks. Opens of a file whose basename is in the `deny` map fail with EPERM, and each
 * denial is reported as an audit event in a ring buffer. The loader fills the map; changing it
 * changes the policy at once.
 *
 * A basename keeps the example short and readable, not safe: a policy that must hold keys by inode
 * (file->f_inode->i_ino and its superblock) or checks the whole path with bpf_d_path.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lsm_deny_policy.h"

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct policy_name);
	__type(value, __u8);
} deny SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} audit_events SEC(".maps");

static void audit(const struct policy_name *key)
{
	struct audit_event *e = bpf_ringbuf_reserve(&audit_events, sizeof(*e), 0);

	if (!e)
		return;	/* the ring is full: the open is still denied, the event is lost */
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__builtin_memcpy(e->name, key->name, sizeof(e->name));
	bpf_ringbuf_submit(e, 0);
}

/* ret is what the LSMs before this one decided: a denial there stands. */
SEC("lsm/file_open")
int BPF_PROG(deny_file_open, struct file *file, int ret)
{
	struct policy_name key = {};
	const unsigned char *name;

	if (ret != 0)
		return ret;
	name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(key.name, sizeof(key.name), name) < 0)
		return 0;
	if (!bpf_map_lookup_elem(&deny, &key))
		return 0;
	audit(&key);
	return -EPERM;
}
