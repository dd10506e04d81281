// SPDX-License-Identifier: MIT
/* attach, detach, unpin. The first attach of an object loads it whole (every program, its maps)
 * and keeps that instance on the held object; each attach then hooks one program somewhere. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/magic.h>
#include <linux/perf_event.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "links.h"
#include "presets.h"
#include "params.h"

#define PIN_DIR "ebpf-studio"
#define KPROBE_MISSING "kprobe events are not enabled in this kernel (CONFIG_KPROBE_EVENTS is not set); " \
		       "use a tracepoint, fentry (if available) or a uprobe instead"
#define UPROBE_MISSING "uprobe events are not enabled in this kernel (CONFIG_UPROBE_EVENTS is not set); " \
		       "uprobes and USDT probes cannot be attached here"

/* Everything one attach request needs on its way. */
struct attach_ctx {
	struct agent *a;
	struct held_object *held;
	struct bpf_program *prog;
	struct json_object *target;
	struct attachment *link;
	struct text_sink log;		/* libbpf's messages during the attach */
	struct rpc_reply *r;
};

/* The verifier's message: the last log line that is not one of its statistics lines. */
static void verifier_message(const char *log, char *out, size_t size)
{
	const char *end = log + strlen(log);

	out[0] = '\0';
	while (end > log) {
		const char *start = end;
		size_t len;

		while (start > log && start[-1] != '\n')
			start--;
		len = end - start;
		if (len && start[len - 1] == '\n')
			len--;
		if (len && strncmp(start, "processed ", 10) && strncmp(start, "verification time", 17) &&
		    strncmp(start, "stack depth", 11) && strncmp(start, "-- END PROG LOAD LOG --", 23)) {
			snprintf(out, size, "%.*s", (int)len, start);
			return;
		}
		end = start > log ? start - 1 : start;
	}
}

static void load_failed(const struct load_ctx *lc, struct held_object *held, struct bpf_object *obj, int err,
			const struct text_sink *log, struct rpc_reply *r)
{
	const struct kernel_features *f = lc->features;
	struct json_object *programs = json_object_new_array();
	struct bpf_program *prog, *first = NULL;
	char message[512] = "", why[512];

	/* Each program on its own tells which one the verifier refused, with its own log. */
	bpf_object__for_each_program(prog, obj) {
		struct json_object *v = program_verdict_json(held, prog, lc);
		struct json_object *ok;

		if (!v)
			continue;
		if (json_object_object_get_ex(v, "ok", &ok) && !json_object_get_boolean(ok)) {
			if (!first) {
				struct json_object *l;

				first = prog;
				json_object_object_get_ex(v, "log", &l);
				verifier_message(json_object_get_string(l), message, sizeof(message));
			}
			json_object_array_add(programs, v);
		} else {
			json_object_put(v);
		}
	}
	if (first && features_program_kind_missing(f, first, why, sizeof(why)))
		rpc_reply_error(r, RPC_KERNEL_FEATURE_MISSING, "Object %s cannot be loaded on this kernel: program %s "
				"(SEC(\"%s\")) is %s. The kernel answered: %s.", held->id, bpf_program__name(first),
				bpf_program__section_name(first), why, message[0] ? message : strerror(-err));
	else if (err == -EPERM && geteuid() != 0)
		rpc_reply_error(r, RPC_PERMISSION_DENIED, "Loading BPF programs needs root (or CAP_BPF with CAP_PERFMON); "
				"the agent runs as uid %u. Start it with sudo.", geteuid());
	else if (first)
		rpc_reply_error(r, RPC_OBJECT_LOAD_FAILED, "Object %s could not be loaded: program %s was refused by the "
				"verifier: %s", held->id, bpf_program__name(first), message[0] ? message : strerror(-err));
	else
		rpc_reply_error(r, RPC_OBJECT_LOAD_FAILED, "Object %s could not be loaded (%s) although each program "
				"passes alone; see data.libbpfLog (maps, relocations).", held->id, strerror(-err));
	r->error_data = json_object_new_object();
	json_object_object_add(r->error_data, "programs", programs);
	json_object_object_add(r->error_data, "libbpfLog", json_object_new_string(sink_text(log)));
}

/* Keeps the attach targets @p set, so attach describes a retargeted program by its real function. */
static void remember_retargets(struct held_object *held, const struct load_presets *p)
{
	size_t len = 0;

	for (size_t i = 0; i < p->n_attach_targets; i++)
		len += strlen(p->attach_targets[i].name) + strlen(p->attach_targets[i].value) + 2;
	free(held->retargets);
	held->retargets = len ? malloc(len + 1) : NULL;
	if (!held->retargets)
		return;	/* none, or no memory: descriptions then name the section's function */
	held->retargets[0] = '\0';
	for (size_t i = 0; i < p->n_attach_targets; i++)
		sprintf(held->retargets + strlen(held->retargets), "%s %s\n", p->attach_targets[i].name,
			p->attach_targets[i].value);
}

