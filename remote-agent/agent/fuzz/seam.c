// SPDX-License-Identifier: MIT
/* The fuzz build's seam (linked with -Wl,--wrap=SYMBOL for each function below, see the Makefile's
 * fuzz target): what a request could make the agent do to this machine is replaced at link time,
 * while everything before it stays the agent's own code. So the JSON, the types, sizes, names and
 * paths an attacker controls are checked by the real validation, work files are really written
 * (under the fuzz run's private temp dir) and read back, and only these effects are cut off:
 *   - loading an object's programs into the kernel, attaching, pinning, writing maps: refused
 *     with EPERM, as an unprivileged kernel would (the fuzzer must not load its own bytecode or
 *     attach XDP to this machine's interfaces);
 *   - running clang (or any tool): not started; the argument vector the agent built is checked
 *     against the agent's promises (absolute tool path, no option smuggled in through a client
 *     path or define) and aborts the run when one is broken, then "clang" exits 1.
 * Read-only kernel queries (host.programs, host.maps, host.interfaces, BTF) run for real, and
 * trace.start really opens trace_pipe (the harness has no poll loop, so it is never read). unpin
 * deletes under a bpffs directory of the run's own (the harness sets it). The kernel is probed
 * for real once at start-up (fuzz_seam_kernel_open), as the agent does. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../process.h"
#include "../warm_clang.h"
#include "seam.h"

#define U __attribute__((unused))

bool fuzz_seam_kernel_open;

int __real_bpf_prog_load(enum bpf_prog_type prog_type, const char *prog_name, const char *license,
			 const struct bpf_insn *insns, size_t insn_cnt, struct bpf_prog_load_opts *opts);

/* Every wrapper is declared here first (-Wmissing-declarations). */
#define SEAM_INT(name, params) int __wrap_##name params; int __wrap_##name params { return -EPERM; }
#define SEAM_LINK(name, params) \
	struct bpf_link *__wrap_##name params; \
	struct bpf_link *__wrap_##name params { errno = EPERM; return NULL; }

SEAM_INT(bpf_object__load, (struct bpf_object *obj __attribute__((unused))))
SEAM_INT(bpf_link_create, (int prog_fd __attribute__((unused)), int target_fd __attribute__((unused)),
			   enum bpf_attach_type type __attribute__((unused)),
			   const struct bpf_link_create_opts *opts __attribute__((unused))))
SEAM_INT(bpf_tc_hook_create, (struct bpf_tc_hook *hook __attribute__((unused))))
SEAM_INT(bpf_tc_hook_destroy, (struct bpf_tc_hook *hook __attribute__((unused))))
SEAM_INT(bpf_tc_attach, (const struct bpf_tc_hook *hook __attribute__((unused)),
			 struct bpf_tc_opts *opts __attribute__((unused))))
SEAM_INT(bpf_tc_detach, (const struct bpf_tc_hook *hook __attribute__((unused)),
			 const struct bpf_tc_opts *opts __attribute__((unused))))
SEAM_INT(bpf_obj_pin, (int fd __attribute__((unused)), const char *path __attribute__((unused))))
SEAM_INT(bpf_map_update_elem, (int fd __attribute__((unused)), const void *key __attribute__((unused)),
			       const void *value __attribute__((unused)), __u64 flags __attribute__((unused))))
SEAM_INT(bpf_map_delete_elem, (int fd __attribute__((unused)), const void *key __attribute__((unused))))

SEAM_LINK(bpf_program__attach, (const struct bpf_program *p U))
SEAM_LINK(bpf_program__attach_usdt, (const struct bpf_program *p U, pid_t pid U, const char *binary U,
				      const char *provider U, const char *name U,
				      const struct bpf_usdt_opts *opts U))
SEAM_LINK(bpf_program__attach_uprobe_opts, (const struct bpf_program *p U, pid_t pid U, const char *binary U,
					     size_t off U, const struct bpf_uprobe_opts *opts U))
SEAM_LINK(bpf_program__attach_tracepoint, (const struct bpf_program *p U, const char *cat U, const char *name U))
SEAM_LINK(bpf_program__attach_raw_tracepoint, (const struct bpf_program *p U, const char *name U))
SEAM_LINK(bpf_program__attach_perf_event, (const struct bpf_program *p U, int pfd U))
SEAM_LINK(bpf_program__attach_kprobe_opts, (const struct bpf_program *p U, const char *func U,
					     const struct bpf_kprobe_opts *opts U))
