/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP frames between the client and a relay, built and parsed without
 * I/O so the parsers can be fuzzed (tests/fuzz/fuzz_client_derp.c):
 * splitting the byte stream into frames, ServerKey, ServerInfo (opened and
 * its JSON parsed), RecvPacket, PeerGone, and the ClientInfo we send.
 * Layouts: common/frame.h and tailscale.com/derp.
 */
#ifndef CLIENT_DERPMSG_H
#define CLIENT_DERPMSG_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* The longest frame payload accepted from a relay (RecvPacket of 64 KiB). */
#define DMSG_PAYLOAD_MAX	(KEY_LEN + DERP_MAX_PACKET)
#define DMSG_INFO_MAX		4096	/* ServerInfo JSON we bother to read */
#define DMSG_CLIENT_INFO_MAX	(KEY_LEN + DERP_NONCE_LEN + \
				 DERP_BOX_OVERHEAD + 128)

struct dmsg {
	uint8_t		 type;
	const uint8_t	*payload;
	uint32_t	 len;
	size_t		 total;		/* header + payload */
};

struct server_info {
	int64_t	version;		/* -1 when absent */
	int64_t	bucket_bytes_per_sec;	/* 0 when absent */
	int64_t	bucket_bytes_burst;
};

/* 1: a whole frame starts buf; 0: more bytes needed; -1: frame too long. */
int	dmsg_split(const uint8_t *buf, size_t len, struct dmsg *m);
/* ServerKey: magic and key. Returns 0 or -1. */
int	dmsg_server_key(const struct dmsg *m, uint8_t key[KEY_LEN]);
/* Opens ServerInfo with our key and parses it; -1 with *why on failure. */
int	dmsg_server_info(const struct dmsg *m, const uint8_t server[KEY_LEN],
	    const uint8_t priv[KEY_LEN], struct server_info *si,
	    const char **why);
int	dmsg_server_info_json(const uint8_t *json, size_t len,
	    struct server_info *si, const char **why);
/* RecvPacket: the source key and the packet. Returns 0 or -1. */
int	dmsg_recv_packet(const struct dmsg *m, const uint8_t **src,
	    const uint8_t **pkt, size_t *len);
/* PeerGone: the key, and the reason (0 when the relay gave none). */
int	dmsg_peer_gone(const struct dmsg *m, const uint8_t **key, int *reason);
/* ClientInfo payload (our key, nonce, boxed JSON) into out; its length or 0. */
size_t	dmsg_client_info(uint8_t out[DMSG_CLIENT_INFO_MAX],
	    const uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN],
	    const uint8_t server[KEY_LEN], int is_prober);

#endif
