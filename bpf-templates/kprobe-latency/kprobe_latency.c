// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for kprobe_latency.bpf.c: attaches the kprobe and kretprobe on the function,
 * optionally for one process (-p PID), then prints the latency histogram after -d SECONDS or on
 * Ctrl-C.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kprobe_latency.h"
#include "kprobe_latency.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int read_hist(struct kprobe_latency_bpf *skel, unsigned long long counts[HIST_SLOTS])
{
	for (__u32 slot = 0; slot < HIST_SLOTS; slot++)
		if (bpf_map__lookup_elem(skel->maps.hist, &slot, sizeof(slot), &counts[slot], sizeof(counts[slot]), 0))
			return -errno;
	return 0;
}

static void print_hist(const unsigned long long counts[HIST_SLOTS])
{
	unsigned long long max = 0, total = 0;
	int first = -1, last = -1;

	for (int i = 0; i < HIST_SLOTS; i++) {
		if (!counts[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		total += counts[i];
		if (counts[i] > max)
			max = counts[i];
	}
	printf("%s: %llu calls\n", FUNCTION_NAME, total);
	if (first < 0)
		return;
	printf("%24s : %-10s %s\n", "nanoseconds", "count", "distribution");
	for (int i = first; i <= last; i++) {
		unsigned long long low = i ? 1ULL << i : 0, high = (i < 63 ? 1ULL << (i + 1) : ~0ULL) - 1;
		int stars = (int)(counts[i] * 40 / max);

		printf("%10llu -> %-10llu : %-10llu |%-40.*s|\n", low, high, counts[i], stars,
		       "****************************************");
	}
}

int main(int argc, char **argv)
{
	unsigned long long counts[HIST_SLOTS] = {0};
	struct kprobe_latency_bpf *skel;
	int seconds = -1, opt, err;
	long pid = 0;

	while ((opt = getopt(argc, argv, "d:p:")) != -1) {
		if (opt == 'd') {
			seconds = atoi(optarg);
		} else if (opt == 'p') {
			pid = atol(optarg);
		} else {
			fprintf(stderr, "usage: %s [-d SECONDS] [-p PID]\n", argv[0]);
			return 2;
		}
	}

	skel = kprobe_latency_bpf__open();
	if (!skel) {
		fprintf(stderr, "opening kprobe_latency.bpf.o failed: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->targ_tgid = (__u32)pid;
	err = kprobe_latency_bpf__load(skel);
	if (err) {
		fprintf(stderr, "loading kprobe_latency.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(-err));
		goto out;
	}
	err = kprobe_latency_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching kprobe and kretprobe to %s failed: %s (is the function in "
			"/sys/kernel/tracing/available_filter_functions, and does the kernel have CONFIG_KPROBE_EVENTS?)\n",
			FUNCTION_NAME, strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("timing %s%s; histogram after %s\n", FUNCTION_NAME, pid ? " for one process" : "",
	       seconds >= 0 ? "the duration" : "Ctrl-C");
	fflush(stdout);
	while (!stop && seconds != 0) {
		sleep(1);
		if (seconds > 0)
			seconds--;
	}
	err = read_hist(skel, counts);
	if (err) {
		fprintf(stderr, "reading the histogram failed: %s\n", strerror(-err));
		goto out;
	}
	print_hist(counts);
out:
	kprobe_latency_bpf__destroy(skel);
	return err ? 1 : 0;
}
