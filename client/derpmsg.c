/* SPDX-License-Identifier: BSD-3-Clause */
#include "derpmsg.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int
dmsg_split(const uint8_t *buf, size_t len, struct dmsg *m)
{
	if (!frame_get_header(buf, len, &m->type, &m->len))
		return 0;
	if (m->len > DMSG_PAYLOAD_MAX)
		return -1;
	if (len - DERP_FRAME_HDR_LEN < m->len)
		return 0;
	m->payload = buf + DERP_FRAME_HDR_LEN;
	m->total = DERP_FRAME_HDR_LEN + (size_t)m->len;
	return 1;
}

int
dmsg_server_key(const struct dmsg *m, uint8_t key[KEY_LEN])
{
	if (m->type != FRAME_SERVER_KEY || m->len < DERP_MAGIC_LEN + KEY_LEN ||
	    memcmp(m->payload, DERP_MAGIC, DERP_MAGIC_LEN) != 0)
		return -1;
	memcpy(key, m->payload + DERP_MAGIC_LEN, KEY_LEN);
	return 0;
}

/* A JSON integer field, if present; -1 if it is there but not an integer. */
static int
get_int(json_t *obj, const char *name, int64_t *out)
{
	json_t *v = json_object_get(obj, name);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

int
dmsg_server_info_json(const uint8_t *json, size_t len, struct server_info *si,
    const char **why)
{
	json_error_t jerr;
	json_t *root;
	int bad;

	si->version = -1;
	si->bucket_bytes_per_sec = si->bucket_bytes_burst = 0;
	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		*why = "ServerInfo is not a JSON object";
		return -1;
	}
	bad = get_int(root, "version", &si->version) != 0 ||
	    get_int(root, "TokenBucketBytesPerSecond",
	    &si->bucket_bytes_per_sec) != 0 ||
	    get_int(root, "TokenBucketBytesBurst", &si->bucket_bytes_burst) != 0;
	json_decref(root);
	if (bad)
		*why = "ServerInfo has a field of the wrong type";
	return bad ? -1 : 0;
}

int
dmsg_server_info(const struct dmsg *m, const uint8_t server[KEY_LEN],
    const uint8_t priv[KEY_LEN], struct server_info *si, const char **why)
{
	uint8_t plain[DMSG_INFO_MAX];
	size_t clen;

	if (m->type != FRAME_SERVER_INFO)
		return *why = "expected ServerInfo", -1;
	if (m->len < DERP_NONCE_LEN + DERP_BOX_OVERHEAD)
		return *why = "short ServerInfo", -1;
	clen = m->len - DERP_NONCE_LEN;
	if (clen - DERP_BOX_OVERHEAD > sizeof(plain))
		return *why = "ServerInfo too long", -1;
	if (crypto_box_open_easy(plain, m->payload + DERP_NONCE_LEN, clen,
	    m->payload, server, priv) != 0)
		return *why = "ServerInfo does not open with the server's key", -1;
	return dmsg_server_info_json(plain, clen - DERP_BOX_OVERHEAD, si, why);
}

int
dmsg_recv_packet(const struct dmsg *m, const uint8_t **src, const uint8_t **pkt,
    size_t *len)
{
	if (m->type != FRAME_RECV_PACKET || m->len < KEY_LEN)
		return -1;
	*src = m->payload;
	*pkt = m->payload + KEY_LEN;
	*len = m->len - KEY_LEN;
	return 0;
}

int
dmsg_peer_gone(const struct dmsg *m, const uint8_t **key, int *reason)
{
	if (m->type != FRAME_PEER_GONE || m->len < KEY_LEN)
		return -1;
	*key = m->payload;
	*reason = m->len > KEY_LEN ? m->payload[KEY_LEN] : 0;
	return 0;
}

size_t
dmsg_client_info(uint8_t out[DMSG_CLIENT_INFO_MAX], const uint8_t pub[KEY_LEN],
    const uint8_t priv[KEY_LEN], const uint8_t server[KEY_LEN],
    int is_prober)
{
	char json[96];
	uint8_t *nonce = out + KEY_LEN;
	int n;

	/* derp.ClientInfo's spelling: "version", "CanAckPings", "IsProber". */
	n = snprintf(json, sizeof(json), "{\"version\":%d,\"CanAckPings\":true%s}",
	    DERP_PROTOCOL_VERSION, is_prober ? ",\"IsProber\":true" : "");
	memcpy(out, pub, KEY_LEN);
	randombytes_buf(nonce, DERP_NONCE_LEN);
	if (crypto_box_easy(nonce + DERP_NONCE_LEN, (const uint8_t *)json,
	    (size_t)n, nonce, server, priv) != 0)
		return 0;
	return KEY_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD + (size_t)n;
}
