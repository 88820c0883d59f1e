/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker: one epoll loop serving TLS/HTTP/DERP clients, sandboxed. */
#ifndef DERPD_WORKER_H
#define DERPD_WORKER_H

/*
 * The worker role's entry point, after exec (common/role.h): reads its
 * set-up, sets up, enters its sandbox and serves until told to stop.
 */
void	worker_main(void) __attribute__((noreturn));

#endif
