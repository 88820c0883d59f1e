/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a peer relay sends on our mesh link, read the way derper's client
 * (derp/derphttp, derp.Client.Recv) reads it: the HTTP answer to our
 * upgrade, then frames from server to client. Pure functions over bytes
 * (tests/fuzz/fuzz_linkparse.c).
 */
#ifndef DERPD_LINKPARSE_H
#define DERPD_LINKPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define LINK_HEAD_MAX	4096	/* a 101 answer is some 200 bytes */
#define LINK_FRAME_MAX	(1 << 20)	/* derper's client refuses larger */

/*
 * The response head at p[0..len): its length through the blank line and
 * its status code in *status; 0 while incomplete; -1 if it is not an
 * HTTP/1.x status line, or no blank line comes within LINK_HEAD_MAX bytes.
 */
int	linkparse_head(const uint8_t *p, size_t len, int *status);
/*
 * What to do with a frame from the server: accept (handle it), skip
 * (unknown, or too short to mean anything: derper drops it and reads on)
 * or reject (larger than any we hold: the link closes).
 */
enum frame_verdict linkparse_frame(uint8_t type, uint32_t len);
/* The ServerKey payload's key: 0, or -1 if it is not a DERP greeting. */
int	linkparse_server_key(const uint8_t *p, uint32_t len, uint8_t pub[KEY_LEN]);

#endif