/* The function a preset retargeted @prog to, as "FUNC" (length in *len); NULL when none did. */
static const char *retarget_of(const struct held_object *held, const char *prog, int *len)
{
	size_t n = strlen(prog);

	for (const char *line = held->retargets; line && *line; line = strchr(line, '\n') + 1) {
		if (strncmp(line, prog, n) == 0 && line[n] == ' ') {
			*len = (int)(strchr(line, '\n') - (line + n + 1));
			return line + n + 1;
		}
	}
	return NULL;
}

/* Loads @held whole, once, with the request's presets. */
static bool ensure_loaded(const struct load_ctx *lc, struct held_object *held, struct rpc_reply *r)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = held->name,
		    .kconfig = lc->presets->kconfig[0] ? lc->presets->kconfig : NULL);
	struct text_sink log = { 0 };
	struct bpf_object *obj;
	char why[512];
	int err;

	if (held->loaded)
		return true;
	libbpf_capture(&log);
	obj = bpf_object__open_mem(held->data, held->size, &opts);
	err = obj ? 0 : -errno;
	if (obj && !presets_check(obj, lc->presets, held->id, r)) {
		libbpf_capture(NULL);
		bpf_object__close(obj);
		free(log.buf);
		return false;
	}
	if (obj)
		err = presets_apply(obj, lc->presets, NULL, why, sizeof(why));
	if (err && obj) {
		rpc_reply_error(r, RPC_OBJECT_LOAD_FAILED, "Object %s could not be loaded: %s.", held->id, why);
		libbpf_capture(NULL);
		bpf_object__close(obj);
		free(log.buf);
		return false;
	}
	if (obj)
		err = bpf_object__load(obj);
	libbpf_capture(NULL);
	if (!obj) {
		rpc_reply_error(r, RPC_OBJECT_OPEN_FAILED, "libbpf cannot open object %s (%s); see data.libbpfLog.",
				held->id, strerror(-err));
		r->error_data = json_object_new_object();
		json_object_object_add(r->error_data, "libbpfLog", json_object_new_string(sink_text(&log)));
	} else if (err) {
		load_failed(lc, held, obj, err, &log, r);
		bpf_object__close(obj);
	} else {
		held->loaded = obj;
		remember_retargets(held, lc->presets);
	}
	free(log.buf);
	return held->loaded != NULL;
}

static bool str_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_kprobe_section(const char *sec)
{
	return str_starts(sec, "kprobe") || str_starts(sec, "kretprobe") || str_starts(sec, "ksyscall") ||
	       str_starts(sec, "kretsyscall");
}

static bool is_uprobe_section(const char *sec)
{
	return str_starts(sec, "uprobe") || str_starts(sec, "uretprobe") || str_starts(sec, "usdt");
}

static void attach_error(struct attach_ctx *c, int err, const char *what)
{
	if (err == -ENOMEM) {
		rpc_reply_error(c->r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return;
	}
	rpc_reply_error(c->r, RPC_ATTACH_FAILED, "The kernel refused to attach program %s %s: %s (errno %d).",
			bpf_program__name(c->prog), what, strerror(-err), -err);
	if (sink_text(&c->log)[0]) {
		c->r->error_data = json_object_new_object();
		json_object_object_add(c->r->error_data, "libbpfLog", json_object_new_string(sink_text(&c->log)));
	}
}

static bool set_description(struct attach_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool set_description(struct attach_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&c->link->description, fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->link->description = NULL;
		rpc_reply_error(c->r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return false;
	}
	return true;
}

static bool keep_link(struct attach_ctx *c, struct bpf_link *link, const char *what)
{
	int err = link ? 0 : -errno;

	if (!err)
		err = link_add_libbpf(c->link, link);
	if (err) {
		if (link)
			bpf_link__destroy(link);
		attach_error(c, err, what);
		return false;
	}
	return true;
}

static bool need_type(struct attach_ctx *c, const char *kind, const enum bpf_prog_type *types, size_t n)
{
	enum bpf_prog_type t = bpf_program__type(c->prog);
	const char *name = libbpf_bpf_prog_type_str(t);

	for (size_t i = 0; i < n; i++)
		if (types[i] == t)
			return true;
	rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.kind \"%s\" does not fit program %s, a %s program "
			"(SEC(\"%s\")).", kind, bpf_program__name(c->prog), name ? name : "unknown",
			bpf_program__section_name(c->prog));
	return false;
}
#define NEED_TYPE(c, kind, ...) need_type(c, kind, (const enum bpf_prog_type[]){ __VA_ARGS__ }, \
	sizeof((const enum bpf_prog_type[]){ __VA_ARGS__ }) / sizeof(enum bpf_prog_type))

