/* SPDX-License-Identifier: BSD-3-Clause */
#include "metacert.h"

#include <openssl/x509.h>

/* As Tailscale's client: the first derpkey CN with a serial of 8 bits or less. */
int
metacert_find(SSL *ssl, uint8_t key[KEY_LEN], long *version)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	const ASN1_INTEGER *serial;
	const ASN1_STRING *cn;
	X509_NAME *name;
	X509 *x;
	int i, idx;

	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		name = X509_get_subject_name(x);
		if ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0)
			continue;
		cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
		serial = X509_get0_serialNumber(x);
		if (key_parse_text((const char *)ASN1_STRING_get0_data(cn),
		    (size_t)ASN1_STRING_length(cn), METACERT_PREFIX, key) != 0 ||
		    ASN1_STRING_length(serial) > 1 ||
		    (*version = ASN1_INTEGER_get(serial)) < 0)
			continue;
		return 1;
	}
	return 0;
}
