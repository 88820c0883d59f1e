/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test only: a make_csr hook that does locally what derpd's key process
 * does in production (generate the certificate key, sign the CSR), keeping
 * the key in <certdir>/<name>.key so a later run can check the cached chain
 * against it.
 */
#ifndef DERPD_CSR_LOCAL_H
#define DERPD_CSR_LOCAL_H

#include <stddef.h>
#include <stdint.h>

struct csr_local {
	int	certdir_fd;
};

int	csr_local_make(void *arg, const char **names, size_t nnames,
	    uint8_t **der, size_t *derlen, char *err);
/* DER SubjectPublicKeyInfo of the kept key for name (malloc'd); 0 or -1. */
int	csr_local_spki(int certdir_fd, const char *name, uint8_t **spki,
	    size_t *len);

#endif
