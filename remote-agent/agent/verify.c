// SPDX-License-Identifier: MIT
/* load: verify each program of a held object on its own, as veristat does. Every program gets a
 * fresh bpf_object with only its own autoload on, its own verifier log (stats first; on failure
 * again at level 1 for the failing path; with `walk`, level 2 at once, so the log keeps every path
 * the verifier explored, accepted programs' too) and libbpf's messages for that load. Nothing stays loaded and nothing is
 * attached. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent.h"
#include "presets.h"

#define LOG_STATS 4
#define LOG_PATH 1
#define LOG_WALK 2	/* level 1 drops each finished path from the log; level 2 keeps every path */
#define STATS_LOG_START (64u << 10)
#define PATH_LOG_START (1u << 20)
#define LOG_MAX (64u << 20)
#define LIBBPF_LOG_MAX (1u << 20)
#define MAX_PROGRAMS 256
#define MAX_MAPS 256

/* Where libbpf's messages go while a program is being opened and loaded; stderr otherwise. */
static struct text_sink *libbpf_sink;

void libbpf_capture(struct text_sink *sink)
{
	libbpf_sink = sink;
}

static void sink_vappend(struct text_sink *s, const char *fmt, va_list ap)
{
	va_list copy;
	size_t room;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n <= 0)
		return;
	if (s->len + n + 1 > LIBBPF_LOG_MAX) {
		s->truncated = true;
		return;
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *buf;

		while (cap < s->len + n + 1)
			cap *= 2;
		buf = realloc(s->buf, cap);
		if (!buf) {
			s->truncated = true;
			return;
		}
		s->buf = buf;
		s->cap = cap;
	}
	room = s->cap - s->len;
	vsnprintf(s->buf + s->len, room, fmt, ap);
	s->len += n;
}

static void sink_append(struct text_sink *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sink_vappend(s, fmt, ap);
	va_end(ap);
}

void sink_reset(struct text_sink *s)
{
	s->len = 0;
	s->truncated = false;
	if (s->buf)
		s->buf[0] = '\0';
}

const char *sink_text(const struct text_sink *s)
{
	return s->len ? s->buf : "";
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (libbpf_sink) {
		sink_vappend(libbpf_sink, fmt, ap);
		return 0;
	}
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

void libbpf_output_install(void)
{
	libbpf_set_print(libbpf_print);
}

/* Every program of an object is loaded from a fresh bpf_object, and each load would create all of
 * the object's maps again (a preallocated hash map of 10,240 entries costs more than verifying a
 * small program). The first load's maps are kept, by name, and handed to the next loads with
 * bpf_map__reuse_fd: same object, same presets, so the same definitions. */
struct created_maps {
	size_t count;
	char *names[MAX_MAPS];
	int fds[MAX_MAPS];
};

static void created_maps_free(struct created_maps *m)
{
	for (size_t i = 0; i < m->count; i++) {
		free(m->names[i]);
		close(m->fds[i]);
	}
	m->count = 0;
}

static int created_map_fd(const struct created_maps *m, const char *name)
{
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->names[i], name) == 0)
			return m->fds[i];
	return -1;
}

/* Before a load: maps created by an earlier load are reused instead of created again. */
static int reuse_created_maps(const struct created_maps *m, struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		int fd = created_map_fd(m, bpf_map__name(map));
		int err;

		if (fd < 0)
			continue;
		err = bpf_map__reuse_fd(map, fd);
		if (err)
			return err;
	}
	return 0;
}

/* After a load: keep (a duplicate of) every map it created that is not kept yet. Best effort: a map
 * not kept is only created again by the next load. */
static void keep_created_maps(struct created_maps *m, const struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		int fd = bpf_map__fd(map);
		char *copy;
		int dup;

		if (fd < 0 || m->count == MAX_MAPS || created_map_fd(m, name) >= 0)
			continue;
		copy = strdup(name);
		dup = copy ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
		if (dup < 0) {
			free(copy);
			continue;
		}
		m->names[m->count] = copy;
		m->fds[m->count++] = dup;
	}
}

struct verdict {
	const char *name;
	char *section;
	char *type;
	bool ok;
	int err;
	char *log;		/* verifier log of the final attempt */
	size_t insn_cnt;
	double load_ms;
	struct text_sink libbpf_log;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct bpf_object *open_object(const struct held_object *held, const struct load_presets *presets)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = held->name,
		    .kconfig = presets->kconfig[0] ? presets->kconfig : NULL);

	return bpf_object__open_mem(held->data, held->size, &opts);
}