static bool get_interface(struct attach_ctx *c, const char **name, int *ifindex)
{
	if (!param_string(c->target, "params.target", "interface", true, name, c->r))
		return false;
	*ifindex = strlen(*name) < IF_NAMESIZE && param_name_ok(*name, "-.@:", IF_NAMESIZE - 1) ?
		   (int)if_nametoindex(*name) : 0;
	if (!*ifindex) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.interface: there is no network interface "
				"named \"%.64s\" on this host (see `ip link`).", *name);
		return false;
	}
	return true;
}

static bool get_existing_path(struct attach_ctx *c, const char *key, bool want_dir, const char **path)
{
	struct stat st;

	if (!param_string(c->target, "params.target", key, true, path, c->r))
		return false;
	if ((*path)[0] != '/') {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.%s \"%.200s\" must be an absolute path.", key, *path);
		return false;
	}
	if (stat(*path, &st) || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.%s \"%.200s\" is not an existing %s on this host.",
				key, *path, want_dir ? "directory" : "file");
		return false;
	}
	return true;
}

static bool get_pid(struct attach_ctx *c, long long *pid)
{
	char proc[32];
	bool present;

	*pid = -1;
	if (!param_int(c->target, "params.target", "pid", 1, 4194304, pid, &present, c->r))
		return false;
	if (!present) {
		*pid = -1;
		return true;
	}
	snprintf(proc, sizeof(proc), "/proc/%lld", *pid);
	if (access(proc, F_OK)) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.pid %lld: no such process on this host.", *pid);
		return false;
	}
	return true;
}

static bool attach_auto(struct attach_ctx *c)
{
	const char *sec = bpf_program__section_name(c->prog);
	struct bpf_link *link;
	char what[320];
	int err;

	if (is_kprobe_section(sec) && !c->a->features.kprobe_events) {
		rpc_reply_error(c->r, RPC_KERNEL_FEATURE_MISSING, KPROBE_MISSING);
		return false;
	}
	if (is_uprobe_section(sec) && !c->a->features.uprobe_events) {
		rpc_reply_error(c->r, RPC_KERNEL_FEATURE_MISSING, UPROBE_MISSING);
		return false;
	}
	link = bpf_program__attach(c->prog);
	err = link ? 0 : -errno;
	if (err == -EOPNOTSUPP || err == -ESRCH) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "Program %s (SEC(\"%s\")) cannot be attached by its section "
				"alone; give params.target (where to attach it).", bpf_program__name(c->prog), sec);
		return false;
	}
	snprintf(what, sizeof(what), "by its section \"%.256s\"", sec);
	c->link->composite = str_starts(sec, "usdt");
	if (!keep_link(c, link, what))
		return false;
	{
		const char *slash = strchr(sec, '/');
		int len = 0;
		const char *func = retarget_of(c->held, bpf_program__name(c->prog), &len);

		if (slash && func)
			return set_description(c, "%.*s %.*s", (int)(slash - sec), sec, len, func);
		return slash ? set_description(c, "%.*s %s", (int)(slash - sec), sec, slash + 1) :
			       set_description(c, "%s", sec);
	}
}

static bool attach_tracepoint(struct attach_ctx *c)
{
	const char *category, *name;
	char path[PATH_MAX], what[320];

	if (!NEED_TYPE(c, "tracepoint", BPF_PROG_TYPE_TRACEPOINT) ||
	    !param_string(c->target, "params.target", "category", true, &category, c->r) ||
	    !param_string(c->target, "params.target", "name", true, &name, c->r))
		return false;
	if (!param_name_ok(category, NULL, 128) || !param_name_ok(name, NULL, 128)) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.category and .name must be tracepoint names "
				"([A-Za-z0-9_]), like \"syscalls\" and \"sys_enter_execve\".");
		return false;
	}
	if (!c->a->features.tracefs[0]) {
		rpc_reply_error(c->r, RPC_KERNEL_FEATURE_MISSING, "tracefs is not mounted (and the agent could not mount "
				"it): tracepoints cannot be attached; run `mount -t tracefs tracefs /sys/kernel/tracing`.");
		return false;
	}
	snprintf(path, sizeof(path), "%s/events/%s/%s", c->a->features.tracefs, category, name);
	if (access(path, F_OK)) {
		rpc_reply_error(c->r, RPC_ATTACH_FAILED, "There is no tracepoint %s/%s in this kernel (no %s).",
				category, name, path);
		return false;
	}
	snprintf(what, sizeof(what), "to tracepoint %s/%s", category, name);
	return keep_link(c, bpf_program__attach_tracepoint(c->prog, category, name), what) &&
	       set_description(c, "tracepoint %s/%s", category, name);
}

