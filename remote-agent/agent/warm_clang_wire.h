/* SPDX-License-Identifier: MIT */
/* What the agent (warm_clang.c) and the code it preloads into clang (warm_clang_preload.c) say
 * to each other over their private socketpair (SOCK_SEQPACKET, one message per packet):
 *   preload -> agent  once, when clang has started:  u32 WARM_CLANG_READY
 *   agent -> preload  a compile: struct warm_clang_request, then "cwd\0arg1\0...\0" (the
 *                     arguments after argv[0]), with the write end of the output pipe attached
 *                     (SCM_RIGHTS)
 *   preload -> agent  i32 pid of the child running it (or -errno if fork failed), then
 *                     i32 its wait status when it has ended. One compile at a time. */
#ifndef EBPF_AGENT_WARM_CLANG_WIRE_H
#define EBPF_AGENT_WARM_CLANG_WIRE_H

#include <stdint.h>

/* Names the socket's fd number in the environment of the clang that should wait for work. */
#define WARM_CLANG_FD_ENV "EBPF_AGENT_WARM_CLANG_FD"
#define WARM_CLANG_READY 0x77636c31u	/* "wcl1" */
#define WARM_CLANG_REQUEST 0x77637131u	/* "wcq1" */
#define WARM_CLANG_MAX_MESSAGE (64u << 10)
#define WARM_CLANG_MAX_ARGS 512

struct warm_clang_request {
	uint32_t magic;
	uint32_t argc;	/* arguments after cwd */
};

#endif
