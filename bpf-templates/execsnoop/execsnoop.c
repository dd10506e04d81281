// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for execsnoop.bpf.c: loads and attaches it through its skeleton, then prints
 * one line per execve() from the ring buffer (pid, parent pid, uid, command, file name) until
 * Ctrl-C, or for -d SECONDS.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "execsnoop.h"
#include "execsnoop.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_event(void *ctx, void *data, size_t size)
{
	const struct exec_event *e = data;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	printf("%-7d %-7d %-6u %-16s %s\n", e->pid, e->ppid, e->uid, e->comm, e->filename);
	fflush(stdout);
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct execsnoop_bpf *skel;
	double deadline = 0;
	int opt, err;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			fprintf(stderr, "usage: %s [-d SECONDS]\n", argv[0]);
			return 2;
		}
		deadline = now_seconds() + atof(optarg);
	}

	skel = execsnoop_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading execsnoop.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	err = execsnoop_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching to syscalls/sys_enter_execve failed: %s\n", strerror(-err));
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), print_event, NULL, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "opening the ring buffer failed: %s\n", strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("%-7s %-7s %-6s %-16s %s\n", "PID", "PPID", "UID", "COMM", "FILENAME");
	fflush(stdout);
	while (!stop && (deadline == 0 || now_seconds() < deadline)) {
		err = ring_buffer__poll(rb, 100 /* ms: how soon Ctrl-C and -d are noticed */);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "reading the ring buffer failed: %s\n", strerror(-err));
			goto out;
		}
		err = 0;
	}
out:
	ring_buffer__free(rb);
	execsnoop_bpf__destroy(skel);
	return err ? 1 : 0;
}
