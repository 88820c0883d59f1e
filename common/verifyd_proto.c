/* SPDX-License-Identifier: BSD-3-Clause */
#include "verifyd_proto.h"

#include <string.h>

static const char *const reason_names[VR_NREASONS] = {
	[VR_ADMITTED] = "admitted",
	[VR_NOT_ALLOWED] = "not_allowed",
	[VR_NOT_IN_TAILNET] = "not_in_tailnet",
	[VR_ADMISSION_DENIED] = "admission_denied",
	[VR_TAILSCALED_ERROR] = "tailscaled_error",
	[VR_ADMISSION_ERROR] = "admission_error",
	[VR_BUSY] = "busy",
	[VR_EXPIRED] = "expired",
};

int
verifyd_req_check(const void *msg, size_t len, struct verifyd_req *req,
    const char **why)
{
	static const uint8_t zero[KEY_LEN];

	if (len != sizeof(*req))
		return (*why = "wrong size", -1);
	memcpy(req, msg, sizeof(*req));
	if (req->op != VERIFYD_LOGIN && req->op != VERIFYD_RECHECK)
		return (*why = "unknown operation", -1);
	/* No client logs in with it (a low-order point): never worth a lookup. */
	if (memcmp(req->key, zero, KEY_LEN) == 0)
		return (*why = "all-zero key", -1);
	return 0;
}

int
verifyd_refused(uint32_t reason)
{
	return reason == VR_NOT_ALLOWED || reason == VR_NOT_IN_TAILNET ||
	    reason == VR_ADMISSION_DENIED;
}

const char *
verifyd_reason_name(uint32_t reason)
{
	return reason < VR_NREASONS ? reason_names[reason] : "invalid";
}
