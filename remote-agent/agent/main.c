// SPDX-License-Identifier: MIT
/* ebpf-agent: reads JSON-RPC requests from stdin, one per line, handles them one at a time and
 * writes one reply line each to stdout. Cancellations are read even while a request runs. One
 * poll loop serves stdin, stdout's writability, the streams' buffers and trace_pipe together. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "exe_location.h"
#include "journal.h"
#include "links.h"
#include "outbuf.h"
#include "streams.h"

typedef void (*method_fn)(struct agent *a, struct json_object *params, struct rpc_reply *reply);

static const struct method {
	const char *name;
	method_fn fn;
} methods[] = {
#define X(wire, handler) { wire, method_##handler },
	AGENT_METHODS(X)
#undef X
};

#define METHOD_COUNT (sizeof(methods) / sizeof(methods[0]))

static const char *method_names[METHOD_COUNT + 1];

volatile sig_atomic_t agent_stop_requested;

/* Before an attached object closes (release, eviction, exit): its streams stop, its links go. */
static void object_unloading(struct held_object *obj)
{
	streams_object_gone(obj);
	links_object_gone(obj);
}

bool agent_should_abort(const struct agent *a)
{
	return a->running_cancelled || agent_stop_requested;
}

static const char *method_of(struct json_object *msg)
{
	struct json_object *m;

	if (!json_object_is_type(msg, json_type_object) || !json_object_object_get_ex(msg, "method", &m) ||
	    !json_object_is_type(m, json_type_string))
		return NULL;
	return json_object_get_string(m);
}

/* Cancels the running request, or answers a queued one as cancelled without running it. */
static void handle_cancel(struct agent *a, struct json_object *msg)
{
	struct json_object *params, *id;
	struct inbound *queued;

	if (!json_object_object_get_ex(msg, "params", &params) ||
	    !json_object_object_get_ex(params, "id", &id))
		return;
	if (a->running_id && json_object_equal(a->running_id, id)) {
		a->running_cancelled = true;
		return;
	}
	queued = inbound_queue_take_id(&a->queue, id);
	if (queued) {
		rpc_send_error(id, RPC_REQUEST_CANCELLED, "The request was cancelled before it ran.");
		inbound_free(queued);
	}
}

static void ingest(struct inbound *in, void *ctx)
{
	struct agent *a = ctx;
	const char *method = in->msg ? method_of(in->msg) : NULL;

	if (method && strcmp(method, AGENT_CANCEL_NOTIFICATION) == 0 && rpc_is_notification(in->msg)) {
		handle_cancel(a, in->msg);
		inbound_free(in);
		return;
	}
	inbound_queue_push(&a->queue, in);
}

int agent_pump_input(struct agent *a)
{
	int ret;

	if (a->input_closed)
		return 0;
	ret = line_reader_fill(&a->reader, STDIN_FILENO, ingest, a);
	if (ret == 1)
		a->input_closed = true;
	if (ret < 0) {
		fprintf(stderr, "ebpf-agent: reading stdin failed: %s\n", strerror(-ret));
		a->input_closed = true;
	}
	return ret < 0 ? ret : 0;
}

static bool valid_id(struct json_object *id)
{
	return !id || json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int);
}

