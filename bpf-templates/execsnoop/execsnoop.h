/* The event execsnoop.bpf.c writes into its ring buffer, shared with the loader that reads it. */
#ifndef EXECSNOOP_H
#define EXECSNOOP_H

#define TASK_COMM_LEN 16
#define FILENAME_LEN 127

struct exec_event {
	int pid;
	int ppid;
	unsigned int uid;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN + 1];
};

#endif /* EXECSNOOP_H */