static bool attach_raw_tracepoint(struct attach_ctx *c)
{
	const char *name;
	char what[200];

	if (!NEED_TYPE(c, "raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE) ||
	    !param_string(c->target, "params.target", "name", true, &name, c->r))
		return false;
	if (!param_name_ok(name, NULL, 128)) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.name must be a tracepoint name ([A-Za-z0-9_]).");
		return false;
	}
	snprintf(what, sizeof(what), "to raw tracepoint %s", name);
	return keep_link(c, bpf_program__attach_raw_tracepoint(c->prog, name), what) &&
	       set_description(c, "raw_tracepoint %s", name);
}

static bool attach_kprobe(struct attach_ctx *c)
{
	LIBBPF_OPTS(bpf_kprobe_opts, opts);
	const char *function;
	long long offset = 0;
	bool retprobe = false;
	char what[200];

	if (!NEED_TYPE(c, "kprobe", BPF_PROG_TYPE_KPROBE) ||
	    !param_string(c->target, "params.target", "function", true, &function, c->r) ||
	    !param_int(c->target, "params.target", "offset", 0, UINT32_MAX, &offset, NULL, c->r) ||
	    !param_bool(c->target, "params.target", "retprobe", &retprobe, c->r))
		return false;
	if (!param_name_ok(function, ".", 128)) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.function must be a kernel function name.");
		return false;
	}
	if (!c->a->features.kprobe_events) {
		rpc_reply_error(c->r, RPC_KERNEL_FEATURE_MISSING, KPROBE_MISSING);
		return false;
	}
	opts.offset = offset;
	opts.retprobe = retprobe;
	snprintf(what, sizeof(what), "as a %s on %s", retprobe ? "kretprobe" : "kprobe", function);
	return keep_link(c, bpf_program__attach_kprobe_opts(c->prog, function, &opts), what) &&
	       set_description(c, "%s %s+%lld", retprobe ? "kretprobe" : "kprobe", function, offset);
}

static bool attach_uprobe(struct attach_ctx *c)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	const char *binary, *symbol;
	long long offset = 0, pid;
	bool retprobe = false, has_offset;
	char what[PATH_MAX + 300];

	if (!NEED_TYPE(c, "uprobe", BPF_PROG_TYPE_KPROBE) || !get_existing_path(c, "binary", false, &binary) ||
	    !param_string(c->target, "params.target", "symbol", false, &symbol, c->r) ||
	    !param_int(c->target, "params.target", "offset", 0, 1LL << 48, &offset, &has_offset, c->r) ||
	    !param_bool(c->target, "params.target", "retprobe", &retprobe, c->r) || !get_pid(c, &pid))
		return false;
	if (symbol && !param_name_ok(symbol, ".@$", 256)) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.symbol must be a symbol name ([A-Za-z0-9_.@$]).");
		return false;
	}
	if (!symbol && !has_offset) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target needs a symbol or an offset in the binary.");
		return false;
	}
	if (!c->a->features.uprobe_events) {
		rpc_reply_error(c->r, RPC_KERNEL_FEATURE_MISSING, UPROBE_MISSING);
		return false;
	}
	opts.retprobe = retprobe;
	opts.func_name = symbol;
	snprintf(what, sizeof(what), "as a %s on %s:%s", retprobe ? "uretprobe" : "uprobe", binary,
		 symbol ? symbol : "(offset)");
	return keep_link(c, bpf_program__attach_uprobe_opts(c->prog, (pid_t)pid, binary, offset, &opts), what) &&
	       set_description(c, "%s %s:%s+%lld%s", retprobe ? "uretprobe" : "uprobe", binary, symbol ? symbol : "",
			       offset, pid > 0 ? " (one process)" : "");
}

