/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd-client send and recv: stdin of one to stdout of the other through
 * the relay, end-to-end encrypted, reliable over DERP's best effort. The
 * wire format and its rules are in streamfmt.h; stream_send.c is the
 * sender, stream_recv.c the receiver.
 */
#ifndef CLIENT_STREAM_H
#define CLIENT_STREAM_H

#include "opts.h"

int	cmd_send(const struct copts *o);
int	cmd_recv(const struct copts *o);

#endif
