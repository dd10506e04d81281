// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for lsm_deny_policy.bpf.c: puts each basename given on the command line into the
 * deny map, attaches the file_open hook, and prints an audit line for every denied open until
 * Ctrl-C (or for -d SECONDS). The policy ends with the loader. Needs a kernel with BPF LSM enabled:
 * CONFIG_BPF_LSM=y and "bpf" in /sys/kernel/security/lsm (boot with lsm=...,bpf).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lsm_deny_policy.h"
#include "lsm_deny_policy.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_audit_event(void *ctx, void *data, size_t size)
{
	const struct audit_event *e = data;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	printf("denied: pid %u (%s, uid %u) opening %s\n", e->pid, e->comm, e->uid, e->name);
	fflush(stdout);
	return 0;
}

static int deny_name(struct lsm_deny_policy_bpf *skel, const char *name)
{
	struct policy_name key = {};
	__u8 yes = 1;

	if (strchr(name, '/') || strlen(name) >= sizeof(key.name))
		return -EINVAL;
	memcpy(key.name, name, strlen(name));
	if (bpf_map__update_elem(skel->maps.deny, &key, sizeof(key), &yes, sizeof(yes), BPF_ANY))
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct lsm_deny_policy_bpf *skel;
	struct ring_buffer *events = NULL;
	int seconds = -1, opt, err = 0;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd') {
			optind = argc + 1;
			break;
		}
		seconds = atoi(optarg);
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [-d SECONDS] BASENAME...\n(denies opening any file with one of these names)\n", argv[0]);
		return 2;
	}

	skel = lsm_deny_policy_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading lsm_deny_policy.bpf.o failed: %s (run as root; BPF LSM must be enabled: "
			"cat /sys/kernel/security/lsm must list bpf)\n", strerror(errno));
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		err = deny_name(skel, argv[i]);
		if (err) {
			fprintf(stderr, "cannot deny \"%s\": %s (a basename without '/', shorter than %d bytes)\n", argv[i],
				strerror(-err), NAME_LEN);
			goto out;
		}
	}
	events = ring_buffer__new(bpf_map__fd(skel->maps.audit_events), on_audit_event, NULL, NULL);
	if (!events) {
		err = -errno;
		fprintf(stderr, "opening the audit ring buffer failed: %s\n", strerror(-err));
		goto out;
	}
	err = lsm_deny_policy_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "attaching the file_open hook failed: %s (is \"bpf\" in /sys/kernel/security/lsm?)\n", strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("denying opens of %d basename(s); audit events follow\n", argc - optind);
	fflush(stdout);
	while (!stop && seconds != 0) {
		err = ring_buffer__poll(events, 1000);
		if (err == -EINTR) {
			err = 0;
			break;
		}
		if (err < 0) {
			fprintf(stderr, "reading audit events failed: %s\n", strerror(-err));
			goto out;
		}
		err = 0;
		if (seconds > 0)
			seconds--;
	}
out:
	ring_buffer__free(events);
	lsm_deny_policy_bpf__destroy(skel);
	return err ? 1 : 0;
}
