// SPDX-License-Identifier: MIT
/* host.tracepoints (tracefs available_events as "category/name") and host.executables (executable
 * files in the standard and PATH directories): what the target offers to attach to, listed so the
 * editor can suggest a template's parameters. Both answers are capped by `limit`; names that are not
 * plain (odd characters, too long) are skipped, never passed on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "params.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

/* Directories always looked at, in this order, before those of PATH. */
static const char *const standard_dirs[] = {
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL,
};

/* PATH entries looked at, at most, so an absurd PATH costs nothing. */
#define MAX_PATH_DIRS 32
/* Directory entries read per directory, at most (a huge /usr/bin stays bounded). */
#define MAX_DIR_ENTRIES 20000
/* An event name in available_events ("category:name"). */
#define MAX_EVENT_LINE 256

static bool read_limit(struct json_object *params, long long *limit, struct rpc_reply *r)
{
	*limit = AGENT_HOST_LIST_DEFAULT_LIMIT;
	if (!params)
		return true;
	return params_object(params, r) &&
	       param_int(params, "params", "limit", 1, AGENT_HOST_LIST_MAX_LIMIT, limit, NULL, r);
}

/* "category:name\n" -> "category/name" in @out; false when the line is not that shape. */
static bool tracepoint_name(const char *line, char *out, size_t size)
{
	size_t len = strcspn(line, "\n");
	const char *colon = memchr(line, ':', len);

	if (!colon || colon == line || colon == line + len - 1 || len >= size)
		return false;
	memcpy(out, line, len);
	out[len] = '\0';
	out[colon - line] = '/';
	return param_name_ok(out, "/", size - 1) && strchr(out, '/') == strrchr(out, '/');
}

static int list_tracepoints(const char *tracefs, long long limit, struct json_object *list, bool *truncated)
{
	char path[PATH_MAX], line[MAX_EVENT_LINE], name[MAX_EVENT_LINE];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/available_events", tracefs);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* A line longer than the buffer: skip the rest of it, the name is not one we pass on. */
		if (!strchr(line, '\n') && !feof(f)) {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (!tracepoint_name(line, name, sizeof(name)))
			continue;
		if ((long long)json_object_array_length(list) >= limit) {
			*truncated = true;
			break;
		}
		json_object_array_add(list, json_object_new_string(name));
	}
	if (ferror(f))
		err = -EIO;
	fclose(f);
	return err;
}

void method_host_tracepoints(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	struct json_object *list;
	bool truncated = false;
	long long limit;
	int err;

	if (!read_limit(params, &limit, r))
		return;
	if (!a->features.tracefs[0]) {
		rpc_reply_error(r, RPC_KERNEL_FEATURE_MISSING, "tracefs is not mounted (and the agent could not mount it): "
				"there is no list of tracepoints; run `mount -t tracefs tracefs /sys/kernel/tracing`.");
		return;
	}
	list = json_object_new_array();
	err = list_tracepoints(a->features.tracefs, limit, list, &truncated);
	if (err) {
		json_object_put(list);
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Reading %s/available_events failed: %s.", a->features.tracefs,
				strerror(-err));
		return;
	}
	r->result = json_object_new_object();
	json_object_object_add(r->result, "tracepoints", list);
	json_object_object_add(r->result, "truncated", json_object_new_boolean(truncated));
}

/* The directories to list, each real directory once: @real holds the realpath()s already taken. */
struct dir_set {
	char *real[ARRAY_SIZE(standard_dirs) + MAX_PATH_DIRS];
	size_t count;
};

static bool dir_set_add(struct dir_set *set, const char *dir)
{
	char *real;

	if (dir[0] != '/' || set->count == ARRAY_SIZE(set->real))
		return false;
	real = realpath(dir, NULL);
	if (!real)
		return false;
	for (size_t i = 0; i < set->count; i++) {
		if (strcmp(set->real[i], real) == 0) {
			free(real);
			return false;
		}
	}
	set->real[set->count++] = real;
	return true;
}

static void dir_set_free(struct dir_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		free(set->real[i]);
	set->count = 0;
}

/* An executable regular file (after symlinks) with a name a path parameter can hold. */
static bool is_listed_executable(int dirfd, const char *name)
{
	struct stat st;

	if (name[0] == '.' || !param_name_ok(name, ".+@-", NAME_MAX))
		return false;
	if (fstatat(dirfd, name, &st, 0))
		return false;
	return S_ISREG(st.st_mode) && (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH));
}

/* Adds "@dir/name" for each executable in @dir; stops at @limit entries in @list. */
static int list_dir(const char *dir, long long limit, struct json_object *list, bool *truncated)
{
	char path[PATH_MAX];
	struct dirent *e;
	int fd, seen = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == EACCES || errno == ENOTDIR ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		int err = -errno;

		close(fd);
		return err;
	}
	while ((e = readdir(d)) && seen++ < MAX_DIR_ENTRIES) {
		if (!is_listed_executable(fd, e->d_name))
			continue;
		if ((long long)json_object_array_length(list) >= limit) {
			*truncated = true;
			break;
		}
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		json_object_array_add(list, json_object_new_string(path));
	}
	closedir(d);
	return 0;
}

/* The standard directories, then each absolute PATH entry, without repeats. */
static void collect_dirs(struct dir_set *set, const char **dirs, size_t max)
{
	const char *path = getenv("PATH");
	size_t n = 0;

	for (const char *const *s = standard_dirs; *s && n < max; s++)
		if (dir_set_add(set, *s))
			dirs[n++] = *s;
	dirs[n] = NULL;
	if (!path)
		return;
	for (const char *p = path; *p && set->count < ARRAY_SIZE(set->real);) {
		size_t len = strcspn(p, ":");
		char dir[PATH_MAX];

		if (len > 0 && len < sizeof(dir)) {
			memcpy(dir, p, len);
			dir[len] = '\0';
			if (dir_set_add(set, dir)) {
				/* realpath() made a copy; list the directory under its real name. */
				dirs[n++] = set->real[set->count - 1];
				dirs[n] = NULL;
			}
		}
		p += len;
		if (*p == ':')
			p++;
	}
}

void method_host_executables(struct agent *a, struct json_object *params, struct rpc_reply *r)
{
	const char *dirs[ARRAY_SIZE(standard_dirs) + MAX_PATH_DIRS + 1];
	struct dir_set set = { .count = 0 };
	struct json_object *list;
	bool truncated = false;
	long long limit;
	int err = 0;

	(void)a;
	if (!read_limit(params, &limit, r))
		return;
	collect_dirs(&set, dirs, ARRAY_SIZE(dirs) - 1);
	list = json_object_new_array();
	for (const char **d = dirs; *d && !err && !truncated; d++)
		err = list_dir(*d, limit, list, &truncated);
	if (err) {
		json_object_put(list);
		dir_set_free(&set);
		rpc_reply_error(r, RPC_INTERNAL_ERROR, "Listing the executables failed: %s.", strerror(-err));
		return;
	}
	dir_set_free(&set);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "executables", list);
	json_object_object_add(r->result, "truncated", json_object_new_boolean(truncated));
}
