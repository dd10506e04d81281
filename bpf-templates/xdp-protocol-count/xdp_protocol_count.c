// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for xdp_protocol_count.bpf.c: attaches it to an interface (an XDP link: native
 * mode where the driver has it, else generic), then prints the per-protocol totals once a second
 * until Ctrl-C (or for -d SECONDS). The link goes away with the process.
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
#include "xdp_protocol_count.h"
#include "xdp_protocol_count.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
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

/* Sums each slot's per-CPU copies and prints the slots that saw packets. */
static int print_counts(struct xdp_protocol_count_bpf *skel, int ncpus)
{
	struct protocol_count *percpu = calloc(ncpus, sizeof(*percpu));
	char name[32];
	int err = 0;

	if (!percpu)
		return -ENOMEM;
	for (__u32 slot = 0; slot < PROTOCOL_SLOTS; slot++) {
		struct protocol_count total = { 0, 0 };

		if (bpf_map__lookup_elem(skel->maps.protocol_counts, &slot, sizeof(slot), percpu,
					 ncpus * sizeof(*percpu), 0)) {
			err = -errno;
			break;
		}
		for (int cpu = 0; cpu < ncpus; cpu++) {
			total.packets += percpu[cpu].packets;
			total.bytes += percpu[cpu].bytes;
		}
		if (total.packets)
			printf("  %-12s %10llu packets %12llu bytes\n", protocol_name(slot, name, sizeof(name)),
			       (unsigned long long)total.packets, (unsigned long long)total.bytes);
	}
	free(percpu);
	return err;
}

int main(int argc, char **argv)
{
	const char *ifname = INTERFACE_NAME;
	struct xdp_protocol_count_bpf *skel;
	struct bpf_link *link = NULL;
	int seconds = -1, opt, err = 0, ncpus;
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
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		fprintf(stderr, "counting the possible CPUs failed: %s\n", strerror(-ncpus));
		return 1;
	}

	skel = xdp_protocol_count_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading xdp_protocol_count.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	link = bpf_program__attach_xdp(skel->progs.count_protocols, ifindex);
	if (!link) {
		err = -errno;
		fprintf(stderr, "attaching XDP to %s failed: %s (another XDP program there? ip link show %s)\n", ifname,
			strerror(-err), ifname);
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("counting packets arriving on %s per IP protocol\n", ifname);
	fflush(stdout);
	while (!stop && seconds != 0) {
		sleep(1);
		if (seconds > 0)
			seconds--;
		printf("%s:\n", ifname);
		err = print_counts(skel, ncpus);
		if (err) {
			fprintf(stderr, "reading protocol_counts failed: %s\n", strerror(-err));
			goto out;
		}
		fflush(stdout);
	}
out:
	bpf_link__destroy(link);
	xdp_protocol_count_bpf__destroy(skel);
	return err ? 1 : 0;
}
