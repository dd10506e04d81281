// SPDX-License-Identifier: MIT
/* probe.helpers: which helper each program type may call, and which helpers are GPL-only.
 *
 * libbpf_probe_bpf_helper() cannot be trusted on new kernels: it only recognises "invalid func"
 * and "unknown func" as a refusal, while Linux 6.x says "program of this type cannot use helper",
 * so it (like bpftool's probe) reports every helper for every type. Each (type, helper) is
 * instead loaded here with a non-GPL license and the verifier's message decides: refused, allowed,
 * or GPL-only (the GPL check comes right after the per-type check). The answer is cached per
 * kernel (btfId) because it costs a few thousand loads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "vmlinux_cache.h"
#include "workdir.h"

static const struct helper_name {
	int id;
	const char *name;
} helper_names[] = {
#include "helper_table.h"
};

#define PROBE_LOG_SIZE 4096
#define CACHE_VERSION "1"

static enum bpf_attach_type probe_attach_type(enum bpf_prog_type type)
{
	switch (type) {
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
		return BPF_CGROUP_INET4_CONNECT;
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
		return BPF_CGROUP_GETSOCKOPT;
	case BPF_PROG_TYPE_SK_LOOKUP:
		return BPF_SK_LOOKUP;
	default:
		return 0;
	}
}

enum helper_verdict helper_probe(enum bpf_prog_type type, int helper_id)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = helper_id },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[PROBE_LOG_SIZE];
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log), .log_level = 1,
		    .expected_attach_type = probe_attach_type(type),
		    .prog_flags = type == BPF_PROG_TYPE_SYSCALL ? BPF_F_SLEEPABLE : 0);
	int fd;

	log[0] = '\0';
	fd = bpf_prog_load(type, NULL, "Proprietary", insns, 3, &opts);
	if (fd >= 0) {
		close(fd);
		return HELPER_ALLOWED;
	}
	if (strstr(log, "cannot use helper") || strstr(log, "unknown func") || strstr(log, "invalid func"))
		return HELPER_DENIED;
	if (strstr(log, "cannot call GPL-restricted function"))
		return HELPER_ALLOWED_GPL;
	if (!strstr(log, "(85) call "))
		return HELPER_PROBE_FAILED;	/* refused before the verifier reached the call */
	return HELPER_ALLOWED;			/* the call passed; an argument check failed after it */
}

/* Types whose programs need a BTF attach target to load at all: a bare probe says nothing. */
static bool probe_skipped(enum bpf_prog_type type)
{
	return type == BPF_PROG_TYPE_TRACING || type == BPF_PROG_TYPE_EXT || type == BPF_PROG_TYPE_LSM ||
	       type == BPF_PROG_TYPE_STRUCT_OPS;
}

static struct json_object *probe_all(const struct kernel_features *f)
{
	size_t n = sizeof(helper_names) / sizeof(helper_names[0]);
	struct json_object *by_type = json_object_new_object(), *gpl = json_object_new_array(), *res;
	bool *is_gpl = calloc(n, sizeof(*is_gpl));

	for (int t = 1; is_gpl && t < FEATURE_MAX_TYPES; t++) {
		struct json_object *list;

		if (!f->prog_types[t] || probe_skipped(t))
			continue;
		list = json_object_new_array();
		for (size_t i = 0; list && i < n; i++) {
			enum helper_verdict v = helper_probe(t, helper_names[i].id);

			if (v == HELPER_PROBE_FAILED) {	/* this type cannot be probed this way */
				fprintf(stderr, "ebpf-agent: helper probe of %s programs does not load; skipped\n",
					libbpf_bpf_prog_type_str(t));
				json_object_put(list);
				list = NULL;
				break;
			}
			if (v == HELPER_ALLOWED || v == HELPER_ALLOWED_GPL)
				json_object_array_add(list, json_object_new_string(helper_names[i].name));
			is_gpl[i] |= v == HELPER_ALLOWED_GPL;
		}
		if (list)
			json_object_object_add(by_type, libbpf_bpf_prog_type_str(t), list);
	}
	for (size_t i = 0; is_gpl && i < n; i++)
		if (is_gpl[i])
			json_object_array_add(gpl, json_object_new_string(helper_names[i].name));
	free(is_gpl);
	res = json_object_new_object();
	json_object_object_add(res, "helpersByProgramType", by_type);
	json_object_object_add(res, "gplOnly", gpl);
	return res;
}

static int cache_path(const char *cache_dir, char *path, size_t size)
{
	char btf_id[BTF_ID_LEN + 1], dir[PATH_MAX];
	int err = vmlinux_btf_id(btf_id);

	if (err)
		return err;
	if (snprintf(dir, sizeof(dir), "%s/helpers", cache_dir) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	/* Private: the probe's answer is trusted, and its temporary file is written by name. */
	err = cache_dir_ensure_private(dir, 0700);
	if (err)
		return err;
	return snprintf(path, size, "%s/%s-v" CACHE_VERSION ".json", dir, btf_id) >= (int)size ? -ENAMETOOLONG : 0;
}

static struct json_object *read_cached(const char *path)
{
	struct json_tokener *tok;
	struct json_object *res;
	void *data;
	size_t len;

	if (read_whole_file(path, 16u << 20, &data, &len))
		return NULL;
	tok = json_tokener_new();
	res = tok ? json_tokener_parse_ex(tok, data, (int)len) : NULL;	/* the file has no NUL */
	if (tok)
		json_tokener_free(tok);
	free(data);
	if (res && !json_object_object_get_ex(res, "helpersByProgramType", NULL)) {
		json_object_put(res);
		return NULL;
	}
	return res;
}

static void write_cache(const char *path, struct json_object *res)
{
	char tmp[PATH_MAX + 16];

	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	if (json_object_to_file_ext(tmp, res, JSON_C_TO_STRING_PLAIN) || rename(tmp, path)) {
		fprintf(stderr, "ebpf-agent: cannot cache the helper probe in %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
}

void method_probe_helpers(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	char path[PATH_MAX];
	struct timespec t0, t1;
	bool cacheable;

	(void)params;
	cacheable = cache_path(a->cache_dir, path, sizeof(path)) == 0;
	if (cacheable && (r->result = read_cached(path)))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->result = probe_all(&a->features);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "ebpf-agent: probed %zu helpers in %.0f ms\n", sizeof(helper_names) / sizeof(helper_names[0]),
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (cacheable)
		write_cache(path, r->result);
}
