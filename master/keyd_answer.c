/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key process's answer to one request from a worker, apart from its
 * I/O so that tests/fuzz/fuzz_keyd.c can give it any datagram a hostile
 * worker could send.
 */
#include "keyd.h"

#include <sodium.h>
#include <string.h>

int
keyd_answer(const void *msg, size_t len, const uint8_t priv[KEY_LEN],
    struct keyd_resp *resp)
{
	struct keyd_req req;

	if (len != sizeof(req))
		return -1;
	memcpy(&req, msg, sizeof(req));
	memset(resp, 0, sizeof(*resp));
	resp->slot = req.slot;
	resp->gen = req.gen;
	resp->ok = crypto_box_beforenm(resp->shared, req.client_pub, priv) == 0;
	if (!resp->ok)
		sodium_memzero(resp->shared, sizeof(resp->shared));
	return 0;
}
