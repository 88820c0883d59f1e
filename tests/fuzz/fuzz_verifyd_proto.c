/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/verifyd_proto.c: what a (possibly
 * compromised) worker sends the verifier.
 *
 * Only a message of exactly one request's size, with a known operation and
 * a key that is not all zeros, is accepted, and then copied unchanged;
 * every reason a verifier can give has a name and a refusal class.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "verifyd_proto.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[KEY_LEN];
	struct verifyd_req req;
	const char *why = NULL, *name;
	uint32_t reason;

	if (verifyd_req_check(data, size, &req, &why) != 0) {
		CHECK(why != NULL && why[0] != '\0');
	} else {
		CHECK(size == sizeof(req));
		CHECK(memcmp(&req, data, sizeof(req)) == 0);
		CHECK(req.op == VERIFYD_LOGIN || req.op == VERIFYD_RECHECK);
		CHECK(memcmp(req.key, zero, KEY_LEN) != 0);
	}
	if (size >= sizeof(reason)) {
		memcpy(&reason, data, sizeof(reason));
		name = verifyd_reason_name(reason);
		CHECK(name != NULL && name[0] != '\0');
		CHECK(reason < VR_NREASONS || strcmp(name, "invalid") == 0);
		CHECK(!verifyd_refused(reason) || reason == VR_NOT_ALLOWED ||
		    reason == VR_NOT_IN_TAILNET || reason == VR_ADMISSION_DENIED);
	}
	return 0;
}
