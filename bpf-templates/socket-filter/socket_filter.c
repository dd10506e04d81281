// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for socket_filter.bpf.c: opens a packet socket on an interface (-i, default
 * {{interface}}), attaches the program as its filter (SO_ATTACH_BPF), reads what the filter lets
 * through, and prints the per-protocol counts and the packets received once a second until Ctrl-C
 * (or for -d SECONDS). Needs root (CAP_NET_RAW) for the packet socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "socket_filter.h"
#include "socket_filter.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * A packet socket with the filter on it. It is opened for no protocol (it receives nothing) and
 * bound to every protocol on the interface only once the filter is attached: no packet reaches it
 * unfiltered. Answers the socket or -errno.
 */
static int open_filtered_socket(unsigned int ifindex, int prog_fd)
{
	struct sockaddr_ll addr = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Reads every queued packet; answers how many, or -errno. */
static long drain(int fd)
{
	char frame[2048];
	long n = 0;

	for (;;) {
		ssize_t len = recv(fd, frame, sizeof(frame), 0);

		if (len < 0)
			return errno == EAGAIN ? n : -errno;
		n++;
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

static int print_counts(struct socket_filter_bpf *skel)
{
	char name[32];

	for (__u32 slot = 0; slot < PROTOCOL_SLOTS; slot++) {
		__u64 count;

		if (bpf_map__lookup_elem(skel->maps.packet_counts, &slot, sizeof(slot), &count, sizeof(count), 0))
			return -errno;
		if (count)
			printf("  %-12s %10llu packets seen\n", protocol_name(slot, name, sizeof(name)), (unsigned long long)count);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *ifname = INTERFACE_NAME;
	struct socket_filter_bpf *skel;
	int seconds = -1, opt, err = 0, sock = -1;
	long received = 0;
	unsigned int ifindex;
	time_t next_print;

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

	skel = socket_filter_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading socket_filter.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(errno));
		return 1;
	}
	sock = open_filtered_socket(ifindex, bpf_program__fd(skel->progs.count_by_protocol));
	if (sock < 0) {
		err = sock;
		fprintf(stderr, "opening a packet socket on %s with the filter failed: %s (needs root)\n", ifname, strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("filtering a packet socket on %s: counting every protocol, receiving UDP only\n", ifname);
	fflush(stdout);
	next_print = time(NULL) + 1;
	while (!stop && seconds != 0) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		long n;

		if (poll(&pfd, 1, 200) > 0) {
			n = drain(sock);
			if (n < 0) {
				err = (int)n;
				fprintf(stderr, "reading the packet socket failed: %s\n", strerror(-err));
				goto out;
			}
			received += n;
		}
		if (time(NULL) < next_print)
			continue;
		next_print++;
		if (seconds > 0)
			seconds--;
		printf("%s: the socket received %ld packets\n", ifname, received);
		err = print_counts(skel);
		if (err) {
			fprintf(stderr, "reading packet_counts failed: %s\n", strerror(-err));
			goto out;
		}
		fflush(stdout);
	}
out:
	if (sock >= 0)
		close(sock);
	socket_filter_bpf__destroy(skel);
	return err ? 1 : 0;
}
