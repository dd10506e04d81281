// SPDX-License-Identifier: MIT
/* Work directories: created private, filled with the client's files, removed completely. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workdir.h"

int work_dir_create(const char *tmp_dir, char **path)
{
	char *tmpl;

	if (asprintf(&tmpl, "%s/ebpf-agent.XXXXXX", tmp_dir) < 0)
		return -ENOMEM;
	if (!mkdtemp(tmpl)) {
		int err = -errno;

		free(tmpl);
		return err;
	}
	*path = tmpl;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		fprintf(stderr, "ebpf-agent: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

int work_dir_remove(const char *path)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return -errno;
	return 0;
}

/* Creates the directories of @path below its first @from bytes (which exist). */
static int make_parents(char *path, size_t from)
{
	for (char *p = strchr(path + from, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			int err = -errno;

			*p = '/';
			return err;
		}
		*p = '/';
	}
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= n;
	}
	return 0;
}

int work_dir_write(const char *dir, const char *rel_path, const char *data, size_t len)
{
	char *path;
	int fd, err;

	if (asprintf(&path, "%s/%s", dir, rel_path) < 0)
		return -ENOMEM;
	err = make_parents(path, strlen(dir) + 1);
	if (!err) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			err = -errno;
		} else {
			err = write_all(fd, data, len);
			if (close(fd) && !err)
				err = -errno;
		}
	}
	free(path);
	return err;
}

int read_whole_file(const char *path, size_t max, void **data, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		err = -EFBIG;
		goto out;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			free(buf);
			goto out;
		}
		got += n;
	}
	*data = buf;
	*len = got;
out:
	close(fd);
	return err;
}
