// SPDX-License-Identifier: MIT
/* libFuzzer target for what a client controls: the bytes on the agent's stdin. One input is
 * what the client writes (normally one request line; a newline in it makes several, so framing
 * and cancellation of queued requests are fuzzed too). It goes the agent's own way: stdin (a
 * pipe) -> agent_pump_input (line reader, strict JSON parse, cancel routing) -> queue ->
 * agent_dispatch_queued (envelope checks, method table) -> the handler's params validation and
 * work, with the effects on this machine cut off by seam.c. After each input it checks what the
 * agent promises:
 *   - every reply line on stdout is a JSON-RPC 2.0 response (id, and exactly one of result and
 *     error; an error has an integer code and a message) or a notification;
 *   - each line that is not a notification (a JSON object without "id") gets exactly one reply;
 *   - once its objects are released, nothing is left in the agent's temp dir.
 * ASan, UBSan and LeakSanitizer (-fsanitize=fuzzer,address,undefined) check the memory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../agent.h"
#include "../outbuf.h"
#include "../session.h"
#include "../streams.h"
#include "seam.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The most one input may hold: it must fit the stdin pipe, which nobody reads while it fills. */
#define INPUT_MAX (1u << 20)

static struct agent agent = { .warm_clang = WARM_CLANG_INIT };
static char root[] = "/tmp/ebpf-agent-fuzz-XXXXXX";
static char tmp_dir[64], cache_dir[64];

static void fail(const char *what)
{
	fprintf(stderr, "agent_request_fuzz: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void make_dir(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", root, name);
	if (mkdir(out, 0700))
		fail(out);
}

