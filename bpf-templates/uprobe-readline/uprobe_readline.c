// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for uprobe_readline.bpf.c: attaches the uprobe and uretprobe to the symbol in
 * the binary (the sections name both), then prints each line read until Ctrl-C (or -d SECONDS).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "uprobe_readline.h"
#include "uprobe_readline.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_event(void *ctx, void *data, size_t size)
{
	const struct line_event *e = data;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	printf("%-7d %-16s %-16s %s\n", e->pid, e->comm, e->prompt, e->line);
	return 0;
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct uprobe_readline_bpf *skel;
	int seconds = -1, opt, err;
	time_t deadline;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			fprintf(stderr, "usage: %s [-d SECONDS]\n", argv[0]);
			return 2;
		}
		seconds = atoi(optarg);
	}

	skel = uprobe_readline_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading uprobe_readline.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	err = uprobe_readline_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching to %s in %s failed: %s (is the symbol in the binary's symbol table, "
			"and does the kernel have CONFIG_UPROBE_EVENTS?)\n", SYMBOL_NAME, BINARY_PATH, strerror(-err));
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
	printf("%-7s %-16s %-16s %s\n", "PID", "COMM", "PROMPT", "LINE");
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
	uprobe_readline_bpf__destroy(skel);
	return err ? 1 : 0;
}
