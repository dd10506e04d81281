// SPDX-License-Identifier: MIT
/* Refuses to run from a place others could change. The agent runs as root, often through a sudo
 * rule naming its path: if that file, its directory, or a directory above it could be written by
 * a user other than the one running it (or root), that user could put their own program there and
 * have it run as root. So the executable (/proc/self/exe) and its directory must be owned by root
 * or the invoking user and writable by no one else; each directory above must be owned likewise
 * and not writable by others, unless sticky (like /tmp: others cannot rename what is ours). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exe_location.h"

/* The invoking user: the real uid, or sudo's caller when sudo made us root. */
static uid_t invoking_uid(void)
{
	const char *sudo_uid = getenv("SUDO_UID");
	char *end;
	unsigned long long v;

	if (getuid() != 0 || !sudo_uid || !sudo_uid[0])
		return getuid();
	errno = 0;
	v = strtoull(sudo_uid, &end, 10);
	if (errno || *end || v > (uid_t)-1)
		return getuid();
	return (uid_t)v;
}

static bool trusted_owner(uid_t owner)
{
	return owner == 0 || owner == getuid() || owner == invoking_uid();
}

/* Checks one path's owner and mode; @sticky_ok: a sticky directory may be writable by others. */
static int check_one(const char *path, const struct stat *st, bool sticky_ok, char *why, size_t size)
{
	if (!trusted_owner(st->st_uid)) {
		snprintf(why, size, "%s is owned by uid %u, neither root nor the user running it (uid %u)", path,
			 (unsigned)st->st_uid, (unsigned)invoking_uid());
		return -EPERM;
	}
	if ((st->st_mode & 022) && !(sticky_ok && (st->st_mode & S_ISVTX))) {
		snprintf(why, size, "%s is writable by %s (mode %04o)", path, (st->st_mode & 002) ? "everyone" : "its group",
			 (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* The executable itself, examined through the file that is running, whatever its path now names. */
static int check_exe_file(const char *path, char *why, size_t size)
{
	struct stat st;
	int fd, err;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fstat(fd, &st) ? -errno : 0;
	close(fd);
	return err ? err : check_one(path, &st, false, why, size);
}

/* Walks @path's directories up to /; @path is canonical (from /proc/self/exe), so no links. */
static int check_dirs(char *path, char *why, size_t size)
{
	struct stat st;
	bool first = true;
	char *slash;
	int err;

	while ((slash = strrchr(path, '/'))) {
		if (slash == path)
			slash[1] = '\0';	/* the root directory */
		else
			*slash = '\0';
		if (lstat(path, &st))
			return -errno;
		err = check_one(path, &st, !first, why, size);
		if (err || slash == path)
			return err;
		first = false;
	}
	return 0;
}

int exe_location_check(char *why, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int err;

	why[0] = '\0';
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n < 0)
		return -errno;
	path[n] = '\0';
	if (path[0] != '/') {
		snprintf(why, size, "its executable's path %s is not absolute", path);
		return -EPERM;
	}
	err = check_exe_file(path, why, size);
	if (!err)
		err = check_dirs(path, why, size);
	return err;
}
