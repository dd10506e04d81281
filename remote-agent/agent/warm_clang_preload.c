// SPDX-License-Identifier: MIT
/* Preloaded into clang by the agent (LD_PRELOAD), never linked into the agent itself. When the
 * environment names a socket (WARM_CLANG_FD_ENV), clang's main() is not run at start: the process
 * has loaded and initialised its libraries — most of the ~120 ms clang needs before it reads a
 * file — and waits. Each request forks a child that runs main() with the arguments this process
 * started with followed by the request's, in the request's directory, output on the pipe that
 * came with it: a compile skips clang's startup and runs exactly as `clang ARGS` would. (Started
 * with no arguments, a clang binary has argv = { clang }; a `clang` that is a script has the
 * interpreter's { sh, /path/clang }, and the interpreter is what waits.) Without the variable,
 * the program runs as if nothing were preloaded.
 *
 * Built as a small shared object against the oldest symbol versions (no stack protector or
 * fortify wrappers), so one build loads into the clang of any glibc the agent supports. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "warm_clang_wire.h"

typedef int (*main_fn)(int, char **, char **);

/* glibc's __libc_start_main is the next definition after this file's: dlsym(RTLD_NEXT) finds it.
 * dlsym is bound to its first version, which every glibc has (newer ones in libc, older ones in
 * libdl), so this object loads into old and new alike. */
#if defined(__x86_64__)
__asm__(".symver first_dlsym, dlsym@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver first_dlsym, dlsym@GLIBC_2.17");
#else
#error "warm_clang_preload.c: add this architecture's first glibc symbol version"
#endif
void *first_dlsym(void *handle, const char *name);

typedef int (*start_main_fn)(main_fn main, int argc, char **argv, void (*init)(void),
			     void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

static main_fn clang_main;
static int server_fd = -1;
static int start_argc;
static char **start_argv;

static int send_i32(int32_t value)
{
	return send(server_fd, &value, sizeof(value), MSG_NOSIGNAL) == sizeof(value) ? 0 : -1;
}

/* Splits "cwd\0arg1\0..." into @cwd and @argv after the start arguments; every string must
 * end inside the message. Returns the argument count, or -1. */
static int split_request(char *msg, size_t len, char **cwd, char **argv)
{
	const struct warm_clang_request *req = (const struct warm_clang_request *)msg;
	size_t off = sizeof(*req);
	int argc = start_argc;
	uint32_t i;

	if (len < sizeof(*req) || req->magic != WARM_CLANG_REQUEST ||
	    req->argc > WARM_CLANG_MAX_ARGS - (uint32_t)start_argc)
		return -1;
	memcpy(argv, start_argv, sizeof(*argv) * (size_t)start_argc);
	for (i = 0; i <= req->argc; i++) {
		char *s = msg + off, *nul = off < len ? memchr(s, '\0', len - off) : NULL;

		if (!nul)
			return -1;
		if (i == 0)
			*cwd = s;
		else
			argv[argc++] = s;
		off += (size_t)(nul - s) + 1;
	}
	argv[argc] = NULL;
	return off == len ? argc : -1;
}

static void run_in_child(int argc, char **argv, const char *cwd, int out_fd)
{
	sigset_t none;

	close(server_fd);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0 || chdir(cwd))
		_exit(126);
	close(out_fd);
	exit(clang_main(argc, argv, environ));
}

static void serve_one(char *msg, size_t len, int out_fd)
{
	static char *argv[WARM_CLANG_MAX_ARGS + 1];
	char *cwd = NULL;
	int argc = split_request(msg, len, &cwd, argv);
	int status = 0;
	pid_t pid;

	if (argc < 0 || out_fd < 0) {
		send_i32(-EINVAL);
		return;
	}
	pid = fork();
	if (pid == 0)
		run_in_child(argc, argv, cwd, out_fd);
	if (pid < 0) {
		send_i32(-errno);
		return;
	}
	setpgid(pid, pid);	/* here too: the agent may kill the group as soon as it has the pid */
	close(out_fd);
	if (send_i32(pid))
		_exit(0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (send_i32(status))
		_exit(0);
}

/* Runs instead of clang's main() in the waiting process; leaves only when the agent hangs up. */
static int serve(int argc, char **argv, char **envp)
{
	static char msg[WARM_CLANG_MAX_MESSAGE];
	(void)envp;

	start_argc = argc;
	start_argv = argv;
	if (argc < 1 || argc > WARM_CLANG_MAX_ARGS / 2)
		_exit(0);
	if (send_i32((int32_t)WARM_CLANG_READY))
		_exit(0);
	for (;;) {
		char control[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control, .msg_controllen = sizeof(control),
		};
		struct cmsghdr *cmsg;
		ssize_t n = recvmsg(server_fd, &mh, MSG_CMSG_CLOEXEC);
		int out_fd = -1;

		if (n <= 0)
			_exit(0);
		cmsg = CMSG_FIRSTHDR(&mh);
		if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
		    cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&out_fd, CMSG_DATA(cmsg), sizeof(int));
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			if (out_fd >= 0)
				close(out_fd);
			out_fd = -1;
		}
		serve_one(msg, (size_t)n, out_fd);
	}
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end)
{
	start_main_fn glibc_start_main = (start_main_fn)first_dlsym(RTLD_NEXT, "__libc_start_main");
	const char *fd = getenv(WARM_CLANG_FD_ENV);
	char *end;

	clang_main = main;
	if (fd) {
		errno = 0;
		server_fd = (int)strtol(fd, &end, 10);
		/* Nothing the children run may inherit the preload or the socket. */
		unsetenv(WARM_CLANG_FD_ENV);
		unsetenv("LD_PRELOAD");
		if (errno || *end || server_fd < 3)
			server_fd = -1;
	}
	return glibc_start_main(server_fd >= 0 ? serve : main, argc, argv, init, fini, rtld_fini, stack_end);
}
