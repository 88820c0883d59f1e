/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for common/allowlist.c: the -allow-keys file.
 *
 * A list that parses is sorted, without duplicates, and each of its keys is
 * found; a failure names a line that exists and says why. Formatting the
 * keys back and parsing that gives the same list.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allowlist.h"
#include "fuzz.h"
#include "keyfmt.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static size_t
count_lines(const uint8_t *data, size_t size)
{
	size_t i, n = size > 0;

	for (i = 0; i < size; i++)
		if (data[i] == '\n' && i + 1 < size)
			n++;
	return n;
}

/* The list written back, one key a line, parses to itself. */
static void
round_trip(const struct allowlist *al)
{
	char *text = malloc(al->n * (KEY_TEXT_MAX + 1) + 1), line[KEY_TEXT_MAX];
	struct allowlist again;
	const char *why;
	size_t i, n = 0, bad;

	CHECK(text != NULL);
	for (i = 0; i < al->n; i++) {
		key_format_text(line, NODEKEY_PREFIX, al->keys[i]);
		memcpy(text + n, line, strlen(line));
		n += strlen(line);
		text[n++] = '\n';
	}
	CHECK(allowlist_parse(text, n, &again, &bad, &why) == 0);
	CHECK(again.n == al->n);
	CHECK(al->n == 0 || memcmp(again.keys, al->keys, al->n * KEY_LEN) == 0);
	allowlist_free(&again);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowlist al;
	const char *why = NULL;
	size_t line = 0, i;

	if (allowlist_parse((const char *)data, size, &al, &line, &why) != 0) {
		CHECK(why != NULL && why[0] != '\0');
		CHECK(line >= 1 && line <= count_lines(data, size));
		CHECK(al.keys == NULL && al.n == 0);
		return 0;
	}
	CHECK(al.n <= count_lines(data, size));
	for (i = 0; i < al.n; i++) {
		CHECK(i == 0 || memcmp(al.keys[i - 1], al.keys[i], KEY_LEN) < 0);
		CHECK(allowlist_has(&al, al.keys[i]));
	}
	round_trip(&al);
	allowlist_free(&al);
	return 0;
}
