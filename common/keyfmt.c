/* SPDX-License-Identifier: BSD-3-Clause */
#include "keyfmt.h"

#include <jansson.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
key_parse_text(const char *s, size_t len, const char *prefix,
    uint8_t out[KEY_LEN])
{
	size_t plen = strlen(prefix), i;
	int hi, lo;

	if (len != plen + KEY_HEX_LEN || memcmp(s, prefix, plen) != 0)
		return -1;
	s += plen;
	for (i = 0; i < KEY_LEN; i++) {
		hi = hex_value(s[2 * i]);
		lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			sodium_memzero(out, KEY_LEN);
			return -1;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
key_format_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 0xf];
	}
	out[KEY_HEX_LEN] = '\0';
}

void
key_format_text(char *out, const char *prefix, const uint8_t key[KEY_LEN])
{
	size_t plen = strlen(prefix);

	memcpy(out, prefix, plen);
	key_format_hex(out + plen, key);
}

/*
 * Go's encoding/json matches object keys case-insensitively; so do we. A
 * key file naming the field twice (in any case) is refused as ambiguous,
 * like one with an exact duplicate. Returns NULL and sets *dup if so.
 */
static json_t *
object_get_nocase(json_t *obj, const char *want, int *dup)
{
	const char *k;
	json_t *v, *found = NULL;

	*dup = 0;
	json_object_foreach(obj, k, v) {
		if (strcasecmp(k, want) != 0)
			continue;
		if (found != NULL) {
			*dup = 1;
			return NULL;
		}
		found = v;
	}
	return found;
}

int
keyfile_parse(const char *buf, size_t len, uint8_t priv[KEY_LEN],
    const char **why)
{
	json_error_t jerr;
	json_t *root, *v;
	int rc = -1, dup;

	if (len == 0) {
		*why = "file is empty";
		return -1;
	}
	if (len > KEYFILE_MAX) {
		*why = "file is too large to be a key file";
		return -1;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		*why = "not valid JSON (truncated or corrupted?)";
		return -1;
	}
	if (!json_is_object(root)) {
		*why = "not a JSON object";
		goto out;
	}
	v = object_get_nocase(root, "PrivateKey", &dup);
	if (v == NULL) {
		*why = dup ? "more than one \"PrivateKey\" field" :
		    "no \"PrivateKey\" field";
		goto out;
	}
	if (!json_is_string(v) || key_parse_text(json_string_value(v),
	    json_string_length(v), PRIVKEY_PREFIX, priv) != 0) {
		*why = "\"PrivateKey\" is not \"privkey:\" followed by 64 hex digits";
		goto out;
	}
	if (sodium_is_zero(priv, KEY_LEN)) {
		*why = "\"PrivateKey\" is all zeros";
		goto out;
	}
	rc = 0;
 out:
	json_decref(root);
	return rc;
}

size_t
keyfile_format(char *out, size_t cap, const uint8_t priv[KEY_LEN])
{
	char text[KEY_TEXT_MAX];
	int n;

	key_format_text(text, PRIVKEY_PREFIX, priv);
	/* derper: json.MarshalIndent(cfg, "", "\t"), no trailing newline. */
	n = snprintf(out, cap, "{\n\t\"PrivateKey\": \"%s\"\n}", text);
	sodium_memzero(text, sizeof(text));
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void
json_setup(void)
{
	json_set_alloc_funcs(malloc, wiping_free);
	/* Else jansson seeds itself from /dev/urandom on first use: in a worker,
	 * after the sandbox forbids open(). */
	json_object_seed(randombytes_random() | 1);
}
