/* What usdt.bpf.c and its loader share: the probe, and the event sent each time it fires. */
#ifndef USDT_H
#define USDT_H

#define BINARY_PATH "{{binary}}"
#define PROBE_NAME "{{usdt}}"
#define TASK_COMM_LEN 16
#define MAX_ARGS 6

struct usdt_event {
	int pid;
	/* How many arguments the probe has (from its note in the binary); args[] holds the first MAX_ARGS. */
	int nr_args;
	long long args[MAX_ARGS];
	char comm[TASK_COMM_LEN];
};

#endif /* USDT_H */
