// SPDX-License-Identifier: MIT
/* compile: validate the client's files, write them into a private work dir, run clang there
 * (with the kernel's vmlinux.h, precompiled when the main file includes it), keep the object. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"
#include "base64.h"
#include "object_strip.h"
#include "params.h"
#include "toolchain.h"
#include "vmlinux_cache.h"
#include "workdir.h"

#define MAX_FILES AGENT_COMPILE_MAX_FILES
#define MAX_TOTAL_BYTES ((size_t)AGENT_COMPILE_MAX_BYTES)
#define MAX_PATH_BYTES ((size_t)AGENT_COMPILE_MAX_PATH_BYTES)
#define MAX_DEFINES AGENT_COMPILE_MAX_DEFINES
#define MAX_DEFINE_BYTES ((size_t)AGENT_COMPILE_MAX_DEFINE_BYTES)
#define MAX_INCLUDE_DIRS AGENT_COMPILE_MAX_INCLUDE_DIRS
#define CLANG_OUTPUT_MAX (4u << 20)
#define OBJECT_MAX (64u << 20)
#define MAX_ARGS (24 + 2 * MAX_DEFINES + 2 * MAX_INCLUDE_DIRS)

struct source_file {
	const char *path;
	const char *content;
	size_t len;
};

struct compile_job {
	struct source_file files[MAX_FILES];
	size_t nr_files;
	const char *main;
	size_t main_index;
	const char *defines[MAX_DEFINES];
	size_t nr_defines;
	const char *include_dirs[MAX_INCLUDE_DIRS];
	size_t nr_include_dirs;	/* 0: the default -I. */
	bool has_include_dirs;
	const char *btf_id;	/* another kernel's BTF (btf.put); NULL: this host's kernel */
	const char *arch;	/* that kernel's uname machine; NULL: this host's */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A string member without embedded NULs, or NULL. */
static const char *get_string(struct json_object *obj, const char *key, size_t *len)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	*len = json_object_get_string_len(v);
	return strlen(s) == *len ? s : NULL;
}

/* Why @path is not an acceptable relative path, or NULL when it is. */
static const char *path_problem(const char *path, size_t len)
{
	const char *seg, *end;

	if (len == 0)
		return "is empty";
	if (len > MAX_PATH_BYTES)
		return "is longer than 4096 bytes";
	if (path[0] == '/')
		return "is absolute; paths must be relative to the work directory";
	/* The main file is passed to clang as an argument of its own: "-fplugin=x.so" would be read
	 * as an option, loading a client's file into clang (found by the fuzz seam's check). */
	if (path[0] == '-')
		return "starts with '-', which clang would read as an option";
	if (strchr(path, '\\'))
		return "contains '\\'; use '/' as the separator";
	for (seg = path; ; seg = end + 1) {
		end = strchrnul(seg, '/');
		if (end == seg)
			return "has an empty segment ('//' or a trailing '/')";
		if (end - seg == 2 && seg[0] == '.' && seg[1] == '.')
			return "contains a '..' segment";
		if (end - seg == 1 && seg[0] == '.')
			return "contains a '.' segment";
		if (!*end)
			return NULL;
	}
}

static bool is_ident_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* NAME or NAME=VALUE, NAME a C identifier, VALUE printable without whitespace. */
static bool define_ok(const char *d, size_t len)
{
	size_t i;

	if (len == 0 || len > MAX_DEFINE_BYTES || !is_ident_start(d[0]))
		return false;
	for (i = 1; i < len && d[i] != '='; i++)
		if (!is_ident_char(d[i]))
			return false;
	for (; i < len; i++)
		if ((unsigned char)d[i] <= ' ' || d[i] == 0x7f)
			return false;
	return true;
}

