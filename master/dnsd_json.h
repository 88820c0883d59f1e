/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper's /bootstrap-dns answers, built from resolver answers: the name
 * lists of -bootstrap-dns-names and -unpublished-bootstrap-dns-names, and
 * the JSON published to the workers. Pure, so that tests/fuzz/fuzz_dns.c
 * can feed it any names and any answers; master/dnsd.c does the lookups.
 */
#ifndef DERPD_DNSD_JSON_H
#define DERPD_DNSD_JSON_H

#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>

#define DNS_MAX_NAMES	64
#define DNS_MAX_IPS	32

struct dns_names {
	char	*v[DNS_MAX_NAMES];	/* sorted, each once */
	int	 n;
	char	*copy;			/* the list they point into */
};

typedef char dns_ips[DNS_MAX_IPS][INET6_ADDRSTRLEN];

/* Looks name up into ips; returns how many (0: none, or it failed). */
typedef int (*dns_resolve_fn)(const char *name, dns_ips ips, void *arg);

/* Splits a comma-separated list, as derper's flag does; fatal out of memory. */
void	dns_names_split(const char *list, struct dns_names *nm);
/* A resolver's answer as text, each address once, shuffled as derper does. */
int	dns_addrs(const struct addrinfo *res, dns_ips ips);
/*
 * The published answer: {"name": ["ip", ...], ...} for the names that
 * resolved (Go's json.MarshalIndent with a tab), "null" when none did,
 * nothing when there are no names. Returns its length, 0 if it did not fit.
 */
size_t	dns_published_json(const struct dns_names *nm, dns_resolve_fn resolve,
	    void *arg, char *buf, size_t cap);
/*
 * The unpublished answers, one record "name\0{json}\0" per name that
 * resolved, answered to ?q=name only. Returns the length, 0 if they did not fit.
 */
size_t	dns_unpublished_records(const struct dns_names *nm,
	    dns_resolve_fn resolve, void *arg, char *buf, size_t cap);

#endif
