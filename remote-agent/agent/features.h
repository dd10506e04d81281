/* SPDX-License-Identifier: MIT */
/* What the running kernel can do, probed once at agent start (hello.features), and the probe
 * of single helpers that probe.helpers and the bpfCookie feature share. */
#ifndef EBPF_AGENT_FEATURES_H
#define EBPF_AGENT_FEATURES_H

#include <limits.h>
#include <stdbool.h>

#include <json-c/json.h>
#include <linux/bpf.h>
#include <stddef.h>

struct bpf_program;

/* Newer than the uapi headers of Debian 12: tcx attach types (Linux 6.6). */
#define ATTACH_TCX_INGRESS 46
#define ATTACH_TCX_EGRESS 47

#define FEATURE_MAX_TYPES 64

struct kernel_features {
	bool kprobe_events;
	bool uprobe_events;
	bool tracing_programs;
	bool lsm;
	bool ringbuf;
	bool tcx;
	bool bpf_cookie;
	char tracefs[64];		/* empty: not mounted */
	char bpffs[PATH_MAX];		/* empty: not mounted */
	bool prog_types[FEATURE_MAX_TYPES];
	bool map_types[FEATURE_MAX_TYPES];
};

/* Probes the kernel; mounts tracefs at /sys/kernel/tracing first when it is not mounted and
 * the agent is root (tracepoint attach and trace_pipe need it). What is costly to find and cannot
 * change while the kernel runs is kept in @cache_dir (NULL: nothing is kept). */
void features_probe(struct kernel_features *f, const char *cache_dir);
struct json_object *features_json(const struct kernel_features *f);
/* Writes why this kernel cannot load @prog at all into @why when its kind is one @f says the kernel
 * lacks (BPF LSM, trampolines, an unknown program type); false when the kind is there. */
bool features_program_kind_missing(const struct kernel_features *f, const struct bpf_program *prog, char *why,
				   size_t size);

enum helper_verdict {
	HELPER_DENIED,		/* unknown to the kernel, or not for this program type */
	HELPER_ALLOWED,
	HELPER_ALLOWED_GPL,	/* allowed, but only from GPL-compatible programs */
	HELPER_PROBE_FAILED,	/* the program type itself did not load */
};

/* Loads "call @helper_id; r0 = 0; exit" as a non-GPL program of @type and reads the verifier's
 * verdict on the call. */
enum helper_verdict helper_probe(enum bpf_prog_type type, int helper_id);

#endif
