// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for usdt.bpf.c: attaches to the USDT probe the section names (in every process
 * that maps the binary), then prints each hit with its arguments until Ctrl-C (or -d SECONDS).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "usdt.h"
#include "usdt.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_event(void *ctx, void *data, size_t size)
{
	const struct usdt_event *e = data;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	printf("%-7d %-16s %s(", e->pid, e->comm, PROBE_NAME);
	for (int i = 0; i < e->nr_args && i < MAX_ARGS; i++)
		printf("%s%#llx", i ? ", " : "", (unsigned long long)e->args[i]);
	printf(")\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct usdt_bpf *skel;
	int seconds = -1, opt, err;
	time_t deadline;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			fprintf(stderr, "usage: %s [-d SECONDS]\n", argv[0]);
			return 2;
		}
		seconds = atoi(optarg);
	}

	skel = usdt_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading usdt.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	err = usdt_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching to USDT probe %s in %s failed: %s (is it in `readelf -n %s`, and does the "
			"kernel have CONFIG_UPROBE_EVENTS?)\n", PROBE_NAME, BINARY_PATH, strerror(-err), BINARY_PATH);
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
	printf("attached to %s in %s\n", PROBE_NAME, BINARY_PATH);
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
	usdt_bpf__destroy(skel);
	return err ? 1 : 0;
}
