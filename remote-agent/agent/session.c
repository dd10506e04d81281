// SPDX-License-Identifier: MIT
/* A session kept through a dropped link; see session.h. Two roles:
 *  - the surviving agent: after hello's grace period it listens on
 *    <cache dir>/sessions/agent-<pid>.sock (directory 0700, owned by the agent's euid); while its
 *    client is gone it holds its output, keeps reading its streams, and takes the first connection
 *    of the same uid (SO_PEERCRED) whose session.resume line carries its token (compared in
 *    constant time) as its new stdin/stdout.
 *  - the resuming agent: a fresh agent whose first request is session.resume connects to that
 *    socket (checking the listener's uid too), hands it the request and relays bytes both ways
 *    until either side ends. The token travels only inside the request line, never in argv. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "outbuf.h"
#include "params.h"
#include "session.h"
#include "streams.h"
#include "vmlinux_cache.h"

#define TOKEN_BYTES 32
#define TOKEN_HEX (TOKEN_BYTES * 2)
/* A resume line holds a token and a few stream counts: far below this. */
#define RESUME_LINE_MAX (64u << 10)
/* How long a connecting agent may take to send its resume line. */
#define RESUME_LINE_WAIT_MS 2000
#define RELAY_CHUNK (64u << 10)

static struct {
	int listen_fd;			/* -1: no session kept */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char token[TOKEN_HEX + 1];
	unsigned grace_s;
	bool orphaned;
	long long deadline_ms;		/* while orphaned: when the grace period ends */
} sess = { .listen_fd = -1 };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* "<cache dir>/sessions/agent-<pid>.sock", the directory made private; -ENAMETOOLONG when it does
 * not fit a socket address. */
