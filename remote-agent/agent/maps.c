// SPDX-License-Identifier: MIT
/* object.maps and map.dump/lookup/update/delete on the maps of a loaded object. Keys and values
 * are raw bytes in base64; per-CPU maps carry one value per possible CPU, each value rounded up
 * to 8 bytes in the kernel's buffer as the syscall requires. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "base64.h"
#include "params.h"

#define DUMP_DEFAULT AGENT_MAP_DUMP_DEFAULT_LIMIT
#define DUMP_MAX AGENT_MAP_DUMP_MAX_LIMIT

static struct json_object *map_info_json(const struct bpf_map *map, bool loaded)
{
	struct json_object *o = json_object_new_object();
	const char *type = libbpf_bpf_map_type_str(bpf_map__type(map));
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	bool has_id = loaded && !bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len);

	json_object_object_add(o, "name", json_object_new_string(bpf_map__name(map)));
	json_object_object_add(o, "type", json_object_new_string(type ? type : "unknown"));
	json_object_object_add(o, "keySize", json_object_new_int64(bpf_map__key_size(map)));
	json_object_object_add(o, "valueSize", json_object_new_int64(bpf_map__value_size(map)));
	json_object_object_add(o, "maxEntries", json_object_new_int64(bpf_map__max_entries(map)));
	json_object_object_add(o, "btfKeyTypeId", json_object_new_int64(bpf_map__btf_key_type_id(map)));
	json_object_object_add(o, "btfValueTypeId", json_object_new_int64(bpf_map__btf_value_type_id(map)));
	json_object_object_add(o, "mapId", has_id ? json_object_new_int64(info.id) : NULL);
	return o;
}

static struct held_object *find_held(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	const char *id;
	struct held_object *held;

	if (!params_object(params, r) || !param_string(params, "params", "objectId", true, &id, r))
		return NULL;
	held = objects_find(&a->objects, id);
	if (!held)
		rpc_reply_error(r, RPC_UNKNOWN_OBJECT, "Object \"%.64s\" is not held by the agent (never compiled, "
				"released, or evicted); compile the file again.", id);
	return held;
}

void method_object_maps(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct held_object *held = find_held(a, params, r);
	struct bpf_object *obj;
	struct json_object *list;
	struct bpf_map *map;

	if (!held)
		return;
	obj = held->loaded;
	if (!obj) {	/* not loaded yet: the ELF alone tells the maps' shapes */
		opts.object_name = held->name;
		obj = bpf_object__open_mem(held->data, held->size, &opts);
		if (!obj) {
			rpc_reply_error(r, RPC_OBJECT_OPEN_FAILED, "libbpf cannot open object %s (%s).", held->id,
					strerror(errno));
			return;
		}
	}
	list = json_object_new_array();
	bpf_object__for_each_map(map, obj)
		json_object_array_add(list, map_info_json(map, held->loaded != NULL));
	if (obj != held->loaded)
		bpf_object__close(obj);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "maps", list);
}

/* A map of a loaded object, ready for key/value access. */
struct map_access {
	struct bpf_map *map;
	int fd;
	size_t key_size;
	size_t value_size;	/* one CPU's value as the program sees it */
	size_t stride;		/* one CPU's slot in the syscall buffer */
	int ncpus;		/* 1 unless per-CPU */
};

static bool is_percpu(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static bool open_map(struct agent *a, struct json_object *params, struct map_access *m, struct rpc_reply *r)
{
	struct held_object *held = find_held(a, params, r);
	const char *name;
	enum bpf_map_type type;

	if (!held || !param_string(params, "params", "map", true, &name, r))
		return false;
	if (!held->loaded) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "Object %s is not loaded: attach one of its programs first "
				"(its maps exist in the kernel from then on).", held->id);
		return false;
	}
	m->map = bpf_object__find_map_by_name(held->loaded, name);
	if (!m->map) {
		rpc_reply_error(r, RPC_UNKNOWN_HANDLE, "Object %s has no map named \"%.200s\".", held->id, name);
		return false;
	}
	type = bpf_map__type(m->map);
	m->key_size = bpf_map__key_size(m->map);
	m->value_size = bpf_map__value_size(m->map);
	if (!m->key_size || type == BPF_MAP_TYPE_RINGBUF || type == BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.map: %s is a %s map, which has no keys to read; %s", name,
				libbpf_bpf_map_type_str(type), type == BPF_MAP_TYPE_RINGBUF || type == BPF_MAP_TYPE_PERF_EVENT_ARRAY ?
				"use stream.start." : "it cannot be read by key.");
		return false;
	}
	m->fd = bpf_map__fd(m->map);
	m->ncpus = is_percpu(type) ? libbpf_num_possible_cpus() : 1;
	if (m->ncpus < 1) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The number of possible CPUs is unknown (%s).", strerror(-m->ncpus));
		return false;
	}
	m->stride = is_percpu(type) ? (m->value_size + 7) / 8 * 8 : m->value_size;
	return true;
}

