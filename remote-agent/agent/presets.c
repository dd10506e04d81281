// SPDX-License-Identifier: MIT
/* Load presets: parsing and bounds from the request, then applied to an opened bpf_object —
 * globals written into their data section's initial value at the variable's BTF offset, map sizes
 * with bpf_map__set_max_entries, attach targets with bpf_program__set_attach_target. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "params.h"
#include "presets.h"

#define PATH "params.presets"

static bool name_ok(const char *name)
{
	return param_name_ok(name, NULL, AGENT_PRESET_MAX_NAME_BYTES) && !(name[0] >= '0' && name[0] <= '9');
}

static bool string_ok(struct json_object *v)
{
	size_t len;

	if (!json_object_is_type(v, json_type_string))
		return false;
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || len > AGENT_PRESET_MAX_NAME_BYTES || strlen(json_object_get_string(v)) != len)
		return false;
	for (const char *c = json_object_get_string(v); *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return false;	/* no spaces or control characters (a Kconfig value is a line of its own) */
	return true;
}

/* The member @key of @presets as an object of at most AGENT_PRESET_MAX_ENTRIES C-identifier keys. */
static bool kind_object(struct json_object *presets, const char *key, struct json_object **out, struct rpc_reply *r)
{
	*out = NULL;
	if (!json_object_object_get_ex(presets, key, out) || json_object_is_type(*out, json_type_null)) {
		*out = NULL;
		return true;
	}
	if (!json_object_is_type(*out, json_type_object)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".%s must be an object of name → value.", key);
		return false;
	}
	if (json_object_object_length(*out) > AGENT_PRESET_MAX_ENTRIES) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".%s has more than %d entries.", key,
				AGENT_PRESET_MAX_ENTRIES);
		return false;
	}
	json_object_object_foreach(*out, name, value) {
		(void)value;
		if (!name_ok(name)) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".%s: \"%.64s\" is not a C identifier of at most "
					"%d bytes.", key, name, AGENT_PRESET_MAX_NAME_BYTES);
			return false;
		}
	}
	return true;
}

bool presets_parse(struct json_object *params, struct load_presets *p, struct rpc_reply *r)
{
	struct json_object *presets, *o;

	memset(p, 0, sizeof(*p));
	if (!json_object_object_get_ex(params, "presets", &presets) || json_object_is_type(presets, json_type_null))
		return true;
	if (!json_object_is_type(presets, json_type_object)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, PATH " must be an object {globals?, mapSizes?, attachTargets?}.");
		return false;
	}
	if (!kind_object(presets, "globals", &o, r))
		return false;
	if (o) {
		json_object_object_foreach(o, name, value) {
			if (!string_ok(value)) {
				rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".globals.%s must be a string of 1 to %d bytes "
						"(an integer, true/false, or an enumerator).", name, AGENT_PRESET_MAX_NAME_BYTES);
				return false;
			}
			p->globals[p->n_globals++] = (struct preset_text){ name, json_object_get_string(value) };
			if (strncmp(name, "CONFIG_", 7) == 0) {
				size_t used = strlen(p->kconfig);

				snprintf(p->kconfig + used, sizeof(p->kconfig) - used, "%s=%s\n", name, json_object_get_string(value));
			}
		}
	}
	if (!kind_object(presets, "mapSizes", &o, r))
		return false;
	if (o) {
		json_object_object_foreach(o, name, value) {
			if (!json_object_is_type(value, json_type_int) || json_object_get_int64(value) < 1 ||
			    json_object_get_int64(value) > AGENT_PRESET_MAX_MAP_SIZE) {
				rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".mapSizes.%s must be an integer from 1 to %d.",
						name, AGENT_PRESET_MAX_MAP_SIZE);
				return false;
			}
			p->map_sizes[p->n_map_sizes++] = (struct preset_size){ name, (unsigned int)json_object_get_int64(value) };
		}
	}
	if (!kind_object(presets, "attachTargets", &o, r))
		return false;
	if (o) {
		json_object_object_foreach(o, name, value) {
			if (!string_ok(value) || !name_ok(json_object_get_string(value))) {
				rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".attachTargets.%s must be a kernel function's "
						"name (a C identifier of at most %d bytes).", name, AGENT_PRESET_MAX_NAME_BYTES);
				return false;
			}
			p->attach_targets[p->n_attach_targets++] = (struct preset_text){ name, json_object_get_string(value) };
		}
	}
	return true;
}

/* Where a global lives: its internal map, offset and size, and its type with modifiers removed. */
struct global_slot {
	struct bpf_map *map;
	unsigned int offset;
	unsigned int size;
	const struct btf_type *type;
	const char *section;
};

static const struct btf_type *skip_mods(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_mod(t) || btf_is_typedef(t)))
		t = btf__type_by_id(btf, t->type);
	return t;
}

