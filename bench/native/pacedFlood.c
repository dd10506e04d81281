/*
 * The flood soak's producer (bench/eventFlood.ts): calls getpgid(SOAK_MAGIC | PER_CALL) from
 * THREADS threads for SECONDS, each call asking soak_flood.bpf.c's tracepoint for PER_CALL
 * records, at RATE records per second in all (0: as fast as they can). Prints `<seconds since
 * start> <records asked so far>` once a second and `total <records asked>` at the end. SIGTERM or
 * SIGINT end it early, with the total.
 *
 *   pacedFlood SECONDS RATE THREADS PER_CALL
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SOAK_MAGIC 0x50a60000
#define SOAK_MAX_PER_CALL 4096
/* Calls between clock reads, at most: reading the clock costs about as much as a call. */
#define BURST 64

static atomic_ullong total_records;
static volatile sig_atomic_t stopping;
static double start_s, end_s, per_thread_rate;
static unsigned int per_call;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Keeps this thread's records at per_thread_rate × elapsed: bursts while behind, short sleeps while ahead. */
static void *flood(void *arg)
{
	unsigned long long mine = 0;
	double t;

	(void)arg;
	while (!stopping && (t = now_s()) < end_s) {
		if (per_thread_rate > 0 && mine >= (t - start_s) * per_thread_rate) {
			struct timespec pause = { 0, 100 * 1000 };

			nanosleep(&pause, NULL);
			continue;
		}
		for (int i = 0; i < BURST; i++)
			syscall(SYS_getpgid, SOAK_MAGIC | per_call);
		mine += BURST * per_call;
		atomic_fetch_add_explicit(&total_records, BURST * per_call, memory_order_relaxed);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	double seconds, rate, next_report;
	pthread_t *threads;
	int nthreads, started, err = 0;

	if (argc != 5 || (seconds = atof(argv[1])) <= 0 || (rate = atof(argv[2])) < 0 || (nthreads = atoi(argv[3])) < 1 ||
	    nthreads > 64 || atoi(argv[4]) < 1 || atoi(argv[4]) > SOAK_MAX_PER_CALL) {
		fprintf(stderr, "usage: %s SECONDS RATE THREADS PER_CALL (RATE 0: unpaced; 1-64 threads; 1-%d records per call)\n",
			argv[0], SOAK_MAX_PER_CALL);
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	threads = calloc(nthreads, sizeof(*threads));
	if (!threads) {
		perror("pacedFlood");
		return 1;
	}
	per_call = atoi(argv[4]);
	per_thread_rate = rate / nthreads;
	start_s = now_s();
	end_s = start_s + seconds;
	for (started = 0; started < nthreads; started++) {
		err = pthread_create(&threads[started], NULL, flood, NULL);
		if (err) {
			fprintf(stderr, "pacedFlood: starting thread %d: %s\n", started + 1, strerror(err));
			stopping = 1;
			break;
		}
	}
	next_report = start_s + 1;
	while (!stopping && now_s() < end_s) {
		struct timespec tick = { 0, 20 * 1000 * 1000 };

		nanosleep(&tick, NULL);
		if (now_s() >= next_report) {
			printf("%.3f %llu\n", now_s() - start_s, (unsigned long long)atomic_load(&total_records));
			next_report += 1;
		}
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	printf("total %llu\n", (unsigned long long)atomic_load(&total_records));
	free(threads);
	return err ? 1 : 0;
}
