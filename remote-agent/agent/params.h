/* SPDX-License-Identifier: MIT */
/* Reading request params: each getter checks presence, type and range, and on failure fills the
 * reply with InvalidParams naming the field ("params.target.interface …") and returns false. */
#ifndef EBPF_AGENT_PARAMS_H
#define EBPF_AGENT_PARAMS_H

#include <stdbool.h>

#include "rpc.h"

/* @params must be an object (or absent when it may be empty). */
bool params_object(struct json_object *params, struct rpc_reply *r);
/* Member @key as a string; *out stays NULL when absent and !required. */
bool param_string(struct json_object *obj, const char *path, const char *key, bool required,
		  const char **out, struct rpc_reply *r);
/* Member @key as an integer within [min, max]; *present tells whether it was given. */
bool param_int(struct json_object *obj, const char *path, const char *key, long long min, long long max,
	       long long *out, bool *present, struct rpc_reply *r);
bool param_bool(struct json_object *obj, const char *path, const char *key, bool *out, struct rpc_reply *r);
/* Member @key as one of @choices (NULL-terminated); *index is -1 when absent and !required. */
bool param_enum(struct json_object *obj, const char *path, const char *key, const char *const *choices,
		bool required, int *index, struct rpc_reply *r);
/* A string made only of [A-Za-z0-9_] plus @extra, 1..@max bytes. */
bool param_name_ok(const char *s, const char *extra, size_t max);

#endif
