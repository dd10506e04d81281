// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for tracepoint_printk.bpf.c: loads and attaches it through its skeleton, then
 * prints the hit count once a second until Ctrl-C (or for -d SECONDS). The bpf_printk lines are in
 * /sys/kernel/tracing/trace_pipe (`sudo cat` it, or `bpftool prog tracelog`).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tracepoint_printk.h"
#include "tracepoint_printk.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int read_hits(struct tracepoint_printk_bpf *skel, unsigned long long *hits)
{
	__u32 slot = 0;

	if (bpf_map__lookup_elem(skel->maps.hits, &slot, sizeof(slot), hits, sizeof(*hits), 0))
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct tracepoint_printk_bpf *skel;
	unsigned long long hits = 0;
	int seconds = -1, opt, err;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			fprintf(stderr, "usage: %s [-d SECONDS]\n", argv[0]);
			return 2;
		}
		seconds = atoi(optarg);
	}

	skel = tracepoint_printk_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading tracepoint_printk.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	err = tracepoint_printk_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching to tracepoint %s failed: %s\n", TRACEPOINT_NAME, strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached to %s; bpf_printk lines go to /sys/kernel/tracing/trace_pipe\n", TRACEPOINT_NAME);
	fflush(stdout);
	while (!stop && seconds != 0) {
		sleep(1);
		if (seconds > 0)
			seconds--;
		err = read_hits(skel, &hits);
		if (err) {
			fprintf(stderr, "reading the hit count failed: %s\n", strerror(-err));
			goto out;
		}
		printf("%s: %llu hits\n", TRACEPOINT_NAME, hits);
		fflush(stdout);
	}
out:
	tracepoint_printk_bpf__destroy(skel);
	return err ? 1 : 0;
}