static bool attach_usdt(struct attach_ctx *c)
{
	const char *binary, *provider, *name;
	char what[PATH_MAX + 300];
	long long pid;

	if (!NEED_TYPE(c, "usdt", BPF_PROG_TYPE_KPROBE) || !get_existing_path(c, "binary", false, &binary) ||
	    !param_string(c->target, "params.target", "provider", true, &provider, c->r) ||
	    !param_string(c->target, "params.target", "name", true, &name, c->r) || !get_pid(c, &pid))
		return false;
	if (!param_name_ok(provider, NULL, 128) || !param_name_ok(name, NULL, 128)) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.provider and .name must be USDT names ([A-Za-z0-9_]).");
		return false;
	}
	if (!c->a->features.uprobe_events) {
		rpc_reply_error(c->r, RPC_KERNEL_FEATURE_MISSING, UPROBE_MISSING);
		return false;
	}
	snprintf(what, sizeof(what), "to USDT %s:%s in %s", provider, name, binary);
	c->link->composite = true;
	return keep_link(c, bpf_program__attach_usdt(c->prog, (pid_t)pid, binary, provider, name, NULL), what) &&
	       set_description(c, "usdt %s:%s:%s", binary, provider, name);
}

static bool attach_xdp(struct attach_ctx *c)
{
	static const char *const modes[] = { "native", "generic", "offload", NULL };
	static const __u32 mode_flags[] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_HW_MODE };
	const char *ifname;
	int ifindex, mode, fd, err;
	char what[64];

	if (!NEED_TYPE(c, "xdp", BPF_PROG_TYPE_XDP) || !get_interface(c, &ifname, &ifindex) ||
	    !param_enum(c->target, "params.target", "mode", modes, false, &mode, c->r))
		return false;
	{
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode_flags[mode < 0 ? 0 : mode]);

		fd = bpf_link_create(bpf_program__fd(c->prog), ifindex, BPF_XDP, &opts);
		err = fd < 0 ? -errno : 0;
		if (fd < 0 && mode < 0 && (err == -EOPNOTSUPP || err == -EINVAL)) {
			mode = 1;	/* the driver has no native XDP: generic (skb) mode */
			opts.flags = mode_flags[1];
			fd = bpf_link_create(bpf_program__fd(c->prog), ifindex, BPF_XDP, &opts);
			err = fd < 0 ? -errno : 0;
		} else if (mode < 0) {
			mode = 0;
		}
	}
	if (fd < 0) {
		snprintf(what, sizeof(what), "to %s in %s mode", ifname, modes[mode]);
		if (err == -EBUSY || err == -EEXIST)
			rpc_reply_error(c->r, RPC_ATTACH_FAILED, "Interface %s already has an XDP program in another mode "
					"or not through a link (%s); detach it first (`ip link set %s xdp off`).",
					ifname, strerror(-err), ifname);
		else
			attach_error(c, err, what);
		return false;
	}
	c->link->link_fd = fd;
	return set_description(c, "xdp on %s (%s)", ifname, modes[mode]);
}

/* The handle of every clsact filter the agent makes, and the priorities it tries in turn: it picks
 * them itself (the kernel's default priority first) so that the journal can name the filter
 * before it exists. */
#define TC_HANDLE 1
#define TC_FIRST_PRIORITY 0xc000
#define TC_PRIORITY_TRIES 16

static int prog_identity(int prog_fd, __u32 *id, __u8 tag[8])
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*id = info.id;
	memcpy(tag, info.tag, sizeof(info.tag));
	return 0;
}

static void tc_legacy_failed(struct attach_ctx *c, int err, const char *what)
{
	struct attachment *l = c->link;
	int jerr;

	if (l->tc_hook_created) {
		l->tc_hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&l->tc_hook);
		l->tc_hook_created = false;
	}
	jerr = links_journal_store(NULL);
	if (jerr)
		fprintf(stderr, "ebpf-agent: %s: updating the attach journal failed: %s\n", l->id, strerror(-jerr));
	attach_error(c, err, what);
}

/* Journals the filter, then makes it: a killed agent's next start finds it by the journal. */
static int tc_legacy_try(struct attachment *l, __u32 priority, int prog_fd)
{
	int err;

	l->tc_opts = (struct bpf_tc_opts){ .sz = sizeof(l->tc_opts), .prog_fd = prog_fd, .handle = TC_HANDLE,
					   .priority = priority };
	err = links_journal_store(l);
	if (err)
		return err;
	return bpf_tc_attach(&l->tc_hook, &l->tc_opts);
}

