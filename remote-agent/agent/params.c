// SPDX-License-Identifier: MIT
/* Typed, range-checked access to request params with field-naming errors. */
#include <string.h>

#include "params.h"

bool params_object(struct json_object *params, struct rpc_reply *r)
{
	if (params && json_object_is_type(params, json_type_object))
		return true;
	rpc_reply_error(r, RPC_INVALID_PARAMS, "params must be an object.");
	return false;
}

static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

bool param_string(struct json_object *obj, const char *path, const char *key, bool required,
		  const char **out, struct rpc_reply *r)
{
	struct json_object *v = member(obj, key);

	*out = NULL;
	if (!v && !required)
		return true;
	if (!v || !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "%s.%s must be a non-empty string.", path, key);
		return false;
	}
	*out = json_object_get_string(v);
	return true;
}

bool param_int(struct json_object *obj, const char *path, const char *key, long long min, long long max,
	       long long *out, bool *present, struct rpc_reply *r)
{
	struct json_object *v = member(obj, key);

	if (present)
		*present = v != NULL;
	if (!v)
		return true;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < min ||
	    json_object_get_int64(v) > max) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "%s.%s must be an integer from %lld to %lld.", path, key,
				min, max);
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

bool param_bool(struct json_object *obj, const char *path, const char *key, bool *out, struct rpc_reply *r)
{
	struct json_object *v = member(obj, key);

	if (!v)
		return true;
	if (!json_object_is_type(v, json_type_boolean)) {
		rpc_reply_error(r, RPC_INVALID_PARAMS, "%s.%s must be true or false.", path, key);
		return false;
	}
	*out = json_object_get_boolean(v);
	return true;
}

bool param_enum(struct json_object *obj, const char *path, const char *key, const char *const *choices,
		bool required, int *index, struct rpc_reply *r)
{
	const char *s;
	char list[256] = "";

	if (!param_string(obj, path, key, required, &s, r))
		return false;
	*index = -1;
	if (!s)
		return true;
	for (int i = 0; choices[i]; i++) {
		if (strcmp(choices[i], s) == 0) {
			*index = i;
			return true;
		}
		if (i)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, "\"", sizeof(list) - strlen(list) - 1);
		strncat(list, choices[i], sizeof(list) - strlen(list) - 1);
		strncat(list, "\"", sizeof(list) - strlen(list) - 1);
	}
	rpc_reply_error(r, RPC_INVALID_PARAMS, "%s.%s \"%.64s\" must be one of %s.", path, key, s, list);
	return false;
}

bool param_name_ok(const char *s, const char *extra, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      (extra && strchr(extra, c))))
			return false;
	}
	return true;
}
