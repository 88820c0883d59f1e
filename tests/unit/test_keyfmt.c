/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for common/keyfmt.c and common/keyfile.c: key text and key files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "keyfmt.h"

/* RFC 7748 section 6.1: Alice's private and public keys. */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"

static const uint8_t alice_priv[32] = {
	0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72,
	0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a,
	0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a,
};

/* derper's exact file: json.MarshalIndent(cfg, "", "\t"), no newline. */
#define DERPER_FILE "{\n\t\"PrivateKey\": \"privkey:" ALICE_PRIV "\"\n}"

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	json_setup();
	return 0;
}

/* ---- key_parse_text ---- */

static int
parse_str(const char *s, const char *prefix, uint8_t out[32])
{
	return key_parse_text(s, strlen(s), prefix, out);
}

static void
test_parse_text_lower_and_upper_hex(void **state)
{
	char upper[8 + 64 + 1];
	uint8_t k[32];
	size_t i;

	(void)state;
	memset(k, 0, sizeof(k));
	assert_int_equal(parse_str("privkey:" ALICE_PRIV, "privkey:", k), 0);
	assert_memory_equal(k, alice_priv, 32);

	snprintf(upper, sizeof(upper), "privkey:%s", ALICE_PRIV);
	for (i = 8; upper[i] != '\0'; i++)
		if (upper[i] >= 'a' && upper[i] <= 'f')
			upper[i] -= 'a' - 'A';
	memset(k, 0, sizeof(k));
	assert_int_equal(parse_str(upper, "privkey:", k), 0);
	assert_memory_equal(k, alice_priv, 32);

	memset(k, 0, sizeof(k));
	assert_int_equal(parse_str("nodekey:" ALICE_PUB, "nodekey:", k), 0);
	assert_int_equal(k[0], 0x85);
	assert_int_equal(k[31], 0x6a);

	/* Empty prefix: bare 64 hex digits. */
	memset(k, 0, sizeof(k));
	assert_int_equal(parse_str(ALICE_PRIV, "", k), 0);
	assert_memory_equal(k, alice_priv, 32);
}

static void
test_parse_text_rejects_wrong_prefix(void **state)
{
	uint8_t k[32];

	(void)state;
	assert_int_equal(parse_str("nodekey:" ALICE_PRIV, "privkey:", k), -1);
	assert_int_equal(parse_str("Privkey:" ALICE_PRIV, "privkey:", k), -1);
	assert_int_equal(parse_str("privkey;" ALICE_PRIV, "privkey:", k), -1);
	/* Prefix missing altogether: 8 more hex digits instead. */
	assert_int_equal(parse_str("00000000" ALICE_PRIV, "privkey:", k), -1);
	assert_int_equal(parse_str(ALICE_PRIV, "privkey:", k), -1);
}

static void
test_parse_text_rejects_63_and_65_digits(void **state)
{
	char s[8 + 66 + 1];
	uint8_t k[32];

	(void)state;
	snprintf(s, sizeof(s), "privkey:%.63s", ALICE_PRIV);
	assert_int_equal(strlen(s), 8 + 63);
	assert_int_equal(parse_str(s, "privkey:", k), -1);
	snprintf(s, sizeof(s), "privkey:%s0", ALICE_PRIV);
	assert_int_equal(strlen(s), 8 + 65);
	assert_int_equal(parse_str(s, "privkey:", k), -1);
	snprintf(s, sizeof(s), "privkey:%s00", ALICE_PRIV);
	assert_int_equal(parse_str(s, "privkey:", k), -1);
}

static void
test_parse_text_rejects_non_hex(void **state)
{
	static const char bad[] = "gG :xX-+ \t\n.";
	char s[8 + 64 + 1];
	uint8_t k[32];
	size_t i, pos;

	(void)state;
	for (i = 0; bad[i] != '\0'; i++) {
		for (pos = 8; pos < 8 + 64; pos += 21) {
			snprintf(s, sizeof(s), "privkey:%s", ALICE_PRIV);
			s[pos] = bad[i];
			assert_int_equal(key_parse_text(s, 72, "privkey:", k), -1);
		}
	}
	/* Last digit bad. */
	snprintf(s, sizeof(s), "privkey:%s", ALICE_PRIV);
	s[71] = 'z';
	assert_int_equal(key_parse_text(s, 72, "privkey:", k), -1);
}

static void
test_parse_text_rejects_empty(void **state)
{
	uint8_t k[32];

	(void)state;
	assert_int_equal(key_parse_text("", 0, "privkey:", k), -1);
	assert_int_equal(key_parse_text("", 0, "", k), -1);
	assert_int_equal(key_parse_text("privkey:", 8, "privkey:", k), -1);
}

