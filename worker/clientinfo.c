/* SPDX-License-Identifier: BSD-3-Clause */
#include "clientinfo.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "keyfmt.h"

/* Go refuses non-integral numbers for an int field; jansson keeps 2.0 real. */
static int
set_int(json_t *v, int64_t *out)
{
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static int
set_bool(json_t *v, int *out)
{
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* derper's mesh key is 64 hex digits (key.DERPMesh text form). */
static int
set_mesh_key(json_t *v, struct client_info *ci)
{
	if (!json_is_string(v))
		return -1;
	if (json_string_length(v) == 0)
		return 0;
	if (key_parse_text(json_string_value(v), json_string_length(v), "",
	    ci->mesh_key) != 0)
		return -1;
	ci->has_mesh_key = 1;
	return 0;
}

static int
set_field(struct client_info *ci, const char *k, json_t *v)
{
	if (json_is_null(v))
		return 0;	/* Go leaves the field unchanged */
	if (strcasecmp(k, "version") == 0)
		return set_int(v, &ci->version);
	if (strcasecmp(k, "CanAckPings") == 0)
		return set_bool(v, &ci->can_ack_pings);
	if (strcasecmp(k, "IsProber") == 0)
		return set_bool(v, &ci->is_prober);
	if (strcasecmp(k, "meshKey") == 0)
		return set_mesh_key(v, ci);
	if (strcasecmp(k, "AppName") == 0)
		return json_is_string(v) ? 0 : -1;
	return 0;
}

int
clientinfo_parse(const uint8_t *json, size_t len, struct client_info *ci,
    const char **why)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *k;
	int rc = 0;

	memset(ci, 0, sizeof(*ci));
	root = json_loadb((const char *)json, len, JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		*why = "ClientInfo is not valid JSON";
		return -1;
	}
	if (!json_is_object(root)) {
		*why = "ClientInfo is not a JSON object";
		json_decref(root);
		return -1;
	}
	json_object_foreach(root, k, v) {
		if (set_field(ci, k, v) != 0) {
			*why = "ClientInfo field has the wrong type";
			rc = -1;
			break;
		}
	}
	json_decref(root);
	return rc;
}