static int socket_path(const char *cache_dir, long pid, char *path, size_t size)
{
	char dir[PATH_MAX];
	int err;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/sessions", cache_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	err = cache_dir_ensure_private(dir, 0700);
	if (err)
		return err;
	if ((size_t)snprintf(path, size, "%s/agent-%ld.sock", dir, pid) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int make_token(char hex[TOKEN_HEX + 1])
{
	unsigned char raw[TOKEN_BYTES];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Same length by construction (checked by the caller); no early exit on the first difference. */
static bool token_matches(const char *given)
{
	unsigned char diff = 0;

	for (size_t i = 0; i < TOKEN_HEX; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)sess.token[i];
	return diff == 0;
}

/* Whether the process at the other end of @fd runs as this agent's effective uid. */
static bool peer_is_same_user(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) && cred.uid == geteuid();
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket of ours that a killed agent of the same pid left behind. */
	if (unlink(path) && errno != ENOENT)
		goto fail;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(path, 0600) || listen(fd, 4))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

struct json_object *session_keep(struct agent *a, unsigned grace_s)
{
	struct json_object *ticket;
	int err = 0;

	if (sess.listen_fd < 0) {
		err = socket_path(a->cache_dir, (long)getpid(), sess.path, sizeof(sess.path));
		if (!err)
			err = make_token(sess.token);
		if (!err) {
			sess.listen_fd = listen_on(sess.path);
			err = sess.listen_fd < 0 ? sess.listen_fd : 0;
		}
		if (err) {
			sess.listen_fd = -1;
			fprintf(stderr, "ebpf-agent: no grace period: cannot listen in %s/sessions (%s); what this "
				"session attaches is released when its link drops\n", a->cache_dir, strerror(-err));
			return NULL;
		}
	}
	sess.grace_s = grace_s;
	ticket = json_object_new_object();
	json_object_object_add(ticket, "agentId", json_object_new_int((int)getpid()));
	json_object_object_add(ticket, "token", json_object_new_string(sess.token));
	json_object_object_add(ticket, "graceSeconds", json_object_new_int((int)grace_s));
	return ticket;
}

void session_close(void)
{
	if (sess.listen_fd < 0)
		return;
	close(sess.listen_fd);
	unlink(sess.path);
	explicit_bzero(sess.token, sizeof(sess.token));
	sess.listen_fd = -1;
	sess.grace_s = 0;
}

void session_end(void)
{
	session_close();
}

bool session_kept(void)
{
	return sess.listen_fd >= 0 && sess.grace_s > 0;
}

bool session_orphaned(void)
{
	return sess.orphaned;
}

int session_listen_fd(void)
{
	return sess.listen_fd;
}

bool session_expired(void)
{
	return sess.orphaned && now_ms() >= sess.deadline_ms;
}

int session_wait_ms(void)
{
	long long left;

	if (!sess.orphaned)
		return -1;
	left = sess.deadline_ms - now_ms();
	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* stdin and stdout of a gone client become /dev/null: nothing polls a hung-up channel. stderr
 * stays: a closed channel fails its writes (EPIPE, SIGPIPE ignored), and a test's pipe keeps
 * getting the sanitizers' reports. */
static void forget_client_fds(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	close(fd);
}

static void reset_input(struct agent *a)
{
	inbound_queue_clear(&a->queue);
	line_reader_free(&a->reader);
	if (line_reader_init(&a->reader))
		fprintf(stderr, "ebpf-agent: out of memory resetting the request reader\n");
}

void session_orphan(struct agent *a, const char *why)
{
	fprintf(stderr, "ebpf-agent: %s; keeping the session %u s for its client to resume it\n", why, sess.grace_s);
	forget_client_fds();
	outbuf_discard();
	outbuf_hold(true);
	reset_input(a);
	a->input_closed = true;
	sess.orphaned = true;
	sess.deadline_ms = now_ms() + sess.grace_s * 1000LL;
}

/* Reads one line from a just-accepted @fd, waiting at most RESUME_LINE_WAIT_MS; NULL if none. */
static struct json_object *read_resume_line(int fd)
{
	long long deadline = now_ms() + RESUME_LINE_WAIT_MS;
	struct json_object *msg = NULL;
	struct json_tokener *tok;
	size_t len = 0;
	char *buf, *nl = NULL;

	buf = malloc(RESUME_LINE_MAX);
	if (!buf)
		return NULL;
	while (!nl && len < RESUME_LINE_MAX) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + len, RESUME_LINE_MAX - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		nl = memchr(buf + len, '\n', n);
		len += n;
	}
	tok = nl ? json_tokener_new() : NULL;
	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		msg = json_tokener_parse_ex(tok, buf, (int)(nl - buf));
		if (msg && !json_object_is_type(msg, json_type_object)) {
			json_object_put(msg);
			msg = NULL;
		}
		json_tokener_free(tok);
	}
	explicit_bzero(buf, len);	/* it held the token */
	free(buf);
	return msg;
}

/* Answers the resume request on @fd (not yet our stdout) with an error, and closes it. */
static void refuse(int fd, struct json_object *id, int code, const char *message)
{
	struct json_object *msg = json_object_new_object(), *err = json_object_new_object();
	const char *text;

	json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(msg, "id", id ? json_object_get(id) : NULL);
	json_object_object_add(err, "code", json_object_new_int(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(msg, "error", err);
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	if (text && write(fd, text, strlen(text)) >= 0 && write(fd, "\n", 1) < 0)
		fprintf(stderr, "ebpf-agent: answering a refused resume failed: %s\n", strerror(errno));
	json_object_put(msg);
	close(fd);
}

/* The streams' counts a resume request carries: each {streamId: string, decoded: integer >= 0}. */
static bool valid_stream_counts(struct json_object *list)
{
	if (!list)
		return true;
	if (!json_object_is_type(list, json_type_array) || json_object_array_length(list) > STREAMS_MAX)
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *id, *n;

		if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "streamId", &id) ||
		    !json_object_is_type(id, json_type_string) || !json_object_object_get_ex(e, "decoded", &n) ||
		    !json_object_is_type(n, json_type_int) || json_object_get_int64(n) < 0)
			return false;
	}
	return true;
}

/* Checks a resume request against this session: 0, or the error code with *why. */
static int check_resume(struct json_object *msg, struct json_object **streams, const char **why)
{
	struct json_object *method, *params, *agent_id, *token, *id = rpc_msg_id(msg);

	*streams = NULL;
	if (!json_object_object_get_ex(msg, "method", &method) || !json_object_is_type(method, json_type_string) ||
	    strcmp(json_object_get_string(method), "session.resume") ||
	    (id && !json_object_is_type(id, json_type_string) && !json_object_is_type(id, json_type_int)) ||
	    !json_object_object_get_ex(msg, "params", &params) || !json_object_is_type(params, json_type_object)) {
		*why = "Only a session.resume request may be sent on an agent's session socket.";
		return RPC_INVALID_REQUEST;
	}
	if (!json_object_object_get_ex(params, "agentId", &agent_id) || !json_object_is_type(agent_id, json_type_int) ||
	    json_object_get_int64(agent_id) != getpid() || !json_object_object_get_ex(params, "token", &token) ||
	    !json_object_is_type(token, json_type_string) || json_object_get_string_len(token) != TOKEN_HEX ||
	    !token_matches(json_object_get_string(token))) {
		*why = "The session's token does not match: nothing was resumed. Only the client that started a "
		       "session can resume it; start a new session.";
		return RPC_SESSION_REFUSED;
	}
	json_object_object_get_ex(params, "streams", streams);
	if (!valid_stream_counts(*streams)) {
		*why = "params.streams must be at most 16 entries of {streamId: string, decoded: integer >= 0}.";
		return RPC_INVALID_PARAMS;
	}
	return 0;
}

