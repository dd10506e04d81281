// SPDX-License-Identifier: MIT
/* Kernel feature probes for hello: real loads, map creates and files, never the version number. */
#include <errno.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "features.h"
#include "vmlinux_cache.h"

#define TRACEFS_DEFAULT "/sys/kernel/tracing"

static bool mounted_at(const char *fstype, char *dir, size_t size, const char *preferred)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	bool found = false;

	if (!f)
		return false;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, fstype) != 0)
			continue;
		if (!found || strcmp(m->mnt_dir, preferred) == 0)
			snprintf(dir, size, "%s", m->mnt_dir);
		found = true;
	}
	endmntent(f);
	return found;
}

static void find_tracefs(struct kernel_features *f)
{
	if (mounted_at("tracefs", f->tracefs, sizeof(f->tracefs), TRACEFS_DEFAULT))
		return;
	f->tracefs[0] = '\0';
	if (geteuid() != 0)
		return;
	/* Every tracing tool expects tracefs here; mounting it changes nothing else. */
	if (mount("tracefs", TRACEFS_DEFAULT, "tracefs", 0, NULL) == 0) {
		fprintf(stderr, "ebpf-agent: mounted tracefs at %s\n", TRACEFS_DEFAULT);
		snprintf(f->tracefs, sizeof(f->tracefs), "%s", TRACEFS_DEFAULT);
	} else {
		fprintf(stderr, "ebpf-agent: tracefs is not mounted and mounting it failed: %s\n", strerror(errno));
	}
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool tracefs_has(const struct kernel_features *f, const char *file)
{
	char path[PATH_MAX];

	if (!f->tracefs[0])
		return false;
	snprintf(path, sizeof(path), "%s/%s", f->tracefs, file);
	return path_exists(path);
}

/* The tcx probe attaches nothing: link_create for BPF_TCX_INGRESS on ifindex 0 fails with ENODEV
 * when the kernel knows tcx (it looked up the device), with EINVAL when it does not know the
 * attach type. It proves the kernel has tcx links for sched_cls, not that a given device works. */
static bool probe_tcx(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int prog, link, err;

	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, NULL, "GPL", insns, 2, NULL);
	if (prog < 0)
		return false;
	link = bpf_link_create(prog, 0, ATTACH_TCX_INGRESS, NULL);
	err = link < 0 ? errno : 0;
	if (link >= 0)
		close(link);
	close(prog);
	return err == ENODEV;
}

/* The BTF id of bpf_iter_task, which a task iterator attaches to. Finding it parses the whole vmlinux
 * BTF (65-84 ms here, a fifth of an agent's start), so the answer is kept per kernel BTF (its hash,
 * as hello's btfId) in the private cache dir. A cached id is only a hint: when a load with it fails,
 * probe_task_iterator looks the id up again. */
static int iter_task_btf_id(const char *cache_dir, bool use_cached)
{
	char btf_id[BTF_ID_LEN + 1], dir[PATH_MAX], path[PATH_MAX + 64], tmp[PATH_MAX + 80], buf[16] = "";
	bool cacheable = false;
	struct btf *vmlinux;
	FILE *f;
	int id;

	if (cache_dir && !vmlinux_btf_id(btf_id) &&
	    snprintf(dir, sizeof(dir), "%s/features", cache_dir) < (int)sizeof(dir) &&
	    !cache_dir_ensure_private(dir, 0700)) {
		snprintf(path, sizeof(path), "%s/%s-bpf_iter_task", dir, btf_id);
		cacheable = true;
		f = use_cached ? fopen(path, "r") : NULL;
		if (f) {
			id = fgets(buf, sizeof(buf), f) ? atoi(buf) : 0;
			fclose(f);
			if (id > 0)
				return id;
		}
	}
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -errno;
	id = btf__find_by_name_kind(vmlinux, "bpf_iter_task", BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (id <= 0 || !cacheable)
		return id;
	/* Written under a temporary name and renamed: a concurrent agent reads all of it or nothing. */
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", id) < 0 || fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "ebpf-agent: cannot cache the task iterator's BTF id in %s: %s\n", path, strerror(errno));
		if (f)
			unlink(tmp);
	}
	return id;
}

/* libbpf probes BPF_PROG_TYPE_TRACING with an fentry program, which a kernel without BPF trampolines
 * refuses although it loads other tracing programs: iterators and tp_btf need no trampoline. A task
 * iterator that loads proves the type loads there (tracingPrograms still says whether fentry does). */
static bool iterator_loads(int btf_id)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_ITER, .attach_btf_id = btf_id);
	int prog;

	if (btf_id <= 0)
		return false;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (prog < 0)
		return false;
	close(prog);
	return true;
}

static bool probe_task_iterator(const char *cache_dir)
{
	int cached = iter_task_btf_id(cache_dir, true), found;

	if (iterator_loads(cached))
		return true;
	/* A damaged cache entry must not hide the feature: the id is looked up again (and rewritten). */
	found = iter_task_btf_id(cache_dir, false);
	return found != cached && iterator_loads(found);
}

static bool lsm_has_bpf(void)
{
	char buf[512] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "r");
	bool yes = false;

	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"))
			yes |= strcmp(tok, "bpf") == 0;
	}
	fclose(f);
	return yes;
}

