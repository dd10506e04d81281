/* SPDX-License-Identifier: MIT */
/* Private per-compile directories under the temp dir, and writing client files into them. */
#ifndef EBPF_AGENT_WORKDIR_H
#define EBPF_AGENT_WORKDIR_H

#include <stddef.h>

/* Creates a fresh 0700 directory under @tmp_dir; *path is malloc'ed. */
int work_dir_create(const char *tmp_dir, char **path);
/* Removes @path and everything below it, without following symlinks. */
int work_dir_remove(const char *path);
/* Writes @len bytes to @dir/@rel_path, creating parent directories (0700). @rel_path must
 * already be validated (relative, no '..'). The file must not exist yet. */
int work_dir_write(const char *dir, const char *rel_path, const char *data, size_t len);
/* Reads a whole file; *data is malloc'ed. */
int read_whole_file(const char *path, size_t max, void **data, size_t *len);

#endif
