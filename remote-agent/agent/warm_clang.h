/* SPDX-License-Identifier: MIT */
/* A clang kept started between compiles. Starting Debian's clang 14 costs ~120 ms before it reads
 * a byte of source (loading and initialising LLVM's libraries), a third of a small program's
 * compile. The agent starts one clang with warm_clang_preload.c preloaded; it stops right before
 * main() and forks a child per compile that runs main() as `clang ARGS` would. Whenever that is
 * not possible (a clang that is not a dynamic glibc program, a preload that does not load, the
 * waiting clang gone), compiles start clang the ordinary way and nothing else changes. */
#ifndef EBPF_AGENT_WARM_CLANG_H
#define EBPF_AGENT_WARM_CLANG_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "process.h"

struct warm_clang {
	pid_t pid;		/* the waiting clang; 0: none */
	int sock;		/* our end of its socketpair; -1: none */
	bool ready;		/* it has said it waits for work */
	bool given_up;		/* it could not start: compile the ordinary way from now on */
	char *preload_dir;	/* private dir holding the preload until clang has mapped it */
	char clang[PATH_MAX];	/* the clang it is */
};

#define WARM_CLANG_INIT { .sock = -1 }

/* Starts a waiting @clang (in the background: it becomes usable a moment later) unless one is
 * already there; a different clang path replaces it. A private dir under @dir holds the preload
 * until clang has mapped it (the cache dir: a temp dir is more often mounted noexec). */
void warm_clang_prepare(struct warm_clang *wc, const char *clang, const char *dir);
/* Runs @argv (argv[0] is the clang prepared) in @cwd in the waiting clang, as proc_run() does.
 * Returns -EAGAIN when it is not (yet) usable: the caller starts clang itself. */
int warm_clang_run(struct warm_clang *wc, const char *const *argv, const char *cwd, size_t max_output,
		   const struct proc_watch *watch, struct proc_result *res);
/* Ends the waiting clang (and any compile it runs) and removes what it left. */
void warm_clang_stop(struct warm_clang *wc);

#endif
