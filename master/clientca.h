/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -client-ca and -client-crl, as the master handles them: read once at
 * start (as root, like the certificate), checked, and handed to every
 * worker as PEM in its set-up; the workers' OpenSSL verifies client
 * certificates against them (worker/clientcert.c).
 */
#ifndef DERPD_CLIENTCA_H
#define DERPD_CLIENTCA_H

#include "config.h"

struct clientca {
	char	*ca;		/* PEM certificates; "" without -client-ca */
	char	*crl;		/* PEM CRLs; "" without -client-crl */
	int	 ncerts, ncrls;
};

/* Fatal when a file is unreadable or holds no certificate (CRL), or a CRL
 * is not signed by one of the CAs. */
void	clientca_load(struct clientca *ca, const struct config *cfg);

#endif
