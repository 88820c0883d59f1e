/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test only: what derpd's workers will do for the ACME child, in a thread
 * of the test driver: answer HTTP-01 on one loopback port and TLS-ALPN-01
 * (ALPN "acme-tls/1", certificate chosen by SNI) on another. Its publish
 * and withdraw functions are the engine's hooks.
 */
#ifndef DERPD_RESPONDER_H
#define DERPD_RESPONDER_H

/* Listens on 127.0.0.1 (a port of 0 serves nothing); 0 or -1. */
int	responder_start(int http_port, int tls_port);
void	responder_stop(void);

int	responder_http01_publish(void *arg, const char *token,
	    const char *key_auth, char *err);
void	responder_http01_withdraw(void *arg, const char *token);
int	responder_tlsalpn01_publish(void *arg, const char *sni,
	    const char *cert_pem, const char *key_pem, char *err);
void	responder_tlsalpn01_withdraw(void *arg, const char *sni);

#endif