/* Decodes member @key of @params into exactly @size bytes. */
static bool decode_exact(struct json_object *obj, const char *path, const char *key, size_t size, void **out,
			 struct rpc_reply *r)
{
	const char *text;
	size_t len;

	if (!param_string(obj, path, key, true, &text, r))
		return false;
	if (base64_decode(text, out, &len)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "%s.%s is not valid base64.", path, key);
		return false;
	}
	if (len != size) {
		free(*out);
		rpc_reply_error(r, RPC_INVALID_PARAMS, "%s.%s is %zu bytes; the map's %s size is %zu bytes.", path, key,
				len, strcmp(key, "key") ? "value" : "key", size);
		return false;
	}
	return true;
}

static struct json_object *values_json(const struct map_access *m, const char *buf)
{
	struct json_object *list = json_object_new_array();

	for (int cpu = 0; cpu < m->ncpus; cpu++) {
		char *text = base64_encode(buf + cpu * m->stride, m->value_size);

		json_object_array_add(list, text ? json_object_new_string(text) : NULL);
		free(text);
	}
	return list;
}

static struct json_object *entry_json(const struct map_access *m, const void *key, const char *values)
{
	struct json_object *o = json_object_new_object();
	char *text = base64_encode(key, m->key_size);

	json_object_object_add(o, "key", text ? json_object_new_string(text) : NULL);
	json_object_object_add(o, "values", values_json(m, values));
	free(text);
	return o;
}

void method_map_dump(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct map_access m;
	long long limit = DUMP_DEFAULT;
	void *cursor = NULL, *key = NULL, *next = NULL;
	char *values = NULL;
	struct json_object *entries, *c;
	bool more = true;
	int err = 0;

	if (!open_map(a, params, &m, r) || !param_int(params, "params", "limit", 1, DUMP_MAX, &limit, NULL, r))
		return;
	if (json_object_object_get_ex(params, "cursor", &c) && !json_object_is_type(c, json_type_null) &&
	    !decode_exact(params, "params", "cursor", m.key_size, &cursor, r))
		return;
	key = malloc(m.key_size);
	next = malloc(m.key_size);
	values = malloc(m.stride * m.ncpus);
	if (!key || !next || !values) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		goto out;
	}
	entries = json_object_new_array();
	/* From the cursor (NULL: the first key) on; keys deleted meanwhile are skipped. */
	while ((long long)json_object_array_length(entries) < limit) {
		if (bpf_map_get_next_key(m.fd, cursor, next)) {
			err = errno == ENOENT ? 0 : -errno;
			more = false;
			break;
		}
		memcpy(key, next, m.key_size);
		free(cursor);
		cursor = malloc(m.key_size);
		if (!cursor) {
			err = -ENOMEM;
			break;
		}
		memcpy(cursor, key, m.key_size);
		if (bpf_map_lookup_elem(m.fd, key, values)) {
			if (errno == ENOENT)
				continue;
			err = -errno;
			break;
		}
		json_object_array_add(entries, entry_json(&m, key, values));
	}
	if (err) {
		json_object_put(entries);
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Reading map %s failed: %s.", bpf_map__name(m.map), strerror(-err));
		goto out;
	}
	if (more && bpf_map_get_next_key(m.fd, cursor, next))
		more = false;	/* this page ends exactly at the last key */
	r->result = json_object_new_object();
	json_object_object_add(r->result, "entries", entries);
	if (more) {
		char *text = base64_encode(cursor, m.key_size);

		json_object_object_add(r->result, "nextCursor", text ? json_object_new_string(text) : NULL);
		free(text);
	} else {
		json_object_object_add(r->result, "nextCursor", NULL);
	}
