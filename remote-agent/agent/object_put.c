// SPDX-License-Identifier: MIT
/* object.put: hold an object compiled elsewhere (on the client, against this kernel's BTF) as a
 * successful compile would, so load, attach and release work on it the same way. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agent.h"
#include "base64.h"
#include "params.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

/* A 64-bit ELF relocatable for the BPF machine, in either byte order; libbpf checks the rest. */
static bool is_bpf_object(const unsigned char *data, size_t size)
{
	unsigned int machine;

	if (size < sizeof(Elf64_Ehdr) || memcmp(data, ELFMAG, SELFMAG) != 0 || data[EI_CLASS] != ELFCLASS64)
		return false;
	if (data[EI_DATA] == ELFDATA2LSB)
		machine = data[18] | data[19] << 8;
	else if (data[EI_DATA] == ELFDATA2MSB)
		machine = data[18] << 8 | data[19];
	else
		return false;
	return machine == EM_BPF;
}

/* Exit statuses of the child that tries libbpf's parser on an object. */
enum { OPENED = 0, OPEN_REFUSED = 2 };

/* Whether libbpf's ELF parser gets through @data without crashing, tried in a child process:
 * libbpf 1.1's parser dereferences out-of-range section and symbol indexes of a malformed
 * object (found by fuzzing, fuzz/regressions/), and the agent must not die of a client's bytes.
 * Returns 0 when libbpf opened it or refused it cleanly (load then says why), -EBADMSG when it
 * crashed, or another negative errno when the child could not run. */
static int libbpf_parser_survives(const void *data, size_t size)
{
	int status, null_fd;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "object_put_check");
		struct bpf_object *obj;

		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null_fd >= 0)
			dup2(null_fd, STDERR_FILENO);	/* the crash report is not the agent's */
		obj = bpf_object__open_mem(data, size, &opts);
		_exit(obj ? (bpf_object__close(obj), OPENED) : OPEN_REFUSED);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && (WEXITSTATUS(status) == OPENED || WEXITSTATUS(status) == OPEN_REFUSED))
		return 0;
	return -EBADMSG;
}

void method_object_put(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	const char *name, *text;
	struct held_object *obj;
	char *name_copy;
	void *data = NULL;
	size_t size;
	int err;

	if (!params_object(params, r) || !param_string(params, "params", "name", true, &name, r) ||
	    !param_string(params, "params", "object", true, &text, r))
		return;
	if (!param_name_ok(name, ".-", 64)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.name must be 1-64 of [A-Za-z0-9_.-].");
		return;
	}
	if (base64_decode(text, &data, &size)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.object must be base64.");
		return;
	}
	if (size > AGENT_OBJECT_MAX_BYTES || !is_bpf_object(data, size)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "params.object must be a BPF ELF object (clang -target bpf) of at "
				"most %d bytes.", AGENT_OBJECT_MAX_BYTES);
		free(data);
		return;
	}
	err = libbpf_parser_survives(data, size);
	if (err) {
		free(data);
		if (err == -EBADMSG)
			rpc_reply_error(r, RPC_INVALID_PARAMS, "params.object is a malformed ELF object: libbpf's parser "
					"crashed on it (in a separate process); rebuild it with clang -target bpf.");
		else
			rpc_reply_error(r, RPC_INTERNAL_ERROR, "Cannot check params.object: %s.", strerror(-err));
		return;
	}
	name_copy = strdup(name);
	if (!name_copy) {
		free(data);
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "The agent ran out of memory.");
		return;
	}
	obj = objects_add(&a->objects, name_copy, NULL, data, size);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "objectId", json_object_new_string(obj->id));
}
