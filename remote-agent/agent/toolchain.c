// SPDX-License-Identifier: MIT
/* Facts about the host's clang and architecture that the compile command line needs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "process.h"
#include "toolchain.h"

#define PROBE_OUTPUT_MAX (64u << 10)

const char *clang_path(void)
{
	static char found[PATH_MAX];
	const char *path = getenv("PATH");
	const char *dir, *end;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (dir = path; *dir; dir = *end ? end + 1 : end) {
		end = strchrnul(dir, ':');
		if (end == dir || *dir != '/')
			continue;	/* relative PATH entries would depend on our cwd */
		if (snprintf(found, sizeof(found), "%.*s/clang", (int)(end - dir), dir) >=
		    (int)sizeof(found))
			continue;
		if (access(found, X_OK) == 0)
			return found;
	}
	return NULL;
}

/* First line of `clang ARG`'s output, or NULL. Cached per clang path and argument. */
static const char *probe_first_line(const char *clang, const char *arg, char *cache,
				    size_t cache_size, char *cached_for, size_t cached_for_size)
{
	const char *argv[] = { clang, arg, NULL };
	struct proc_result res;

	if (!clang)
		return NULL;
	if (cache[0] && strcmp(cached_for, clang) == 0)
		return cache;
	if (proc_run(argv, NULL, PROBE_OUTPUT_MAX, NULL, &res))
		return NULL;
	if (res.exit_code == 0 && res.output_len) {
		snprintf(cache, cache_size, "%.*s", (int)strcspn(res.output, "\n"), res.output);
		snprintf(cached_for, cached_for_size, "%s", clang);
	}
	proc_result_free(&res);
	return cache[0] && strcmp(cached_for, clang) == 0 ? cache : NULL;
}

const char *clang_version(const char *clang)
{
	static char version[512], version_of[PATH_MAX];

	return probe_first_line(clang, "--version", version, sizeof(version),
				version_of, sizeof(version_of));
}

const char *multiarch_include_dir(const char *clang)
{
	static char multiarch[256], multiarch_of[PATH_MAX], dir[320];
	const char *triple;
	struct stat st;

	triple = probe_first_line(clang, "-print-multiarch", multiarch, sizeof(multiarch),
				  multiarch_of, sizeof(multiarch_of));
	if (!triple || !*triple || strchr(triple, '/'))
		return NULL;
	snprintf(dir, sizeof(dir), "/usr/include/%s", triple);
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

const char *target_arch_define(const char *machine)
{
	static const struct { const char *prefix; const char *define; } arches[] = {
		{ "x86_64", "-D__TARGET_ARCH_x86" },	{ "i686", "-D__TARGET_ARCH_x86" },
		{ "i386", "-D__TARGET_ARCH_x86" },	{ "aarch64", "-D__TARGET_ARCH_arm64" },
		{ "arm64", "-D__TARGET_ARCH_arm64" },	{ "arm", "-D__TARGET_ARCH_arm" },
		{ "s390", "-D__TARGET_ARCH_s390" },	{ "ppc", "-D__TARGET_ARCH_powerpc" },
		{ "riscv", "-D__TARGET_ARCH_riscv" },	{ "mips", "-D__TARGET_ARCH_mips" },
		{ "sparc", "-D__TARGET_ARCH_sparc" },	{ "loongarch", "-D__TARGET_ARCH_loongarch" },
		{ "arc", "-D__TARGET_ARCH_arc" },
	};
	struct utsname u;

	if (!machine) {
		if (uname(&u))
			return NULL;
		machine = u.machine;
	}
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		if (strncmp(machine, arches[i].prefix, strlen(arches[i].prefix)) == 0)
			return arches[i].define;
	return NULL;
}
