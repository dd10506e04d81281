/* SPDX-License-Identifier: MIT */
/* Running a tool (clang) as a child in its own process group, collecting its output, and
 * killing the whole group when the request that started it is cancelled. */
#ifndef EBPF_AGENT_PROCESS_H
#define EBPF_AGENT_PROCESS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Polled beside the child's output while it runs (the agent's stdin). */
struct proc_watch {
	int fd;				/* -1: nothing to watch */
	int (*on_readable)(void *ctx);	/* nonzero: stop watching @fd (closed) */
	bool (*should_abort)(void *ctx);
	void *ctx;
	const sigset_t *sigmask;	/* for ppoll(); NULL for the current mask */
};

struct proc_result {
	char *output;		/* stdout and stderr, interleaved; NUL-terminated */
	size_t output_len;
	bool output_truncated;
	int exit_code;		/* -1 when killed by a signal */
	int term_signal;	/* the signal that killed it; 0 when it exited */
	bool aborted;		/* killed because should_abort() said so */
};

/* Runs argv[0] (a path) in @cwd. Returns 0 when the child ran (whatever its exit status), or a
 * negative errno when it could not be started. */
int proc_run(const char *const *argv, const char *cwd, size_t max_output,
	     const struct proc_watch *watch, struct proc_result *res);
/* For a child started some other way (warm_clang.c): reads @out_fd until every writer has closed
 * it, into @res (set up by proc_result_init()), killing process group @pid when @watch says to
 * abort. Returns 0, or a negative errno when reading failed. */
int proc_collect(pid_t pid, int out_fd, size_t max_output, const struct proc_watch *watch,
		 struct proc_result *res);
int proc_result_init(struct proc_result *res);
/* In a child after fork(), before exec: its own process group (so a kill reaches all it starts),
 * no blocked signals, default SIGPIPE, and killed when the agent dies. */
void proc_child_reset(void);
void proc_result_free(struct proc_result *res);

#endif