out:
	free(cursor);
	free(key);
	free(next);
	free(values);
}

void method_map_lookup(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct map_access m;
	void *key = NULL;
	char *values;

	if (!open_map(a, params, &m, r) || !decode_exact(params, "params", "key", m.key_size, &key, r))
		return;
	values = malloc(m.stride * m.ncpus);
	r->result = json_object_new_object();
	if (!values) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
	} else if (bpf_map_lookup_elem(m.fd, key, values) == 0) {
		json_object_object_add(r->result, "values", values_json(&m, values));
	} else if (errno == ENOENT) {
		json_object_object_add(r->result, "values", NULL);
	} else {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Looking up the key in map %s failed: %s.", bpf_map__name(m.map),
				strerror(errno));
	}
	free(values);
	free(key);
}

void method_map_update(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	static const char *const flag_names[] = { "any", "noexist", "exist", NULL };
	static const __u64 flag_values[] = { BPF_ANY, BPF_NOEXIST, BPF_EXIST };
	struct json_object *list;
	struct map_access m;
	void *key = NULL;
	char *values = NULL;
	int flag;

	if (!open_map(a, params, &m, r) ||
	    !param_enum(params, "params", "flags", flag_names, false, &flag, r) ||
	    !decode_exact(params, "params", "key", m.key_size, &key, r))
		return;
	if (!json_object_object_get_ex(params, "values", &list) || !json_object_is_type(list, json_type_array) ||
	    (int)json_object_array_length(list) != m.ncpus) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.values must be an array of %d base64 value%s (%s).", m.ncpus,
				m.ncpus == 1 ? "" : "s", m.ncpus == 1 ? "one value" : "one per possible CPU");
		goto out;
	}
	values = calloc(m.ncpus, m.stride);
	if (!values) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		goto out;
	}
	for (int cpu = 0; cpu < m.ncpus; cpu++) {
		struct json_object *holder = json_object_new_object();
		char path[32];
		void *v;
		bool ok;

		json_object_object_add(holder, "value", json_object_get(json_object_array_get_idx(list, cpu)));
		snprintf(path, sizeof(path), "params.values[%d]", cpu);
		ok = decode_exact(holder, path, "value", m.value_size, &v, r);
		json_object_put(holder);
		if (!ok)
			goto out;
		memcpy(values + cpu * m.stride, v, m.value_size);
		free(v);
	}
	if (bpf_map_update_elem(m.fd, key, values, flag_values[flag < 0 ? 0 : flag])) {
		rpc_reply_error(r, errno == EEXIST || errno == ENOENT || errno == E2BIG ? RPC_INVALID_PARAMS : RPC_INTERNAL_ERROR,
				"Updating map %s failed: %s%s.", bpf_map__name(m.map), strerror(errno),
				errno == EEXIST ? " (flags \"noexist\" and the key exists)" : errno == ENOENT ?
				" (flags \"exist\" and the key is absent)" : errno == E2BIG ? " (the map is full)" : "");
		goto out;
	}
	r->result = json_object_new_object();
out:
	free(values);
	free(key);
}

void method_map_delete(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct map_access m;
	void *key = NULL;
	int ret;

	if (!open_map(a, params, &m, r) || !decode_exact(params, "params", "key", m.key_size, &key, r))
		return;
	ret = bpf_map_delete_elem(m.fd, key) ? -errno : 0;
	if (ret == 0 || ret == -ENOENT) {
		r->result = json_object_new_object();
		json_object_object_add(r->result, "deleted", json_object_new_boolean(ret == 0));
	} else {
		errno = -ret;
		rpc_reply_error(r, RPC_INVALID_PARAMS, "Deleting from map %s failed: %s%s.", bpf_map__name(m.map),
				strerror(errno), errno == EINVAL ? " (array maps cannot delete entries)" : "");
	}
	free(key);
}
