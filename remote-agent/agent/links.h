/* SPDX-License-Identifier: MIT */
/* What the agent attached: every kind of attachment (libbpf links, raw kernel link fds, legacy tc
 * filters, packet sockets, per-CPU perf event links) under one linkId, and its teardown. */
#ifndef EBPF_AGENT_LINKS_H
#define EBPF_AGENT_LINKS_H

#include <stdbool.h>
#include <stddef.h>

#include <bpf/libbpf.h>

#include "objects.h"

struct attachment {
	struct attachment *next;
	char id[24];
	struct held_object *obj;
	char *description;
	__u32 prog_id;
	char *pin_path;			/* pinned under <bpffs>/ebpf-studio/; NULL if not */
	struct bpf_link **links;	/* libbpf links; several for perf_event (one per CPU) */
	size_t nlinks;
	int link_fd;			/* raw kernel link (xdp, tcx); -1 if none */
	int socket_fd;			/* packet socket of a socket_filter; -1 if none */
	bool composite;			/* one libbpf link over several kernel links (usdt: a uprobe per
					 * call site); its bpf_link__fd is no link fd (libbpf leaves it 0) */
	bool tc_legacy;			/* a clsact filter: detach with tc_hook/tc_opts */
	bool tc_hook_created;		/* we created the clsact qdisc: destroy it with the last filter */
	struct bpf_tc_hook tc_hook;
	struct bpf_tc_opts tc_opts;
	__u8 prog_tag[8];		/* of a legacy tc filter's program, for the attach journal */
};

/* A fresh attachment of @obj with a new linkId; nothing attached yet. NULL: no memory. */
struct attachment *link_new(struct held_object *obj);
int link_add_libbpf(struct attachment *l, struct bpf_link *link);
void link_register(struct attachment *l);
struct attachment *link_find(const char *id);
/* The one fd that can be pinned, or -1 when this attachment is not a single kernel link. */
int link_pin_fd(const struct attachment *l);
/* Detaches everything, unpins it if pinned, unregisters (if registered) and frees. */
void link_destroy(struct attachment *l);
/* The object goes away: its links are destroyed (pinned ones stay pinned, in the kernel). */
void links_object_gone(struct held_object *obj);
/* Rewrites the attach journal (journal.h) with every registered legacy tc filter and @pending
 * (NULL: none), which is about to be attached. Returns 0 or a negative errno. */
int links_journal_store(const struct attachment *pending);
/* Forgets @path as the pin of one of our links (it was unpinned by request). */
void links_forget_pin(const char *path);

#endif
