/* SPDX-License-Identifier: MIT */
/* Load presets (LoadPresets in protocol.ts): what a program's loader sets between open and load —
 * global variables' initial values, map sizes, attach targets — validated from a request, checked
 * against an opened object, and applied to each bpf_object the agent loads. */
#ifndef EBPF_AGENT_PRESETS_H
#define EBPF_AGENT_PRESETS_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol_generated.h"
#include "rpc.h"

struct bpf_object;
struct bpf_program;

struct preset_text {
	const char *name;	/* point into the request's JSON, which outlives the load */
	const char *value;
};

struct preset_size {
	const char *name;
	unsigned int size;
};

/* Every CONFIG_ global as a "NAME=VALUE\n" line: libbpf's kconfig open option. */
#define PRESET_KCONFIG_MAX (AGENT_PRESET_MAX_ENTRIES * (2 * AGENT_PRESET_MAX_NAME_BYTES + 2) + 1)

struct load_presets {
	char kconfig[PRESET_KCONFIG_MAX];	/* empty: libbpf reads the kernel's own config */
	struct preset_text globals[AGENT_PRESET_MAX_ENTRIES];
	size_t n_globals;
	struct preset_size map_sizes[AGENT_PRESET_MAX_ENTRIES];
	size_t n_map_sizes;
	struct preset_text attach_targets[AGENT_PRESET_MAX_ENTRIES];
	size_t n_attach_targets;
};

/* Reads params.presets (absent: no presets) into @p; on a malformed one fills @r with InvalidParams.
 * Globals named CONFIG_* are Kconfig values: they go to @p->kconfig, for bpf_object__open's kconfig
 * option (given there, libbpf does not read the kernel's config for them). */
bool presets_parse(struct json_object *params, struct load_presets *p, struct rpc_reply *r);

/* Whether every name of @p exists in @obj and every value fits its variable; else InvalidParams
 * in @r naming the preset. Changes nothing in @obj that a load would see. */
bool presets_check(struct bpf_object *obj, const struct load_presets *p, const char *object_id, struct rpc_reply *r);

/* Applies @p to @obj before its load; attach targets only to @only (every program when NULL).
 * Returns 0, or a negative errno with the reason written into @why (a function the kernel's BTF
 * lacks, no memory). */
int presets_apply(struct bpf_object *obj, const struct load_presets *p, const struct bpf_program *only,
		  char *why, size_t size);

#endif
