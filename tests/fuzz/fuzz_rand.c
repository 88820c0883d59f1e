/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Linked into every harness, and run before libFuzzer starts: what the
 * code under test draws at random (libsodium's keys, nonces, hash keys and
 * shuffles; OpenSSL's keys, ECDSA nonces and PSS salts; jansson's hash
 * seed, which decides which strings its lookups compare, and libFuzzer
 * learns from those comparisons) comes from a fixed seed, so that a
 * fuzzing run with a given -seed is the same run every time.
 */
#define OPENSSL_SUPPRESS_DEPRECATED	/* RAND_set_rand_method: a test double */
#include <jansson.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <string.h>

#include "fuzz.h"

static uint8_t seed[randombytes_SEEDBYTES];
static uint64_t counter;

static const char *
name(void)
{
	return "derpd-fuzz-deterministic";
}

static void
buf(void *out, size_t n)
{
	counter++;
	memcpy(seed, &counter, sizeof(counter));
	randombytes_buf_deterministic(out, n, seed);
}

static uint32_t
random32(void)
{
	uint32_t v;

	buf(&v, sizeof(v));
	return v;
}

static void
stir(void)
{
}

static int
ossl_bytes(unsigned char *out, int n)
{
	buf(out, (size_t)n);
	return 1;
}

static int
ossl_status(void)
{
	return 1;
}

static const RAND_METHOD ossl_impl = {
	.bytes = ossl_bytes,
	.pseudorand = ossl_bytes,
	.status = ossl_status,
};

static struct randombytes_implementation impl = {
	.implementation_name = name,
	.random = random32,
	.stir = stir,
	.buf = buf,
};

static void __attribute__((constructor))
deterministic(void)
{
	memset(seed, 0x5d, sizeof(seed));
	if (randombytes_set_implementation(&impl) != 0 || sodium_init() < 0 ||
	    RAND_set_rand_method(&ossl_impl) != 1)
		abort();
	json_object_seed(0x5eed);
}
