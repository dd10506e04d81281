/* SPDX-License-Identifier: MIT */
/* vmlinux.h generated from the running kernel's BTF with libbpf's btf_dump, and its clang
 * precompiled header, cached on disk per kernel BTF (btfId) and per clang version. */
#ifndef EBPF_AGENT_VMLINUX_CACHE_H
#define EBPF_AGENT_VMLINUX_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "process.h"

#define VMLINUX_BTF_PATH "/sys/kernel/btf/vmlinux"
#define BTF_ID_LEN 16

uint64_t fnv1a64(uint64_t hash, const void *data, size_t len);
#define FNV1A64_INIT 0xcbf29ce484222325ULL

/* Hex content hash of the kernel's BTF. -ENOENT (or another -errno) when there is none. */
int vmlinux_btf_id(char id[BTF_ID_LEN + 1]);

/* Creates @path and its missing parents with @mode; -EPERM (said on stderr) when @path is not a
 * directory of ours that only we can write. One readable by others is made 0700. */
int cache_dir_ensure_private(const char *path, mode_t mode);

/* Whether @s is a btfId: 16 lowercase hex digits. */
bool btf_id_valid(const char *s);

/* Makes sure @cache_dir/vmlinux/<btfId>/vmlinux.h exists, for this kernel (@btf_id NULL) or for the
 * kernel whose BTF was stored with vmlinux_btf_store (-ENODATA when it never was). *dir is that
 * directory (malloc'ed), *generated tells whether it was written now. */
int vmlinux_header_ensure(const char *cache_dir, const char *btf_id, char **dir, bool *generated);

/* Stores another kernel's raw BTF as @cache_dir/vmlinux/<btf_id>/vmlinux.btf after checking that
 * @btf_id is its hash (-EBADMSG) and that libbpf parses it (-EINVAL). */
int vmlinux_btf_store(const char *cache_dir, const char *btf_id, const void *data, size_t size);

/* Makes sure a PCH of @dir/vmlinux.h for this clang and arch exists; *pch is its path. May
 * return -ECANCELED when @watch aborts it. *log receives clang's output on failure. */
int vmlinux_pch_ensure(const char *dir, const char *clang, const char *arch_define,
		       const struct proc_watch *watch, char **pch, char **log);

#endif
