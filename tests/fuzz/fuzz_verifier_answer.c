/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for master/verifier_answer.c: what tailscaled's LocalAPI
 * and an admission controller answer the verifier (derper's reading).
 *
 * The first two bytes pick the HTTP status (200, 404, or another); the rest
 * is the body. Invariants: only 200 admits (404 from tailscaled refuses),
 * every error says why, the admission answer depends only on its first 4
 * KiB, and an admission admits only if "allow" (in some case) is there.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <netinet/in.h>
#include <sodium.h>

#include "fuzz.h"
#include "keyfmt.h"
#include "verifier_answer.h"

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

static long
status_of(uint8_t a, uint8_t b)
{
	return a % 3 == 0 ? 200 : a % 3 == 1 ? 404 : 100 + (a << 8 | b) % 500;
}

static int
mentions_allow(const char *body, size_t len)
{
	size_t i;

	for (i = 0; i + 5 <= len; i++)
		if (strncasecmp(body + i, "allow", 5) == 0)
			return 1;
	return 0;
}

static void
check_whois(long status, const char *body, size_t len)
{
	const char *why = NULL;
	uint32_t r = verifier_whois_answer(status, body, len, &why);

	CHECK(r == VR_ADMITTED || r == VR_NOT_IN_TAILNET || r == VR_TAILSCALED_ERROR);
	CHECK(r != VR_ADMITTED || status == 200);
	CHECK((r == VR_NOT_IN_TAILNET) == (status == 404));
	CHECK(r != VR_TAILSCALED_ERROR || (why != NULL && why[0] != '\0'));
}

static void
check_admit(long status, const char *body, size_t len)
{
	const char *why = NULL;
	uint32_t r = verifier_admit_answer(status, body, len, &why), r2;

	CHECK(r == VR_ADMITTED || r == VR_ADMISSION_DENIED || r == VR_ADMISSION_ERROR);
	CHECK(r == VR_ADMISSION_ERROR || status == 200);
	CHECK(r != VR_ADMISSION_ERROR || (why != NULL && why[0] != '\0'));
	CHECK(r != VR_ADMITTED || mentions_allow(body, len));
	if (len > VERIFIER_ADMIT_BODY_MAX) {
		r2 = verifier_admit_answer(status, body, VERIFIER_ADMIT_BODY_MAX, &why);
		CHECK(r2 == r);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[KEY_LEN], ip[16];
	char req[VERIFIER_ADMIT_REQ_MAX], text[INET6_ADDRSTRLEN];
	json_t *j;
	long status;
	size_t n;

	if (size < 2)
		return 0;
	status = status_of(data[0], data[1]);
	check_whois(status, (const char *)data + 2, size - 2);
	check_admit(status, (const char *)data + 2, size - 2);
	/* The request for whatever key and address: always well-formed JSON. */
	if (size >= 2 + KEY_LEN + 16) {
		memcpy(key, data + 2, KEY_LEN);
		memcpy(ip, data + 2 + KEY_LEN, 16);
		n = verifier_admit_request(req, key, ip);
		CHECK(n > 0 && n < sizeof(req) && strlen(req) == n);
		j = json_loadb(req, n, 0, NULL);
		CHECK(json_is_object(j));
		CHECK(json_is_string(json_object_get(j, "NodePublic")));
		CHECK(json_is_string(json_object_get(j, "Source")));
		json_decref(j);
		verifier_format_ip(text, ip);
		CHECK(strlen(text) > 0);
	}
	return 0;
}
