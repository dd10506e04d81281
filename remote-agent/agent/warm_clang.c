// SPDX-License-Identifier: MIT
/* The agent's side of a clang kept started (see warm_clang.h and warm_clang_wire.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "warm_clang.h"
#include "warm_clang_wire.h"
#include "workdir.h"

/* The preload, built by the Makefile for this agent's architecture and carried inside it, so a
 * shipped static agent stays one file. */
__asm__(".pushsection .rodata\n"
	".balign 16\n"
	".globl warm_clang_preload_start\n"
	".hidden warm_clang_preload_start\n"
	"warm_clang_preload_start:\n"
	".incbin \"" WARM_CLANG_PRELOAD_SO "\"\n"
	".globl warm_clang_preload_end\n"
	".hidden warm_clang_preload_end\n"
	"warm_clang_preload_end:\n"
	".popsection\n");
extern const char warm_clang_preload_start[], warm_clang_preload_end[];

#define PRELOAD_NAME "warm-clang-preload.so"
/* Far beyond a clang's start (~0.1 s; seconds under emulation): only a hung one takes this long. */
#define READY_TIMEOUT_S 30
#define READY_TIMEOUT_TEXT "30 s"

static void exec_waiting_clang(const char *clang, const char *preload, int sock)
{
	char fd_text[16];
	int null_fd;

	proc_child_reset();
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
		_exit(126);
	/* The one descriptor clang keeps: socketpair() made it close-on-exec like every other. */
	if (fcntl(sock, F_SETFD, 0))
		_exit(126);
	snprintf(fd_text, sizeof(fd_text), "%d", sock);
	if (setenv(WARM_CLANG_FD_ENV, fd_text, 1) || setenv("LD_PRELOAD", preload, 1))
		_exit(126);
	execl(clang, clang, (char *)NULL);
	_exit(127);
}

static void remove_preload(struct warm_clang *wc)
{
	if (!wc->preload_dir)
		return;
	work_dir_remove(wc->preload_dir);
	free(wc->preload_dir);
	wc->preload_dir = NULL;
}

