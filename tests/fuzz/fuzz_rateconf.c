/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for master/rateconf.c: derper's -rate-config file, read
 * by the master at start and on every SIGHUP. The input is the file (a
 * memfd, opened by name as the master opens the real one).
 *
 * Checks what derper's Go code does with the file: a JSON object whose
 * keys match case-insensitively (the last match wins, null counts as
 * absent), non-negative integers only, a zero rate meaning no limit and a
 * burst raised to one full packet frame; anything else is refused and
 * leaves the rate in shared memory as it was.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rateconf.h"
#include "fuzz.h"

#define MIN_BURST	(65536 + 32)	/* derper: one packet and its key */
#define OLD_BPS		12345
#define OLD_BURST	678900

static struct shm shm;
static struct shm_ctl ctl;
static int file_fd;
static char path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	shm.ctl = &ctl;
	file_fd = memfd_create("fuzz-rateconf", MFD_CLOEXEC);
	if (file_fd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", file_fd);
	return 0;
}

/* Go's encoding/json into a uint64 field: 0 ok, -1 refused. */
static int
field(json_t *root, const char *name, uint64_t *out)
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

/* What the file should set: 0 and the values, or -1 if it must be refused. */
static int
expected(const uint8_t *data, size_t size, uint64_t *bps, uint64_t *burst)
{
	json_t *root = json_loadb((const char *)data, size,
	    JSON_REJECT_DUPLICATES, NULL);
	int rc = -1;

	if (root != NULL && json_is_object(root) &&
	    field(root, "PerClientRateLimitBytesPerSec", bps) == 0 &&
	    field(root, "PerClientRateBurstBytes", burst) == 0) {
		rc = 0;
		if (*bps == 0)
			*burst = 0;
		else if (*burst < MIN_BURST)
			*burst = MIN_BURST;
	}
	json_decref(root);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t bps = 0, burst = 0, want_bps = 0, want_burst = 0;
	int rc, want, limited;

	CHECK(ftruncate(file_fd, 0) == 0);
	CHECK(size == 0 || pwrite(file_fd, data, size, 0) == (ssize_t)size);
	shm_rate_set(&shm, OLD_BPS, OLD_BURST);

	rc = rateconf_load(path, &shm);
	want = expected(data, size, &want_bps, &want_burst);
	CHECK(rc == want);
	limited = shm_rate_get(&shm, &bps, &burst);
	CHECK((ctl.rate.seq & 1) == 0);
	if (rc != 0) {
		CHECK(limited && bps == OLD_BPS && burst == OLD_BURST);
		return 0;
	}
	CHECK(limited == (want_bps != 0));
	CHECK(ctl.rate.bps == want_bps && ctl.rate.burst == want_burst);
	return 0;
}
