/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mesh dialer (derpd: mesh dialer), a child exec'd with -role
 * mesh-dialer when -mesh-with is given. Workers have no socket or connect;
 * for each of its links a worker asks the dialer, by peer number
 * (common/dial_proto.h), and gets back a connected TCP socket, on which it
 * runs TLS and the DERP login itself. The dialer resolves the peer's dial
 * host (from /etc/hosts and DNS only, as the bootstrap-DNS resolver does)
 * and connects to each address in turn, several peers at once; it reads no
 * byte from the connections it makes. It knows the -mesh-with list and
 * nothing else: no key, no certificate, no client.
 */
#ifndef DERPD_DIALER_H
#define DERPD_DIALER_H

void	dialer_main(void) __attribute__((noreturn));

#endif
