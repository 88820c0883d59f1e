/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_SANDBOX_H
#define DERPD_SANDBOX_H

enum sandbox_role {
	SANDBOX_WORKER,		/* TLS, HTTP, DERP on sockets it already has */
	SANDBOX_KEY,		/* the key process: answers on its sockets */
	SANDBOX_STUN,		/* the STUN process: datagrams in and out */
	SANDBOX_DNS,		/* the bootstrap-DNS resolver: a stub resolver's calls */
};

/* Installs role's seccomp allowlist; anything else kills the process. */
void	sandbox_apply(enum sandbox_role role);

#endif
