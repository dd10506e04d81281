/*
 * Calls getpgid(FLOOD_MAGIC) in a tight loop for the given number of seconds (each call fires
 * flood.bpf.c's tracepoint once), then prints how many calls it made: the number of records
 * the kernel was asked to produce.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FLOOD_MAGIC 0x5eed5eed

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds, end;
	unsigned long long calls = 0;

	if (argc != 2 || (seconds = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 2;
	}
	end = now() + seconds;
	while (now() < end) {
		/* Check the clock once per 1024 calls: the clock read would cost as much as the syscall. */
		for (int i = 0; i < 1024; i++)
			syscall(SYS_getpgid, FLOOD_MAGIC);
		calls += 1024;
	}
	printf("%llu\n", calls);
	return 0;
}
