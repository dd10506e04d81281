/* SPDX-License-Identifier: MIT */
/* The compiled objects the agent holds between compile and release: a small table that
 * forgets the oldest object when full, so a client that never releases cannot exhaust memory. */
#ifndef EBPF_AGENT_OBJECTS_H
#define EBPF_AGENT_OBJECTS_H

#include <stddef.h>

struct bpf_object;

#define OBJECT_TABLE_SLOTS 32
#define OBJECT_ID_MAX 32

struct held_object {
	char id[OBJECT_ID_MAX];		/* empty when the slot is free */
	unsigned long long seq;
	char *name;			/* object name for libbpf, from the main file */
	char *work_dir;			/* removed with the object */
	void *data;
	size_t size;
	struct bpf_object *loaded;	/* the instance attach loaded; NULL until then */
	char *retargets;		/* "PROG FUNC\n" per attach target its load's presets set; NULL if none */
};

struct object_table {
	struct held_object slots[OBJECT_TABLE_SLOTS];
	unsigned long long next_seq;
	/* Called before a loaded object is closed, so what uses it (streams, links) lets go first.
	 * Set by the agent: the table itself knows nothing of streams or links. */
	void (*unloading)(struct held_object *obj);
};

/* Takes ownership of @name, @work_dir and @data (also on failure). */
struct held_object *objects_add(struct object_table *t, char *name, char *work_dir,
				void *data, size_t size);
struct held_object *objects_find(struct object_table *t, const char *id);
/* Forgets the object: tells t->unloading, closes its loaded instance, deletes its work dir. */
void objects_drop(struct object_table *t, struct held_object *obj);
void objects_clear(struct object_table *t);

#endif