void features_probe(struct kernel_features *f, const char *cache_dir)
{
	memset(f, 0, sizeof(*f));
	find_tracefs(f);
	if (!mounted_at("bpf", f->bpffs, sizeof(f->bpffs), "/sys/fs/bpf"))
		f->bpffs[0] = '\0';
	/* The kprobe/uprobe PMUs exist exactly when CONFIG_KPROBE_EVENTS/CONFIG_UPROBE_EVENTS are set;
	 * libbpf attaches through them (and falls back to tracefs' *_events, same config). */
	f->kprobe_events = path_exists("/sys/bus/event_source/devices/kprobe/type") ||
			   tracefs_has(f, "kprobe_events");
	f->uprobe_events = path_exists("/sys/bus/event_source/devices/uprobe/type") ||
			   tracefs_has(f, "uprobe_events");
	for (int t = 1; t < FEATURE_MAX_TYPES && libbpf_bpf_prog_type_str(t); t++)
		f->prog_types[t] = libbpf_probe_bpf_prog_type(t, NULL) == 1;
	for (int t = 1; t < FEATURE_MAX_TYPES && libbpf_bpf_map_type_str(t); t++)
		f->map_types[t] = libbpf_probe_bpf_map_type(t, NULL) == 1;
	f->tracing_programs = f->prog_types[BPF_PROG_TYPE_TRACING];
	if (!f->prog_types[BPF_PROG_TYPE_TRACING])
		f->prog_types[BPF_PROG_TYPE_TRACING] = probe_task_iterator(cache_dir);
	f->lsm = f->prog_types[BPF_PROG_TYPE_LSM] && lsm_has_bpf();
	f->ringbuf = f->map_types[BPF_MAP_TYPE_RINGBUF];
	f->tcx = probe_tcx();
	f->bpf_cookie = f->prog_types[BPF_PROG_TYPE_KPROBE] &&
			helper_probe(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie) != HELPER_DENIED;
}

static struct json_object *string_or_null(const char *s)
{
	return s[0] ? json_object_new_string(s) : NULL;
}

struct json_object *features_json(const struct kernel_features *f)
{
	struct json_object *o = json_object_new_object(), *progs = json_object_new_array(),
			   *maps = json_object_new_array();

	for (int t = 1; t < FEATURE_MAX_TYPES; t++) {
		if (f->prog_types[t])
			json_object_array_add(progs, json_object_new_string(libbpf_bpf_prog_type_str(t)));
		if (f->map_types[t])
			json_object_array_add(maps, json_object_new_string(libbpf_bpf_map_type_str(t)));
	}
	json_object_object_add(o, "kprobeEvents", json_object_new_boolean(f->kprobe_events));
	json_object_object_add(o, "uprobeEvents", json_object_new_boolean(f->uprobe_events));
	json_object_object_add(o, "tracingPrograms", json_object_new_boolean(f->tracing_programs));
	json_object_object_add(o, "lsm", json_object_new_boolean(f->lsm));
	json_object_object_add(o, "ringbuf", json_object_new_boolean(f->ringbuf));
	json_object_object_add(o, "tcx", json_object_new_boolean(f->tcx));
	json_object_object_add(o, "bpfCookie", json_object_new_boolean(f->bpf_cookie));
	json_object_object_add(o, "tracefs", string_or_null(f->tracefs));
	json_object_object_add(o, "bpffs", string_or_null(f->bpffs));
	json_object_object_add(o, "programTypes", progs);
	json_object_object_add(o, "mapTypes", maps);
	return o;
}

/* Writes why the kernel cannot load @prog at all into @why when its kind is one hello.features says
 * this kernel lacks; false when the kind is there (the verifier's verdict then says what is wrong).
 * A missing trampoline or BPF LSM shows only as a bare EPERM or ENOTSUPP with an empty log. */
bool features_program_kind_missing(const struct kernel_features *f, const struct bpf_program *prog, char *why, size_t size)
{
	enum bpf_prog_type type = bpf_program__type(prog);
	enum bpf_attach_type attach = bpf_program__expected_attach_type(prog);
	const char *name = libbpf_bpf_prog_type_str(type);

	if (type == BPF_PROG_TYPE_LSM && !f->lsm)
		snprintf(why, size, "a BPF LSM program, and this kernel does not have BPF LSM enabled (that needs "
			 "CONFIG_BPF_LSM=y and \"bpf\" in the lsm= boot parameter; see /sys/kernel/security/lsm); "
			 "use a tracepoint, raw_tracepoint or tp_btf program to observe instead");
	else if (type == BPF_PROG_TYPE_TRACING && !f->tracing_programs &&
		 (attach == BPF_TRACE_FENTRY || attach == BPF_TRACE_FEXIT || attach == BPF_MODIFY_RETURN))
		snprintf(why, size, "an fentry/fexit/fmod_ret program, and this kernel cannot attach BPF trampolines to "
			 "kernel functions; use %s instead",
			 f->kprobe_events ? "a kprobe/kretprobe" : "a tracepoint, raw_tracepoint or tp_btf program");
	else if (type > 0 && type < FEATURE_MAX_TYPES && name && !f->prog_types[type])
		snprintf(why, size, "a %s program, and this kernel does not load %s programs at all", name, name);
	else
		return false;
	return true;
}
