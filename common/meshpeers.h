/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The -mesh-with list, as derper reads it: comma-separated entries
 * host[:port][/dialhost]. The relay logs in to https://host[:port]/derp
 * (TLS and the Host header use host); the connection goes to dialhost, on
 * the same port, when one is given. host is a DNS name, an IPv4 address or
 * a bracketed IPv6 address; dialhost a name or an address (IPv6 with or
 * without brackets). Every process that needs the list parses it itself
 * from its set-up: the master (to refuse a bad one at start), the mesh
 * dialer and the workers.
 */
#ifndef DERPD_MESHPEERS_H
#define DERPD_MESHPEERS_H

#include <stddef.h>
#include <stdint.h>

#define MESH_MAX_PEERS	32
#define MESH_HOST_MAX	253		/* a DNS name's longest text form */

struct mesh_peer {
	char		host[MESH_HOST_MAX + 1];	/* TLS name, no brackets */
	char		authority[MESH_HOST_MAX + 9];	/* Host header: host[:port] as given */
	char		dial[MESH_HOST_MAX + 1];	/* what to resolve and dial */
	uint16_t	port;		/* 443 unless given */
	int		host_is_ip;	/* verify an IP address, send no SNI */
};

/*
 * Parses list into peers[0..*n); 0, or -1 with a message in err. An empty
 * list is no peers.
 */
int	mesh_peers_parse(const char *list, struct mesh_peer *peers, int *n,
	    char *err, size_t errlen);

#endif