/* A map of a type this kernel cannot create fails with a bare EINVAL: say which map and type. */
static void note_missing_map_types(const struct kernel_features *f, const struct bpf_object *obj, struct text_sink *s)
{
	const struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		enum bpf_map_type t = bpf_map__type(map);
		const char *name = libbpf_bpf_map_type_str(t);

		if (!bpf_map__is_internal(map) && name && t < FEATURE_MAX_TYPES && !f->map_types[t])
			sink_append(s, "ebpf-agent: map '%s' is a %s map, and this kernel cannot create %s maps.\n",
				    bpf_map__name(map), name, name);
	}
}

/* One load of one program at @log_level into @log (size @log_size). Returns 0 or -errno. */
static int load_once(const struct held_object *held, const struct load_ctx *c, struct verdict *v,
		     __u32 log_level, char *log, size_t log_size)
{
	char why[512];
	struct bpf_program *prog, *target;
	struct bpf_object *obj;
	double t0;
	int err;

	log[0] = '\0';	/* every early return leaves an empty log, never the buffer's old bytes */
	sink_reset(&v->libbpf_log);
	libbpf_sink = &v->libbpf_log;
	obj = open_object(held, c->presets);
	if (!obj) {
		err = -errno;
		libbpf_sink = NULL;
		return err;
	}
	target = bpf_object__find_program_by_name(obj, v->name);
	if (!target) {
		bpf_object__close(obj);
		libbpf_sink = NULL;
		return -ENOENT;
	}
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, prog == target);
	err = presets_apply(obj, c->presets, target, why, sizeof(why));
	if (err) {
		sink_append(&v->libbpf_log, "ebpf-agent: %s.\n", why);
		bpf_object__close(obj);
		libbpf_sink = NULL;
		return err;
	}
	if (c->maps) {
		err = reuse_created_maps(c->maps, obj);
		if (err) {
			sink_append(&v->libbpf_log, "ebpf-agent: reusing the object's maps failed: %s.\n", strerror(-err));
			bpf_object__close(obj);
			libbpf_sink = NULL;
			return err;
		}
	}
	bpf_program__set_log_buf(target, log, log_size);
	bpf_program__set_log_level(target, log_level);
	t0 = now_ms();
	err = bpf_object__load(obj);
	v->load_ms = now_ms() - t0;
	if (c->maps)
		keep_created_maps(c->maps, obj);
	v->insn_cnt = bpf_program__insn_cnt(target);
	/* A kind the kernel lacks fails with a bare errno and an empty log: say what is missing. */
	if (err && features_program_kind_missing(c->features, target, why, sizeof(why)))
		sink_append(&v->libbpf_log, "ebpf-agent: %s is %s.\n", v->name, why);
	if (err)
		note_missing_map_types(c->features, obj, &v->libbpf_log);
	bpf_object__close(obj);
	libbpf_sink = NULL;
	return err;
}

/* Loads at @log_level, growing the log buffer while the kernel says it is too small. Sets *oom
 * when the agent itself ran out of memory (a kernel's ENOMEM, a map too large, is a verdict). */
static int load_with_log(const struct held_object *held, const struct load_ctx *c, struct verdict *v,
			 __u32 log_level, size_t log_size, bool *oom)
{
	char *log = NULL;
	int err;

	for (;;) {
		char *grown = realloc(log, log_size);

		if (!grown) {
			free(log);
			*oom = true;
			return -ENOMEM;
		}
		log = grown;
		err = load_once(held, c, v, log_level, log, log_size);
		if (err != -ENOSPC || log_size >= LOG_MAX)
			break;
		log_size *= 4;
	}
	if (err == -ENOSPC)
		sink_append(&v->libbpf_log, "ebpf-agent: the verifier log did not fit in %u MiB; "
			    "it is cut and the program's real error is hidden behind ENOSPC.\n", LOG_MAX >> 20);
	free(v->log);
	v->log = log;
	return err;
}

static int verify_program(const struct held_object *held, const struct load_ctx *c, struct verdict *v)
{
	bool oom = false, walk_cut = false;
	int err;

	if (c->walk) {
		err = load_with_log(held, c, v, LOG_WALK | LOG_STATS, PATH_LOG_START, &oom);
		if (err != -ENOSPC || oom)
			goto out;
		/* A walk longer than LOG_MAX would turn an accepted program into an ENOSPC failure:
		 * judge it as without walk, and say why its walk is missing. */
		walk_cut = true;
	}
	err = load_with_log(held, c, v, LOG_STATS, STATS_LOG_START, &oom);
	if (err && !oom)
		err = load_with_log(held, c, v, LOG_PATH | LOG_STATS, PATH_LOG_START, &oom);
	if (walk_cut && err != -ENOSPC)
		sink_append(&v->libbpf_log, "ebpf-agent: the verifier's walk of this program is longer than %u MiB "
			    "of log; it is not shown.\n", LOG_MAX >> 20);
out:
	v->ok = err == 0;
	v->err = err;
	return oom ? -ENOMEM : 0;
}

