/* SPDX-License-Identifier: BSD-3-Clause */
/* The master's writes to the certificates region (tlspub.h). */
#include "tlspub.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Every worker looks at the region again at its next turn. */
static void
publish(struct master *m)
{
	uint64_t one = 1;
	uint32_t j;

	certshm_publish(m->shm.tls);
	for (j = 0; j < m->nworkers; j++)
		if (m->w[j].pid != 0)
			(void)!write(m->evfds[j], &one, sizeof(one));
}

/* The slot of name, or a free one (claimed), or -1. */
static int
slot(char (*names)[CERTSHM_NAME_MAX], int n, const char *name, int claim)
{
	int i, free_slot = -1;

	for (i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return i;
		if (names[i][0] == '\0' && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0 && claim)
		snprintf(names[free_slot], CERTSHM_NAME_MAX, "%s", name);
	return claim ? free_slot : -1;
}

int
tlspub_cert(struct master *m, const char *name, const char *chain, size_t len,
    time_t not_after)
{
	struct tlspub_state *p = &m->tlspub;
	char *served = NULL;
	int i, rc;

	if ((i = slot(p->name, CERTSHM_CERTS, name, 1)) < 0) {
		log_warnx("no room to serve a certificate for %s", name);
		return -1;
	}
	if (len > 0 && (served = certs_with_meta(&m->certs, chain, len)) == NULL)
		fatalx("out of memory");
	rc = certshm_put_cert(m->shm.tls, i, name, served, served ?
	    strlen(served) : 0);
	free(served);
	if (rc != 0) {
		log_warnx("the certificate chain for %s is too large", name);
		return -1;
	}
	snprintf(p->status[i].name, sizeof(p->status[i].name), "%s", name);
	p->status[i].not_after = len > 0 ? not_after : 0;
	certshm_put_status(m->shm.tls, i, &p->status[i]);
	publish(m);
	return 0;
}

int
tlspub_status(struct master *m, const char *name, uint64_t issued,
    uint64_t failed, time_t last_error_at, const char *last_error)
{
	struct tlspub_state *p = &m->tlspub;
	struct certshm_status *st;
	int i;

	if ((i = slot(p->name, CERTSHM_CERTS, name, 1)) < 0)
		return -1;
	st = &p->status[i];
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->orders_issued = issued;
	st->orders_failed = failed;
	st->last_error_at = last_error_at;
	snprintf(st->last_error, sizeof(st->last_error), "%s", last_error);
	certshm_put_status(m->shm.tls, i, st);
	publish(m);
	return 0;
}

int
tlspub_alpn(struct master *m, const char *sni, const char *cert,
    size_t cert_len, const char *key, size_t key_len)
{
	int i = slot(m->tlspub.alpn, CERTSHM_ALPN, sni, 1);

	if (i < 0 || certshm_put_alpn(m->shm.tls, i, sni, cert, cert_len, key,
	    key_len) != 0) {
		if (i >= 0)
			m->tlspub.alpn[i][0] = '\0';
		return -1;
	}
	publish(m);
	return 0;
}

void
tlspub_alpn_del(struct master *m, const char *sni)
{
	int i = slot(m->tlspub.alpn, CERTSHM_ALPN, sni, 0);

	if (i < 0)
		return;
	certshm_put_alpn(m->shm.tls, i, NULL, NULL, 0, NULL, 0);
	m->tlspub.alpn[i][0] = '\0';
	publish(m);
}

int
tlspub_http(struct master *m, const char *token, const char *key_auth)
{
	int i = slot(m->tlspub.http, CERTSHM_HTTP, token, 1);

	if (i < 0 || certshm_put_http(m->shm.tls, i, token, key_auth) != 0) {
		if (i >= 0)
			m->tlspub.http[i][0] = '\0';
		return -1;
	}
	publish(m);
	return 0;
}

void
tlspub_http_del(struct master *m, const char *token)
{
	int i = slot(m->tlspub.http, CERTSHM_HTTP, token, 0);

	if (i < 0)
		return;
	certshm_put_http(m->shm.tls, i, NULL, NULL);
	m->tlspub.http[i][0] = '\0';
	publish(m);
}

void
tlspub_clear_challenges(struct master *m)
{
	int i;

	for (i = 0; i < CERTSHM_ALPN; i++)
		if (m->tlspub.alpn[i][0] != '\0')
			tlspub_alpn_del(m, m->tlspub.alpn[i]);
	for (i = 0; i < CERTSHM_HTTP; i++)
		if (m->tlspub.http[i][0] != '\0')
			tlspub_http_del(m, m->tlspub.http[i]);
}