static void
test_parse_text_rejects_embedded_nul(void **state)
{
	char s[8 + 64 + 1];
	uint8_t k[32];

	(void)state;
	snprintf(s, sizeof(s), "privkey:%s", ALICE_PRIV);
	s[8 + 10] = '\0';
	assert_int_equal(key_parse_text(s, 72, "privkey:", k), -1);
	snprintf(s, sizeof(s), "privkey:%s", ALICE_PRIV);
	s[3] = '\0';
	assert_int_equal(key_parse_text(s, 72, "privkey:", k), -1);
	snprintf(s, sizeof(s), "privkey:%s", ALICE_PRIV);
	s[71] = '\0';
	assert_int_equal(key_parse_text(s, 72, "privkey:", k), -1);
}

/* ---- key_format_text / key_format_hex ---- */

static void
test_format_text_and_hex_round_trip(void **state)
{
	char text[KEY_TEXT_MAX], hex[KEY_HEX_LEN + 1];
	uint8_t k[32], back[32];
	int round;

	(void)state;
	key_format_hex(hex, alice_priv);
	assert_string_equal(hex, ALICE_PRIV);
	key_format_text(text, "privkey:", alice_priv);
	assert_string_equal(text, "privkey:" ALICE_PRIV);

	for (round = 0; round < 64; round++) {
		randombytes_buf(k, sizeof(k));
		if (round == 0)
			memset(k, 0, sizeof(k));
		if (round == 1)
			memset(k, 0xff, sizeof(k));
		key_format_text(text, NODEKEY_PREFIX, k);
		assert_int_equal(strlen(text), 8 + 64);
		assert_int_equal(parse_str(text, NODEKEY_PREFIX, back), 0);
		assert_memory_equal(k, back, 32);
		key_format_hex(hex, k);
		assert_int_equal(strlen(hex), 64);
		assert_int_equal(parse_str(hex, "", back), 0);
		assert_memory_equal(k, back, 32);
	}
}

/* ---- keyfile_parse ---- */

static int
kparse(const char *s, uint8_t k[32], const char **why)
{
	*why = NULL;
	return keyfile_parse(s, strlen(s), k, why);
}

static void
expect_parse_ok(const char *s)
{
	const char *why;
	uint8_t k[32];

	memset(k, 0, sizeof(k));
	if (kparse(s, k, &why) != 0)
		fail_msg("rejected %s: %s", s, why ? why : "(null)");
	assert_memory_equal(k, alice_priv, 32);
}

static const char *
expect_parse_bad(const char *s, size_t len)
{
	const char *why = NULL;
	uint8_t k[32];

	if (keyfile_parse(s, len, k, &why) != -1)
		fail_msg("accepted %.*s", (int)len, s);
	assert_non_null(why);
	assert_true(why[0] != '\0');
	return why;
}

static void
test_keyfile_parse_derper_file(void **state)
{
	(void)state;
	expect_parse_ok(DERPER_FILE);
	expect_parse_ok(DERPER_FILE "\n");
}

static void
test_keyfile_parse_compact_json(void **state)
{
	(void)state;
	expect_parse_ok("{\"PrivateKey\":\"privkey:" ALICE_PRIV "\"}");
	expect_parse_ok("  { \"PrivateKey\" :\r\n \"privkey:" ALICE_PRIV "\" }  ");
}

static void
test_keyfile_parse_field_name_case_insensitive(void **state)
{
	(void)state;
	expect_parse_ok("{\"privatekey\":\"privkey:" ALICE_PRIV "\"}");
	expect_parse_ok("{\"PRIVATEKEY\":\"privkey:" ALICE_PRIV "\"}");
	expect_parse_ok("{\"pRiVaTeKeY\":\"privkey:" ALICE_PRIV "\"}");
}

static void
test_keyfile_parse_ignores_extra_fields(void **state)
{
	(void)state;
	expect_parse_ok("{\"Other\":1,\"PrivateKey\":\"privkey:" ALICE_PRIV
	    "\",\"More\":{\"a\":[1,2]},\"Null\":null}");
}

static void
test_keyfile_parse_rejects_empty_and_truncated(void **state)
{
	const char *file = DERPER_FILE;
	size_t len;

	(void)state;
	expect_parse_bad("", 0);
	/* Every proper prefix of the real file is invalid. */
	for (len = 1; len < strlen(file); len++)
		expect_parse_bad(file, len);
	expect_parse_bad("   \n", 4);
}

