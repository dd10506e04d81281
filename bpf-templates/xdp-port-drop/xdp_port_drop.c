// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for xdp_port_drop.bpf.c: sets the port to drop (-p, default {{port}}), attaches to
 * the interface (-i, default {{interface}}) and prints the drop counts once a second until Ctrl-C (or
 * for -d SECONDS). Type another port number and Enter to change it while the program runs: the
 * loader writes it into the program's memory-mapped config, which the next packet reads.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xdp_port_drop.h"
#include "xdp_port_drop.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* The port in @text (0 drops nothing), or -1 when it is not one. */
static long parse_port(const char *text)
{
	char *end;
	long port = strtol(text, &end, 10);

	while (*end == ' ' || *end == '\n')
		end++;
	if (end == text || *end || port < 0 || port > 65535)
		return -1;
	return port;
}

static int read_drops(struct xdp_port_drop_bpf *skel, __u64 *udp, __u64 *tcp)
{
	__u32 slot = DROPPED_UDP;

	if (bpf_map__lookup_elem(skel->maps.drop_counts, &slot, sizeof(slot), udp, sizeof(*udp), 0))
		return -errno;
	slot = DROPPED_TCP;
	if (bpf_map__lookup_elem(skel->maps.drop_counts, &slot, sizeof(slot), tcp, sizeof(*tcp), 0))
		return -errno;
	return 0;
}

/* A line typed on stdin: a new port. Answers false at end of input (stop watching stdin). */
static bool read_new_port(struct xdp_port_drop_bpf *skel)
{
	char line[64];
	long port;

	if (!fgets(line, sizeof(line), stdin))
		return false;
	port = parse_port(line);
	if (port < 0) {
		fprintf(stderr, "not a port: %s", line);
		return true;
	}
	/* .data.config is memory-mapped: this store is what the program reads on its next packet.
	 * From outside: bpftool map update name .data.config key hex 00 00 00 00 value hex LO HI 00 00 */
	skel->data_config->port_config.port = (__u16)port;
	printf("now dropping port %ld%s\n", port, port ? "" : " (that is: nothing)");
	fflush(stdout);
	return true;
}

int main(int argc, char **argv)
{
	const char *ifname = INTERFACE_NAME;
	struct xdp_port_drop_bpf *skel;
	struct bpf_link *link = NULL;
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
	long port = DEFAULT_PORT;
	int seconds = -1, opt, err = 0;
	unsigned int ifindex;
	time_t next_print;

	while ((opt = getopt(argc, argv, "i:p:d:")) != -1) {
		if (opt == 'i') {
			ifname = optarg;
		} else if (opt == 'p' && (port = parse_port(optarg)) >= 0) {
			continue;
		} else if (opt == 'd') {
			seconds = atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-i INTERFACE] [-p PORT] [-d SECONDS]\n", argv[0]);
			return 2;
		}
	}
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "no interface %s: %s (ip link lists them)\n", ifname, strerror(errno));
		return 1;
	}

	skel = xdp_port_drop_bpf__open();
	if (!skel) {
		fprintf(stderr, "opening xdp_port_drop.bpf.o failed: %s\n", strerror(errno));
		return 1;
	}
	skel->data_config->port_config.port = (__u16)port;
	err = xdp_port_drop_bpf__load(skel);
	if (err) {
		fprintf(stderr, "loading xdp_port_drop.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(-err));
		goto out;
	}
	link = bpf_program__attach_xdp(skel->progs.drop_port, ifindex);
	if (!link) {
		err = -errno;
		fprintf(stderr, "attaching XDP to %s failed: %s (another XDP program there? ip link show %s)\n", ifname,
			strerror(-err), ifname);
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("dropping UDP and TCP to port %ld arriving on %s; type another port and Enter to change it\n", port, ifname);
	fflush(stdout);
	next_print = time(NULL) + 1;
	while (!stop && seconds != 0) {
		int ready = poll(&in, in.fd >= 0 ? 1 : 0, 200);
		__u64 udp, tcp;

		if (ready > 0 && !read_new_port(skel))
			in.fd = -1;
		if (time(NULL) < next_print)
			continue;
		next_print++;
		if (seconds > 0)
			seconds--;
		err = read_drops(skel, &udp, &tcp);
		if (err) {
			fprintf(stderr, "reading drop_counts failed: %s\n", strerror(-err));
			goto out;
		}
		printf("port %u: dropped %llu UDP, %llu TCP packets\n", skel->data_config->port_config.port,
		       (unsigned long long)udp, (unsigned long long)tcp);
		fflush(stdout);
	}
out:
	bpf_link__destroy(link);
	xdp_port_drop_bpf__destroy(skel);
	return err ? 1 : 0;
}
