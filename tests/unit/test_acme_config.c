/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for acme_config_check (acme/engine.c): what derpd's flags must give. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "acme.h"

static const char *one_name[] = { "derp.example.com" };
static char err[ACME_ERR_LEN];

static struct acme_config
base(void)
{
	struct acme_config c = {
		.directory = ACME_DIR_LETSENCRYPT, .names = one_name, .nnames = 1,
		.challenges = ACME_CHALL_TLSALPN01 | ACME_CHALL_HTTP01,
		.ca_pem = "x", .ca_pem_len = 1,
	};
	return c;
}

static int
check(const struct acme_config *c)
{
	err[0] = '\0';
	return acme_config_check(c, err, sizeof(err));
}

static void
test_letsencrypt_defaults(void **state)
{
	struct acme_config c = base();

	(void)state;
	assert_int_equal(check(&c), 0);
	c.email = "ops@example.com";
	c.profile = "shortlived";
	assert_int_equal(check(&c), 0);
}

static void
test_gcp_needs_email_and_eab(void **state)
{
	struct acme_config c = base();

	(void)state;
	c.directory = ACME_DIR_GCP;
	assert_int_equal(check(&c), -1);
	assert_string_equal(err, "-certmode gcp needs -acme-email, -acme-eab-kid "
	    "and -acme-eab-key");
	c.email = "ops@example.com";
	c.eab_kid = "kid-1";
	assert_int_equal(check(&c), -1);
	c.eab_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
	assert_int_equal(check(&c), 0);
}

static void
test_eab_pairs_and_encoding(void **state)
{
	struct acme_config c = base();

	(void)state;
	c.eab_kid = "kid-1";
	assert_int_equal(check(&c), -1);
	assert_non_null(strstr(err, "needs both"));
	c.eab_kid = NULL;
	c.eab_key = "abcd";
	assert_int_equal(check(&c), -1);
	c.eab_kid = "kid-1";
	c.eab_key = "not base64url!";
	assert_int_equal(check(&c), -1);
	assert_string_equal(err, "-acme-eab-key is not base64url");
	c.eab_key = "abcd";
	assert_int_equal(check(&c), 0);
}

static void
test_refused(void **state)
{
	const char *bad_names[] = { "derp.example.com", "bad name" };
	struct acme_config c;

	(void)state;
	c = base();
	c.directory = "http://ca.example/dir";
	assert_int_equal(check(&c), -1);
	c = base();
	c.names = bad_names;
	c.nnames = 2;
	assert_int_equal(check(&c), -1);
	assert_string_equal(err, "\"bad name\" is neither a DNS name nor an IP "
	    "address");
	c = base();
	c.nnames = 0;
	assert_int_equal(check(&c), -1);
	c = base();
	c.challenges = 0;
	assert_int_equal(check(&c), -1);
	c = base();
	c.email = "no-at-sign";
	assert_int_equal(check(&c), -1);
	c = base();
	c.email = "a@b\nInjected: header";
	assert_int_equal(check(&c), -1);
	c = base();
	c.ca_pem = NULL;
	assert_int_equal(check(&c), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_letsencrypt_defaults),
		cmocka_unit_test(test_gcp_needs_email_and_eab),
		cmocka_unit_test(test_eab_pairs_and_encoding),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
