/* SPDX-License-Identifier: MIT */
/* The attach journal: what this agent attached that outlives its file descriptors (legacy tc
 * clsact filters, and the clsact qdisc it created for them), kept in a file of its own under
 * <cache dir>/attachments/ so that a later agent of the same user can remove it if this one is
 * killed (SIGKILL, OOM) before it detaches. BPF links (xdp, tcx, tracing) die with their fds and
 * are never journaled. */
#ifndef EBPF_AGENT_JOURNAL_H
#define EBPF_AGENT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

/* One legacy tc filter: where it is, how it is addressed, and which program it runs. */
struct journal_tc_entry {
	int ifindex;
	bool ingress;
	__u32 handle;
	__u32 priority;
	__u32 prog_id;
	__u8 prog_tag[8];
	bool qdisc_created;	/* we created the clsact qdisc: it goes with our last filter there */
};

/* Remembers where this agent's journal lives (<cache_dir>/attachments/agent-<pid>.journal) and
 * removes what the journals of dead agents name: a filter is removed only when the program it
 * runs now is still the one journaled (same id and tag). Returns how many filters were removed,
 * or a negative errno when the journal directory cannot be made private. */
int journal_start(const char *cache_dir);

/* Replaces this agent's journal with @entries (written to a temporary file, fsynced and renamed
 * over it); with none, the journal is deleted. Returns 0 or a negative errno. */
int journal_store(const struct journal_tc_entry *entries, size_t n);

#endif
