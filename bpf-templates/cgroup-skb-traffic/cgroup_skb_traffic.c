// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for cgroup_skb_traffic.bpf.c: attaches both programs to a cgroup v2 directory
 * (-c; by default the root of the cgroup v2 hierarchy, i.e. every socket on the host) and prints what its sockets received and sent once a second
 * until Ctrl-C (or for -d SECONDS). The links are released when the loader exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cgroup_skb_traffic.h"
#include "cgroup_skb_traffic.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Where cgroup2 is mounted: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one. */
static int cgroup2_root(char *dir, size_t size)
{
	FILE *mounts = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int err = -ENOENT;

	if (!mounts)
		return -errno;
	while ((m = getmntent(mounts))) {
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			snprintf(dir, size, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(mounts);
	return err;
}

static int read_traffic(struct cgroup_skb_traffic_bpf *skel, __u32 direction, struct traffic_count *count)
{
	if (bpf_map__lookup_elem(skel->maps.traffic, &direction, sizeof(direction), count, sizeof(*count), 0))
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL;
	char root[4096];
	struct cgroup_skb_traffic_bpf *skel = NULL;
	struct bpf_link *ingress = NULL, *egress = NULL;
	int seconds = -1, opt, err = 0, cgroup_fd;

	while ((opt = getopt(argc, argv, "c:d:")) != -1) {
		if (opt == 'c') {
			cgroup = optarg;
		} else if (opt == 'd') {
			seconds = atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-c CGROUP_DIR] [-d SECONDS]\n", argv[0]);
			return 2;
		}
	}
	if (!cgroup) {
		err = cgroup2_root(root, sizeof(root));
		if (err) {
			fprintf(stderr, "no cgroup v2 hierarchy is mounted (%s): mount -t cgroup2 none /sys/fs/cgroup, or give -c\n",
				strerror(-err));
			return 1;
		}
		cgroup = root;
	}
	cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		fprintf(stderr, "opening cgroup %s failed: %s (a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice)\n",
			cgroup, strerror(errno));
		return 1;
	}

	skel = cgroup_skb_traffic_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "loading cgroup_skb_traffic.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(-err));
		goto out;
	}
	ingress = bpf_program__attach_cgroup(skel->progs.count_ingress, cgroup_fd);
	if (ingress)
		egress = bpf_program__attach_cgroup(skel->progs.count_egress, cgroup_fd);
	if (!ingress || !egress) {
		err = -errno;
		fprintf(stderr, "attaching to cgroup %s failed: %s (is it on cgroup v2?)\n", cgroup, strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("accounting the IP traffic of the sockets in cgroup %s\n", cgroup);
	fflush(stdout);
	while (!stop && seconds != 0) {
		struct traffic_count in, out;

		sleep(1);
		if (seconds > 0)
			seconds--;
		err = read_traffic(skel, TRAFFIC_INGRESS, &in);
		if (!err)
			err = read_traffic(skel, TRAFFIC_EGRESS, &out);
		if (err) {
			fprintf(stderr, "reading the traffic map failed: %s\n", strerror(-err));
			goto out;
		}
		printf("received %llu packets (%llu bytes), sent %llu packets (%llu bytes)\n",
		       (unsigned long long)in.packets, (unsigned long long)in.bytes,
		       (unsigned long long)out.packets, (unsigned long long)out.bytes);
		fflush(stdout);
	}
out:
	bpf_link__destroy(egress);
	bpf_link__destroy(ingress);
	cgroup_skb_traffic_bpf__destroy(skel);
	close(cgroup_fd);
	return err ? 1 : 0;
}