static bool attach_tc_legacy(struct attach_ctx *c, int ifindex, bool ingress, const char *ifname)
{
	struct attachment *l = c->link;
	int prog_fd = bpf_program__fd(c->prog), err;
	__u32 priority = TC_FIRST_PRIORITY;

	l->tc_hook = (struct bpf_tc_hook){ .sz = sizeof(l->tc_hook), .ifindex = ifindex,
					   .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS };
	err = prog_identity(prog_fd, &l->prog_id, l->prog_tag);
	if (err) {
		attach_error(c, err, "(reading its program id)");
		return false;
	}
	err = links_journal_store(l);	/* before the qdisc, so that a qdisc we create is always named */
	if (err) {
		rpc_reply_error(c->r, RPC_ATTACH_FAILED, "A legacy tc filter is only made once it is recorded in the attach "
				"journal (so that it can be removed if the agent is killed), and recording it failed: %s.",
				strerror(-err));
		return false;
	}
	err = bpf_tc_hook_create(&l->tc_hook);
	if (err && err != -EEXIST) {
		tc_legacy_failed(c, err, "(creating the clsact qdisc)");
		return false;
	}
	l->tc_hook_created = err == 0;
	/* Another filter at our handle and priority (EEXIST), or of another kind at that priority
	 * (EINVAL): try the next priority. */
	for (int i = 0; i < TC_PRIORITY_TRIES; i++, priority--) {
		err = tc_legacy_try(l, priority, prog_fd);
		if (err != -EEXIST && err != -EINVAL)
			break;
	}
	if (err) {
		tc_legacy_failed(c, err, "as a tc filter");
		return false;
	}
	l->tc_opts.prog_fd = 0;	/* detach goes by handle and priority only */
	l->tc_opts.prog_id = 0;
	l->tc_legacy = true;
	return set_description(c, "tc %s on %s (clsact filter, handle %u, priority %u)", ingress ? "ingress" : "egress",
			       ifname, l->tc_opts.handle, l->tc_opts.priority);
}

static bool attach_tc(struct attach_ctx *c)
{
	static const char *const directions[] = { "ingress", "egress", NULL };
	const char *ifname;
	int ifindex, dir, fd;

	if (!NEED_TYPE(c, "tc", BPF_PROG_TYPE_SCHED_CLS) || !get_interface(c, &ifname, &ifindex) ||
	    !param_enum(c->target, "params.target", "direction", directions, true, &dir, c->r))
		return false;
	if (!c->a->features.tcx)
		return attach_tc_legacy(c, ifindex, dir == 0, ifname);
	fd = bpf_link_create(bpf_program__fd(c->prog), ifindex, dir == 0 ? ATTACH_TCX_INGRESS : ATTACH_TCX_EGRESS, NULL);
	if (fd < 0) {
		attach_error(c, -errno, dir == 0 ? "to tcx ingress" : "to tcx egress");
		return false;
	}
	c->link->link_fd = fd;
	return set_description(c, "tc %s on %s (tcx)", directions[dir], ifname);
}

static bool attach_cgroup(struct attach_ctx *c)
{
	const char *path;
	struct statfs fs;
	char what[PATH_MAX + 16];
	bool ok;
	int fd;

	if (!NEED_TYPE(c, "cgroup", BPF_PROG_TYPE_CGROUP_SKB, BPF_PROG_TYPE_CGROUP_SOCK, BPF_PROG_TYPE_CGROUP_DEVICE,
		       BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_PROG_TYPE_CGROUP_SYSCTL,
		       BPF_PROG_TYPE_SOCK_OPS) ||
	    !get_existing_path(c, "path", true, &path))
		return false;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstatfs(fd, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target.path \"%.200s\" is not a cgroup v2 directory "
				"(e.g. /sys/fs/cgroup or one below it).", path);
		if (fd >= 0)
			close(fd);
		return false;
	}
	snprintf(what, sizeof(what), "to cgroup %s", path);
	ok = keep_link(c, bpf_program__attach_cgroup(c->prog, fd), what);
	close(fd);
	return ok && set_description(c, "cgroup %s", path);
}

static bool attach_socket_filter(struct attach_ctx *c)
{
	struct sockaddr_ll addr = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int prog_fd = bpf_program__fd(c->prog), fd, ifindex;
	const char *ifname;

	if (!NEED_TYPE(c, "socket_filter", BPF_PROG_TYPE_SOCKET_FILTER) || !get_interface(c, &ifname, &ifindex))
		return false;
	addr.sll_ifindex = ifindex;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd))) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		attach_error(c, err, "to a packet socket");
		return false;
	}
	c->link->socket_fd = fd;
	return set_description(c, "socket_filter on %s (packet socket)", ifname);
}

