// SPDX-License-Identifier: GPL-2.0
/*
 * Standalone loader for perf_sampling.bpf.c: opens the software cpu-clock event on every online CPU
 * at -F HZ (default 49), attaches the program to each, samples until Ctrl-C (or for -d SECONDS),
 * then prints the most frequent stacks: kernel frames named from /proc/kallsyms, user frames as
 * addresses (resolve them with addr2line or gdb against the binary, see README.md).
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "perf_sampling.h"
#include "perf_sampling.skel.h"

#define TOP_STACKS 10

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- Kernel symbols: /proc/kallsyms sorted by address, for naming kernel frames. ---- */

struct ksym {
	unsigned long long addr;
	char *name;
};

struct ksyms {
	struct ksym *syms;
	size_t len;
};

static int compare_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void ksyms_free(struct ksyms *k)
{
	for (size_t i = 0; i < k->len; i++)
		free(k->syms[i].name);
	free(k->syms);
	k->syms = NULL;
	k->len = 0;
}

static int ksyms_load(struct ksyms *k)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char name[256], type;
	unsigned long long addr;
	size_t cap = 0;

	if (!f)
		return -errno;
	while (fscanf(f, "%llx %c %255s%*[^\n]", &addr, &type, name) == 3) {
		if (!addr)
			continue;	/* hidden addresses (kptr_restrict): nothing to name with */
		if (k->len == cap) {
			struct ksym *more = realloc(k->syms, (cap = cap ? cap * 2 : 4096) * sizeof(*more));

			if (!more)
				goto nomem;
			k->syms = more;
		}
		k->syms[k->len].addr = addr;
		k->syms[k->len].name = strdup(name);
		if (!k->syms[k->len].name)
			goto nomem;
		k->len++;
	}
	fclose(f);
	qsort(k->syms, k->len, sizeof(*k->syms), compare_ksym);
	return 0;
nomem:
	fclose(f);
	ksyms_free(k);
	return -ENOMEM;
}

/* The symbol @addr is in (the last one starting at or below it), or NULL. */
static const struct ksym *ksyms_find(const struct ksyms *k, unsigned long long addr)
{
	size_t lo = 0, hi = k->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &k->syms[lo - 1] : NULL;
}

/* ---- Sampling ---- */

