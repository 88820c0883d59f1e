/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The X.509 objects the engine makes (the TLS-ALPN-01 challenge certificate
 * of RFC 8737, CSRs) and checks (the chain the CA issued).
 */
#ifndef DERPD_ACME_X509_H
#define DERPD_ACME_X509_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "acme.h"
#include "acme_parse.h"

/* id-pe-acmeIdentifier (RFC 8737 section 6.1) */
#define ACME_OID_IDENTIFIER	"1.3.6.1.5.5.7.1.31"

/*
 * A self-signed certificate for id with the critical acmeIdentifier
 * extension holding SHA-256(key_auth), and its fresh P-256 key, both PEM
 * (malloc'd). 0 or -1.
 */
int	x509_alpn_cert(const struct acme_identifier *id, const char *key_auth,
	    char **cert_pem, char **key_pem);
/* The SNI a validator sends for id: its name, or for an IP its reverse-DNS
 * name (RFC 8738 section 6), without the final dot. 0 or -1. */
int	x509_alpn_sni(const struct acme_identifier *id, char *out, size_t cap);
/*
 * Checks a PEM chain: 1 to 8 certificates, each signed by the next, the leaf
 * valid at now, naming every identifier and, if spki is given, carrying that
 * DER public key. Fills out's times (not its chain). 0 or -1 with err.
 */
int	x509_check_chain(const char *pem, size_t len,
	    const struct acme_identifier *ids, size_t nids, const uint8_t *spki,
	    size_t spkilen, time_t now, struct acme_cert *out, char *err,
	    size_t errlen);
/* The SHA-256 of the leaf's DER SubjectPublicKeyInfo: how derpd's key
 * process names that certificate's key. 0 or -1. */
int	x509_leaf_key_hash(const char *pem, size_t len, uint8_t out[32]);
/* The DER SubjectPublicKeyInfo of a DER CSR (malloc'd). 0 or -1. */
int	x509_csr_spki(const uint8_t *der, size_t len, uint8_t **spki,
	    size_t *spkilen);

#endif