static bool parse_uint_after(const char *log, const char *key, long long *out)
{
	const char *p = strstr(log, key);
	char *end;

	if (!p)
		return false;
	*out = strtoll(p + strlen(key), &end, 10);
	return end != p + strlen(key);
}

static struct json_object *maybe_int(bool present, long long value)
{
	return present ? json_object_new_int64(value) : NULL;
}

static struct json_object *verdict_json(const struct verdict *v)
{
	struct json_object *o = json_object_new_object();
	const char *log = v->log ? v->log : "";
	long long insns = 0, total = 0, peak = 0, usec = 0;
	bool has_insns, has_total, has_peak, has_usec;
	const char *stats;
	char ms[32];

	/* The statistics line: "processed N insns (limit M) max_states_per_insn K total_states T peak_states P mark_read R" */
	stats = strstr(log, "processed ");
	has_insns = stats && parse_uint_after(stats, "processed ", &insns);
	has_total = stats && parse_uint_after(stats, "total_states ", &total);
	has_peak = stats && parse_uint_after(stats, "peak_states ", &peak);
	has_usec = parse_uint_after(log, "verification time ", &usec);

	json_object_object_add(o, "name", json_object_new_string(v->name));
	json_object_object_add(o, "section", json_object_new_string(v->section));
	json_object_object_add(o, "type", json_object_new_string(v->type));
	json_object_object_add(o, "ok", json_object_new_boolean(v->ok));
	json_object_object_add(o, "errno", json_object_new_int(v->err));
	json_object_object_add(o, "log", json_object_new_string(log));
	json_object_object_add(o, "libbpfLog", json_object_new_string(sink_text(&v->libbpf_log)));
	json_object_object_add(o, "insnCount", json_object_new_int64(v->insn_cnt));
	json_object_object_add(o, "insnsProcessed", maybe_int(has_insns, insns));
	json_object_object_add(o, "totalStates", maybe_int(has_total, total));
	json_object_object_add(o, "peakStates", maybe_int(has_peak, peak));
	json_object_object_add(o, "verificationTimeUs", maybe_int(has_usec, usec));
	snprintf(ms, sizeof(ms), "%.2f", v->load_ms);	/* loads take well under a millisecond */
	json_object_object_add(o, "loadMs", json_object_new_double_s(v->load_ms, ms));
	return o;
}

static void verdicts_free(struct verdict *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].section);
		free(v[i].type);
		free(v[i].log);
		free(v[i].libbpf_log.buf);
	}
	free(v);
}

static bool requested(struct json_object *programs, const char *name)
{
	if (!programs)
		return true;
	for (size_t i = 0; i < json_object_array_length(programs); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(programs, i)), name) == 0)
			return true;
	return false;
}

/* Lists the object's programs (those requested) into *out; names point into @obj. */
static int list_programs(struct bpf_object *obj, struct json_object *programs, struct verdict **out,
			 size_t *count)
{
	struct verdict *v = calloc(MAX_PROGRAMS, sizeof(*v));
	struct bpf_program *prog;
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	bpf_object__for_each_program(prog, obj) {
		const char *type = libbpf_bpf_prog_type_str(bpf_program__type(prog));

		if (!requested(programs, bpf_program__name(prog)))
			continue;
		if (n == MAX_PROGRAMS)
			break;
		v[n].name = bpf_program__name(prog);
		v[n].section = strdup(bpf_program__section_name(prog));
		v[n].type = strdup(type ? type : "unknown");
		n++;
		if (!v[n - 1].section || !v[n - 1].type) {
			verdicts_free(v, n);
			return -ENOMEM;
		}
	}
	*out = v;
	*count = n;
	return 0;
}

static bool parse_params(struct agent *a, struct json_object *params, struct held_object **held,
			 struct json_object **programs, struct rpc_reply *r)
{
	struct json_object *id;