/* The internal map holding data section @sec_id (named @sec_name). */
static struct bpf_map *section_map(struct bpf_object *obj, __u32 sec_id, const char *sec_name)
{
	size_t name_len = strlen(sec_name);
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);
		size_t len = strlen(n);

		if (!bpf_map__is_internal(map))
			continue;
		if (bpf_map__btf_value_type_id(map) == sec_id ||
		    (len >= name_len && strcmp(n + len - name_len, sec_name) == 0))
			return map;
	}
	return NULL;
}

static bool find_global(struct bpf_object *obj, const char *name, struct global_slot *slot)
{
	const struct btf *btf = bpf_object__btf(obj);
	__u32 n = btf ? btf__type_cnt(btf) : 0;

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *sec = btf__type_by_id(btf, id);
		const struct btf_var_secinfo *vi;

		if (!btf_is_datasec(sec))
			continue;
		vi = btf_var_secinfos(sec);
		for (__u16 i = 0; i < btf_vlen(sec); i++, vi++) {
			const struct btf_type *var = btf__type_by_id(btf, vi->type);

			if (!var || !btf_is_var(var) || strcmp(btf__name_by_offset(btf, var->name_off), name) != 0)
				continue;
			slot->section = btf__name_by_offset(btf, sec->name_off);
			slot->map = section_map(obj, id, slot->section);
			slot->offset = vi->offset;
			slot->size = vi->size;
			slot->type = skip_mods(btf, var->type);
			return true;
		}
	}
	return false;
}

/* @text as a value of integer/bool/enum type @t of @size bytes, in this host's byte order. */
static bool parse_value(const struct btf *btf, const struct btf_type *t, unsigned int size, const char *text,
			unsigned char *out, char *why, size_t why_size)
{
	bool is_signed = false, is_bool = false, named = false;
	unsigned long long u = 0;
	long long s = 0;
	char *end;

	if (!t || size == 0 || size > 8 || (size & (size - 1))) {
		snprintf(why, why_size, "is not an integer, bool or enum variable");
		return false;
	}
	if (btf_is_int(t)) {
		is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
		is_bool = btf_int_encoding(t) & BTF_INT_BOOL;
	} else if (btf_is_enum(t)) {
		const struct btf_enum *e = btf_enum(t);

		is_signed = btf_kflag(t);
		for (__u16 i = 0; i < btf_vlen(t); i++, e++) {
			if (strcmp(btf__name_by_offset(btf, e->name_off), text) == 0) {
				u = (unsigned long long)(long long)e->val;
				named = true;
			}
		}
	} else {
		snprintf(why, why_size, "is not an integer, bool or enum variable");
		return false;
	}
	if (named) {
		/* an enumerator: its value as the enum stores it */
	} else if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
		u = text[0] == 't';
	} else if (is_bool) {
		snprintf(why, why_size, "is a bool: give true or false");
		return false;
	} else if (text[0] == '-') {
		errno = 0;
		s = strtoll(text, &end, 0);
		if (errno || *end || !is_signed || (size < 8 && (s < -(1LL << (size * 8 - 1))))) {
			snprintf(why, why_size, "does not fit a %s%u-byte integer", is_signed ? "signed " : "unsigned ", size);
			return false;
		}
		u = (unsigned long long)s;
	} else {
		errno = 0;
		u = strtoull(text, &end, 0);
		if (errno || *end || end == text || (text[0] < '0' || text[0] > '9') ||
		    (size < 8 && u > (is_signed ? (1ULL << (size * 8 - 1)) - 1 : (1ULL << (size * 8)) - 1)) ||
		    (size == 8 && is_signed && u > INT64_MAX)) {
			snprintf(why, why_size, "must be an integer that fits a %s%u-byte variable%s",
				 is_signed ? "signed " : "unsigned ", size, btf_is_enum(t) ? ", or an enumerator" : "");
			return false;
		}
	}
	switch (size) {
	case 1: { uint8_t v = (uint8_t)u; memcpy(out, &v, 1); break; }
	case 2: { uint16_t v = (uint16_t)u; memcpy(out, &v, 2); break; }
	case 4: { uint32_t v = (uint32_t)u; memcpy(out, &v, 4); break; }
	default: { uint64_t v = u; memcpy(out, &v, 8); break; }
	}
	return true;
}

