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
#include "outbuf.h"
#include "session.h"
#include "streams.h"

/* The client's link is gone (why): with a session kept (hello's grace period) the agent waits for
 * the client to resume it; false when it must stop instead. */
static bool wait_for_resume(struct agent *a, const char *why)
{
	if (!session_kept())
		return false;
	if (!session_orphaned())
		session_orphan(a, why);
	return true;
}

static int serve(struct agent *a)
{
	struct pollfd fds[3 + STREAMS_MAX + 1];
	struct timespec timeout;
	size_t n, nstreams;
	int err, wait_ms;
	bool orphaned;

	for (;;) {
		/* Without a terminal, a hangup means the link went: not a reason to drop a kept session. */
		if (agent_stop_requested == SIGHUP && wait_for_resume(a, "the client hung up (SIGHUP)"))
			agent_stop_requested = 0;
		if (agent_stop_requested)
			break;
		err = session_orphaned() ? 0 : agent_dispatch_queued(a);
		if (err && !wait_for_resume(a, "the client's output failed"))
			return err;
		if (a->input_closed && !wait_for_resume(a, "the client's input ended"))
			break;
		if (agent_stop_requested)
			continue;
		if (session_expired()) {
			fprintf(stderr, "ebpf-agent: no client resumed the session within its grace period\n");
			break;
		}
		orphaned = session_orphaned();
		fds[0] = (struct pollfd){ .fd = orphaned ? -1 : STDIN_FILENO, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = !orphaned && outbuf_pending() ? STDOUT_FILENO : -1, .events = POLLOUT };
		fds[2] = (struct pollfd){ .fd = session_listen_fd(), .events = POLLIN };
		nstreams = streams_poll_fds(fds + 3);
		n = 3 + nstreams;
		/* Orphaned, batches wait for a client: only the grace period's end is due. */
		wait_ms = orphaned ? session_wait_ms() : streams_timeout_ms();
		timeout = (struct timespec){ .tv_sec = wait_ms / 1000, .tv_nsec = (wait_ms % 1000) * 1000000L };
		if (ppoll(fds, n, wait_ms < 0 ? NULL : &timeout, &a->poll_sigmask) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!orphaned) {
			err = fds[1].revents & (POLLERR | POLLHUP) ? -EPIPE : outbuf_flush();	/* EPIPE: its SSH channel dropped */
			if (!err && fds[0].revents)
				err = agent_pump_input(a);
			if (err && !wait_for_resume(a, "the client's link dropped"))
				return err;
		}
		streams_service(fds + 3, nstreams);
		err = outbuf_flush();
		if (err && !wait_for_resume(a, "the client's link dropped"))
			return err;
		if (fds[2].revents)
			session_accept(a);
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
	a.methods = agent_method_names();
	a.objects.unloading = agent_object_unloading;
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
	features_probe(&a.features, a.cache_dir);
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
	session_close();
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
