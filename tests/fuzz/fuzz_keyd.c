/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the key process's side of its protocol
 * (master/keyd_answer.c): the datagrams a compromised worker could send.
 *
 * The input is the key process's private key (32 bytes) and then datagrams,
 * each a 2-byte length and its bytes. Anything but a whole struct keyd_req
 * must get no answer; a request gets its slot and generation back and
 * crypto_box_beforenm(client_pub, priv), computed here from its parts
 * (X25519, then HSalsa20 with a zero nonce); a low-order client key gets
 * ok = 0 and no key bytes at all. The answer never carries the private key.
 */
#include <sodium.h>
#include <string.h>

#include "keyd.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* The shared key as the definition of crypto_box_beforenm says; 0 for a low-order point. */
static int
expected(uint8_t k[KEY_LEN], const uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	static const uint8_t zero[16];
	uint8_t s[KEY_LEN];

	if (crypto_scalarmult(s, priv, pub) != 0)
		return 0;
	crypto_core_hsalsa20(k, zero, s, NULL);
	return 1;
}

static void
one(const uint8_t *msg, size_t len, const uint8_t priv[KEY_LEN])
{
	struct keyd_resp resp, before;
	struct keyd_req req;
	uint8_t want[KEY_LEN];
	int rc;

	memset(&resp, 0x5a, sizeof(resp));
	before = resp;
	rc = keyd_answer(msg, len, priv, &resp);
	if (len != sizeof(req)) {
		CHECK(rc == -1);
		CHECK(memcmp(&resp, &before, sizeof(resp)) == 0);
		return;
	}
	CHECK(rc == 0);
	memcpy(&req, msg, sizeof(req));
	CHECK(resp.slot == req.slot && resp.gen == req.gen);
	CHECK(resp.ok == 0 || resp.ok == 1);
	CHECK((int)resp.ok == expected(want, req.client_pub, priv));
	if (resp.ok) {
		CHECK(memcmp(resp.shared, want, KEY_LEN) == 0);
		CHECK(memcmp(resp.shared, priv, KEY_LEN) != 0);
	} else
		CHECK(sodium_is_zero(resp.shared, KEY_LEN));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t priv[KEY_LEN];
	size_t len;

	if (size < KEY_LEN)
		return 0;
	memcpy(priv, data, KEY_LEN);
	data += KEY_LEN;
	size -= KEY_LEN;
	while (size >= 2) {
		len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		one(data, len, priv);
		data += len;
		size -= len;
	}
	return 0;
}