static int perf_open(const struct perf_event_attr *attr, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static bool attach_perf_event(struct attach_ctx *c)
{
	static const char *const events[] = { "cpu-clock", "task-clock", "cpu-cycles", "instructions", NULL };
	static const struct { __u32 type; __u64 config; } kinds[] = {
		{ PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK }, { PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
		{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES }, { PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
	};
	struct perf_event_attr attr = { .size = sizeof(attr) };
	int ncpus = libbpf_num_possible_cpus(), ev, first, last;
	long long period = 0, freq = 0, cpu = -1;
	bool has_period, has_freq, has_cpu;

	if (!NEED_TYPE(c, "perf_event", BPF_PROG_TYPE_PERF_EVENT) ||
	    !param_enum(c->target, "params.target", "event", events, true, &ev, c->r) ||
	    !param_int(c->target, "params.target", "period", 1, 1LL << 40, &period, &has_period, c->r) ||
	    !param_int(c->target, "params.target", "frequency", 1, 100000, &freq, &has_freq, c->r) ||
	    !param_int(c->target, "params.target", "cpu", 0, ncpus > 0 ? ncpus - 1 : 0, &cpu, &has_cpu, c->r))
		return false;
	if (has_period && has_freq) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target: give period or frequency, not both.");
		return false;
	}
	attr.type = kinds[ev].type;
	attr.config = kinds[ev].config;
	if (has_period) {
		attr.sample_period = period;
	} else {
		attr.freq = 1;
		attr.sample_freq = has_freq ? freq : 99;
	}
	first = has_cpu ? cpu : 0;
	last = has_cpu ? cpu : ncpus - 1;
	for (int i = first; i <= last; i++) {
		int pfd = perf_open(&attr, i), err;
		struct bpf_link *link;

		if (pfd < 0 && errno == ENODEV && !has_cpu)
			continue;	/* an offline CPU */
		if (pfd < 0) {
			err = -errno;
			if (attr.type == PERF_TYPE_HARDWARE && (err == -ENOENT || err == -EOPNOTSUPP || err == -ENODEV))
				rpc_reply_error(c->r, RPC_KERNEL_FEATURE_MISSING, "The hardware perf event %s is not "
						"available on this host (no PMU, as in most VMs); use cpu-clock instead.",
						events[ev]);
			else
				rpc_reply_error(c->r, RPC_ATTACH_FAILED, "perf_event_open(%s, cpu %d) failed: %s.", events[ev],
						i, strerror(-err));
			return false;
		}
		link = bpf_program__attach_perf_event(c->prog, pfd);
		if (!link)
			close(pfd);
		if (!keep_link(c, link, "to a perf event"))
			return false;
	}
	return set_description(c, "perf_event %s every %lld %s on %s", events[ev], has_period ? period : (long long)attr.sample_freq,
			       has_period ? "events" : "Hz", has_cpu ? "one CPU" : "every CPU");
}

static bool attach_target(struct attach_ctx *c)
{
	static const char *const kinds[] = { "tracepoint", "raw_tracepoint", "kprobe", "uprobe", "usdt", "xdp", "tc",
					     "cgroup", "socket_filter", "perf_event", NULL };
	static bool (*const fns[])(struct attach_ctx *) = { attach_tracepoint, attach_raw_tracepoint, attach_kprobe,
		attach_uprobe, attach_usdt, attach_xdp, attach_tc, attach_cgroup, attach_socket_filter,
		attach_perf_event };
	int kind;

	if (!c->target)
		return attach_auto(c);
	if (!json_object_is_type(c->target, json_type_object)) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.target must be an object with a \"kind\".");
		return false;
	}
	if (!param_enum(c->target, "params.target", "kind", kinds, true, &kind, c->r))
		return false;
	return fns[kind](c);
}

/* <bpffs>/ebpf-studio, created 0700 when missing. */
static int pin_dir(const struct agent *a, char *dir, size_t size)
{
	struct stat st;

	if (snprintf(dir, size, "%s/" PIN_DIR, a->features.bpffs) >= (int)size)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return 0;
}