static int remove_entry(const char *path, const struct stat *st __attribute__((unused)),
			int type __attribute__((unused)), struct FTW *ftw __attribute__((unused)))
{
	if (remove(path))
		fprintf(stderr, "agent_request_fuzz: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* At the end of a run (not after a crash: its state is then kept for a look). */
static void remove_root(void)
{
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc __attribute__((unused)), char ***argv __attribute__((unused)))
{
	char bpffs[64];
	int out;

	if (!mkdtemp(root))
		fail("mkdtemp");
	atexit(remove_root);
	make_dir(tmp_dir, sizeof(tmp_dir), "tmp");
	make_dir(cache_dir, sizeof(cache_dir), "cache");
	make_dir(bpffs, sizeof(bpffs), "bpffs");
	agent.tmp_dir = tmp_dir;
	agent.cache_dir = cache_dir;
	agent.methods = agent_method_names();
	agent.objects.unloading = agent_object_unloading;
	/* Replies go to a memory file, read back and checked after each input. */
	out = memfd_create("agent-stdout", MFD_CLOEXEC);
	if (out < 0 || dup2(out, STDOUT_FILENO) < 0)
		fail("stdout");
	close(out);
	if (outbuf_init() || line_reader_init(&agent.reader))
		fail("outbuf/line reader");
	libbpf_output_install();
	fuzz_seam_kernel_open = true;
	features_probe(&agent.features, NULL);
	fuzz_seam_kernel_open = false;
	/* unpin deletes files under <bpffs>/ebpf-studio: a directory of the run's own, not the host's. */
	snprintf(agent.features.bpffs, sizeof(agent.features.bpffs), "%s", bpffs);
	return 0;
}

/* Puts @data on stdin (a pipe whose write end is closed: the input ends there). */
static void feed_stdin(const uint8_t *data, size_t size)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		fail("pipe");
	if (fcntl(p[1], F_SETPIPE_SZ, INPUT_MAX) < (int)INPUT_MAX)
		fail("F_SETPIPE_SZ");
	for (size_t done = 0; done < size; ) {
		ssize_t n = write(p[1], data + done, size - done);

		if (n < 0)
			fail("write to stdin pipe");
		done += n;
	}
	close(p[1]);
	if (dup2(p[0], STDIN_FILENO) < 0)
		fail("dup2 stdin");
	close(p[0]);
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Whether the agent owes @line a reply: everything but a JSON object without "id" (parsed the
 * way the agent parses: strict, UTF-8 checked, nothing but blanks after the value). */
static bool wants_reply(struct json_tokener *tok, const char *line, size_t len)
{
	struct json_object *msg;
	bool notification;

	json_tokener_reset(tok);
	msg = json_tokener_parse_ex(tok, line, (int)len);
	if (!msg)
		return true;
	notification = json_object_is_type(msg, json_type_object) &&
		       !json_object_object_get_ex(msg, "id", NULL) &&
		       blank(line + json_tokener_get_parse_end(tok), len - json_tokener_get_parse_end(tok));
	json_object_put(msg);
	return !notification;
}

static size_t replies_owed(const char *in, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	size_t owed = 0;

	if (!tok)
		fail("json_tokener_new");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	for (size_t start = 0; start < size; ) {
		const char *nl = memchr(in + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - in) : size, len = end - start;

		if (len && in[start + len - 1] == '\r')
			len--;
		if (!blank(in + start, len) && wants_reply(tok, in + start, len))
			owed++;
		start = end + 1;
	}
	json_tokener_free(tok);
	return owed;
}

static void broken(const char *why, const char *line)
{
	fprintf(stderr, "agent_request_fuzz: %s:\n%.2000s\n", why, line ? line : "");
	abort();
}

/* Checks one line the agent wrote; returns whether it is a response (has an id member). */
static bool check_reply(const char *line)
{
	struct json_object *msg = json_tokener_parse(line), *v, *code, *message;
	bool response = false;

	if (!msg || !json_object_is_type(msg, json_type_object))
		broken("the agent wrote a line that is not a JSON object", line);
	if (!json_object_object_get_ex(msg, "jsonrpc", &v) || strcmp(json_object_get_string(v), "2.0"))
		broken("the agent wrote a line without \"jsonrpc\": \"2.0\"", line);
	if (json_object_object_get_ex(msg, "id", NULL)) {
		bool result = json_object_object_get_ex(msg, "result", NULL);
		bool error = json_object_object_get_ex(msg, "error", &v);

		response = true;
		if (result == error)
			broken("a response must have exactly one of result and error", line);
		if (error && (!json_object_object_get_ex(v, "code", &code) || !json_object_is_type(code, json_type_int) ||
			      !json_object_object_get_ex(v, "message", &message) ||
			      !json_object_is_type(message, json_type_string) || !json_object_get_string_len(message)))
			broken("an error response needs an integer code and a message", line);
	} else if (!json_object_object_get_ex(msg, "method", &v) || !json_object_is_type(v, json_type_string)) {
		broken("a line that is no response must be a notification with a method", line);
	}
	json_object_put(msg);
	return response;
}

static void check_output(size_t owed)
{
	off_t len = lseek(STDOUT_FILENO, 0, SEEK_END);
	size_t responses = 0;
	char *text, *line, *save = NULL;

	if (len < 0)
		fail("lseek stdout");
	text = calloc(1, (size_t)len + 1);
	if (!text || pread(STDOUT_FILENO, text, len, 0) != len)
		fail("read back stdout");
	if (len && text[len - 1] != '\n')
		broken("the agent's output does not end with a newline", text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		responses += check_reply(line);
	if (responses != owed) {
		fprintf(stderr, "agent_request_fuzz: %zu responses for %zu lines that want one\n", responses, owed);
		broken("every request (and every line that is no notification) gets exactly one reply", NULL);
	}
	free(text);
	if (ftruncate(STDOUT_FILENO, 0) || lseek(STDOUT_FILENO, 0, SEEK_SET))
		fail("reset stdout");
}

static void check_temp_dir_empty(void)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *e;

	if (!d)
		fail(tmp_dir);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			broken("a work directory is left after its object was released", e->d_name);
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return -1;
	feed_stdin(data, size);
	agent.input_closed = false;
	while (!agent.input_closed)
		if (agent_pump_input(&agent))
			fail("reading stdin");
	if (agent_dispatch_queued(&agent))
		fail("writing stdout");
	/* What the agent does when its client goes away. */
	streams_stop_all();
	objects_clear(&agent.objects);
	agent.objects.next_seq = 0;	/* every input starts with obj-1: a crash replays alone */
	warm_clang_stop(&agent.warm_clang);
	session_close();	/* a hello's grace period ends with its input */
	inbound_queue_clear(&agent.queue);
	if (outbuf_flush())
		fail("flushing stdout");
	check_output(replies_owed((const char *)data, size));
	check_temp_dir_empty();
	return 0;
}
