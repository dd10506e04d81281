// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for ksyscall.bpf.c: attaches it to the syscall's kernel entry, then prints
 * the calls per process once a second until Ctrl-C (or for -d SECONDS).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ksyscall.h"
#include "ksyscall.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_calls(struct ksyscall_bpf *skel)
{
	__u32 key, next;
	__u64 count;
	int err, fd = bpf_map__fd(skel->maps.calls);
	void *prev = NULL;

	printf("%s calls per pid:", SYSCALL_NAME);
	while ((err = bpf_map_get_next_key(fd, prev, &next)) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &count) == 0)
			printf(" %u=%llu", next, (unsigned long long)count);
		key = next;
		prev = &key;
	}
	printf("\n");
	fflush(stdout);
	return errno == ENOENT ? 0 : -errno;
}

int main(int argc, char **argv)
{
	struct ksyscall_bpf *skel;
	int seconds = -1, opt, err;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			fprintf(stderr, "usage: %s [-d SECONDS]\n", argv[0]);
			return 2;
		}
		seconds = atoi(optarg);
	}

	skel = ksyscall_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading ksyscall.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	err = ksyscall_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching to syscall %s failed: %s (does the kernel have CONFIG_KPROBE_EVENTS?)\n",
			SYSCALL_NAME, strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("counting %s calls\n", SYSCALL_NAME);
	fflush(stdout);
	while (!stop && seconds != 0) {
		sleep(1);
		if (seconds > 0)
			seconds--;
		err = print_calls(skel);
		if (err) {
			fprintf(stderr, "reading the counts failed: %s\n", strerror(-err));
			goto out;
		}
	}
out:
	ksyscall_bpf__destroy(skel);
	return err ? 1 : 0;
}