static bool parse_files(struct json_object *params, struct compile_job *job, struct rpc_reply *r)
{
	struct json_object *files;
	size_t total = 0;

	if (!json_object_object_get_ex(params, "files", &files) ||
	    !json_object_is_type(files, json_type_array)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files must be an array of {path, content}.");
		return false;
	}
	job->nr_files = json_object_array_length(files);
	if (job->nr_files == 0 || job->nr_files > MAX_FILES) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files must hold 1 to %d files, not %zu.",
				MAX_FILES, job->nr_files);
		return false;
	}
	for (size_t i = 0; i < job->nr_files; i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		struct source_file *sf = &job->files[i];
		size_t path_len;
		const char *why;

		if (!json_object_is_type(f, json_type_object)) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files[%zu] must be an object {path, content}.", i);
			return false;
		}
		sf->path = get_string(f, "path", &path_len);
		if (!sf->path) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files[%zu].path must be a string without NUL characters.", i);
			return false;
		}
		why = path_problem(sf->path, path_len);
		if (why) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files[%zu].path \"%.200s\" %s.", i, sf->path, why);
			return false;
		}
		sf->content = get_string(f, "content", &sf->len);
		if (!sf->content) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files[%zu].content must be a string without NUL characters.", i);
			return false;
		}
		total += sf->len;
		if (total > MAX_TOTAL_BYTES) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files hold more than 16 MiB of content in all.");
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(job->files[j].path, sf->path) == 0) {
				rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files[%zu].path \"%.200s\" appears twice.", i, sf->path);
				return false;
			}
		}
	}
	return true;
}

static bool parse_defines(struct json_object *params, struct compile_job *job, struct rpc_reply *r)
{
	struct json_object *defines;

	if (!json_object_object_get_ex(params, "defines", &defines))
		return true;
	if (!json_object_is_type(defines, json_type_array) ||
	    json_object_array_length(defines) > MAX_DEFINES) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.defines must be an array of at most %d strings.", MAX_DEFINES);
		return false;
	}
	job->nr_defines = json_object_array_length(defines);
	for (size_t i = 0; i < job->nr_defines; i++) {
		struct json_object *d = json_object_array_get_idx(defines, i);
		const char *s = json_object_get_string(d);

		if (!json_object_is_type(d, json_type_string) ||
		    !define_ok(s, json_object_get_string_len(d)) ||
		    strlen(s) != (size_t)json_object_get_string_len(d)) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.defines[%zu] must be \"NAME\" or \"NAME=VALUE\" "
					"with NAME a C identifier and no whitespace in VALUE.", i);
			return false;
		}
		job->defines[i] = s;
	}
	return true;
}

/* includeDirs: "." or relative paths under the rules of file paths, no duplicates; each becomes -I. */
static bool parse_include_dirs(struct json_object *params, struct compile_job *job, struct rpc_reply *r)
{
	struct json_object *dirs;

	if (!json_object_object_get_ex(params, "includeDirs", &dirs))
		return true;
	if (!json_object_is_type(dirs, json_type_array) ||
	    json_object_array_length(dirs) > MAX_INCLUDE_DIRS) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.includeDirs must be an array of at most %d strings.",
				MAX_INCLUDE_DIRS);
		return false;
	}
	job->has_include_dirs = true;
	job->nr_include_dirs = json_object_array_length(dirs);
	for (size_t i = 0; i < job->nr_include_dirs; i++) {
		struct json_object *d = json_object_array_get_idx(dirs, i);
		const char *s = json_object_get_string(d);
		size_t len = json_object_get_string_len(d);
		const char *why;

		if (!json_object_is_type(d, json_type_string) || strlen(s) != len) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.includeDirs[%zu] must be a string without NUL characters.", i);
			return false;
		}
		why = strcmp(s, ".") == 0 ? NULL : path_problem(s, len);
		if (why) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.includeDirs[%zu] \"%.200s\" %s.", i, s, why);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(job->include_dirs[j], s) == 0) {
				rpc_reply_error(r, RPC_INVALID_PARAMS, "params.includeDirs[%zu] \"%.200s\" appears twice.", i, s);
				return false;
			}
		}
		job->include_dirs[i] = s;
	}
	return true;
}

static bool parse_params(struct json_object *params, struct compile_job *job, struct rpc_reply *r)
{
	size_t len;

	if (!params || !json_object_is_type(params, json_type_object)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params must be an object {files, main, defines?}.");
		return false;
	}
	if (!parse_files(params, job, r) || !parse_defines(params, job, r) || !parse_include_dirs(params, job, r))
		return false;
	if (!param_string(params, "params", "btfId", false, &job->btf_id, r) ||
	    !param_string(params, "params", "arch", false, &job->arch, r))
		return false;
	if (job->btf_id && !btf_id_valid(job->btf_id)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.btfId must be 16 lowercase hex digits, as hello's btfId.");
		return false;
	}
	if (job->arch && (!param_name_ok(job->arch, "-", 32) || !target_arch_define(job->arch))) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.arch \"%.32s\" is not a machine libbpf's bpf_tracing.h knows "
				"(give `uname -m` of the target, e.g. x86_64 or aarch64).", job->arch);
		return false;
	}
	job->main = get_string(params, "main", &len);
	if (!job->main) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.main must be a string naming one of params.files.");
		return false;
	}
	for (job->main_index = 0; job->main_index < job->nr_files; job->main_index++)
		if (strcmp(job->files[job->main_index].path, job->main) == 0)
			return true;
	rpc_reply_error(r, RPC_INVALID_PARAMS, "params.main \"%.200s\" is not one of the paths in params.files.", job->main);
	return false;
}