/* Resolves and encodes one global preset; why says what is wrong with it. */
static bool global_value(struct bpf_object *obj, const struct preset_text *g, struct global_slot *slot,
			 unsigned char value[8], char *why, size_t size)
{
	if (!find_global(obj, g->name, slot)) {
		snprintf(why, size, "the object has no global variable named \"%s\"", g->name);
		return false;
	}
	if (strcmp(slot->section, ".kconfig") == 0 && strncmp(g->name, "CONFIG_", 7) == 0) {
		/* Given to libbpf at open (kconfig): y, n, m or an integer, as a config file has them. */
		bool number = g->value[0] == '-' ? g->value[1] >= '0' && g->value[1] <= '9' : g->value[0] >= '0' && g->value[0] <= '9';

		for (const char *c = g->value + 1; number && *c; c++)
			number = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F') || *c == 'x';
		if (!number && strcmp(g->value, "y") && strcmp(g->value, "n") && strcmp(g->value, "m")) {
			snprintf(why, size, "\"%s\" for %s: a Kconfig value is y, n, m or an integer", g->value, g->name);
			return false;
		}
		slot->map = NULL;
		return true;
	}
	if (!slot->map || strcmp(slot->section, ".kconfig") == 0 || strcmp(slot->section, ".ksyms") == 0) {
		snprintf(why, size, "%s lives in %s, which libbpf fills itself at load%s", g->name, slot->section,
			 strcmp(g->name, "LINUX_KERNEL_VERSION") == 0 ? " from the kernel's release" : "");
		return false;
	}
	if (!parse_value(bpf_object__btf(obj), slot->type, slot->size, g->value, value, why, size)) {
		char reason[160];

		snprintf(reason, sizeof(reason), "%s", why);
		snprintf(why, size, "\"%s\" for %s: %s %s", g->value, g->name, g->name, reason);
		return false;
	}
	return true;
}

static int set_global(struct global_slot *slot, const unsigned char value[8], char *why, size_t size)
{
	size_t len = 0;
	const void *init = bpf_map__initial_value(slot->map, &len);
	unsigned char *copy;
	int err;

	if (!init || slot->offset + slot->size > len) {
		snprintf(why, size, "%s has no initial value to write into", bpf_map__name(slot->map));
		return -EINVAL;
	}
	copy = malloc(len);
	if (!copy) {
		snprintf(why, size, "the agent ran out of memory");
		return -ENOMEM;
	}
	memcpy(copy, init, len);
	memcpy(copy + slot->offset, value, slot->size);
	err = bpf_map__set_initial_value(slot->map, copy, len);
	free(copy);
	if (err)
		snprintf(why, size, "libbpf refused the initial value of %s (%s)", bpf_map__name(slot->map), strerror(-err));
	return err;
}

bool presets_check(struct bpf_object *obj, const struct load_presets *p, const char *object_id, struct rpc_reply *r)
{
	char why[320];

	for (size_t i = 0; i < p->n_globals; i++) {
		struct global_slot slot;
		unsigned char value[8];

		if (!global_value(obj, &p->globals[i], &slot, value, why, sizeof(why))) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".globals (object %s): %s.", object_id, why);
			return false;
		}
	}
	for (size_t i = 0; i < p->n_map_sizes; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, p->map_sizes[i].name);

		if (!map || bpf_map__is_internal(map)) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".mapSizes: object %s has no map named \"%s\".",
					object_id, p->map_sizes[i].name);
			return false;
		}
	}
	for (size_t i = 0; i < p->n_attach_targets; i++) {
		if (!bpf_object__find_program_by_name(obj, p->attach_targets[i].name)) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, PATH ".attachTargets: object %s has no program named \"%s\".",
					object_id, p->attach_targets[i].name);
			return false;
		}
	}
	return true;
}

int presets_apply(struct bpf_object *obj, const struct load_presets *p, const struct bpf_program *only,
		  char *why, size_t size)
{
	int err;

	for (size_t i = 0; i < p->n_globals; i++) {
		struct global_slot slot;
		unsigned char value[8];

		if (!global_value(obj, &p->globals[i], &slot, value, why, size))
			return -EINVAL;
		if (!slot.map)
			continue;	/* a Kconfig value: given at open */
		err = set_global(&slot, value, why, size);
		if (err)
			return err;
	}
	for (size_t i = 0; i < p->n_map_sizes; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, p->map_sizes[i].name);

		err = map ? bpf_map__set_max_entries(map, p->map_sizes[i].size) : -ENOENT;
		if (err) {
			snprintf(why, size, "map '%s': its size cannot be set (%s)", p->map_sizes[i].name, strerror(-err));
			return err;
		}
	}
	for (size_t i = 0; i < p->n_attach_targets; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, p->attach_targets[i].name);

		if (!prog || (only && prog != only))
			continue;
		err = bpf_program__set_attach_target(prog, 0, p->attach_targets[i].value);
		if (err) {
			snprintf(why, size, "prog '%s': attach target '%s' (a preset) is not a function in this kernel's "
				 "BTF (%s)", p->attach_targets[i].name, p->attach_targets[i].value, strerror(-err));
			return err;
		}
	}
	return 0;
}
