/* SPDX-License-Identifier: BSD-3-Clause */
#include "dial_proto.h"

#include <string.h>

int
dial_req_parse(const void *msg, size_t len, uint32_t w, uint32_t nworkers,
    uint32_t npeers, struct dial_req *out)
{
	if (len != sizeof(*out) || nworkers == 0)
		return -1;
	memcpy(out, msg, sizeof(*out));
	if (out->peer >= npeers || dial_owner(out->peer, nworkers) != w)
		return -1;
	return 0;
}

int
dial_resp_parse(const void *msg, size_t len, int nfds, uint32_t w,
    uint32_t nworkers, uint32_t npeers, struct dial_resp *out)
{
	if (len != sizeof(*out) || nworkers == 0)
		return -1;
	memcpy(out, msg, sizeof(*out));
	if (out->peer >= npeers || dial_owner(out->peer, nworkers) != w ||
	    out->pad != 0)
		return -1;
	/* A socket exactly when it worked; an errno is small and positive. */
	if (out->err == 0 ? nfds != 1 : nfds != 0 || out->err < 0 ||
	    out->err > 4095)
		return -1;
	return 0;
}

int
dial_attach_parse(const void *msg, size_t len, int nfds, uint32_t nworkers,
    struct dial_attach *out)
{
	if (len != sizeof(*out) || nfds != 1)
		return -1;
	memcpy(out, msg, sizeof(*out));
	return out->worker < nworkers && out->pad == 0 ? 0 : -1;
}