void warm_clang_stop(struct warm_clang *wc)
{
	if (wc->sock >= 0)
		close(wc->sock);	/* a waiting clang leaves when its socket closes */
	if (wc->pid > 0) {
		kill(-wc->pid, SIGKILL);
		while (waitpid(wc->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	remove_preload(wc);
	wc->pid = 0;
	wc->sock = -1;
	wc->ready = false;
}

/* Said once, on stderr (the client's session log): compiles go on, only slower. */
static void give_up(struct warm_clang *wc, const char *why)
{
	fprintf(stderr, "ebpf-agent: %s keeps no warm clang from now on (%s); each compile starts it\n",
		wc->clang, why);
	warm_clang_stop(wc);
	wc->given_up = true;
}

void warm_clang_prepare(struct warm_clang *wc, const char *clang, const char *dir)
{
	char *preload = NULL;
	int sv[2], err;

	if (wc->pid > 0 && strcmp(wc->clang, clang) == 0)
		return;
	warm_clang_stop(wc);
	if (wc->given_up || snprintf(wc->clang, sizeof(wc->clang), "%s", clang) >= (int)sizeof(wc->clang))
		return;
	err = work_dir_create(dir, &wc->preload_dir);
	if (!err)
		err = work_dir_write(wc->preload_dir, PRELOAD_NAME, warm_clang_preload_start,
				     (size_t)(warm_clang_preload_end - warm_clang_preload_start));
	if (!err && asprintf(&preload, "%s/%s", wc->preload_dir, PRELOAD_NAME) < 0) {
		preload = NULL;
		err = -ENOMEM;
	}
	if (!err && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		err = -errno;
	if (err) {
		free(preload);
		give_up(wc, strerror(-err));
		return;
	}
	wc->pid = fork();
	if (wc->pid == 0)
		exec_waiting_clang(clang, preload, sv[1]);
	free(preload);
	close(sv[1]);
	if (wc->pid < 0) {
		err = errno;
		close(sv[0]);
		wc->pid = 0;
		give_up(wc, strerror(err));
		return;
	}
	setpgid(wc->pid, wc->pid);
	wc->sock = sv[0];
}

static int recv_i32(int sock, int32_t *value)
{
	ssize_t n;

	do
		n = recv(sock, value, sizeof(*value), 0);
	while (n < 0 && errno == EINTR);
	return n == sizeof(*value) ? 0 : -EPIPE;
}

/* Waits for the waiting clang to say it is ready. Never slower than starting another clang: this
 * one has already done part of the same start. Gives up on it if it does not come up. */
static bool wait_ready(struct warm_clang *wc, const struct proc_watch *watch)
{
	int watch_fd = watch ? watch->fd : -1;
	struct timespec timeout = { .tv_sec = READY_TIMEOUT_S };
	struct pollfd fds[2];
	int32_t hello;
	int n;

	while (!wc->ready && wc->sock >= 0) {
		if (watch && watch->should_abort && watch->should_abort(watch->ctx))
			return false;	/* the caller's proc_run() reports the cancellation */
		fds[0] = (struct pollfd){ .fd = wc->sock, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = watch_fd, .events = POLLIN };
		n = ppoll(fds, watch_fd >= 0 ? 2 : 1, &timeout, watch ? watch->sigmask : NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			give_up(wc, n ? strerror(errno) : "it did not start in " READY_TIMEOUT_TEXT);
			return false;
		}
		if (watch_fd >= 0 && fds[1].revents && watch->on_readable(watch->ctx))
			watch_fd = -1;
		if (!fds[0].revents)
			continue;
		if (recv_i32(wc->sock, &hello) || hello != (int32_t)WARM_CLANG_READY) {
			/* It ran as a plain clang: the preload did not take (not a dynamic glibc program?). */
			give_up(wc, "the preload did not load into it");
			return false;
		}
		remove_preload(wc);	/* mapped by now; nothing is left behind if the agent is killed */
		wc->ready = true;
	}
	return wc->ready;
}

static int append_string(char *msg, size_t *off, const char *s)
{
	size_t len = strlen(s) + 1;

	if (*off + len > WARM_CLANG_MAX_MESSAGE)
		return -E2BIG;
	memcpy(msg + *off, s, len);
	*off += len;
	return 0;
}

/* The header, then "cwd\0arg1\0...\0" (argv[0] is the waiting clang's own); -E2BIG when that
 * does not fit one message. */
static ssize_t build_request(char *msg, const char *const *argv, const char *cwd)
{
	struct warm_clang_request req = { .magic = WARM_CLANG_REQUEST };
	size_t off = sizeof(req);

	if (append_string(msg, &off, cwd))
		return -E2BIG;
	for (; argv[req.argc + 1]; req.argc++)
		if (req.argc >= WARM_CLANG_MAX_ARGS / 2 || append_string(msg, &off, argv[req.argc + 1]))
			return -E2BIG;
	memcpy(msg, &req, sizeof(req));
	return (ssize_t)off;
}

static int send_request(int sock, const char *msg, size_t len, int out_fd)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &out_fd, sizeof(int));
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -EPIPE;
}

int warm_clang_run(struct warm_clang *wc, const char *const *argv, const char *cwd, size_t max_output,
		   const struct proc_watch *watch, struct proc_result *res)
{
	static char msg[WARM_CLANG_MAX_MESSAGE];
	int pipefd[2], err;
	int32_t pid = 0, status;
	ssize_t len;

	if (strcmp(argv[0], wc->clang) != 0 || !cwd || !wait_ready(wc, watch))
		return -EAGAIN;
	len = build_request(msg, argv, cwd);
	if (len < 0)
		return -EAGAIN;
	err = proc_result_init(res);
	if (err)
		return err;
	if (pipe2(pipefd, O_CLOEXEC)) {
		err = -errno;
		proc_result_free(res);
		return err;
	}
	err = send_request(wc->sock, msg, (size_t)len, pipefd[1]);
	close(pipefd[1]);
	if (!err)
		err = recv_i32(wc->sock, &pid);
	if (err || pid <= 0) {
		/* Nothing ran: the caller starts clang itself. */
		close(pipefd[0]);
		proc_result_free(res);
		give_up(wc, !err && pid < 0 ? strerror(-pid) : "it stopped answering");
		return -EAGAIN;
	}
	err = proc_collect(pid, pipefd[0], max_output, watch, res);
	if (err)
		kill(-pid, SIGKILL);
	close(pipefd[0]);
	if (recv_i32(wc->sock, &status)) {
		give_up(wc, "it died during a compile");
		status = SIGKILL;
	}
	if (err) {
		proc_result_free(res);
		return err;
	}
	res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	res->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return 0;
}
