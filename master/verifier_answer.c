/* SPDX-License-Identifier: BSD-3-Clause */
#include "verifier_answer.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "keyfmt.h"

/* Issue 12617 in derper: a tailscaled that predates nodekey: lookups. */
#define OLD_TAILSCALED	"invalid 'addr' parameter"

enum verifyd_reason
verifier_whois_answer(long status, const char *body, size_t len,
    const char **why)
{
	json_t *root;
	int object;

	if (body == NULL)	/* no body at all */
		body = "", len = 0;
	if (status == 404)
		return VR_NOT_IN_TAILNET;
	if (status != 200) {
		*why = memmem(body, len, OLD_TAILSCALED, strlen(OLD_TAILSCALED)) ?
		    "tailscaled is too old for nodekey: lookups" :
		    "unexpected HTTP status";
		return VR_TAILSCALED_ERROR;
	}
	/* derper decodes the body into a WhoIsResponse: an object (or null). */
	root = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	object = json_is_object(root) || json_is_null(root);
	json_decref(root);
	if (!object) {
		*why = "the answer is not a JSON object";
		return VR_TAILSCALED_ERROR;
	}
	return VR_ADMITTED;
}

/* Go's decoder: keys match case-insensitively, the last one wins; null
 * leaves the field alone; any other type is an error. */
static int
get_allow(json_t *root, int *allow)
{
	const char *k;
	json_t *v;

	json_object_foreach(root, k, v) {
		if (strcasecmp(k, "Allow") != 0 || json_is_null(v))
			continue;
		if (!json_is_boolean(v))
			return -1;
		*allow = json_is_true(v);
	}
	return 0;
}

enum verifyd_reason
verifier_admit_answer(long status, const char *body, size_t len,
    const char **why)
{
	json_t *root;
	int allow = 0, rc;

	if (body == NULL)
		body = "", len = 0;
	if (status != 200) {
		*why = "unexpected HTTP status";
		return VR_ADMISSION_ERROR;
	}
	if (len > VERIFIER_ADMIT_BODY_MAX)
		len = VERIFIER_ADMIT_BODY_MAX;
	/* The first value decides; what follows it is never read (derper). */
	root = json_loadb(body, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, NULL);
	if (root == NULL) {
		*why = "the answer is not JSON (or longer than 4 KiB)";
		return VR_ADMISSION_ERROR;
	}
	rc = json_is_null(root) ? 0 : json_is_object(root) ?
	    get_allow(root, &allow) : -1;
	json_decref(root);
	if (rc != 0) {
		*why = "the answer is not {\"Allow\": <bool>}";
		return VR_ADMISSION_ERROR;
	}
	return allow ? VR_ADMITTED : VR_ADMISSION_DENIED;
}

void
verifier_format_ip(char *out, const uint8_t ip[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(ip, mapped, sizeof(mapped)) == 0)
		inet_ntop(AF_INET, ip + 12, out, INET6_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, ip, out, INET6_ADDRSTRLEN);
}

size_t
verifier_admit_request(char *out, const uint8_t key[KEY_LEN],
    const uint8_t ip[16])
{
	char text[KEY_TEXT_MAX], addr[INET6_ADDRSTRLEN];
	int n;

	key_format_text(text, NODEKEY_PREFIX, key);
	verifier_format_ip(addr, ip);
	n = snprintf(out, VERIFIER_ADMIT_REQ_MAX,
	    "{\"NodePublic\":\"%s\",\"Source\":\"%s\"}", text, addr);
	return n > 0 && n < VERIFIER_ADMIT_REQ_MAX ? (size_t)n : 0;
}
