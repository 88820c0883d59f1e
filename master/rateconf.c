/* SPDX-License-Identifier: BSD-3-Clause */
#include "rateconf.h"

#include <jansson.h>
#include <strings.h>

#include "frame.h"
#include "log.h"

#define MIN_BURST	(DERP_MAX_PACKET + KEY_LEN)	/* derper's minimum */

/* Go: case-insensitive keys, zero for absent or null, error for other types. */
static int
get_u64(json_t *root, const char *name, uint64_t *out)
{
	const char *k;
	json_t *v;

	*out = 0;
	json_object_foreach(root, k, v) {
		if (strcasecmp(k, name) != 0 || json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return -1;
		*out = (uint64_t)json_integer_value(v);
	}
	return 0;
}

int
rateconf_load(const char *path, struct shm *s)
{
	json_error_t jerr;
	uint64_t bps, burst;
	json_t *root;

	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		log_warnx("rate config %s: %s (line %d)", path, jerr.text, jerr.line);
		return -1;
	}
	if (!json_is_object(root) ||
	    get_u64(root, "PerClientRateLimitBytesPerSec", &bps) != 0 ||
	    get_u64(root, "PerClientRateBurstBytes", &burst) != 0) {
		log_warnx("rate config %s: want {\"PerClientRateLimitBytesPerSec\": N, "
		    "\"PerClientRateBurstBytes\": M} with non-negative integers", path);
		json_decref(root);
		return -1;
	}
	json_decref(root);
	if (bps == 0)
		burst = 0;
	else if (burst < MIN_BURST)
		burst = MIN_BURST;
	shm_rate_set(s, bps, burst);
	log_info("rate config applied: client-rate=%llu bytes/sec, client-burst=%llu bytes",
	    (unsigned long long)bps, (unsigned long long)burst);
	return 0;
}
