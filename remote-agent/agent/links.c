// SPDX-License-Identifier: MIT
/* The registry of attachments and their teardown, whatever kind they are. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "links.h"

static struct attachment *registry;
static unsigned long long next_link_seq;

struct attachment *link_new(struct held_object *obj)
{
	struct attachment *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	snprintf(l->id, sizeof(l->id), "link-%llu", ++next_link_seq);
	l->obj = obj;
	l->link_fd = -1;
	l->socket_fd = -1;
	return l;
}

int link_add_libbpf(struct attachment *l, struct bpf_link *link)
{
	struct bpf_link **links = realloc(l->links, (l->nlinks + 1) * sizeof(*links));

	if (!links)
		return -ENOMEM;
	links[l->nlinks++] = link;
	l->links = links;
	return 0;
}

void link_register(struct attachment *l)
{
	l->next = registry;
	registry = l;
}

struct attachment *link_find(const char *id)
{
	for (struct attachment *l = registry; l; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

int link_pin_fd(const struct attachment *l)
{
	if (l->nlinks == 1 && l->link_fd < 0 && l->socket_fd < 0 && !l->tc_legacy && !l->composite)
		return bpf_link__fd(l->links[0]);
	if (l->nlinks == 0 && l->link_fd >= 0)
		return l->link_fd;
	return -1;
}

/* Another legacy tc filter of ours on the same device keeps the clsact qdisc alive. */
static struct attachment *other_tc_user(const struct attachment *l)
{
	for (struct attachment *o = registry; o; o = o->next)
		if (o != l && o->tc_legacy && o->tc_hook.ifindex == l->tc_hook.ifindex)
			return o;
	return NULL;
}

static void tc_legacy_detach(struct attachment *l)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->tc_opts.handle, .priority = l->tc_opts.priority);
	struct attachment *other;
	int err;

	err = bpf_tc_detach(&l->tc_hook, &opts);
	if (err)
		fprintf(stderr, "ebpf-agent: %s: removing the tc filter failed: %s\n", l->id, strerror(-err));
	if (!l->tc_hook_created)
		return;
	other = other_tc_user(l);
	if (other) {
		other->tc_hook_created = true;
		return;
	}
	l->tc_hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;	/* the whole clsact qdisc */
	err = bpf_tc_hook_destroy(&l->tc_hook);
	if (err)
		fprintf(stderr, "ebpf-agent: %s: removing the clsact qdisc failed: %s\n", l->id, strerror(-err));
}

static void unregister(struct attachment *l)
{
	for (struct attachment **p = &registry; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			return;
		}
	}
}

static void journal_entry_of(const struct attachment *l, struct journal_tc_entry *e)
{
	*e = (struct journal_tc_entry){
		.ifindex = l->tc_hook.ifindex,
		.ingress = l->tc_hook.attach_point == BPF_TC_INGRESS,
		.handle = l->tc_opts.handle,
		.priority = l->tc_opts.priority,
		.prog_id = l->prog_id,
		.qdisc_created = l->tc_hook_created,
	};
	memcpy(e->prog_tag, l->prog_tag, sizeof(e->prog_tag));
}

int links_journal_store(const struct attachment *pending)
{
	struct journal_tc_entry *entries;
	size_t n = pending ? 1 : 0;
	int err;

	for (struct attachment *l = registry; l; l = l->next)
		n += l->tc_legacy;
	entries = calloc(n ? n : 1, sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	n = 0;
	if (pending)
		journal_entry_of(pending, &entries[n++]);
	for (struct attachment *l = registry; l; l = l->next)
		if (l->tc_legacy && l != pending)
			journal_entry_of(l, &entries[n++]);
	err = journal_store(entries, n);
	free(entries);
	return err;
}

static void teardown(struct attachment *l)
{
	bool journaled = l->tc_legacy;
	int err;

	for (size_t i = 0; i < l->nlinks; i++)
		bpf_link__destroy(l->links[i]);
	if (l->link_fd >= 0)
		close(l->link_fd);
	if (l->socket_fd >= 0)
		close(l->socket_fd);
	if (l->tc_legacy)
		tc_legacy_detach(l);
	unregister(l);
	if (journaled) {
		err = links_journal_store(NULL);
		if (err)
			fprintf(stderr, "ebpf-agent: %s: updating the attach journal failed: %s\n", l->id, strerror(-err));
	}
	free(l->links);
	free(l->description);
	free(l->pin_path);
	free(l);
}

void link_destroy(struct attachment *l)
{
	if (l->pin_path && unlink(l->pin_path))
		fprintf(stderr, "ebpf-agent: %s: unpinning %s failed: %s\n", l->id, l->pin_path, strerror(errno));
	teardown(l);
}

void links_object_gone(struct held_object *obj)
{
	struct attachment *l = registry, *next;

	for (; l; l = next) {
		next = l->next;
		if (l->obj == obj)
			teardown(l);	/* a pinned link outlives us: that is what pinning asked for */
	}
}

void links_forget_pin(const char *path)
{
	for (struct attachment *l = registry; l; l = l->next) {
		if (l->pin_path && strcmp(l->pin_path, path) == 0) {
			free(l->pin_path);
			l->pin_path = NULL;
		}
	}
}
