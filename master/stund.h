/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPD_STUND_H
#define DERPD_STUND_H


/*
 * The STUN role's entry point (derpd: stun), after exec: answers binding
 * requests on the UDP socket its set-up names, inside its own seccomp
 * sandbox, counting into its shared-memory region.
 */
void	stund_main(void) __attribute__((noreturn));

#endif
