/* What perf_sampling.bpf.c and its loader share: the sample key and the stack depth. */
#ifndef PERF_SAMPLING_H
#define PERF_SAMPLING_H

#define TASK_COMM_LEN 16
#define MAX_STACK_DEPTH 64	/* frames kept per stack (the kernel's limit is perf_event_max_stack, 127) */

/* What a sample is counted under: the process and where it was, as stack ids of the stacks map.
 * A negative id is -errno: no such stack (e.g. -EFAULT: a user-space sample has no kernel stack). */
struct sample_key {
	__u32 pid;
	__s32 kernel_stack_id;
	__s32 user_stack_id;
	char comm[TASK_COMM_LEN];
};

#endif /* PERF_SAMPLING_H */
