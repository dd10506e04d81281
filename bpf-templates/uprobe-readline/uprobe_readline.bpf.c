// SPDX-License-Identifier: GPL-2.0
/*
 * Lines typed into {{binary}}, bashreadline-style: a uprobe on {{symbol}}'s entry keeps its
 * prompt argument per thread, a uretprobe on its return reads the returned line from the
 * process's memory and sends both as one event through a ring buffer. A uprobe attaches to the
 * file, so every process running {{binary}} is seen, including those started later.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "uprobe_readline.h"

char LICENSE[] SEC("license") = "GPL";

struct prompt {
	char text[PROMPT_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);	/* thread id */
	__type(value, struct prompt);
} prompts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* char *readline(const char *prompt); BPF_KPROBE names a uprobe's arguments as well. */
SEC("uprobe/{{binary}}:{{symbol}}")
int BPF_KPROBE(on_call, const char *prompt)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct prompt p = {};

	if (prompt)
		bpf_probe_read_user_str(p.text, sizeof(p.text), prompt);
	bpf_map_update_elem(&prompts, &tid, &p, BPF_ANY);
	return 0;
}

SEC("uretprobe/{{binary}}:{{symbol}}")
int BPF_KRETPROBE(on_return, const char *line)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct line_event *e;
	struct prompt *p;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid_tgid >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	p = bpf_map_lookup_elem(&prompts, &tid);
	if (p)
		__builtin_memcpy(e->prompt, p->text, sizeof(e->prompt));
	else
		e->prompt[0] = '\0';
	e->line[0] = '\0';
	if (line)
		bpf_probe_read_user_str(e->line, sizeof(e->line), line);
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&prompts, &tid);
	return 0;
}