/* Whether @src has an #include "vmlinux.h" (or <vmlinux.h>) line; a textual check only. */
static bool includes_vmlinux_h(const char *src, size_t len)
{
	const char *p = src, *end = src + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', end - p);
		const char *q = p;

		if (!eol)
			eol = end;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q < eol && *q == '#') {
			for (q++; q < eol && (*q == ' ' || *q == '\t'); q++)
				;
			if (eol - q > 7 && strncmp(q, "include", 7) == 0) {
				for (q += 7; q < eol && (*q == ' ' || *q == '\t'); q++)
					;
				if (eol - q >= 11 && (strncmp(q, "\"vmlinux.h\"", 11) == 0 ||
						      strncmp(q, "<vmlinux.h>", 11) == 0))
					return true;
			}
		}
		p = eol + 1;
	}
	return false;
}

static bool ships_own_vmlinux_h(const struct compile_job *job)
{
	for (size_t i = 0; i < job->nr_files; i++) {
		const char *slash = strrchr(job->files[i].path, '/');

		if (strcmp(slash ? slash + 1 : job->files[i].path, "vmlinux.h") == 0)
			return true;
	}
	return false;
}

/* "foo" for "dir/foo.bpf.c": libbpf's object name (it prefixes internal map names). */
static char *object_name(const char *main)
{
	const char *base = strrchr(main, '/');
	size_t len;

	base = base ? base + 1 : main;
	len = strcspn(base, ".");
	return strndup(base, len ? len : strlen(base));
}

static int on_stdin(void *ctx)
{
	struct agent *a = ctx;

	return agent_pump_input(a) < 0 || a->input_closed;
}

static bool should_abort(void *ctx)
{
	return agent_should_abort(ctx);
}

static int write_sources(const char *src_dir, const struct compile_job *job, struct rpc_reply *r)
{
	for (size_t i = 0; i < job->nr_files; i++) {
		const struct source_file *f = &job->files[i];
		int err = work_dir_write(src_dir, f->path, f->content, f->len);

		if (err == -EEXIST || err == -ENOTDIR || err == -EISDIR) {
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.files[%zu].path \"%.200s\" clashes with another "
					"file's path (a file and a directory of the same name).", i, f->path);
			return err;
		}
		if (err) {
			rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot write %s into the work directory %s: %s.",
					f->path, src_dir, strerror(-err));
			return err;
		}
	}
	return 0;
}

struct compile_env {
	const char *clang;
	const char *arch_define;
	const char *multiarch;
	char *vmlinux_dir;	/* NULL without BTF */
	const char *vmlinux_status;
	char *pch;		/* NULL when not used */
};

static void compile_env_free(struct compile_env *env)
{
	free(env->vmlinux_dir);
	free(env->pch);
}

/* Finds clang, makes vmlinux.h (and its PCH when @job's main includes it) ready. */
static int prepare_env(struct agent *a, const struct compile_job *job, const struct proc_watch *watch,
		       struct compile_env *env, struct rpc_reply *r)
{
	const struct source_file *main = &job->files[job->main_index];
	bool generated;
	char *log = NULL;
	double t0;
	int err;

