/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the checks on what crosses into another process
 * about certificates: the master's check of the ACME child's messages
 * (common/acme_proto.c: acme_msg_check) and the workers' checks of their
 * private copies of the certificates region (common/certshm.c). The first
 * byte picks one; the rest fills the struct (zero-padded).
 *
 * Invariants: whatever is accepted is what the next step relies on: every
 * string ends inside its field and is printable, every length stays inside
 * its buffer, data has no NUL before its length and one right after.
 */
#include <string.h>

#include "acme_proto.h"
#include "certshm.h"
#include "fuzz.h"

static void
fill(void *dst, size_t cap, const uint8_t *data, size_t size)
{
	memset(dst, 0, cap);
	memcpy(dst, data, size < cap ? size : cap);
}

static void
check_str(const char *s, size_t cap)
{
	size_t i;

	CHECK(memchr(s, '\0', cap) != NULL);
	for (i = 0; s[i] != '\0'; i++)
		CHECK(s[i] >= 0x20 && s[i] < 0x7f);
}

static void
fuzz_msg(const uint8_t *data, size_t size)
{
	static struct acme_msg m;
	const char *why;

	fill(&m, sizeof(m), data, size);
	if (acme_msg_check(&m, &why) != 0) {
		CHECK(why != NULL);
		return;
	}
	check_str(m.name, sizeof(m.name));
	check_str(m.text, sizeof(m.text));
	if (m.op == ACME_MSG_CERT)
		CHECK(m.len < CERTSHM_CHAIN_MAX && memchr(m.data, '\0', m.len) == NULL);
	if (m.op == ACME_MSG_ALPN_PUT) {
		CHECK(m.len > 0 && m.len < CERTSHM_ALPN_CERT_MAX);
		CHECK(m.len2 > 0 && m.len2 < CERTSHM_ALPN_KEY_MAX);
	}
	if (m.op == ACME_MSG_HTTP_PUT)
		CHECK(strlen(m.name) < CERTSHM_TOKEN_MAX && m.text[0] != '\0');
}

static void
fuzz_shm(int which, const uint8_t *data, size_t size)
{
	static union {
		struct certshm_cert	c;
		struct certshm_alpn	a;
		struct certshm_http	h;
		struct certshm_status	s;
	} u;

	fill(&u, sizeof(u), data, size);
	switch (which) {
	case 0:
		if (certshm_check_cert(&u.c) != 0)
			return;
		check_str(u.c.name, sizeof(u.c.name));
		CHECK(u.c.chain_len < sizeof(u.c.chain));
		CHECK(strlen(u.c.chain) == u.c.chain_len);
		break;
	case 1:
		if (certshm_check_alpn(&u.a) != 0)
			return;
		check_str(u.a.sni, sizeof(u.a.sni));
		CHECK(strlen(u.a.cert) == u.a.cert_len && strlen(u.a.key) == u.a.key_len);
		break;
	case 2:
		if (certshm_check_http(&u.h) != 0)
			return;
		check_str(u.h.token, sizeof(u.h.token));
		check_str(u.h.key_auth, sizeof(u.h.key_auth));
		CHECK(strpbrk(u.h.token, "/ .%") == NULL);
		break;
	default:
		if (certshm_check_status(&u.s) != 0)
			return;
		check_str(u.s.name, sizeof(u.s.name));
		check_str(u.s.last_error, sizeof(u.s.last_error));
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 5 == 4)
		fuzz_msg(data + 1, size - 1);
	else
		fuzz_shm(data[0] % 5, data + 1, size - 1);
	return 0;
}