static bool pin_link(struct attach_ctx *c)
{
	int fd = link_pin_fd(c->link), err;
	char dir[PATH_MAX], path[PATH_MAX + 128];

	if (fd < 0) {
		rpc_reply_error(c->r, RPC_INVALID_PARAMS, "params.pin: %s is not a single kernel link and cannot be "
				"pinned; attach without pin.", c->link->description);
		return false;
	}
	err = pin_dir(c->a, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s_%s_%d", dir, bpf_program__name(c->prog), c->link->id, (int)getpid());
	if (!err)
		err = bpf_obj_pin(fd, path) ? -errno : 0;
	if (err) {
		rpc_reply_error(c->r, RPC_ATTACH_FAILED, "Pinning the link at %s failed: %s.", path, strerror(-err));
		return false;
	}
	c->link->pin_path = strdup(path);
	if (!c->link->pin_path) {
		unlink(path);
		rpc_reply_error(c->r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return false;
	}
	return true;
}

static __u32 program_id(const struct bpf_program *prog)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ? 0 : info.id;
}

void method_attach(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct attach_ctx c = { .a = a, .r = r };
	const char *object_id, *program;
	struct load_presets presets;
	struct load_ctx lc = { .features = &a->features, .presets = &presets };
	bool pin = false, ok;

	if (!params_object(params, r) || !param_string(params, "params", "objectId", true, &object_id, r) ||
	    !param_string(params, "params", "program", true, &program, r) ||
	    !param_bool(params, "params", "pin", &pin, r) || !presets_parse(params, &presets, r))
		return;
	json_object_object_get_ex(params, "target", &c.target);
	if (c.target && json_object_is_type(c.target, json_type_null))
		c.target = NULL;
	c.held = objects_find(&a->objects, object_id);
	if (!c.held) {
		rpc_reply_error(r, RPC_UNKNOWN_OBJECT, "Object \"%.64s\" is not held by the agent (never compiled, "
				"released, or evicted); compile the file again.", object_id);
		return;
	}
	if (pin && !a->features.bpffs[0]) {
		rpc_reply_error(r, RPC_KERNEL_FEATURE_MISSING, "bpffs is not mounted on this host, so links cannot be "
				"pinned; mount it (`mount -t bpf bpf /sys/fs/bpf`) or attach without pin.");
		return;
	}
	if (!ensure_loaded(&lc, c.held, r))
		return;
	c.prog = bpf_object__find_program_by_name(c.held->loaded, program);
	if (!c.prog) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.program: object %s has no program named \"%.200s\".",
				c.held->id, program);
		return;
	}
	c.link = link_new(c.held);
	if (!c.link) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return;
	}
	libbpf_capture(&c.log);
	ok = attach_target(&c);
	libbpf_capture(NULL);
	free(c.log.buf);
	if (ok && pin)
		ok = pin_link(&c);
	if (!ok) {
		link_destroy(c.link);
		return;
	}
	c.link->prog_id = program_id(c.prog);
	link_register(c.link);
	fprintf(stderr, "ebpf-agent: %s: %s %s\n", c.link->id, program, c.link->description);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "linkId", json_object_new_string(c.link->id));
	json_object_object_add(r->result, "description", json_object_new_string(c.link->description));
	json_object_object_add(r->result, "programId", json_object_new_int64(c.link->prog_id));
	json_object_object_add(r->result, "pinnedPath", c.link->pin_path ? json_object_new_string(c.link->pin_path) : NULL);
}

void method_detach(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct attachment *l;
	const char *id;

	(void)a;
	if (!params_object(params, r) || !param_string(params, "params", "linkId", true, &id, r))
		return;
	l = link_find(id);
	if (!l) {
		rpc_reply_error(r, RPC_UNKNOWN_HANDLE, "Link \"%.64s\" is not attached by this agent (already detached, "
				"or its object was released).", id);
		return;
	}
	link_destroy(l);
	r->result = json_object_new_object();
}

void method_unpin(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	char dir[PATH_MAX], real_dir[PATH_MAX], real[PATH_MAX];
	struct statfs fs;
	const char *path;
	size_t n;

	if (!params_object(params, r) || !param_string(params, "params", "path", true, &path, r))
		return;
	if (!a->features.bpffs[0]) {
		rpc_reply_error(r, RPC_KERNEL_FEATURE_MISSING, "bpffs is not mounted on this host: nothing is pinned.");
		return;
	}
	if (snprintf(dir, sizeof(dir), "%s/" PIN_DIR, a->features.bpffs) >= (int)sizeof(dir)) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The bpffs mount path is too long.");
		return;
	}
	/* The real path of the pin must lie inside the real pin dir: no "..", no symlink out of it. */
	if (!realpath(dir, real_dir) || !realpath(path, real) || (n = strlen(real_dir), strncmp(real, real_dir, n)) ||
	    real[n] != '/' || strchr(real + n + 1, '/') || statfs(real, &fs) || fs.f_type != BPF_FS_MAGIC) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.path \"%.200s\" is not a pinned object under %s/.", path, dir);
		return;
	}
	if (unlink(real)) {
		rpc_reply_error(r, RPC_ATTACH_FAILED, "Removing the pin %s failed: %s.", real, strerror(errno));
		return;
	}
	links_forget_pin(real);
	r->result = json_object_new_object();
}