static void
test_keyfile_parse_rejects_non_object(void **state)
{
	static const char *const docs[] = {
		"[\"privkey:" ALICE_PRIV "\"]",
		"\"privkey:" ALICE_PRIV "\"",
		"42",
		"null",
		"true",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_parse_bad(docs[i], strlen(docs[i]));
}

static void
test_keyfile_parse_rejects_missing_field(void **state)
{
	const char *s = "{\"PublicKey\":\"privkey:" ALICE_PRIV "\"}";

	(void)state;
	expect_parse_bad(s, strlen(s));
	expect_parse_bad("{}", 2);
	s = "{\"PrivateKeyX\":\"privkey:" ALICE_PRIV "\"}";
	expect_parse_bad(s, strlen(s));
}

static void
test_keyfile_parse_rejects_non_string_value(void **state)
{
	static const char *const docs[] = {
		"{\"PrivateKey\":1}",
		"{\"PrivateKey\":null}",
		"{\"PrivateKey\":true}",
		"{\"PrivateKey\":[\"privkey:" ALICE_PRIV "\"]}",
		"{\"PrivateKey\":{\"k\":\"privkey:" ALICE_PRIV "\"}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_parse_bad(docs[i], strlen(docs[i]));
}

static void
test_keyfile_parse_rejects_bad_key_text(void **state)
{
	static const char *const docs[] = {
		"{\"PrivateKey\":\"nodekey:" ALICE_PRIV "\"}",
		"{\"PrivateKey\":\"" ALICE_PRIV "\"}",
		"{\"PrivateKey\":\"privkey:" ALICE_PRIV "0\"}",
		"{\"PrivateKey\":\"privkey:7707\"}",
		"{\"PrivateKey\":\"privkey: " ALICE_PRIV "\"}",
		"{\"PrivateKey\":\"\"}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_parse_bad(docs[i], strlen(docs[i]));
}

static void
test_keyfile_parse_rejects_all_zero_key(void **state)
{
	const char *s = "{\"PrivateKey\":\"privkey:"
	    "0000000000000000000000000000000000000000000000000000000000000000\"}";

	(void)state;
	expect_parse_bad(s, strlen(s));
}

static void
test_keyfile_parse_rejects_duplicate_keys(void **state)
{
	const char *s = "{\"PrivateKey\":\"privkey:" ALICE_PRIV "\","
	    "\"PrivateKey\":\"privkey:" ALICE_PRIV "\"}";

	(void)state;
	expect_parse_bad(s, strlen(s));
}

/*
 * Go matches keys case-insensitively, so "PrivateKey" and "privatekey" are
 * the same field twice; derpd refuses such a file as ambiguous, as it does
 * exact duplicates (derper would silently take the last).
 */
static void
test_keyfile_parse_refuses_case_variant_duplicates(void **state)
{
	const char *s = "{\"PrivateKey\":\"privkey:" ALICE_PRIV "\","
	    "\"privatekey\":\"privkey:"
	    "1111111111111111111111111111111111111111111111111111111111111111\"}";
	const char *why = NULL;
	uint8_t k[32];

	(void)state;
	assert_int_equal(keyfile_parse(s, strlen(s), k, &why), -1);
	assert_non_null(strstr(why, "more than one"));
}

static void
test_keyfile_parse_rejects_over_4096_bytes(void **state)
{
	char *buf;
	size_t len;
	const char *why = NULL;
	uint8_t k[32];

	(void)state;
	/* A valid file padded with whitespace to KEYFILE_MAX: accepted. */
	len = KEYFILE_MAX;
	buf = malloc(len + 2);
	assert_non_null(buf);
	memset(buf, ' ', len + 1);
	memcpy(buf, DERPER_FILE, strlen(DERPER_FILE));
	assert_int_equal(keyfile_parse(buf, len, k, &why), 0);
	/* One more byte: refused, however valid. */
	assert_int_equal(keyfile_parse(buf, len + 1, k, &why), -1);
	assert_non_null(why);
	free(buf);
}

static void
test_keyfile_parse_error_strings_differ(void **state)
{
	const char *missing, *notjson, *notobj;

	(void)state;
	missing = expect_parse_bad("{\"x\":1}", 7);
	notjson = expect_parse_bad("{\"PrivateKey\":", 14);
	notobj = expect_parse_bad("[1]", 3);
	assert_string_not_equal(missing, notjson);
	assert_string_not_equal(notobj, notjson);
	assert_string_not_equal(notobj, missing);
}

/* ---- keyfile_format ---- */

static void
test_keyfile_format_matches_derper_bytes(void **state)
{
	char out[256];
	const char *why;
	uint8_t k[32];
	size_t n;

	(void)state;
	n = keyfile_format(out, sizeof(out), alice_priv);
	assert_int_equal(n, strlen(DERPER_FILE));
	assert_memory_equal(out, DERPER_FILE, n);
	assert_int_equal(out[n], '\0');
	assert_int_equal(keyfile_parse(out, n, k, &why), 0);
	assert_memory_equal(k, alice_priv, 32);
}

static void
test_keyfile_format_capacity(void **state)
{
	char out[256];
	size_t need = strlen(DERPER_FILE);

	(void)state;
	assert_int_equal(keyfile_format(out, need + 1, alice_priv), need);
	assert_int_equal(keyfile_format(out, need, alice_priv), 0);
	assert_int_equal(keyfile_format(out, 10, alice_priv), 0);
}

static void
test_key_public_rfc7748(void **state)
{
	char hex[65];
	uint8_t pub[32];

	(void)state;
	key_public(pub, alice_priv);
	key_format_hex(hex, pub);
	assert_string_equal(hex, ALICE_PUB);
}

/* ---- keyfile_create / keyfile_load on disk ---- */

struct tmp {
	char dir[64];
	char path[128];
};

static int
tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/derpd-keyfile-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/derper.key", t->dir);
	*state = t;
	return 0;
}

static int
tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static size_t
read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void
write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_keyfile_create_mode_0600_with_umask_0(void **state)
{
	struct tmp *t = *state;
	char err[512], buf[512];
	uint8_t priv[32], back[32];
	struct stat st;
	const char *why;
	mode_t old;
	size_t n;
	int rc;

	old = umask(0);
	rc = keyfile_create(t->path, priv, err, sizeof(err));
	umask(old);
	if (rc != 0)
		fail_msg("keyfile_create: %s", err);
	assert_int_equal(lstat(t->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* Clamped like key.NewNode. */
	assert_int_equal(priv[0] & 7, 0);
	assert_int_equal(priv[31] & 0xc0, 0x40);

	n = read_file(t->path, buf, sizeof(buf));
	assert_int_equal(keyfile_parse(buf, n, back, &why), 0);
	assert_memory_equal(back, priv, 32);
	/* Byte for byte what keyfile_format (derper's format) gives. */
	{
		char want[256];
		size_t wn = keyfile_format(want, sizeof(want), priv);

		assert_int_equal(n, wn);
		assert_memory_equal(buf, want, n);
	}

	memset(back, 0, sizeof(back));
	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)), KEYFILE_OK);
	assert_memory_equal(back, priv, 32);
}

static void
test_keyfile_create_twice_fails_eexist_unchanged(void **state)
{
	struct tmp *t = *state;
	char err[512], before[512], after[512];
	uint8_t priv[32], priv2[32];
	size_t n1, n2;
	struct stat st;

	assert_int_equal(keyfile_create(t->path, priv, err, sizeof(err)), 0);
	n1 = read_file(t->path, before, sizeof(before));
	errno = 0;
	err[0] = '\0';
	assert_int_equal(keyfile_create(t->path, priv2, err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_true(err[0] != '\0');
	n2 = read_file(t->path, after, sizeof(after));
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void
test_keyfile_create_makes_parent_dirs_0700(void **state)
{
	struct tmp *t = *state;
	char path[320], sub[128], err[512];
	uint8_t priv[32], back[32];
	struct stat st;
	mode_t old;
	int rc;

	snprintf(sub, sizeof(sub), "%s/a/b", t->dir);
	snprintf(path, sizeof(path), "%s/key.json", sub);
	old = umask(0);
	rc = keyfile_create(path, priv, err, sizeof(err));
	umask(old);
	if (rc != 0)
		fail_msg("keyfile_create: %s", err);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(keyfile_load(path, back, err, sizeof(err)), KEYFILE_OK);
	assert_memory_equal(back, priv, 32);
}

static void
test_keyfile_load_refuses_symlink(void **state)
{
	struct tmp *t = *state;
	char link[192], err[512];
	uint8_t priv[32], back[32];

	assert_int_equal(keyfile_create(t->path, priv, err, sizeof(err)), 0);
	snprintf(link, sizeof(link), "%s/link.key", t->dir);
	assert_int_equal(symlink(t->path, link), 0);
	err[0] = '\0';
	assert_int_equal(keyfile_load(link, back, err, sizeof(err)), KEYFILE_BAD);
	assert_non_null(strstr(err, "symbolic link"));
}

static void
test_keyfile_load_refuses_directory(void **state)
{
	struct tmp *t = *state;
	char err[512];
	uint8_t back[32];

	err[0] = '\0';
	assert_int_equal(keyfile_load(t->dir, back, err, sizeof(err)), KEYFILE_BAD);
	assert_non_null(strstr(err, "directory"));
}

static void
test_keyfile_load_refuses_fifo(void **state)
{
	struct tmp *t = *state;
	char err[512];
	uint8_t back[32];

	assert_int_equal(mkfifo(t->path, 0600), 0);
	err[0] = '\0';
	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)), KEYFILE_BAD);
	assert_non_null(strstr(err, "not a regular file"));
}

static void
test_keyfile_load_refuses_mode_0644(void **state)
{
	struct tmp *t = *state;
	char err[512];
	uint8_t back[32];

	write_file(t->path, DERPER_FILE, 0644);
	err[0] = '\0';
	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)), KEYFILE_BAD);
	assert_non_null(strstr(err, "chmod 600"));

	/* 0640 and 0604 as well; 0400 is fine. */
	assert_int_equal(chmod(t->path, 0640), 0);
	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)), KEYFILE_BAD);
	assert_int_equal(chmod(t->path, 0604), 0);
	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)), KEYFILE_BAD);
	assert_int_equal(chmod(t->path, 0400), 0);
	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)), KEYFILE_OK);
	assert_memory_equal(back, alice_priv, 32);
}

