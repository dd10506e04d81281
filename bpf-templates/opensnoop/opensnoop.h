/* What opensnoop.bpf.c and its loader share: the event sent for each openat() that returns. */
#ifndef OPENSNOOP_H
#define OPENSNOOP_H

#define TASK_COMM_LEN 16
#define FILENAME_LEN 256

struct open_event {
	int pid;
	/* The file descriptor openat() returned, or -errno. */
	int ret;
	/* The O_* flags it was called with. */
	int flags;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

#endif /* OPENSNOOP_H */
