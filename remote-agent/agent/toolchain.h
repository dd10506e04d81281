/* SPDX-License-Identifier: MIT */
/* The target host's clang: where it is, its version, and the flags that depend on the host. */
#ifndef EBPF_AGENT_TOOLCHAIN_H
#define EBPF_AGENT_TOOLCHAIN_H

/* Absolute path of clang found in $PATH, or NULL. Looked up again on every call, so a clang
 * installed while the agent runs is found. Returned string is static. */
const char *clang_path(void);
/* First line of `clang --version`, or NULL when clang is missing or does not run. */
const char *clang_version(const char *clang);
/* The -D__TARGET_ARCH_<arch> flag for a `uname -m` machine (NULL: this host's), or NULL if unknown. */
const char *target_arch_define(const char *machine);
/* The multiarch system include dir (e.g. /usr/include/x86_64-linux-gnu, where <asm/types.h>
 * lives on Debian) if clang knows one and it exists, else NULL. -target bpf does not search it. */
const char *multiarch_include_dir(const char *clang);

#endif
