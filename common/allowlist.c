/* SPDX-License-Identifier: BSD-3-Clause */
#include "allowlist.h"

#include <stdlib.h>
#include <string.h>

#include "keyfmt.h"

static int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* One line without its newline: 1 a key (in *key), 0 nothing, -1 bad. */
static int
parse_line(const char *s, size_t len, uint8_t key[KEY_LEN], const char **why)
{
	const char *hash = memchr(s, '#', len);

	if (memchr(s, '\0', len) != NULL)
		return (*why = "NUL byte", -1);
	if (hash != NULL)
		len = (size_t)(hash - s);
	while (len > 0 && is_blank(*s))
		s++, len--;
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (key_parse_text(s, len, NODEKEY_PREFIX, key) != 0)
		return (*why = "want nodekey:<64 hexadecimal digits>", -1);
	return 1;
}

static int
push(struct allowlist *al, size_t *cap, const uint8_t key[KEY_LEN])
{
	uint8_t (*nk)[KEY_LEN];
	size_t ncap;

	if (al->n == *cap) {
		ncap = *cap ? *cap * 2 : 64;
		if ((nk = reallocarray(al->keys, ncap, KEY_LEN)) == NULL)
			return -1;
		al->keys = nk;
		*cap = ncap;
	}
	memcpy(al->keys[al->n++], key, KEY_LEN);
	return 0;
}

static int
fail(struct allowlist *al, size_t lineno, size_t *line, const char *msg,
    const char **why)
{
	allowlist_free(al);
	*line = lineno;
	*why = msg;
	return -1;
}

int
allowlist_parse(const char *text, size_t len, struct allowlist *al,
    size_t *line, const char **why)
{
	const char *p = text, *end = text + len, *nl;
	uint8_t key[KEY_LEN];
	size_t cap = 0, lineno = 0, n;
	int rc;

	memset(al, 0, sizeof(*al));
	if (len > ALLOWLIST_FILE_MAX)
		return fail(al, 0, line, "file too large", why);
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > ALLOWLIST_LINE_MAX)
			return fail(al, lineno, line, "line too long", why);
		if ((rc = parse_line(p, n, key, why)) < 0)
			return fail(al, lineno, line, *why, why);
		if (rc == 1 && push(al, &cap, key) != 0)
			return fail(al, lineno, line, "out of memory", why);
		p += n + (nl != NULL);
	}
	allowlist_sort(al);
	return 0;
}

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, KEY_LEN);
}

void
allowlist_sort(struct allowlist *al)
{
	size_t i, k = 0;

	if (al->n == 0)
		return;
	qsort(al->keys, al->n, KEY_LEN, cmp_key);
	for (i = 1; i < al->n; i++)
		if (memcmp(al->keys[i], al->keys[k], KEY_LEN) != 0 && ++k != i)
			memcpy(al->keys[k], al->keys[i], KEY_LEN);
	al->n = k + 1;
}

int
allowlist_has(const struct allowlist *al, const uint8_t key[KEY_LEN])
{
	return al->n > 0 && bsearch(key, al->keys, al->n, KEY_LEN, cmp_key) != NULL;
}

void
allowlist_free(struct allowlist *al)
{
	free(al->keys);
	al->keys = NULL;
	al->n = 0;
}
