// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for fentry_fexit.bpf.c: attaches fentry and fexit to the function, then
 * prints each call's arguments, return value and duration until Ctrl-C (or for -d SECONDS).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "fentry_fexit.h"
#include "fentry_fexit.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_event(void *ctx, void *data, size_t size)
{
	const struct call_event *e = data;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	printf("%-7d %-16s %s(", e->pid, e->comm, FUNCTION_NAME);
	for (unsigned int i = 0; i < e->nr_args && i < MAX_ARGS; i++)
		printf("%s%#llx", i ? ", " : "", e->args[i]);
	if (e->nr_args > MAX_ARGS)
		printf(", ...");
	printf(") = %#llx (int %d) in %llu ns\n", e->ret, (int)e->ret, e->duration_ns);
	return 0;
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct fentry_fexit_bpf *skel;
	int seconds = -1, opt, err;
	time_t deadline;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			fprintf(stderr, "usage: %s [-d SECONDS]\n", argv[0]);
			return 2;
		}
		seconds = atoi(optarg);
	}

	skel = fentry_fexit_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading fentry_fexit.bpf.o failed: %s (run as root; fentry/fexit need a kernel with "
			"BPF trampolines and BTF; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	err = fentry_fexit_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching fentry and fexit to %s failed: %s\n", FUNCTION_NAME, strerror(-err));
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
	printf("tracing calls of %s\n", FUNCTION_NAME);
	fflush(stdout);
	deadline = seconds >= 0 ? time(NULL) + seconds : 0;
	while (!stop && (seconds < 0 || time(NULL) < deadline)) {
		err = ring_buffer__poll(rb, 100);
		if (err == -EINTR) {
			err = 0;
			break;
		}
		if (err < 0) {
			fprintf(stderr, "reading the ring buffer failed: %s\n", strerror(-err));
			goto out;
		}
		err = 0;
		fflush(stdout);
	}
out:
	ring_buffer__free(rb);
	fentry_fexit_bpf__destroy(skel);
	return err ? 1 : 0;
}
