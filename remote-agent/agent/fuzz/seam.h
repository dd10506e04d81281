/* SPDX-License-Identifier: MIT */
/* The fuzz build's link-time seam (seam.c): whether the kernel may be reached for loads now. */
#ifndef EBPF_AGENT_FUZZ_SEAM_H
#define EBPF_AGENT_FUZZ_SEAM_H

#include <stdbool.h>

/* True only while the harness probes the kernel at start-up, as the agent does before serving. */
extern bool fuzz_seam_kernel_open;

#endif
