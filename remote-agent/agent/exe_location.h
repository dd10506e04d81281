/* SPDX-License-Identifier: MIT */
/* Whether the agent's own executable sits where only root and its user could change it. */
#ifndef EBPF_AGENT_EXE_LOCATION_H
#define EBPF_AGENT_EXE_LOCATION_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when /proc/self/exe and its directories are owned by root or the invoking user (the real uid,
 * or SUDO_UID under sudo) and writable by no one else (directories above it: unless sticky).
 * -EPERM with a sentence in @why naming the path when not; another -errno when it cannot tell. */
int exe_location_check(char *why, size_t size);

#endif
