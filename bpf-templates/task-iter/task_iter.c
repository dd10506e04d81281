// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for task_iter.bpf.c: attaches the iterator (a link), creates an iterator file
 * from it, and copies what reading it yields to stdout: one line per task, then exits. Each read of
 * a new iterator file runs the program over the tasks there are at that moment.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "task_iter.h"
#include "task_iter.skel.h"

/* Copies the iterator's output to stdout; answers 0 or -errno. */
static int copy_iterator(int iter_fd)
{
	char buf[4096];
	ssize_t len;

	while ((len = read(iter_fd, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, len, stdout) != (size_t)len)
			return -EIO;
	}
	return len < 0 ? -errno : 0;
}

int main(void)
{
	struct task_iter_bpf *skel;
	struct bpf_link *link = NULL;
	int iter_fd = -1, err = 0;

	skel = task_iter_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading task_iter.bpf.o failed: %s (run as root; BPF iterators need BPF_PROG_TYPE_TRACING, "
			"Linux 5.8+; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	link = bpf_program__attach_iter(skel->progs.dump_task, NULL);
	if (!link) {
		err = -errno;
		fprintf(stderr, "attaching the task iterator failed: %s\n", strerror(-err));
		goto out;
	}
	iter_fd = bpf_iter_create(bpf_link__fd(link));
	if (iter_fd < 0) {
		err = -errno;
		fprintf(stderr, "creating the iterator file failed: %s\n", strerror(-err));
		goto out;
	}
	err = copy_iterator(iter_fd);
	if (err)
		fprintf(stderr, "reading the iterator failed: %s\n", strerror(-err));
	fflush(stdout);
out:
	if (iter_fd >= 0)
		close(iter_fd);
	bpf_link__destroy(link);
	task_iter_bpf__destroy(skel);
	return err ? 1 : 0;
}
