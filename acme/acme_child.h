/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd's ACME child (derpd: acme), exec'd by the master with -certmode
 * letsencrypt or gcp: it keeps a certificate for the hostname (and, with
 * -acme-ip-certs, for each IP address clients reach us at) obtained,
 * cached in the certdir and renewed, using the engine in acme/. It holds
 * the ACME account key and the chains, never a certificate's private key:
 * the key process makes each key and signs its CSR. It runs unprivileged
 * in a seccomp policy of its own: an HTTPS client's calls, a stub
 * resolver's, and files created in the certdir.
 */
#ifndef DERPD_ACME_CHILD_H
#define DERPD_ACME_CHILD_H

/* The role's entry point (after exec): never returns. */
void	acme_main(void) __attribute__((noreturn));

#endif