static struct json_object *held_objects_json(const struct agent *a)
{
	struct json_object *ids = json_object_new_array();

	for (size_t i = 0; ids && i < OBJECT_TABLE_SLOTS; i++)
		if (a->objects.slots[i].id[0])
			json_object_array_add(ids, json_object_new_string(a->objects.slots[i].id));
	return ids;
}

/* @fd becomes the agent's stdin and stdout; the resume request is answered there. */
static void adopt(struct agent *a, int fd, struct json_object *id, struct json_object *stream_counts)
{
	struct rpc_reply reply = { 0 };

	if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		refuse(fd, id, RPC_INTERNAL_ERROR, "The agent could not take the connection; try again.");
		return;
	}
	close(fd);
	outbuf_discard();
	outbuf_hold(false);
	if (outbuf_init())
		fprintf(stderr, "ebpf-agent: cannot make the resumed output non-blocking: %s\n", strerror(errno));
	reset_input(a);
	a->input_closed = false;
	sess.orphaned = false;
	for (size_t i = 0; stream_counts && i < json_object_array_length(stream_counts); i++) {
		struct json_object *e = json_object_array_get_idx(stream_counts, i), *sid, *n;

		json_object_object_get_ex(e, "streamId", &sid);
		json_object_object_get_ex(e, "decoded", &n);
		streams_client_decoded(json_object_get_string(sid), (unsigned long long)json_object_get_int64(n));
	}
	reply.result = json_object_new_object();
	json_object_object_add(reply.result, "hello", hello_result(a));
	json_object_object_add(reply.result, "streams", streams_json());
	json_object_object_add(reply.result, "objects", held_objects_json(a));
	if (rpc_send(id, &reply))
		session_orphan(a, "the resuming client went away at once");
	rpc_reply_free(&reply);
}

void session_accept(struct agent *a)
{
	struct json_object *msg, *streams;
	const char *why;
	int fd, code;

	fd = accept4(sess.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!peer_is_same_user(fd)) {
		close(fd);
		return;
	}
	msg = read_resume_line(fd);
	if (!msg) {
		close(fd);
		return;
	}
	code = check_resume(msg, &streams, &why);
	if (code) {
		refuse(fd, rpc_msg_id(msg), code, why);
	} else {
		/* The token holder is back, maybe before this end noticed the old link was dead. */
		if (!sess.orphaned)
			session_orphan(a, "the session's client resumed it on a new link");
		adopt(a, fd, rpc_msg_id(msg), streams);
	}
	json_object_put(msg);
}

void method_session_end(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	(void)a;
	if (params && !params_object(params, r))
		return;
	session_end();
	r->result = json_object_new_object();
}

/* --- the resuming agent's side --------------------------------------------------------------- */

struct pipe_buf {
	char data[RELAY_CHUNK];
	size_t head, len;
};

static int append_line(struct pipe_buf *b, struct json_object *msg)
{
	const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	size_t n = text ? strlen(text) : 0;

	if (!text || b->len + n + 1 > sizeof(b->data))
		return -E2BIG;
	memcpy(b->data + b->len, text, n);
	b->data[b->len + n] = '\n';
	b->len += n + 1;
	return 0;
}

/* Reads into @b when it is empty; 1 at end of input. */
static int fill(struct pipe_buf *b, int fd)
{
	ssize_t n = read(fd, b->data, sizeof(b->data));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	b->head = 0;
	b->len = n;
	return 0;
}

static int drain(struct pipe_buf *b, int fd)
{
	ssize_t n = write(fd, b->data + b->head, b->len - b->head);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	b->head += n;
	if (b->head == b->len)
		b->head = b->len = 0;
	return 0;
}