static void
test_keyfile_load_missing_path(void **state)
{
	struct tmp *t = *state;
	char err[512];
	uint8_t back[32];

	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)),
	    KEYFILE_MISSING);
}

static void
test_keyfile_load_malformed_content(void **state)
{
	struct tmp *t = *state;
	char err[512];
	uint8_t back[32];

	write_file(t->path, "{\"PrivateKey\": \"privkey:00\"}", 0600);
	err[0] = '\0';
	assert_int_equal(keyfile_load(t->path, back, err, sizeof(err)), KEYFILE_BAD);
	assert_non_null(strstr(err, "malformed"));
}

#define TMP_TEST(f)	cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_text_lower_and_upper_hex),
		cmocka_unit_test(test_parse_text_rejects_wrong_prefix),
		cmocka_unit_test(test_parse_text_rejects_63_and_65_digits),
		cmocka_unit_test(test_parse_text_rejects_non_hex),
		cmocka_unit_test(test_parse_text_rejects_empty),
		cmocka_unit_test(test_parse_text_rejects_embedded_nul),
		cmocka_unit_test(test_format_text_and_hex_round_trip),
		cmocka_unit_test(test_keyfile_parse_derper_file),
		cmocka_unit_test(test_keyfile_parse_compact_json),
		cmocka_unit_test(test_keyfile_parse_field_name_case_insensitive),
		cmocka_unit_test(test_keyfile_parse_ignores_extra_fields),
		cmocka_unit_test(test_keyfile_parse_rejects_empty_and_truncated),
		cmocka_unit_test(test_keyfile_parse_rejects_non_object),
		cmocka_unit_test(test_keyfile_parse_rejects_missing_field),
		cmocka_unit_test(test_keyfile_parse_rejects_non_string_value),
		cmocka_unit_test(test_keyfile_parse_rejects_bad_key_text),
		cmocka_unit_test(test_keyfile_parse_rejects_all_zero_key),
		cmocka_unit_test(test_keyfile_parse_rejects_duplicate_keys),
		cmocka_unit_test(test_keyfile_parse_refuses_case_variant_duplicates),
		cmocka_unit_test(test_keyfile_parse_rejects_over_4096_bytes),
		cmocka_unit_test(test_keyfile_parse_error_strings_differ),
		cmocka_unit_test(test_keyfile_format_matches_derper_bytes),
		cmocka_unit_test(test_keyfile_format_capacity),
		cmocka_unit_test(test_key_public_rfc7748),
		TMP_TEST(test_keyfile_create_mode_0600_with_umask_0),
		TMP_TEST(test_keyfile_create_twice_fails_eexist_unchanged),
		TMP_TEST(test_keyfile_create_makes_parent_dirs_0700),
		TMP_TEST(test_keyfile_load_refuses_symlink),
		TMP_TEST(test_keyfile_load_refuses_directory),
		TMP_TEST(test_keyfile_load_refuses_fifo),
		TMP_TEST(test_keyfile_load_refuses_mode_0644),
		TMP_TEST(test_keyfile_load_missing_path),
		TMP_TEST(test_keyfile_load_malformed_content),
	};

	return cmocka_run_group_tests_name("keyfmt", tests, group_setup, NULL);
}