static const struct method *find_method(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

/* Handles one received message. Returns a negative errno only when stdout is gone. */
static int dispatch(struct agent *a, struct inbound *in)
{
	struct json_object *msg = in->msg, *id, *version, *params = NULL;
	struct rpc_reply reply = { 0 };
	const struct method *m;
	const char *name;
	bool notification;
	int err;

	if (in->error_code)
		return rpc_send_error(NULL, in->error_code, "%s", in->error_message);
	if (json_object_is_type(msg, json_type_array))
		return rpc_send_error(NULL, RPC_INVALID_REQUEST, "Batch requests are not supported; send one request per line.");
	if (!json_object_is_type(msg, json_type_object))
		return rpc_send_error(NULL, RPC_INVALID_REQUEST, "A request must be a JSON object {jsonrpc, id, method, params}.");
	notification = rpc_is_notification(msg);
	id = rpc_msg_id(msg);
	if (!valid_id(id))
		return rpc_send_error(NULL, RPC_INVALID_REQUEST, "The request id must be a string, an integer or null.");
	if (!json_object_object_get_ex(msg, "jsonrpc", &version) ||
	    !json_object_is_type(version, json_type_string) || strcmp(json_object_get_string(version), "2.0"))
		return notification ? 0 : rpc_send_error(id, RPC_INVALID_REQUEST, "The request must have \"jsonrpc\": \"2.0\".");
	name = method_of(msg);
	if (!name)
		return notification ? 0 : rpc_send_error(id, RPC_INVALID_REQUEST, "The request must have a string \"method\".");
	m = find_method(name);
	if (!m) {
		if (notification)
			return 0;	/* unknown notifications are ignored, as in LSP */
		return rpc_send_error(id, RPC_METHOD_NOT_FOUND, "The agent has no method \"%.100s\"; see hello's "
				      "capabilities for the methods it answers.", name);
	}
	json_object_object_get_ex(msg, "params", &params);
	a->running_id = notification ? NULL : id;
	a->running_cancelled = false;
	m->fn(a, params, &reply);
	a->running_id = NULL;
	err = notification ? 0 : rpc_send(id, &reply);
	rpc_reply_free(&reply);
	return err;
}

static int dispatch_queued(struct agent *a)
{
	struct inbound *in;
	int err = 0;

	while (!err && !agent_stop_requested && (in = inbound_queue_pop(&a->queue))) {
		err = dispatch(a, in);
		inbound_free(in);
	}
	return err;
}

static int serve(struct agent *a)
{
	struct pollfd fds[2 + STREAMS_MAX + 1];
	struct timespec timeout;
	size_t n, nstreams;
	int err, wait_ms;

	while (!agent_stop_requested) {
		err = dispatch_queued(a);
		if (err)
			return err;
		if (a->input_closed || agent_stop_requested)
			break;
		fds[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = outbuf_pending() ? STDOUT_FILENO : -1, .events = POLLOUT };
		nstreams = streams_poll_fds(fds + 2);
		n = 2 + nstreams;
		wait_ms = streams_timeout_ms();
		timeout = (struct timespec){ .tv_sec = wait_ms / 1000, .tv_nsec = (wait_ms % 1000) * 1000000L };
		if (ppoll(fds, n, wait_ms < 0 ? NULL : &timeout, &a->poll_sigmask) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[1].revents & (POLLERR | POLLHUP))
			return -EPIPE;	/* the client is gone (its SSH channel dropped) */
		err = outbuf_flush();
		if (!err && fds[0].revents)
			err = agent_pump_input(a);
		if (err)
			return err;
		streams_service(fds + 2, nstreams);
		err = outbuf_flush();
		if (err)
			return err;
	}
	return 0;
}

static void on_stop_signal(int sig)
{
	agent_stop_requested = sig;
}

/* Termination signals stay blocked except inside ppoll(), so none is lost between a check of
 * agent_stop_requested and the wait. */
static int setup_signals(struct agent *a)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	static const int stop_signals[] = { SIGTERM, SIGHUP, SIGINT };
	sigset_t block;

	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
		if (sigaction(stop_signals[i], &sa, NULL))
			return -errno;
		sigaddset(&block, stop_signals[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &block, &a->poll_sigmask))
		return -errno;
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigdelset(&a->poll_sigmask, stop_signals[i]);
	return 0;
}

static const char *default_cache_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (geteuid() == 0)
		return "/var/cache/ebpf-studio";
	if (xdg && xdg[0] == '/')
		snprintf(buf, size, "%s/ebpf-studio", xdg);
	else if (home && home[0] == '/')
		snprintf(buf, size, "%s/.cache/ebpf-studio", home);
	else
		snprintf(buf, size, "/tmp/ebpf-studio-cache-%u", geteuid());
	return buf;
}

