// SPDX-License-Identifier: MIT
/* Table of compiled objects held for load/release, bounded: the oldest one makes room. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "objects.h"
#include "workdir.h"

void objects_drop(struct object_table *t, struct held_object *obj)
{
	if (obj->loaded) {
		if (t->unloading)
			t->unloading(obj);
		bpf_object__close(obj->loaded);
	}
	if (obj->work_dir)
		work_dir_remove(obj->work_dir);
	free(obj->retargets);
	free(obj->work_dir);
	free(obj->name);
	free(obj->data);
	memset(obj, 0, sizeof(*obj));
}

/* Loaded (attached) objects are evicted only when every slot holds one. */
static struct held_object *free_or_oldest_slot(struct object_table *t)
{
	struct held_object *oldest = NULL;

	for (int i = 0; i < OBJECT_TABLE_SLOTS; i++) {
		struct held_object *o = &t->slots[i];

		if (!o->id[0])
			return o;
		if (!oldest || (!!o->loaded < !!oldest->loaded) ||
		    (!!o->loaded == !!oldest->loaded && o->seq < oldest->seq))
			oldest = o;
	}
	fprintf(stderr, "ebpf-agent: holding %d objects, forgetting the oldest (%s)\n",
		OBJECT_TABLE_SLOTS, oldest->id);
	objects_drop(t, oldest);
	return oldest;
}

struct held_object *objects_add(struct object_table *t, char *name, char *work_dir,
				void *data, size_t size)
{
	struct held_object *obj = free_or_oldest_slot(t);

	obj->seq = ++t->next_seq;
	snprintf(obj->id, sizeof(obj->id), "obj-%llu", obj->seq);
	obj->name = name;
	obj->work_dir = work_dir;
	obj->data = data;
	obj->size = size;
	return obj;
}

struct held_object *objects_find(struct object_table *t, const char *id)
{
	for (int i = 0; i < OBJECT_TABLE_SLOTS; i++)
		if (t->slots[i].id[0] && strcmp(t->slots[i].id, id) == 0)
			return &t->slots[i];
	return NULL;
}

void objects_clear(struct object_table *t)
{
	for (int i = 0; i < OBJECT_TABLE_SLOTS; i++)
		if (t->slots[i].id[0])
			objects_drop(t, &t->slots[i]);
}