	env->clang = clang_path();
	if (!env->clang) {
		rpc_reply_error(r, RPC_CLANG_MISSING, "clang is not installed on this host (not found in PATH); "
				"install clang on it (e.g. `apt install clang` or `dnf install clang`) and try again.");
		return -ENOENT;
	}
	env->arch_define = target_arch_define(job->arch);
	if (!env->arch_define) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "This host's architecture is not one libbpf's bpf_tracing.h knows "
				"(no __TARGET_ARCH_* for it); BPF programs cannot be compiled for it here.");
		return -ENOTSUP;
	}
	env->multiarch = multiarch_include_dir(env->clang);
	t0 = now_ms();
	err = vmlinux_header_ensure(a->cache_dir, job->btf_id, &env->vmlinux_dir, &generated);
	if (err == -ENODATA) {
		rpc_reply_error(r, RPC_UNKNOWN_BTF, "This agent was never given the BTF %s: send it with btf.put, then "
				"compile again.", job->btf_id);
		return err;
	}
	if (err == -ENOENT && !job->btf_id) {
		env->vmlinux_status = "unavailable";
		return 0;
	}
	if (err) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot provide vmlinux.h in the cache directory %s: %s; "
				"fix its permissions or start the agent with --cache-dir DIR.", a->cache_dir, strerror(-err));
		return err;
	}
	env->vmlinux_status = generated ? "generated" : "cached";
	/* Warms up beside the PCH check (or build), so even a first compile may find it ready. */
	warm_clang_prepare(&a->warm_clang, env->clang, a->cache_dir);
	if (generated)
		fprintf(stderr, "ebpf-agent: generated %s/vmlinux.h in %.0f ms\n", env->vmlinux_dir, now_ms() - t0);
	if (!includes_vmlinux_h(main->content, main->len) || ships_own_vmlinux_h(job))
		return 0;
	t0 = now_ms();
	err = vmlinux_pch_ensure(env->vmlinux_dir, env->clang, env->arch_define, watch, &env->pch, &log);
	if (err == -ECANCELED) {
		rpc_reply_error(r, RPC_REQUEST_CANCELLED, "The compile request was cancelled.");
		return err;
	}
	if (err) {
		/* Compiling without the PCH is slower but correct: go on. */
		fprintf(stderr, "ebpf-agent: cannot precompile vmlinux.h (%s)%s%s\n", strerror(-err),
			log ? ": " : "", log ? log : "");
		env->pch = NULL;
	} else if (now_ms() - t0 > 50) {
		fprintf(stderr, "ebpf-agent: built %s in %.0f ms\n", env->pch, now_ms() - t0);
	}
	free(log);
	return 0;
}

static size_t build_argv(const char **argv, const struct compile_job *job, const struct compile_env *env,
			 const char *obj_path)
{
	size_t n = 0;

	argv[n++] = env->clang;
	argv[n++] = "-g";
	argv[n++] = "-O2";
	argv[n++] = "-target";
	argv[n++] = "bpf";
	argv[n++] = env->arch_define;
	if (!job->has_include_dirs)
		argv[n++] = "-I.";
	for (size_t i = 0; i < job->nr_include_dirs; i++) {
		argv[n++] = "-I";
		argv[n++] = job->include_dirs[i];
	}
	if (env->vmlinux_dir) {
		argv[n++] = "-I";
		argv[n++] = env->vmlinux_dir;
	}
	if (env->multiarch) {
		argv[n++] = "-idirafter";
		argv[n++] = env->multiarch;
	}
	if (env->pch) {
		argv[n++] = "-include-pch";
		argv[n++] = env->pch;
	}
	argv[n++] = "-fno-color-diagnostics";
	for (size_t i = 0; i < job->nr_defines; i++) {
		argv[n++] = "-D";
		argv[n++] = job->defines[i];
	}
	argv[n++] = "-c";
	argv[n++] = job->main;
	argv[n++] = "-o";
	argv[n++] = obj_path;
	argv[n] = NULL;
	return n;
}

static struct json_object *compile_result(const struct proc_result *res, const struct held_object *obj,
					  const char *object_b64, double duration_ms, bool warm,
					  const char *vmlinux_status)
{
	struct json_object *result = json_object_new_object();
	char *stderr_text = NULL;

	if (res->output_truncated &&
	    asprintf(&stderr_text, "%s\n[ebpf-agent: clang's output was cut at 4 MiB]\n", res->output) < 0)
		stderr_text = NULL;
	json_object_object_add(result, "ok", json_object_new_boolean(obj != NULL));
	json_object_object_add(result, "objectId", obj ? json_object_new_string(obj->id) : NULL);
	json_object_object_add(result, "object", object_b64 ? json_object_new_string(object_b64) : NULL);
	json_object_object_add(result, "stderr", json_object_new_string(stderr_text ? stderr_text : res->output));
	json_object_object_add(result, "exitCode", json_object_new_int(res->exit_code));
	json_object_object_add(result, "durationMs", json_object_new_int64((int64_t)(duration_ms + 0.5)));
	json_object_object_add(result, "warmCompiler", json_object_new_boolean(warm));
	json_object_object_add(result, "vmlinuxH", json_object_new_string(vmlinux_status));
	free(stderr_text);
	return result;
}

