// SPDX-License-Identifier: MIT
/* Child processes: clang runs in its own process group with stdout+stderr on one pipe, so a
 * cancellation can kill it and everything it started, and nothing reaches the agent's stdout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"

#define OUTPUT_CHUNK 4096

void proc_child_reset(void)
{
	sigset_t none;

	setpgid(0, 0);
	/* The agent blocks termination signals outside ppoll(); the tool must not inherit that. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void exec_child(const char *const *argv, const char *cwd, int out_fd)
{
	int null_fd;

	proc_child_reset();
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(126);
	if (cwd && chdir(cwd))
		_exit(126);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

static int append_output(struct proc_result *res, int fd, size_t max_output)
{
	char chunk[OUTPUT_CHUNK];
	ssize_t n;
	size_t keep;
	char *grown;

	n = read(fd, chunk, sizeof(chunk));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	keep = res->output_len + n > max_output ? max_output - res->output_len : (size_t)n;
	if (keep < (size_t)n)
		res->output_truncated = true;
	if (!keep)
		return 0;
	grown = realloc(res->output, res->output_len + keep + 1);
	if (!grown)
		return -ENOMEM;
	res->output = grown;
	memcpy(res->output + res->output_len, chunk, keep);
	res->output_len += keep;
	res->output[res->output_len] = '\0';
	return 0;
}

static bool watch_says_abort(const struct proc_watch *watch)
{
	return watch && watch->should_abort && watch->should_abort(watch->ctx);
}

int proc_collect(pid_t pid, int out_fd, size_t max_output, const struct proc_watch *watch,
		 struct proc_result *res)
{
	int watch_fd = watch ? watch->fd : -1;
	struct pollfd fds[2];
	int err;

	for (;;) {
		if (!res->aborted && watch_says_abort(watch)) {
			kill(-pid, SIGKILL);
			res->aborted = true;
		}
		fds[0] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = watch_fd, .events = POLLIN };
		if (ppoll(fds, watch_fd >= 0 ? 2 : 1, NULL, watch ? watch->sigmask : NULL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (watch_fd >= 0 && fds[1].revents) {
			if (watch->on_readable(watch->ctx))
				watch_fd = -1;
		}
		if (fds[0].revents) {
			err = append_output(res, out_fd, max_output);
			if (err < 0)
				return err;
			if (err == 1)
				return 0;
		}
	}
}

int proc_run(const char *const *argv, const char *cwd, size_t max_output,
	     const struct proc_watch *watch, struct proc_result *res)
{
	int pipefd[2], status, err;
	pid_t pid;

	err = proc_result_init(res);
	if (err)
		return err;
	if (pipe2(pipefd, O_CLOEXEC)) {
		err = -errno;
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		goto fail;
	}
	if (pid == 0)
		exec_child(argv, cwd, pipefd[1]);
	/* Set it here too: a cancel right after fork() must find the group. */
	setpgid(pid, pid);
	close(pipefd[1]);
	err = proc_collect(pid, pipefd[0], max_output, watch, res);
	if (err)
		kill(-pid, SIGKILL);
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0;
			break;
		}
	}
	if (err)
		goto fail;
	res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	res->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return 0;
fail:
	proc_result_free(res);
	return err;
}

int proc_result_init(struct proc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->output = calloc(1, 1);
	return res->output ? 0 : -ENOMEM;
}

void proc_result_free(struct proc_result *res)
{
	free(res->output);
	res->output = NULL;
	res->output_len = 0;
}