/* Copies stdin → @sock and @sock → stdout until either side ends or the agent is signalled. */
static void relay(struct agent *a, int sock, struct pipe_buf *up, struct pipe_buf *down)
{
	bool in_open = true, sock_open = true;

	while (!agent_stop_requested && (sock_open || down->len)) {
		struct pollfd fds[3] = {
			{ .fd = in_open && !up->len ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = (sock_open && !down->len) || up->len ? sock : -1,
			  .events = (sock_open && !down->len ? POLLIN : 0) | (up->len ? POLLOUT : 0) },
			{ .fd = down->len ? STDOUT_FILENO : -1, .events = POLLOUT },
		};
		int err = 0;

		if (!in_open && !up->len && sock_open)
			shutdown(sock, SHUT_WR);	/* the client's input ended: so does the agent's */
		if (ppoll(fds, 3, NULL, &a->poll_sigmask) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (fds[2].revents & (POLLERR | POLLHUP))
			return;	/* the client's link is gone: closing the socket tells the agent */
		if (fds[0].revents) {
			err = fill(up, STDIN_FILENO);
			if (err)
				in_open = false;
		}
		if (fds[1].revents & POLLOUT && drain(up, sock) < 0)
			return;
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR) && !down->len && fill(down, sock))
			sock_open = false;
		if (fds[2].revents & POLLOUT && drain(down, STDOUT_FILENO) < 0)
			return;
	}
}

/* Connects to the session socket of agent @pid, checking who listens there. */
static int connect_session(const struct agent *a, long pid, struct rpc_reply *r)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	err = socket_path(a->cache_dir, pid, addr.sun_path, sizeof(addr.sun_path));
	if (err) {
		rpc_reply_error(r, RPC_SESSION_REFUSED, "Cannot use the session directory %s/sessions: %s.", a->cache_dir,
				strerror(-err));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot make a socket: %s.", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		err = errno;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			rpc_reply_error(r, RPC_SESSION_EXPIRED, "The target's agent ended after the grace period (or was "
					"stopped); programs were detached. Start them again in a new session.");
		else
			rpc_reply_error(r, RPC_SESSION_REFUSED, "Cannot reach the session's agent: %s.", strerror(err));
		return -1;
	}
	if (!peer_is_same_user(fd)) {
		close(fd);
		rpc_reply_error(r, RPC_SESSION_REFUSED, "The session socket is not served by this user's agent; nothing "
				"was resumed.");
		return -1;
	}
	return fd;
}

void method_session_resume(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct pipe_buf *up = NULL, *down = NULL;
	struct json_object *request = NULL;
	const char *token;
	long long pid;
	int sock;

	if (!params_object(params, r) || !param_int(params, "params", "agentId", 1, INT_MAX, &pid, NULL, r) ||
	    !param_string(params, "params", "token", true, &token, r))
		return;
	if (strlen(token) != TOKEN_HEX) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.token must be the %d hex digits hello gave.", TOKEN_HEX);
		return;
	}
	if (sess.listen_fd >= 0 || pid == getpid()) {
		rpc_reply_error(r, RPC_INVALID_REQUEST, "session.resume goes to a freshly started agent, as its first "
				"request; this agent already serves a session.");
		return;
	}
	sock = connect_session(a, (long)pid, r);
	if (sock < 0)
		return;
	up = calloc(1, sizeof(*up));
	down = calloc(1, sizeof(*down));
	request = json_object_new_object();
	if (!up || !down || !request) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		goto out;
	}
	json_object_object_add(request, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(request, "id", a->running_id ? json_object_get(a->running_id) : NULL);
	json_object_object_add(request, "method", json_object_new_string("session.resume"));
	json_object_object_add(request, "params", json_object_get(params));
	if (append_line(up, request)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "The session.resume request is too long.");
		goto out;
	}
	if (fcntl(sock, F_SETFL, O_NONBLOCK)) {
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot make the session socket non-blocking: %s.", strerror(errno));
		goto out;
	}
	/* From here on every answer comes from the resumed agent; this one only carries bytes. */
	r->relayed = true;
	relay(a, sock, up, down);
	/* This agent serves nothing itself: it ends with the relay. */
	a->input_closed = true;
	inbound_queue_clear(&a->queue);
out:
	if (up)
		explicit_bzero(up, sizeof(*up));
	free(up);
	free(down);
	json_object_put(request);
	close(sock);
}
