// SPDX-License-Identifier: MIT
/* The attach journal (journal.h). A killed agent cannot detach what it attached; the kernel takes
 * BPF links down with their fds, but a legacy clsact filter holds its program until someone
 * deletes it. So such a filter is journaled before it is made (with the handle and priority the
 * agent picks itself), and the next agent of the same user removes what a dead agent's journal
 * names, after checking that the filter there still runs the journaled program.
 *
 * File: <cache dir>/attachments/agent-<pid>.journal, 0600 in a 0700 directory:
 *   ebpf-agent-journal 1 pid=<pid> start=<starttime> boot=<boot id>
 *   tc ifindex=<n> dir=<ingress|egress> handle=<n> priority=<n> prog_id=<n> tag=<16 hex> qdisc=<0|1>
 * The owner is alive while /proc/<pid>/stat shows the same start time in the same boot. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "journal.h"
#include "vmlinux_cache.h"

#define JOURNAL_MAGIC "ebpf-agent-journal 1"
#define JOURNAL_MAX_ENTRIES 256

static char journal_dir[PATH_MAX];
static char journal_path[PATH_MAX];
static unsigned long long own_start;
static char boot_id[40];

/* Field 22 of /proc/<pid>/stat (clock ticks since boot), or 0 when there is no such process. */
static unsigned long long process_start_time(int pid)
{
	char path[32], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the command name may hold spaces and parentheses */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &start) != 1)
		return 0;
	return start;
}

static void read_boot_id(void)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (!f || !fgets(boot_id, sizeof(boot_id), f))
		strcpy(boot_id, "unknown");
	boot_id[strcspn(boot_id, "\n")] = '\0';
	if (f)
		fclose(f);
}

static bool tag_matches(__u32 prog_id, const __u8 tag[8])
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	bool same;
	int fd;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &info, &len) && memcmp(info.tag, tag, sizeof(info.tag)) == 0;
	close(fd);
	return same;
}

/* Removes the filter of @e if it is still ours. 1: removed; 0: gone or someone else's now; -errno. */
static int remove_tc_filter(const struct journal_tc_entry *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = e->ifindex, .attach_point = e->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, query, .handle = e->handle, .priority = e->priority);
	LIBBPF_OPTS(bpf_tc_opts, del, .handle = e->handle, .priority = e->priority);
	int err;

	err = bpf_tc_query(&hook, &query);
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL)
		return 0;	/* no such filter, interface or qdisc any more */
	if (err)
		return err;
	if (query.prog_id != e->prog_id || !tag_matches(e->prog_id, e->prog_tag))
		return 0;
	err = bpf_tc_detach(&hook, &del);
	return err ? err : 1;
}

static void remove_clsact(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err = bpf_tc_hook_destroy(&hook);

	if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
		fprintf(stderr, "ebpf-agent: removing the clsact qdisc of ifindex %d failed: %s\n", ifindex, strerror(-err));
}

static bool parse_entry(const char *line, struct journal_tc_entry *e)
{
	char dir[8], tag[17];
	int qdisc;

	if (sscanf(line, "tc ifindex=%d dir=%7s handle=%u priority=%u prog_id=%u tag=%16s qdisc=%d", &e->ifindex, dir,
		   &e->handle, &e->priority, &e->prog_id, tag, &qdisc) != 7 || strlen(tag) != 16)
		return false;
	if (strcmp(dir, "ingress") && strcmp(dir, "egress"))
		return false;
	e->ingress = strcmp(dir, "ingress") == 0;
	e->qdisc_created = qdisc == 1;
	for (int i = 0; i < 8; i++) {
		unsigned int byte;

		if (sscanf(tag + 2 * i, "%2x", &byte) != 1)
			return false;
		e->prog_tag[i] = (__u8)byte;
	}
	return true;
}

/* Removes what the claimed journal @path of dead agent @pid names. Returns filters removed or -errno. */
static int sweep_entries(FILE *f, int pid, bool same_boot)
{
	struct journal_tc_entry e, removed_on[JOURNAL_MAX_ENTRIES];
	size_t nremoved = 0;
	char line[256];
	int removed = 0, err;

	while (fgets(line, sizeof(line), f)) {
		if (!same_boot || !parse_entry(line, &e))
			continue;	/* after a reboot nothing journaled exists, and ids mean other things */
		err = remove_tc_filter(&e);
		if (err < 0) {
			fprintf(stderr, "ebpf-agent: removing the tc filter (ifindex %d, handle %u, priority %u) of dead "
				"agent %d failed: %s\n", e.ifindex, e.handle, e.priority, pid, strerror(-err));
			continue;
		}
		if (err == 0)
			continue;
		removed++;
		fprintf(stderr, "ebpf-agent: removed the tc %s filter (ifindex %d, handle %u, priority %u, prog id %u) left "
			"by dead agent %d\n", e.ingress ? "ingress" : "egress", e.ifindex, e.handle, e.priority, e.prog_id, pid);
		if (e.qdisc_created && nremoved < JOURNAL_MAX_ENTRIES)
			removed_on[nremoved++] = e;
	}
	for (size_t i = 0; i < nremoved; i++) {
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= removed_on[j].ifindex == removed_on[i].ifindex;
		if (!seen)
			remove_clsact(removed_on[i].ifindex);
	}
	return removed;
}