/* Refuses (exit 2) to serve from a place another user could change: see exe_location.c. */
static int refuse_unsafe_location(void)
{
	char why[PATH_MAX + 160];
	int err = exe_location_check(why, sizeof(why));

	if (err == -EPERM) {
		fprintf(stderr, "ebpf-agent: refusing to run as %s: %s, so another user could replace what runs; "
			"make it writable only by you and root (chmod go-w, chown), or install the agent elsewhere\n",
			geteuid() == 0 ? "root" : "this user", why);
		return 2;
	}
	if (err) {
		fprintf(stderr, "ebpf-agent: refusing to run: cannot examine its own executable: %s\n", strerror(-err));
		return 2;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: ebpf-agent [--cache-dir DIR]\n"
		     "Speaks JSON-RPC 2.0, one message per line, on stdin/stdout (see PROTOCOL.md).\n"
		     "  --cache-dir DIR  where generated vmlinux.h files and their PCHs are kept\n"
		     "                   (default /var/cache/ebpf-studio as root, else ~/.cache/ebpf-studio)\n"
		     "Work directories are created under $TMPDIR (default /tmp) and removed on exit.\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "cache-dir", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct agent a = { .warm_clang = WARM_CLANG_INIT };	/* static: the object table is large */
	char cache_buf[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	int opt, err;

	a.cache_dir = default_cache_dir(cache_buf, sizeof(cache_buf));
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (optarg[0] != '/') {
				fprintf(stderr, "ebpf-agent: --cache-dir must be an absolute path\n");
				return 2;
			}
			a.cache_dir = optarg;
			break;
		case 'V':
			printf("ebpf-agent %s (protocol %d)\n", AGENT_VERSION, AGENT_PROTOCOL_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	err = refuse_unsafe_location();
	if (err)
		return err;
	a.tmp_dir = tmp && tmp[0] == '/' ? tmp : "/tmp";
	/* Keep freed memory for the next request rather than hand it back to the kernel: every load
	 * of a CO-RE program parses the kernel's BTF (~6 MB of allocations), and faulting those pages
	 * in afresh each time cost ~50 ms per load, seven times the parse itself. Bounded: blocks over
	 * 32 MiB (walk logs) are still mapped and unmapped on their own, and free memory above
	 * 64 MiB at the top of the heap is still returned. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	for (size_t i = 0; i < METHOD_COUNT; i++)
		method_names[i] = methods[i].name;
	a.methods = method_names;
	a.objects.unloading = object_unloading;
	err = setup_signals(&a);
	if (!err)
		err = outbuf_init();
	if (!err)
		err = line_reader_init(&a.reader);
	if (err) {
		fprintf(stderr, "ebpf-agent: cannot start: %s\n", strerror(-err));
		return 1;
	}
	libbpf_output_install();
	features_probe(&a.features);
	/* Before serving: what killed agents of this user left attached goes first. */
	err = journal_start(a.cache_dir);
	if (err > 0)
		fprintf(stderr, "ebpf-agent: removed %d tc filter(s) left by killed agents\n", err);
	else if (err < 0)
		fprintf(stderr, "ebpf-agent: no attach journal in %s/attachments (%s): legacy tc attaches will be "
			"refused\n", a.cache_dir, strerror(-err));
	err = serve(&a);
	if (err)
		fprintf(stderr, "ebpf-agent: stdout failed (%s); detaching everything and exiting\n", strerror(-err));
	if (agent_stop_requested)
		fprintf(stderr, "ebpf-agent: stopping on signal %d\n", (int)agent_stop_requested);
	streams_stop_all();
	objects_clear(&a.objects);
	warm_clang_stop(&a.warm_clang);
	if (!err)
		outbuf_drain(2000);
	outbuf_free();
	inbound_queue_clear(&a.queue);
	line_reader_free(&a.reader);
	return err ? 1 : 0;
}
