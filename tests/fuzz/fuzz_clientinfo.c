/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for worker/clientinfo.c: the JSON a client sends (after
 * opening the box) in its ClientInfo frame, parsed with jansson set up the
 * way derpd sets it up (json_setup: wiping free, fixed hash seed).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "clientinfo.h"
#include "keyfmt.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	json_setup();
	return 0;
}

static int
is_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client_info ci;
	const char *why = NULL;
	json_error_t jerr;
	json_t *root;
	int rc, valid_object;

	memset(&ci, 0xa5, sizeof(ci));
	rc = clientinfo_parse(data, size, &ci, &why);
	CHECK(rc == 0 || rc == -1);

	/* Differential: anything that is not a JSON object must fail. */
	root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	valid_object = root != NULL && json_is_object(root);
	if (!valid_object)
		CHECK(rc == -1);
	if (rc == 0) {
		CHECK(ci.can_ack_pings == 0 || ci.can_ack_pings == 1);
		CHECK(ci.is_prober == 0 || ci.is_prober == 1);
		CHECK(ci.has_mesh_key == 0 || ci.has_mesh_key == 1);
		if (!ci.has_mesh_key)
			CHECK(is_zero(ci.mesh_key, sizeof(ci.mesh_key)));
		/* An exact-case "version" integer is what was parsed. */
		if (json_object_size(root) == 1) {
			json_t *v = json_object_get(root, "version");

			if (json_is_integer(v))
				CHECK(ci.version == json_integer_value(v));
		}
	} else {
		CHECK(why != NULL && why[0] != '\0');
	}
	json_decref(root);
	return 0;
}
