// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF iterator over every task (thread) of the system: the program runs once per task while a
 * reader reads the iterator's file, and writes one line per task with BPF_SEQ_PRINTF, like a
 * custom /proc. Nothing runs until someone reads: an iterator is a report on demand, not a hook.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "task_iter.h"

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	int ppid;

	if (!task)
		return 0;	/* the end of the iteration: a last call with no task */
	if (ctx->meta->seq_num == 0)
		BPF_SEQ_PRINTF(seq, TASK_ITER_HEADER);
	ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_SEQ_PRINTF(seq, "%8d %8d %8d %s\n", task->tgid, task->pid, ppid, task->comm);
	return 0;
}
