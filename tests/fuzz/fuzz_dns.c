/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for master/dnsd_json.c: the bootstrap-DNS answers the
 * DNS process builds from -bootstrap-dns-names, -unpublished-bootstrap-
 * dns-names and whatever the resolver returns, and publishes to the
 * workers (which serve them to any client at /bootstrap-dns).
 *
 * The input is the published list, a NUL, the unpublished list, a NUL, a
 * buffer size, then resolver answers, consumed name by name as the lookups
 * happen: a count, then that many addresses (a byte whose low bit says
 * IPv4 or IPv6, then its 4 or 16 bytes). Answers come as getaddrinfo gives
 * them (an addrinfo list), repeats and all.
 *
 * Checks: the published answer is JSON that jansson reads back (whatever
 * bytes a name has), with exactly the names that resolved, each mapped to
 * exactly its distinct addresses (at most DNS_MAX_IPS); "null" when none
 * resolved, nothing without names; an answer too large for the buffer is
 * refused (0), never cut, and one that fits is the same length with any
 * larger buffer. Each unpublished record is "name\0json\0" with that name
 * alone in its JSON, names in order.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "dnsd_json.h"
#include "fuzz.h"

#define MAX_ADDRS	40	/* per answer: a few past DNS_MAX_IPS */
#define BIG		(64 * 1024)

struct answer {
	const char	*name;
	int		 n;			/* distinct addresses */
	char		 ips[MAX_ADDRS][INET6_ADDRSTRLEN];
	struct addrinfo	 ai[MAX_ADDRS];
	struct sockaddr_in6 sa[MAX_ADDRS];	/* big enough for either */
	int		 nai;
};

struct script {
	const uint8_t	*p;
	size_t		 n;
};

static struct answer answers[2 * DNS_MAX_NAMES];
static int nanswers;
static struct script script;
static char buf[BIG], big[BIG];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static uint8_t
get8(void)
{
	uint8_t v;

	if (script.n == 0)
		return 0;
	v = *script.p++;
	script.n--;
	return v;
}

/* Reads name's answer from the script the first time it is looked up. */
static struct answer *
answer_of(const char *name)
{
	struct answer *a;
	int i, k, count;

	for (i = 0; i < nanswers; i++)
		if (strcmp(answers[i].name, name) == 0)
			return &answers[i];
	CHECK(nanswers < 2 * DNS_MAX_NAMES);
	a = &answers[nanswers++];
	memset(a, 0, sizeof(*a));
	a->name = name;
	count = get8() % (MAX_ADDRS + 1);
	for (i = 0; i < count; i++) {
		struct addrinfo *ai = &a->ai[a->nai];
		struct sockaddr_in6 *s6 = &a->sa[a->nai];
		struct sockaddr_in *s4 = (struct sockaddr_in *)s6;
		char text[INET6_ADDRSTRLEN];
		uint8_t *addr;
		size_t len;

		memset(s6, 0, sizeof(*s6));
		if (get8() & 1) {
			ai->ai_family = s4->sin_family = AF_INET;
			ai->ai_addrlen = sizeof(*s4);
			addr = (uint8_t *)&s4->sin_addr;
			len = 4;
		} else {
			ai->ai_family = s6->sin6_family = AF_INET6;
			ai->ai_addrlen = sizeof(*s6);
			addr = (uint8_t *)&s6->sin6_addr;
			len = 16;
		}
		for (k = 0; k < (int)len; k++)
			addr[k] = get8();
		ai->ai_socktype = SOCK_STREAM;
		ai->ai_addr = (struct sockaddr *)s6;
		if (a->nai > 0)
			a->ai[a->nai - 1].ai_next = ai;
		a->nai++;
		CHECK(inet_ntop(ai->ai_family, addr, text, sizeof(text)) != NULL);
		for (k = 0; k < a->n && strcmp(a->ips[k], text) != 0; k++)
			;
		if (k == a->n && a->n < DNS_MAX_IPS)
			memcpy(a->ips[a->n++], text, sizeof(text));
	}
	return a;
}

static int
resolve(const char *name, dns_ips ips, void *arg)
{
	struct answer *a = answer_of(name);
	int n;

	(void)arg;
	n = dns_addrs(a->nai > 0 ? &a->ai[0] : NULL, ips);
	CHECK(n == a->n);
	return n;
}

