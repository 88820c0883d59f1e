/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/keyfmt.c: derper's key file (JSON) and the
 * "privkey:"/"nodekey:" text forms of keys; and for common/keyfile.c's
 * reader end to end: the input is also the contents of a file (a memfd) read
 * through keyfile_read_fd, as the key process reads the descriptor the
 * master opened.
 *
 * Whatever parses must format back to something that parses to the same key;
 * text forms must format back to the input (hex case aside). The file reader
 * must load exactly what the parser accepts (and nothing from a file longer
 * than KEYFILE_MAX), the same key on a second read of the same descriptor,
 * and say why when it refuses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include "keyfile.h"
#include "keyfmt.h"
#include "fuzz.h"

static int file_fd;		/* a memfd holding the input as a key file */
static uint8_t *loaded;		/* sodium_malloc'd, as in the key process */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	json_setup();
	file_fd = memfd_create("fuzz-keyfile", MFD_CLOEXEC);
	loaded = sodium_malloc(KEY_LEN);
	if (file_fd < 0 || loaded == NULL)
		abort();
	return 0;
}

/* keyfile_read_fd on a file holding exactly data; parsed: keyfile_parse's verdict. */
static void
check_file(const uint8_t *data, size_t size, int parsed, const uint8_t *priv)
{
	char err[512];
	int rc, i;

	CHECK(ftruncate(file_fd, 0) == 0);
	CHECK(size == 0 || pwrite(file_fd, data, size, 0) == (ssize_t)size);
	for (i = 0; i < 2; i++) {	/* a kept descriptor reads the same again */
		err[0] = '\0';
		memset(loaded, 0xa5, KEY_LEN);
		rc = keyfile_read_fd(file_fd, "fuzz.key", loaded, err, sizeof(err));
		CHECK(rc == KEYFILE_OK || rc == KEYFILE_BAD);
		if (size > KEYFILE_MAX || !parsed) {
			CHECK(rc == KEYFILE_BAD);
			CHECK(err[0] != '\0' && strstr(err, "fuzz.key") != NULL);
			CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		} else {
			CHECK(rc == KEYFILE_OK);
			CHECK(memcmp(loaded, priv, KEY_LEN) == 0);
		}
	}
}

static void
check_text(const char *s, size_t len, const char *prefix)
{
	uint8_t key[KEY_LEN], key2[KEY_LEN];
	char text[KEY_TEXT_MAX];
	size_t plen = strlen(prefix);

	if (key_parse_text(s, len, prefix, key) != 0)
		return;
	CHECK(len == plen + KEY_HEX_LEN);
	CHECK(memcmp(s, prefix, plen) == 0);
	key_format_text(text, prefix, key);
	CHECK(strlen(text) == len);
	CHECK(memcmp(text, prefix, plen) == 0);
	CHECK(strncasecmp(text + plen, s + plen, KEY_HEX_LEN) == 0);
	CHECK(key_parse_text(text, strlen(text), prefix, key2) == 0);
	CHECK(memcmp(key, key2, KEY_LEN) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *why = NULL;
	uint8_t priv[KEY_LEN], priv2[KEY_LEN];
	char out[KEYFILE_MAX];
	size_t n;
	int rc;

	rc = keyfile_parse(s, size, priv, &why);
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		CHECK(size > 0 && size <= KEYFILE_MAX);
		CHECK(!sodium_is_zero(priv, KEY_LEN));
		n = keyfile_format(out, sizeof(out), priv);
		CHECK(n > 0 && n < sizeof(out));
		CHECK(out[n] == '\0' && strlen(out) == n);
		why = NULL;
		CHECK(keyfile_parse(out, n, priv2, &why) == 0);
		CHECK(memcmp(priv, priv2, KEY_LEN) == 0);
		/* Too small a buffer is refused, not truncated. */
		CHECK(keyfile_format(out, n, priv) == 0);
	} else {
		CHECK(why != NULL && why[0] != '\0');
	}

	check_file(data, size, rc == 0, priv);

	check_text(s, size, PRIVKEY_PREFIX);
	check_text(s, size, NODEKEY_PREFIX);
	check_text(s, size, "");		/* mesh keys: bare hex */
	return 0;
}
