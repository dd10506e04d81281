/* SPDX-License-Identifier: MIT */
/* State shared by the agent's request handlers: options, held objects, and the input side that
 * must keep being read (for cancellations) while a long request such as compile runs. */
#ifndef EBPF_AGENT_H
#define EBPF_AGENT_H

#include <signal.h>
#include <stdbool.h>

#include "features.h"
#include "objects.h"
#include "rpc.h"
#include "warm_clang.h"

#define AGENT_VERSION "0.1.0"

struct agent {
	const char *cache_dir;		/* vmlinux.h and its PCH, per btfId */
	const char *tmp_dir;		/* parent of the per-compile work dirs */
	const char *const *methods;	/* NULL-terminated, for hello's capabilities */
	struct kernel_features features;	/* probed at start */
	struct object_table objects;
	struct warm_clang warm_clang;	/* started at the first compile */
	struct line_reader reader;
	struct inbound_queue queue;
	struct json_object *running_id;	/* id of the request being handled; NULL if none */
	bool running_cancelled;
	bool input_closed;
	sigset_t poll_sigmask;		/* signal mask while blocked in ppoll() */
};

/* Set by SIGTERM/SIGHUP/SIGINT; the agent cleans up and exits. */
extern volatile sig_atomic_t agent_stop_requested;

/* Reads what stdin holds now: cancellations take effect at once, other messages are queued.
 * Returns 0, or a negative errno when stdin fails. */
int agent_pump_input(struct agent *a);

/* Before an attached object closes (release, eviction, exit): its streams stop, its links go. */
void agent_object_unloading(struct held_object *obj);

/* Handles the queued messages in order (dispatch.c). Returns a negative errno only when stdout is gone. */
int agent_dispatch_queued(struct agent *a);

/* hello's answer without a resume ticket (hello.c; session.resume answers it too). */
struct json_object *hello_result(struct agent *a);

/* The protocol's method names, NULL-terminated (hello's capabilities). */
const char *const *agent_method_names(void);

/* Whether the running request must stop: it was cancelled or the agent is terminating. */
bool agent_should_abort(const struct agent *a);

/* Routes libbpf's messages: into the current program's libbpfLog during load, else stderr. */
void libbpf_output_install(void);

/* A growing text buffer (capped at 1 MiB) for libbpf's messages. */
struct text_sink {
	char *buf;
	size_t len;
	size_t cap;
	bool truncated;
};

/* While @sink is set, libbpf's warnings and info go into it instead of stderr (NULL: stderr). */
void libbpf_capture(struct text_sink *sink);
const char *sink_text(const struct text_sink *s);
void sink_reset(struct text_sink *s);

struct bpf_program;
struct load_presets;
/* What every load of one request shares: the probed kernel and the request's presets. */
struct load_ctx {
	const struct kernel_features *features;
	const struct load_presets *presets;
	/* Log every walked instruction of accepted programs too (load's `walk`), not only failures'. */
	bool walk;
	/* The object's maps as the first load created them, reused by the next programs' loads (NULL: none). */
	struct created_maps *maps;
};
/* Verifies @prog of @held on its own, as `load` does, and returns its ProgramVerdict (NULL: no memory). */
struct json_object *program_verdict_json(const struct held_object *held, const struct bpf_program *prog,
					 const struct load_ctx *c);

/* Request handlers, one per method of protocol.ts (protocol_generated.h lists them). Each fills
 * @reply with a result or an error. */
#define X(wire, handler) void method_##handler(struct agent *a, struct json_object *params, struct rpc_reply *reply);
AGENT_METHODS(X)
#undef X

#endif
