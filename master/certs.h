/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS certificate, as the master handles it (derper's -certmode
 * manual): <certdir>/<hostname>.crt is read (it is public) and checked
 * against the hostname; <certdir>/<hostname>.key is only opened, and its
 * descriptor handed to the key process, the one process that reads it.
 * With an IP -hostname and neither file, the key process makes a
 * self-signed certificate into files created here, as derper does, and
 * the DERP map entry that pins it is logged. Workers get the chain, with
 * derper's meta certificate appended, through shared memory (certshm.h).
 *
 * Reloads (certreload.c): on SIGHUP or when either file changes, if the
 * run user can read both, the new pair replaces the old for new handshakes.
 */
#ifndef DERPD_CERTS_H
#define DERPD_CERTS_H

#include <openssl/x509.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "key.h"
#include "privdrop.h"

struct file_sig {		/* what tells us a file changed */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	int		exists;
};

struct certs {
	char	*chain;		/* PEM, leaf first */
	int	 key_fd;	/* the private key file, unread */
	int	 crt_fd;	/* self-signing: the empty certificate file, else -1 */
	char	 crt_path[4096];
	char	 key_path[4096];
	time_t	 not_after;	/* the leaf's */
	int	 reloadable;	/* the run user can read both files */
	struct file_sig seen_crt, seen_key;	/* as last loaded or tried */
	char	*meta;		/* derper's meta certificate (PEM) */
};

/* As root, before the key process starts. Fatal on failure. */
void	certs_open(struct certs *c, const struct config *cfg,
	    const struct run_as *ra);
/* Once the key process is ready: a self-signed chain is read now; the DERP
 * map entry for an IP -hostname is logged; reloads are judged possible. */
void	certs_loaded(struct certs *c, const struct config *cfg,
	    const struct run_as *ra);
/* derper's hint for an IP -hostname: the DERP map entry pinning the leaf. */
void	certs_log_node(const struct certs *c, const struct config *cfg);
/* derper's meta certificate for derp_pub, kept in c->meta. */
void	certs_make_meta(struct certs *c, const uint8_t derp_pub[KEY_LEN]);
/* chain with the meta certificate appended (malloc'd), or NULL. */
char	*certs_with_meta(const struct certs *c, const char *chain, size_t len);
/* The leaf of a PEM chain (NULL: none) and its notAfter. */
X509	*certs_leaf(const char *chain, time_t *not_after);
/* The chain file, each certificate checked as it is read: malloc'd PEM,
 * or NULL with the reason in err. */
char	*certs_read_chain(const char *path, const char *host, char *err,
	    size_t errlen);
void	certs_file_sig(const char *path, struct file_sig *sig);
int	certs_is_ip(const char *s);
int	certs_file_sig_eq(const struct file_sig *a, const struct file_sig *b);

#endif
