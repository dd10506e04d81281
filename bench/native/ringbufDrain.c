/*
 * The native baseline of the event benchmark: what a plain libbpf consumer can drain. Opens and
 * loads a BPF object, attaches every program by its section, reads the named ring buffer map with
 * ring_buffer__poll for the given seconds, writes every record to /dev/null, and prints
 * `{"received":N,"seconds":S}`. Without a map it only attaches and waits (bpf_printk tests).
 * With --drain it reads nothing until SIGUSR1, then drains what the ring holds as fast as it can
 * and stops when the ring is empty: the consumer's own capacity, with no producer competing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

static unsigned long long received;
static FILE *sink;

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	received++;
	fwrite(data, 1, size, sink);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct ring_buffer *rb = NULL;
	double seconds, start, end;
	const char *map_name;
	bool drain;
	int err;

	drain = argc == 5 && strcmp(argv[4], "--drain") == 0;
	if ((argc != 4 && !drain) || (seconds = atof(argv[3])) <= 0) {
		fprintf(stderr, "usage: %s OBJECT MAP|- SECONDS [--drain]\n", argv[0]);
		return 2;
	}
	map_name = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
	sink = fopen("/dev/null", "w");
	if (!sink) {
		perror("/dev/null");
		return 1;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "cannot load %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "cannot attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			return 1;
		}
	}
	if (map_name) {
		int fd = bpf_object__find_map_fd_by_name(obj, map_name);

		if (fd < 0) {
			fprintf(stderr, "no map %s in %s\n", map_name, argv[1]);
			return 1;
		}
		rb = ring_buffer__new(fd, on_record, NULL, NULL);
		if (!rb) {
			fprintf(stderr, "ring_buffer__new: %s\n", strerror(errno));
			return 1;
		}
	}
	if (drain) {
		sigset_t usr1;
		int sig;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		fprintf(stderr, "attached\n");
		sigwait(&usr1, &sig);
		start = now();
		while ((err = ring_buffer__consume(rb)) > 0)
			;
		if (err < 0) {
			fprintf(stderr, "ring_buffer__consume: %s\n", strerror(-err));
			return 1;
		}
		printf("{\"received\":%llu,\"seconds\":%.6f}\n", received, now() - start);
		return 0;
	}
	fprintf(stderr, "attached\n");
	start = now();
	end = start + seconds;
	while (now() < end) {
		if (rb) {
			err = ring_buffer__poll(rb, 100);
			if (err < 0 && err != -EINTR) {
				fprintf(stderr, "ring_buffer__poll: %s\n", strerror(-err));
				return 1;
			}
		} else {
			struct timespec pause = { 0, 100 * 1000 * 1000 };

			nanosleep(&pause, NULL);
		}
	}
	if (rb)
		ring_buffer__consume(rb);
	printf("{\"received\":%llu,\"seconds\":%.3f}\n", received, now() - start);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