SEAM_LINK(bpf_program__attach_cgroup, (const struct bpf_program *p U, int cgroup_fd U))

/* Programs the agent builds itself (feature and helper probes) reach the kernel only while the
 * harness probes at start-up; during inputs nothing is loaded. */
int __wrap_bpf_prog_load(enum bpf_prog_type prog_type, const char *prog_name, const char *license,
			 const struct bpf_insn *insns, size_t insn_cnt, struct bpf_prog_load_opts *opts);
int __wrap_bpf_prog_load(enum bpf_prog_type prog_type, const char *prog_name, const char *license,
			 const struct bpf_insn *insns, size_t insn_cnt, struct bpf_prog_load_opts *opts)
{
	if (fuzz_seam_kernel_open)
		return __real_bpf_prog_load(prog_type, prog_name, license, insns, insn_cnt, opts);
	return -EPERM;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Options after which the next element is that option's value, not an option of its own. */
static bool takes_value(const char *opt)
{
	static const char *const with_value[] = { "-I", "-D", "-o", "-target", "-include-pch", "-idirafter",
						  "-x", "-include", NULL };

	for (size_t i = 0; with_value[i]; i++)
		if (strcmp(opt, with_value[i]) == 0)
			return true;
	return false;
}

static void broken(const char *const *argv, size_t i, const char *why)
{
	fprintf(stderr, "fuzz seam: argv[%zu] \"%s\" %s; the argument vector was:\n", i, argv[i], why);
	for (size_t j = 0; argv[j]; j++)
		fprintf(stderr, "  [%zu] %s\n", j, argv[j]);
	abort();
}

/* The agent's promises about what it runs: an absolute tool path; every element that is not the
 * value of an option the agent chose is an option from the agent's own fixed set, so nothing a
 * client sent (a path, a define) is read by clang as an option. */
static void check_argv(const char *const *argv)
{
	static const char *const own_options[] = { "-g", "-O2", "-I.", "-fno-color-diagnostics", "-c",
						   "--version", "-print-multiarch", NULL };

	if (!argv[0] || argv[0][0] != '/')
		broken(argv, 0, "is not an absolute path");
	for (size_t i = 1; argv[i]; i++) {
		bool known = false;

		if (starts_with(argv[i], "-fplugin") || strcmp(argv[i], "-load") == 0)
			broken(argv, i, "loads code into clang");
		if (argv[i][0] != '-')
			continue;	/* a value: an option's, or the input file after -c */
		if (takes_value(argv[i])) {
			if (argv[i + 1] && argv[i + 1][0] == '-')
				broken(argv, i + 1, "is an option where a value was due");
			if (argv[i + 1])
				i++;
			continue;
		}
		for (size_t j = 0; own_options[j]; j++)
			known |= strcmp(argv[i], own_options[j]) == 0 || starts_with(argv[i], "-D__TARGET_ARCH_");
		if (!known)
			broken(argv, i, "is an option the agent never passes: it came from the request");
	}
}

static int clang_not_run(const char *const *argv, struct proc_result *res)
{
	static const char msg[] = "error: clang is not run in the fuzz build\n";

	check_argv(argv);
	if (proc_result_init(res))
		return -ENOMEM;
	free(res->output);
	res->output = strdup(msg);
	if (!res->output)
		return -ENOMEM;
	res->output_len = sizeof(msg) - 1;
	res->exit_code = 1;
	return 0;
}

int __wrap_proc_run(const char *const *argv, const char *cwd, size_t max_output,
		    const struct proc_watch *watch, struct proc_result *res);
int __wrap_proc_run(const char *const *argv, const char *cwd U, size_t max_output U,
		    const struct proc_watch *watch U, struct proc_result *res)
{
	return clang_not_run(argv, res);
}

int __wrap_warm_clang_run(struct warm_clang *wc, const char *const *argv, const char *cwd, size_t max_output,
			  const struct proc_watch *watch, struct proc_result *res);
int __wrap_warm_clang_run(struct warm_clang *wc U, const char *const *argv, const char *cwd U, size_t max_output U,
			  const struct proc_watch *watch U, struct proc_result *res U)
{
	check_argv(argv);
	return -EAGAIN;	/* not warm: the caller runs proc_run(), seamed above */
}

void __wrap_warm_clang_prepare(struct warm_clang *wc, const char *clang, const char *dir);
void __wrap_warm_clang_prepare(struct warm_clang *wc U, const char *clang U, const char *dir U)
{
}
