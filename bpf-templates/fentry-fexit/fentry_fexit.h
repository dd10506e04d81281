/* What fentry_fexit.bpf.c and its loader share: the function, and the event sent per call. */
#ifndef FENTRY_FEXIT_H
#define FENTRY_FEXIT_H

#define FUNCTION_NAME "{{function}}"
#define TASK_COMM_LEN 16
#define MAX_ARGS 6

struct call_event {
	int pid;
	/* How many arguments the function has (from its BTF); args[] holds the first MAX_ARGS. */
	unsigned int nr_args;
	/* Each argument as its 64-bit register value: cast to the argument's own type. */
	unsigned long long args[MAX_ARGS];
	/* The return value's 64-bit register value (an int result is in the low 32 bits). */
	unsigned long long ret;
	unsigned long long duration_ns;
	char comm[TASK_COMM_LEN];
};

#endif /* FENTRY_FEXIT_H */