	if (!params || !json_object_is_type(params, json_type_object) ||
	    !json_object_object_get_ex(params, "objectId", &id) || !json_object_is_type(id, json_type_string)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.objectId must be a string returned by compile.");
		return false;
	}
	*programs = NULL;
	if (json_object_object_get_ex(params, "programs", programs)) {
		if (!json_object_is_type(*programs, json_type_array)) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.programs must be an array of program names.");
			return false;
		}
		for (size_t i = 0; i < json_object_array_length(*programs); i++) {
			if (!json_object_is_type(json_object_array_get_idx(*programs, i), json_type_string)) {
				rpc_reply_error(r, RPC_INVALID_PARAMS, "params.programs[%zu] must be a string.", i);
				return false;
			}
		}
	}
	*held = objects_find(&a->objects, json_object_get_string(id));
	if (!*held) {
		rpc_reply_error(r, RPC_UNKNOWN_OBJECT, "Object \"%.64s\" is not held by the agent (never compiled, "
				"released, or evicted after %d newer compiles); compile the file again.",
				json_object_get_string(id), OBJECT_TABLE_SLOTS);
		return false;
	}
	return true;
}

static bool parse_walk(struct json_object *params, bool *walk, struct rpc_reply *r)
{
	struct json_object *value;

	*walk = false;
	if (!json_object_object_get_ex(params, "walk", &value))
		return true;
	if (!json_object_is_type(value, json_type_boolean)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.walk must be true or false.");
		return false;
	}
	*walk = json_object_get_boolean(value);
	return true;
}

/* Every requested name must be a program of the object. */
static bool check_requested(struct json_object *programs, const struct verdict *v, size_t n,
			    const char *object_id, struct rpc_reply *r)
{
	for (size_t i = 0; programs && i < json_object_array_length(programs); i++) {
		const char *want = json_object_get_string(json_object_array_get_idx(programs, i));
		size_t j;

		for (j = 0; j < n && strcmp(v[j].name, want) != 0; j++)
			;
		if (j == n) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.programs[%zu]: object %s has no program "
					"named \"%.200s\".", i, object_id, want);
			return false;
		}
	}
	return true;
}

static void open_failed(const struct text_sink *log, int err, struct rpc_reply *r)
{
	rpc_reply_error(r, RPC_OBJECT_OPEN_FAILED, "libbpf cannot open the compiled object (%s); see data.libbpfLog.",
			strerror(-err));
	r->error_data = json_object_new_object();
	json_object_object_add(r->error_data, "libbpfLog", json_object_new_string(sink_text(log)));
}

struct json_object *program_verdict_json(const struct held_object *held, const struct bpf_program *prog,
					 const struct load_ctx *c)
{
	const char *type = libbpf_bpf_prog_type_str(bpf_program__type(prog));
	struct verdict v = { .name = bpf_program__name(prog) };
	struct json_object *o = NULL;

	v.section = strdup(bpf_program__section_name(prog));
	v.type = strdup(type ? type : "unknown");
	if (v.section && v.type && !verify_program(held, c, &v))
		o = verdict_json(&v);
	free(v.section);
	free(v.type);
	free(v.log);
	free(v.libbpf_log.buf);
	return o;
}

void method_load(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct text_sink open_log = { 0 };
	struct json_object *programs, *list;
	struct load_presets presets;
	struct created_maps maps = { 0 };
	struct load_ctx ctx = { .features = &a->features, .presets = &presets, .maps = &maps };
	struct held_object *held;
	struct bpf_object *obj;
	struct verdict *v = NULL;
	size_t n = 0;
	int err;

	if (!parse_params(a, params, &held, &programs, r) || !parse_walk(params, &ctx.walk, r) ||
	    !presets_parse(params, &presets, r))
		return;
	libbpf_sink = &open_log;
	obj = open_object(held, &presets);
	err = obj ? 0 : -errno;
	libbpf_sink = NULL;
	if (!obj) {
		open_failed(&open_log, err, r);
		goto out;
	}
	/* Names in @v point into @obj, which stays open until the verdicts are written. */
	err = list_programs(obj, programs, &v, &n);
	if (err) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		goto out_close;
	}
	if (!check_requested(programs, v, n, held->id, r) || !presets_check(obj, &presets, held->id, r))
		goto out_close;
	for (size_t i = 0; i < n; i++) {
		if (verify_program(held, &ctx, &v[i])) {
			rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
			goto out_close;
		}
		if (v[i].err == -EPERM && geteuid() != 0) {
			rpc_reply_error(r, RPC_PERMISSION_DENIED, "Loading BPF programs needs root (or CAP_BPF with "
					"CAP_PERFMON); the agent runs as uid %u. Start it with sudo.", geteuid());
			goto out_close;
		}
	}
	list = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, verdict_json(&v[i]));
	r->result = json_object_new_object();
	json_object_object_add(r->result, "programs", list);
out_close:
	verdicts_free(v, n);
	bpf_object__close(obj);
out:
	created_maps_free(&maps);
	free(open_log.buf);
}
