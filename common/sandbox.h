/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_SANDBOX_H
#define DERPD_SANDBOX_H

#include <seccomp.h>
#include <stddef.h>

enum sandbox_role {
	SANDBOX_WORKER,		/* TLS, HTTP, DERP on sockets it already has */
	SANDBOX_KEY,		/* the key process: answers on its sockets */
	SANDBOX_STUN,		/* the STUN process: datagrams in and out */
	SANDBOX_DNS,		/* the bootstrap-DNS resolver: a stub resolver's calls */
	SANDBOX_VERIFY,		/* the verifier: HTTP to tailscaled and a controller */
	SANDBOX_DIALER,		/* the mesh dialer: a resolver's, and TCP connect */
	SANDBOX_ACME,		/* the ACME client: HTTPS, a stub resolver, the certdir */
	SANDBOX_NROLES,
};

/* How a rule restricts the syscall's arguments. */
enum arg_rule {
	ANY = 0,		/* no argument checks */
	READ_ONLY_OPEN,		/* openat for reading (resolv.conf, hosts) */
	CREATE_EXCL,		/* openat creating a new file, never opening one */
	UNIX_PAIR,		/* socketpair(AF_UNIX): libcurl's wake-up pair */
	IP_SOCKET,		/* socket(AF_INET, AF_INET6 or AF_UNIX (nscd, tailscaled)) */
	FIONREAD_ONLY,		/* ioctl(fd, FIONREAD) */
	NO_EXEC_PROT,		/* arg 2 (prot) without PROT_EXEC */
	TCP_SOCKOPT,		/* setsockopt: only the options a worker sets on accept */
	SELF_SIGNAL,		/* tgkill on ourselves only (abort()) */
	FUTEX_WAKE_ONLY,	/* futex(FUTEX_WAKE): never a wait */
	FILE_FLAGS_ONLY,	/* fcntl F_GETFL/F_SETFL (O_NONBLOCK): no F_SETOWN, whose SIGIO signals others */
};

/* One line of the policy table: a syscall, its argument rule, its roles. */
struct sandbox_rule {
	int		 nr;		/* SCMP_SYS(): this architecture's number */
	const char	*name;
	enum arg_rule	 rule;
	unsigned int	 roles;		/* bit (1 << role) */
};

/* Installs role's seccomp allowlist; anything else kills the process. */
void	sandbox_apply(enum sandbox_role role);
/* Adds role's rules to a filter (tests build one per architecture). Returns
 * 0 or a negative errno from libseccomp. */
int	sandbox_add_rules(scmp_filter_ctx ctx, enum sandbox_role role);
/* The whole table, for tests and documentation. */
const struct sandbox_rule *sandbox_policy(size_t *n);

#endif