/* value is a JSON array holding exactly a's addresses, in any order. */
static void
check_ips(json_t *value, const struct answer *a)
{
	size_t i;
	int k, found;

	CHECK(json_is_array(value) && json_array_size(value) == (size_t)a->n);
	for (k = 0; k < a->n; k++) {
		found = 0;
		for (i = 0; i < json_array_size(value); i++)
			found += json_is_string(json_array_get(value, i)) &&
			    strcmp(json_string_value(json_array_get(value, i)),
			    a->ips[k]) == 0;
		CHECK(found == 1);
	}
}

/* The JSON object of the names in nm that resolved. */
static void
check_object(const char *text, size_t len, const struct dns_names *nm,
    int only)
{
	json_error_t err;
	json_t *root = json_loadb(text, len, 0, &err), *probe;
	size_t want = 0, bad = 0;
	int i;

	if (root == NULL)
		fprintf(stderr, "bad JSON: %s\n%.*s\n", err.text, (int)len, text);
	CHECK(root != NULL && json_is_object(root));
	for (i = 0; i < nm->n; i++) {
		const struct answer *a = answer_of(nm->v[i]);
		json_t *v;

		if (a->n == 0 || (only >= 0 && i != only))
			continue;
		/* A name that is not UTF-8 goes out with U+FFFD for its bad
		 * bytes, as Go's encoder does (two such may then collide). */
		if ((probe = json_string(a->name)) == NULL) {
			bad++;
			continue;
		}
		json_decref(probe);
		want++;
		CHECK((v = json_object_get(root, a->name)) != NULL);
		check_ips(v, a);
	}
	CHECK(json_object_size(root) >= want &&
	    json_object_size(root) <= want + bad);
	json_decref(root);
}

static void
check_published(const struct dns_names *nm, size_t cap)
{
	size_t len = dns_published_json(nm, resolve, NULL, buf, cap);
	size_t full = dns_published_json(nm, resolve, NULL, big, sizeof(big));
	int i, any = 0;

	for (i = 0; i < nm->n; i++)
		any |= answer_of(nm->v[i])->n > 0;
	CHECK(len == 0 || len == full);
	CHECK((len == 0) == (nm->n == 0 || full == 0 || full > cap));
	if (nm->n == 0 || full == 0)
		return;
	if (!any) {
		CHECK(full == 4 && memcmp(big, "null", 4) == 0);
		return;
	}
	check_object(big, full, nm, -1);
}

static void
check_unpublished(const struct dns_names *nm, size_t cap)
{
	size_t len = dns_unpublished_records(nm, resolve, NULL, buf, cap);
	size_t full = dns_unpublished_records(nm, resolve, NULL, big, sizeof(big));
	size_t off = 0, nl, jl;
	int i;

	CHECK(len == 0 || len == full);
	if (full == 0)
		return;
	for (i = 0; i < nm->n; i++) {
		if (answer_of(nm->v[i])->n == 0)
			continue;
		CHECK(off < full);
		nl = strnlen(big + off, full - off);
		CHECK(off + nl < full && strcmp(big + off, nm->v[i]) == 0);
		jl = strnlen(big + off + nl + 1, full - off - nl - 1);
		CHECK(off + nl + 1 + jl < full);
		check_object(big + off + nl + 1, jl, nm, i);
		off += nl + jl + 2;
	}
	CHECK(off == full);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_names pub, unpub;
	char *lists = malloc(size + 2);
	size_t l1, l2, cap;

	if (lists == NULL)
		return 0;
	memcpy(lists, data, size);
	lists[size] = lists[size + 1] = '\0';
	l1 = strlen(lists);
	l2 = l1 < size ? strlen(lists + l1 + 1) : 0;
	script.p = data + (l1 + l2 + 2 < size ? l1 + l2 + 2 : size);
	script.n = size - (size_t)(script.p - data);
	cap = 64 + get8() * 64u;
	nanswers = 0;

	dns_names_split(lists, &pub);
	dns_names_split(lists + (l1 < size ? l1 + 1 : l1), &unpub);
	check_published(&pub, cap);
	check_unpublished(&unpub, cap);
	free(pub.copy);
	free(unpub.copy);
	free(lists);
	return 0;
}
