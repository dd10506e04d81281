// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for tc_egress.bpf.c: attaches it to the egress of an interface and prints the
 * per-protocol totals once a second until Ctrl-C (or for -d SECONDS).
 *
 * Where the kernel has tcx (Linux 6.6+) the program is attached as a tcx link, which goes away with
 * this process and leaves other tc programs alone. Older kernels get a clsact qdisc (created if the
 * interface has none, and then removed again on exit) with the program as a direct-action filter.
 * libbpf 1.1 has no bpf_program__attach_tcx, so the tcx link is made with bpf_link_create.
 */
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tc_egress.h"
#include "tc_egress.skel.h"

/* enum bpf_attach_type's BPF_TCX_EGRESS (Linux 6.6), newer than the system's uapi headers. */
#define ATTACH_TCX_EGRESS 47

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* How the program ended up attached, so exit can undo exactly that. */
struct egress_attachment {
	int tcx_link;		/* >= 0: a tcx link fd */
	struct bpf_tc_hook hook;
	struct bpf_tc_opts filter;
	bool filter_attached;
	bool created_qdisc;	/* the clsact qdisc is ours to remove */
};

static int attach_tcx(int prog_fd, unsigned int ifindex, struct egress_attachment *a)
{
	a->tcx_link = bpf_link_create(prog_fd, ifindex, ATTACH_TCX_EGRESS, NULL);
	return a->tcx_link < 0 ? -errno : 0;
}

static int attach_clsact(int prog_fd, unsigned int ifindex, struct egress_attachment *a)
{
	int err;

	a->hook.sz = sizeof(a->hook);
	a->hook.ifindex = ifindex;
	a->hook.attach_point = BPF_TC_EGRESS;
	err = bpf_tc_hook_create(&a->hook);
	if (err && err != -EEXIST)
		return err;
	a->created_qdisc = !err;
	a->filter.sz = sizeof(a->filter);
	a->filter.prog_fd = prog_fd;
	err = bpf_tc_attach(&a->hook, &a->filter);
	a->filter_attached = !err;
	return err;
}

static void detach(struct egress_attachment *a)
{
	if (a->tcx_link >= 0)
		close(a->tcx_link);
	if (a->filter_attached) {
		a->filter.flags = a->filter.prog_fd = a->filter.prog_id = 0;
		bpf_tc_detach(&a->hook, &a->filter);
	}
	if (a->created_qdisc) {
		/* Destroying an egress hook removes the whole clsact qdisc: only when this loader made it. */
		a->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&a->hook);
	}
}

static const char *protocol_name(__u32 slot, char *buf, size_t size)
{
	struct protoent *p;

	if (slot == SLOT_NOT_IP)
		return "not IP";
	p = getprotobynumber((int)slot);
	if (p)
		return p->p_name;
	snprintf(buf, size, "protocol %u", slot);
	return buf;
}

static int print_counts(struct tc_egress_bpf *skel)
{
	char name[32];

	for (__u32 slot = 0; slot < PROTOCOL_SLOTS; slot++) {
		struct protocol_count count;

		if (bpf_map__lookup_elem(skel->maps.egress_counts, &slot, sizeof(slot), &count, sizeof(count), 0))
			return -errno;
		if (count.packets)
			printf("  %-12s %10llu packets %12llu bytes\n", protocol_name(slot, name, sizeof(name)),
			       (unsigned long long)count.packets, (unsigned long long)count.bytes);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *ifname = INTERFACE_NAME;
	struct egress_attachment attachment = { .tcx_link = -1 };
	struct tc_egress_bpf *skel;
	int seconds = -1, opt, err, prog_fd;
	unsigned int ifindex;

	while ((opt = getopt(argc, argv, "i:d:")) != -1) {
		if (opt == 'i') {
			ifname = optarg;
		} else if (opt == 'd') {
			seconds = atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-i INTERFACE] [-d SECONDS]\n", argv[0]);
			return 2;
		}
	}
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "no interface %s: %s (ip link lists them)\n", ifname, strerror(errno));
		return 1;
	}

	skel = tc_egress_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading tc_egress.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.classify_egress);
	err = attach_tcx(prog_fd, ifindex, &attachment);
	if (err == -EINVAL) {
		/* The kernel does not know tcx links: the classic clsact qdisc and filter. */
		err = attach_clsact(prog_fd, ifindex, &attachment);
		if (err)
			fprintf(stderr, "attaching to %s egress (clsact filter) failed: %s\n", ifname, strerror(-err));
		else
			printf("attached to %s egress as a clsact filter (handle %u, priority %u)\n", ifname,
			       attachment.filter.handle, attachment.filter.priority);
	} else if (err) {
		fprintf(stderr, "attaching to %s egress (tcx) failed: %s\n", ifname, strerror(-err));
	} else {
		printf("attached to %s egress as a tcx link\n", ifname);
	}
	if (err)
		goto out;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fflush(stdout);
	while (!stop && seconds != 0) {
		sleep(1);
		if (seconds > 0)
			seconds--;
		printf("%s egress:\n", ifname);
		err = print_counts(skel);
		if (err) {
			fprintf(stderr, "reading egress_counts failed: %s\n", strerror(-err));
			goto out;
		}
		fflush(stdout);
	}
out:
	detach(&attachment);
	tc_egress_bpf__destroy(skel);
	return err ? 1 : 0;
}
