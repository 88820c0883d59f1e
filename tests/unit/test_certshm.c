/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for common/certshm.c: what the master writes the workers read
 * back whole; a read during a write, or of an entry a writer left
 * malformed, fails instead of returning it; versions and the generation
 * move with every change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "certshm.h"

#define CHAIN	"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define TOKEN	"6JhZ4G0vUtE1NQkcbFQz7t3tJ3rVdAeGQ1PIFLo6ymk"

static struct shm_tls *
region(void)
{
	struct shm_tls *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	return t;
}

static void
test_cert_round_trip(void **state)
{
	struct shm_tls *t = region();
	struct certshm_cert c;
	uint64_t gen = certshm_gen(t);

	(void)state;
	assert_int_equal(certshm_put_cert(t, 2, "derp.example.com", CHAIN,
	    strlen(CHAIN)), 0);
	certshm_publish(t);
	assert_true(certshm_gen(t) > gen);
	assert_int_equal(certshm_read_cert(t, 2, &c), 0);
	assert_string_equal(c.name, "derp.example.com");
	assert_int_equal(c.chain_len, strlen(CHAIN));
	assert_string_equal(c.chain, CHAIN);
	assert_int_equal(c.version, 1);
	/* Withdrawn: no chain, a new version. */
	assert_int_equal(certshm_put_cert(t, 2, "derp.example.com", NULL, 0), 0);
	assert_int_equal(certshm_read_cert(t, 2, &c), 0);
	assert_int_equal(c.chain_len, 0);
	assert_int_equal(c.version, 2);
	free(t);
}

static void
test_too_large_refused(void **state)
{
	struct shm_tls *t = region();
	char *big = malloc(CERTSHM_CHAIN_MAX);

	(void)state;
	assert_non_null(big);
	memset(big, 'A', CERTSHM_CHAIN_MAX);
	assert_int_equal(certshm_put_cert(t, 0, "x", big, CERTSHM_CHAIN_MAX), -1);
	assert_int_equal(t->cert[0].version, 0);
	big[CERTSHM_CHAIN_MAX - 1] = '\0';	/* a string, far too long */
	assert_int_equal(certshm_put_http(t, 0, TOKEN, big), -1);
	free(big);
	free(t);
}

static void
test_torn_read_fails(void **state)
{
	struct shm_tls *t = region();
	struct certshm_cert c;

	(void)state;
	certshm_put_cert(t, 0, "derp.example.com", CHAIN, strlen(CHAIN));
	t->cert[0].seq++;		/* a writer that stopped half-way */
	assert_int_equal(certshm_read_cert(t, 0, &c), -1);
	free(t);
}

static void
test_malformed_entries_refused(void **state)
{
	struct shm_tls *t = region();
	struct certshm_cert c;
	struct certshm_http h;
	struct certshm_alpn a;

	(void)state;
	certshm_put_cert(t, 0, "derp.example.com", CHAIN, strlen(CHAIN));
	t->cert[0].chain_len = 5;	/* the NUL is not where the length says */
	assert_int_equal(certshm_read_cert(t, 0, &c), -1);
	t->cert[0].chain_len = CERTSHM_CHAIN_MAX + 9;
	assert_int_equal(certshm_read_cert(t, 0, &c), -1);
	certshm_put_cert(t, 1, "", CHAIN, strlen(CHAIN));	/* a chain needs a name */
	assert_int_equal(certshm_read_cert(t, 1, &c), -1);
	memset(t->cert[2].name, 'n', sizeof(t->cert[2].name));	/* unterminated */
	assert_int_equal(certshm_read_cert(t, 2, &c), -1);

	certshm_put_http(t, 0, "../../etc", "x.y");
	assert_int_equal(certshm_read_http(t, 0, &h), -1);
	certshm_put_http(t, 1, TOKEN, "key auth with spaces");
	assert_int_equal(certshm_read_http(t, 1, &h), -1);
	certshm_put_http(t, 2, TOKEN, TOKEN ".thumb");
	assert_int_equal(certshm_read_http(t, 2, &h), 0);
	assert_string_equal(h.key_auth, TOKEN ".thumb");

	certshm_put_alpn(t, 0, "derp.example.com", CHAIN, strlen(CHAIN), "k", 0);
	assert_int_equal(certshm_read_alpn(t, 0, &a), -1);	/* no key */
	certshm_put_alpn(t, 1, NULL, NULL, 0, NULL, 0);
	assert_int_equal(certshm_read_alpn(t, 1, &a), 0);	/* none: fine */
	assert_int_equal(a.cert_len, 0);
	free(t);
}

static void
test_status(void **state)
{
	struct shm_tls *t = region();
	struct certshm_status in = { .not_after = 1900000000, .orders_issued = 2,
	    .orders_failed = 1, .last_error_at = 1800000000 }, out;

	(void)state;
	strcpy(in.name, "127.0.0.1");
	strcpy(in.last_error, "directory: HTTP 500");
	certshm_put_status(t, 3, &in);
	assert_int_equal(certshm_read_status(t, 3, &out), 0);
	assert_string_equal(out.name, "127.0.0.1");
	assert_string_equal(out.last_error, "directory: HTTP 500");
	assert_int_equal(out.orders_failed, 1);
	t->status[3].last_error[0] = '\n';
	assert_int_equal(certshm_read_status(t, 3, &out), -1);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_round_trip),
		cmocka_unit_test(test_too_large_refused),
		cmocka_unit_test(test_torn_read_fails),
		cmocka_unit_test(test_malformed_entries_refused),
		cmocka_unit_test(test_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