static int open_cpu_clock(int cpu, int hz)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.freq = 1,
		.sample_freq = hz,
	};
	int fd = syscall(__NR_perf_event_open, &attr, -1 /* every task */, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* ---- Reporting ---- */

struct counted_key {
	struct sample_key key;
	__u64 count;
};

static int by_count_desc(const void *a, const void *b)
{
	const struct counted_key *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void print_stack(int stacks_fd, __s32 id, bool kernel, const struct ksyms *ksyms)
{
	__u64 ips[MAX_STACK_DEPTH] = {};

	if (id == -EFAULT) {
		/* bpf_get_stackid found no such stack: the sample was taken in the other space. */
		printf("    [no %s stack: %s]\n", kernel ? "kernel" : "user", kernel ? "sampled in user space" : "a kernel thread");
		return;
	}
	if (id < 0 || bpf_map_lookup_elem(stacks_fd, &id, ips)) {
		printf("    [%s stack: %s]\n", kernel ? "kernel" : "user", id < 0 ? strerror(-id) : "no longer in the map");
		return;
	}
	for (int i = 0; i < MAX_STACK_DEPTH && ips[i]; i++) {
		const struct ksym *sym = kernel ? ksyms_find(ksyms, ips[i]) : NULL;

		if (sym)
			printf("    %#llx %s+%#llx\n", (unsigned long long)ips[i], sym->name, ips[i] - sym->addr);
		else
			printf("    %#llx%s\n", (unsigned long long)ips[i], kernel ? " [kernel]" : "");
	}
}

/* Reads every (key, count), sorts by count and prints the top stacks. */
static int print_top(struct perf_sampling_bpf *skel, const struct ksyms *ksyms)
{
	int counts_fd = bpf_map__fd(skel->maps.sample_counts), stacks_fd = bpf_map__fd(skel->maps.stacks);
	struct counted_key *all = NULL;
	struct sample_key key, *prev = NULL;
	size_t len = 0, cap = 0;
	__u64 total = 0;

	while (bpf_map_get_next_key(counts_fd, prev, &key) == 0) {
		if (len == cap) {
			struct counted_key *more = realloc(all, (cap = cap ? cap * 2 : 256) * sizeof(*more));

			if (!more) {
				free(all);
				return -ENOMEM;
			}
			all = more;
		}
		all[len].key = key;
		if (bpf_map_lookup_elem(counts_fd, &key, &all[len].count) == 0) {
			total += all[len].count;
			len++;
		}
		prev = &all[len ? len - 1 : 0].key;
		if (!len)
			prev = NULL;
	}
	qsort(all, len, sizeof(*all), by_count_desc);
	printf("%llu samples in %zu distinct stacks; the %d most frequent:\n", (unsigned long long)total, len, TOP_STACKS);
	for (size_t i = 0; i < len && i < TOP_STACKS; i++) {
		printf("%llu samples: pid %u (%s)\n", (unsigned long long)all[i].count, all[i].key.pid, all[i].key.comm);
		print_stack(stacks_fd, all[i].key.kernel_stack_id, true, ksyms);
		print_stack(stacks_fd, all[i].key.user_stack_id, false, ksyms);
	}
	free(all);
	return 0;
}

int main(int argc, char **argv)
{
	struct perf_sampling_bpf *skel;
	struct bpf_link **links = NULL;
	struct ksyms ksyms = {};
	int seconds = -1, hz = 49, opt, err = 0, ncpus, cpu;

	while ((opt = getopt(argc, argv, "F:d:")) != -1) {
		if (opt == 'F' && (hz = atoi(optarg)) > 0) {
			continue;
		} else if (opt == 'd') {
			seconds = atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-F HZ] [-d SECONDS]\n", argv[0]);
			return 2;
		}
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		fprintf(stderr, "counting the possible CPUs failed: %s\n", strerror(-ncpus));
		return 1;
	}
	links = calloc(ncpus, sizeof(*links));
	if (!links)
		return 1;
	err = ksyms_load(&ksyms);
	if (err)
		fprintf(stderr, "reading /proc/kallsyms failed (%s): kernel frames stay addresses\n", strerror(-err));

	skel = perf_sampling_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "loading perf_sampling.bpf.o failed: %s (run as root; see libbpf's messages above)\n", strerror(-err));
		goto out;
	}
	for (cpu = 0; cpu < ncpus; cpu++) {
		int fd = open_cpu_clock(cpu, hz);

		if (fd == -ENODEV)
			continue;	/* a possible CPU that is not online */
		if (fd < 0) {
			err = fd;
			fprintf(stderr, "opening the cpu-clock event on CPU %d failed: %s\n", cpu, strerror(-err));
			goto out;
		}
		links[cpu] = bpf_program__attach_perf_event(skel->progs.on_sample, fd);
		if (!links[cpu]) {
			err = -errno;
			close(fd);
			fprintf(stderr, "attaching to the cpu-clock event on CPU %d failed: %s\n", cpu, strerror(-err));
			goto out;
		}
	}
	err = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("sampling every CPU at %d Hz (cpu-clock); Ctrl-C to stop and print the top stacks\n", hz);
	fflush(stdout);
	while (!stop && seconds != 0) {
		sleep(1);
		if (seconds > 0)
			seconds--;
	}
	/* Stop sampling before reading, so the counts do not move under the report. */
	for (cpu = 0; cpu < ncpus; cpu++) {
		bpf_link__destroy(links[cpu]);
		links[cpu] = NULL;
	}
	err = print_top(skel, &ksyms);
	if (err)
		fprintf(stderr, "reading sample_counts failed: %s\n", strerror(-err));
out:
	for (cpu = 0; links && cpu < ncpus; cpu++)
		bpf_link__destroy(links[cpu]);
	free(links);
	perf_sampling_bpf__destroy(skel);
	ksyms_free(&ksyms);
	return err ? 1 : 0;
}