/* Sweeps one journal file if its owner is dead. Returns filters removed, or -errno. */
static int sweep_journal(const char *name)
{
	char path[PATH_MAX], claimed[PATH_MAX + 32], header[160], boot[40];
	unsigned long long start;
	int pid, removed;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", journal_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (!fgets(header, sizeof(header), f) || strncmp(header, JOURNAL_MAGIC " ", strlen(JOURNAL_MAGIC) + 1) ||
	    sscanf(header + strlen(JOURNAL_MAGIC), " pid=%d start=%llu boot=%39s", &pid, &start, boot) != 3) {
		fclose(f);
		fprintf(stderr, "ebpf-agent: %s is no attach journal; leaving it alone\n", path);
		return 0;
	}
	fclose(f);
	if (strcmp(boot, boot_id) == 0 && process_start_time(pid) == start)
		return 0;	/* its agent is still running */
	/* Claimed by renaming: of two agents starting at once, one sweeps it. */
	snprintf(claimed, sizeof(claimed), "%s.sweep-%d", path, (int)getpid());
	if (rename(path, claimed))
		return errno == ENOENT ? 0 : -errno;
	f = fopen(claimed, "re");
	if (!f)
		return -errno;
	if (!fgets(header, sizeof(header), f))
		header[0] = '\0';
	removed = sweep_entries(f, pid, strcmp(boot, boot_id) == 0);
	fclose(f);
	if (unlink(claimed))
		fprintf(stderr, "ebpf-agent: deleting the swept journal %s failed: %s\n", claimed, strerror(errno));
	return removed;
}

static bool is_journal_name(const char *name)
{
	size_t n = strlen(name), suffix = strlen(".journal");

	return strncmp(name, "agent-", 6) == 0 && n > 6 + suffix && strcmp(name + n - suffix, ".journal") == 0;
}

/* What a dead agent left half done: its journal's next version (agent-<pid>.journal.new: the
 * journal itself still holds every filter), or a journal it was sweeping (<journal>.sweep-<pid>:
 * given back under its name and swept again). Returns filters removed, or -errno. */
static int recover_leftover(const char *name)
{
	char path[PATH_MAX], back_name[NAME_MAX + 1], back[PATH_MAX + NAME_MAX + 2];
	const char *sweep = strstr(name, ".journal.sweep-");
	int pid;

	if (snprintf(path, sizeof(path), "%s/%s", journal_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (sweep) {
		if (sscanf(sweep, ".journal.sweep-%d", &pid) != 1 || process_start_time(pid))
			return 0;
		snprintf(back_name, sizeof(back_name), "%.*s.journal", (int)(sweep - name), name);
		snprintf(back, sizeof(back), "%s/%s", journal_dir, back_name);
		if (rename(path, back))
			return errno == ENOENT ? 0 : -errno;
		return sweep_journal(back_name);
	}
	if (sscanf(name, "agent-%d.journal.new", &pid) != 1 || process_start_time(pid))
		return 0;
	return unlink(path) && errno != ENOENT ? -errno : 0;
}

static bool is_leftover_name(const char *name)
{
	size_t n = strlen(name);

	return strncmp(name, "agent-", 6) == 0 &&
	       (strstr(name, ".journal.sweep-") || (n > 12 && strcmp(name + n - 12, ".journal.new") == 0));
}

int journal_start(const char *cache_dir)
{
	struct dirent *d;
	int err, removed = 0;
	DIR *dir;

	if (snprintf(journal_dir, sizeof(journal_dir), "%s/attachments", cache_dir) >= (int)sizeof(journal_dir) ||
	    snprintf(journal_path, sizeof(journal_path), "%s/agent-%d.journal", journal_dir, (int)getpid()) >=
		    (int)sizeof(journal_path)) {
		journal_path[0] = '\0';
		return -ENAMETOOLONG;
	}
	read_boot_id();
	own_start = process_start_time(getpid());
	err = cache_dir_ensure_private(journal_dir, 0700);
	if (err) {
		journal_path[0] = '\0';
		return err;
	}
	dir = opendir(journal_dir);
	if (!dir) {
		err = -errno;
		journal_path[0] = '\0';
		return err;
	}
	while ((d = readdir(dir))) {
		if (is_journal_name(d->d_name))
			err = sweep_journal(d->d_name);
		else if (is_leftover_name(d->d_name))
			err = recover_leftover(d->d_name);
		else
			continue;
		if (err < 0)
			fprintf(stderr, "ebpf-agent: sweeping the attach journal %s/%s failed: %s\n", journal_dir,
				d->d_name, strerror(-err));
		else
			removed += err;
	}
	closedir(dir);
	return removed;
}

static int write_entries(int fd, const struct journal_tc_entry *entries, size_t n)
{
	FILE *f = fdopen(fd, "w");
	int err = 0;

	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	fprintf(f, JOURNAL_MAGIC " pid=%d start=%llu boot=%s\n", (int)getpid(), own_start, boot_id);
	for (size_t i = 0; i < n; i++) {
		const struct journal_tc_entry *e = &entries[i];

		fprintf(f, "tc ifindex=%d dir=%s handle=%u priority=%u prog_id=%u tag=", e->ifindex,
			e->ingress ? "ingress" : "egress", e->handle, e->priority, e->prog_id);
		for (int b = 0; b < 8; b++)
			fprintf(f, "%02x", e->prog_tag[b]);
		fprintf(f, " qdisc=%d\n", e->qdisc_created ? 1 : 0);
	}
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

int journal_store(const struct journal_tc_entry *entries, size_t n)
{
	char tmp[PATH_MAX + 8];
	int fd, err;

	if (!journal_path[0])
		return -ENOENT;
	if (n == 0) {
		if (unlink(journal_path) && errno != ENOENT)
			return -errno;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", journal_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	err = write_entries(fd, entries, n);
	if (!err && rename(tmp, journal_path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