/* What the client gets back: the object without DWARF when it can be stripped, else as is. */
static char *client_copy_base64(const void *data, size_t size)
{
	void *stripped;
	size_t stripped_size;
	char *b64;

	if (object_strip_dwarf(data, size, &stripped, &stripped_size))
		return base64_encode(data, size);
	b64 = base64_encode(stripped, stripped_size);
	free(stripped);
	return b64;
}

/* Runs clang in @work_dir/src; on success hands the object (and @work_dir) to the table. */
static void run_clang(struct agent *a, const struct compile_job *job, const struct compile_env *env,
		      const struct proc_watch *watch, char **work_dir, struct rpc_reply *r)
{
	const char *argv[MAX_ARGS];
	char *src_dir = NULL, *obj_path = NULL, *object_b64 = NULL;
	struct held_object *obj = NULL;
	struct proc_result res;
	void *data = NULL;
	size_t size = 0;
	double t0, duration;
	bool warm;
	int err;

	if (asprintf(&src_dir, "%s/src", *work_dir) < 0)
		src_dir = NULL;
	if (asprintf(&obj_path, "%s/object.o", *work_dir) < 0)
		obj_path = NULL;
	if (!src_dir || !obj_path) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		goto out;
	}
	if (mkdir(src_dir, 0700)) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot create %s: %s.", src_dir, strerror(errno));
		goto out;
	}
	if (write_sources(src_dir, job, r))
		goto out;
	build_argv(argv, job, env, obj_path);
	t0 = now_ms();
	err = warm_clang_run(&a->warm_clang, argv, src_dir, CLANG_OUTPUT_MAX, watch, &res);
	warm = err != -EAGAIN;
	if (!warm)
		err = proc_run(argv, src_dir, CLANG_OUTPUT_MAX, watch, &res);
	duration = now_ms() - t0;
	if (err) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot run %s: %s.", env->clang, strerror(-err));
		goto out;
	}
	if (res.aborted) {
		rpc_reply_error(r, RPC_REQUEST_CANCELLED, "The compile request was cancelled; clang was stopped.");
		goto out_res;
	}
	if (res.term_signal) {
		/* Not a verdict on the source: clang did not finish (the OOM killer, or someone killed it). */
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "clang was killed by signal %d (%s) before it finished, so nothing "
				"was compiled; compile again (if it recurs, the target may be short of memory).",
				res.term_signal, strsignal(res.term_signal));
		goto out_res;
	}
	if (res.exit_code == 0) {
		err = read_whole_file(obj_path, OBJECT_MAX, &data, &size);
		if (err) {
			rpc_reply_error(r, RPC_INTERNAL_ERROR, "clang exited 0 but its object %s cannot be read: %s.",
					obj_path, strerror(-err));
			goto out_res;
		}
		object_b64 = client_copy_base64(data, size);
		if (!object_b64) {
			free(data);
			rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
			goto out_res;
		}
		obj = objects_add(&a->objects, object_name(job->main), *work_dir, data, size);
		*work_dir = NULL;	/* the table owns it now */
	}
	r->result = compile_result(&res, obj, object_b64, duration, warm, env->vmlinux_status);
out_res:
	proc_result_free(&res);
out:
	free(object_b64);
	free(obj_path);
	free(src_dir);
}

void method_compile(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct compile_job job = { 0 };
	struct compile_env env = { 0 };
	struct proc_watch watch = {
		.fd = a->input_closed ? -1 : 0,
		.on_readable = on_stdin,
		.should_abort = should_abort,
		.ctx = a,
		.sigmask = &a->poll_sigmask,
	};
	char *work_dir = NULL;
	int err;

	if (!parse_params(params, &job, r))
		return;
	if (prepare_env(a, &job, &watch, &env, r))
		goto out;
	err = work_dir_create(a->tmp_dir, &work_dir);
	if (err) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot create a work directory in %s: %s.",
				a->tmp_dir, strerror(-err));
		goto out;
	}
	run_clang(a, &job, &env, &watch, &work_dir, r);
	if (work_dir)
		work_dir_remove(work_dir);
out:
	free(work_dir);
	compile_env_free(&env);
}
