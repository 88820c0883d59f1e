/* SPDX-License-Identifier: BSD-3-Clause */
#include "dialctl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dial_proto.h"
#include "fdpass.h"
#include "log.h"
#include "meshpeers.h"

#define CA_MAX	(4 * 1024 * 1024)	/* Debian's bundle is about 200 KiB */

void
dialctl_init(struct dialctl *d)
{
	uint32_t w;

	memset(d, 0, sizeof(*d));
	d->ctl = d->client_key_fd = -1;
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		d->worker_end[w] = -1;
}

/* The whole of a regular file, NUL-terminated. */
static char *
read_file(const char *what, const char *path)
{
	struct stat st;
	size_t len = 0;
	ssize_t r;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0)
		fatal("%s %s", what, path);
	if (!S_ISREG(st.st_mode) || st.st_size > CA_MAX)
		fatalx("%s %s: not a regular file of at most 4 MiB", what, path);
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("%s %s", what, path);
	while (len < (size_t)st.st_size &&
	    (r = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* How many certificates the PEM text holds. */
static int
count_certs(const char *pem)
{
	STACK_OF(X509_INFO) *infos;
	BIO *b = BIO_new_mem_buf(pem, -1);
	int i, n = 0;

	infos = b == NULL ? NULL : PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	for (i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++)
		n += sk_X509_INFO_value(infos, i)->x509 != NULL;
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	ERR_clear_error();
	return n;
}

/* The chain the links present when a peer asks for one; its key's descriptor. */
static void
open_client_cert(struct dialctl *d, const struct config *cfg)
{
	d->client_chain = read_file("-mesh-client-cert",
	    cfg->mesh_client_cert);
	if (count_certs(d->client_chain) == 0)
		fatalx("-mesh-client-cert %s holds no certificate",
		    cfg->mesh_client_cert);
	d->client_key_fd = open(cfg->mesh_client_key, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW);
	if (d->client_key_fd < 0)
		fatal("cannot open -mesh-client-key %s", cfg->mesh_client_key);
	log_info("mesh links present the certificate in %s",
	    cfg->mesh_client_cert);
}

int
dialctl_configure(struct dialctl *d, const struct config *cfg)
{
	struct mesh_peer peers[MESH_MAX_PEERS];
	const char *ca;
	char err[512];
	int n;

	if (*cfg->mesh_with == '\0')
		return 0;
	if (!cfg->has_mesh_key)
		fatalx("-mesh-with requires -mesh-psk-file");
	if (mesh_peers_parse(cfg->mesh_with, peers, &n, err, sizeof(err)) != 0)
		fatalx("-mesh-with: %s", err);
	/* OpenSSL's (and Go's) default, which SSL_CERT_FILE overrides. */
	if ((ca = cfg->mesh_ca_file) == NULL || *ca == '\0')
		ca = getenv(X509_get_default_cert_file_env());
	if (ca == NULL || *ca == '\0')
		ca = X509_get_default_cert_file();
	d->ca_pem = read_file("mesh CA file", ca);
	if ((n = count_certs(d->ca_pem)) == 0)
		fatalx("%s holds no certificate to verify mesh peers with", ca);
	log_info("meshing with %s; trusting %d certificates from %s",
	    cfg->mesh_with, n, ca);
	if (*cfg->mesh_client_cert != '\0')
		open_client_cert(d, cfg);
	return 1;
}

static void
send_attach(struct dialctl *d, uint32_t w)
{
	struct dial_attach msg = { w, 0 };

	if (fdpass_send(d->ctl, &msg, sizeof(msg), d->worker_end[w],
	    MSG_DONTWAIT) != 0)
		log_warn("cannot hand worker %u's socket to the mesh dialer", w);
}

void
dialctl_started(struct dialctl *d, int ctl)
{
	uint32_t w;

	dialctl_gone(d);
	d->ctl = ctl;
	for (w = 0; w < SHM_MAX_WORKERS; w++)
		if (d->worker_end[w] >= 0)
			send_attach(d, w);
}

void
dialctl_gone(struct dialctl *d)
{
	if (d->ctl >= 0)
		close(d->ctl);
	d->ctl = -1;
}

void
dialctl_attach(struct dialctl *d, uint32_t w, int fd)
{
	dialctl_detach(d, w);
	d->worker_end[w] = fd;
	if (d->ctl >= 0)
		send_attach(d, w);
}

void
dialctl_detach(struct dialctl *d, uint32_t w)
{
	if (d->worker_end[w] >= 0)
		close(d->worker_end[w]);
	d->worker_end[w] = -1;
}
