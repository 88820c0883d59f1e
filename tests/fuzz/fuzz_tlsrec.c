/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for worker/tlsrec.c: what a TLS client sends once
 * OpenSSL's handshake is over and the worker does the records itself.
 *
 * The first byte picks the suite (low bits) and whether records are
 * opened in place (0x80); the rest is the client's byte stream, under
 * fixed application traffic secrets (tests/fuzz/mkseeds.py seals its
 * seeds with the same ones). It is read the way the worker reads it:
 * whole records by tlsrec_record_len, each opened, anything but data
 * through tlsrec_control, until a refusal or close_notify. After every
 * control record the server answers with a little data (a KeyUpdate
 * first when asked), which must open, in order, under the client's view
 * of the same keys; after close_notify, its own close_notify. Checked on
 * the way: lengths within their bounds, the read sequence number one up
 * per record and back to 0 after a KeyUpdate.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tlsrec.h"

static const uint16_t suites[3] = { 0x1301, 0x1302, 0x1303 };
static const uint8_t answer_msg[10] = "0123456789";
static uint8_t client_secret[TLSREC_MAX_SECRET], server_secret[TLSREC_MAX_SECRET];
static uint8_t plain[TLSREC_MAX], sealed[2 * TLSREC_MAX], check[TLSREC_MAX];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < TLSREC_MAX_SECRET; i++) {
		client_secret[i] = (uint8_t)(1 + i);
		server_secret[i] = (uint8_t)(0x81 + i);
	}
	return 0;
}

/* The client opens what the server sealed: one record of each type wanted. */
static void
client_reads(struct tlsrec *client, size_t n, int key_update, int close)
{
	size_t off = 0, records = 0;
	ssize_t len, m;
	uint8_t type;

	while (off < n) {
		len = tlsrec_record_len(sealed + off, n - off);
		CHECK(len > 0);
		m = tlsrec_open(client, sealed + off, (size_t)len, check, &type);
		CHECK(m >= 0);
		if (key_update && records == 0) {
			CHECK(type == TLSREC_HANDSHAKE && m == 5);
			CHECK(tlsrec_control(client, type, check, (size_t)m) == 0);
			CHECK(client->send_key_update == 0);
		} else if (close) {
			CHECK(type == TLSREC_ALERT);
			CHECK(tlsrec_control(client, type, check, (size_t)m) == 0);
			CHECK(client->closed);
		} else {
			CHECK(type == TLSREC_DATA && (size_t)m == sizeof(answer_msg));
			CHECK(memcmp(check, answer_msg, sizeof(answer_msg)) == 0);
		}
		off += (size_t)len;
		records++;
	}
	CHECK(off == n && records == 1 + (size_t)key_update);
}

/* The server's answer to a control record. */
static void
server_answers(struct tlsrec *r, struct tlsrec *client)
{
	struct iovec v = { (void *)answer_msg, sizeof(answer_msg) };
	int key_update = r->send_key_update;
	uint64_t seq = r->wr.seq;
	size_t consumed;
	ssize_t n;

	if (r->closed) {
		n = tlsrec_seal_close(r, sealed, sizeof(sealed));
		CHECK(n == TLSREC_HDR + 2 + 1 + TLSREC_TAG);
		client_reads(client, (size_t)n, 0, 1);
		return;
	}
	n = tlsrec_seal(r, &v, 1, sealed, sizeof(sealed), &consumed);
	CHECK(n > 0 && consumed == sizeof(answer_msg));
	CHECK(r->send_key_update == 0);
	CHECK(r->wr.seq == (key_update ? 1 : seq + 1));
	client_reads(client, (size_t)n, key_update, 0);
}

static void
serve(struct tlsrec *r, struct tlsrec *client, uint8_t *in, size_t n,
    int in_place)
{
	size_t off = 0;
	ssize_t len, m;
	uint64_t seq;
	uint8_t type, *out;

	while (off < n) {
		if ((len = tlsrec_record_len(in + off, n - off)) <= 0)
			break;
		CHECK(len >= TLSREC_HDR + TLSREC_TAG + 1 && len <= TLSREC_MAX);
		CHECK((size_t)len <= n - off);
		CHECK(tlsrec_record_len(in + off, (size_t)len - 1) == 0);
		out = in_place ? in + off + TLSREC_HDR : plain;
		seq = r->rd.seq;
		m = tlsrec_open(r, in + off, (size_t)len, out, &type);
		if (m < 0)
			break;
		CHECK(m <= len - TLSREC_HDR - TLSREC_TAG - 1 && m <= TLSREC_MAX_PLAIN);
		CHECK(type != 0 && r->rd.seq == seq + 1);
		off += (size_t)len;
		if (type == TLSREC_DATA)
			continue;
		if (tlsrec_control(r, type, out, (size_t)m) != 0)
			break;
		CHECK(type == TLSREC_ALERT ? r->closed : r->rd.seq == 0);
		server_answers(r, client);
		if (r->closed)
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrec r, client;
	uint16_t suite;
	size_t slen;
	uint8_t *in;

	if (size < 2)
		return 0;
	suite = suites[(data[0] & 0x7f) % 3];
	slen = suite == 0x1302 ? 48 : 32;
	CHECK(tlsrec_init(&r, suite, client_secret, server_secret, slen) == 0);
	CHECK(tlsrec_init(&client, suite, server_secret, client_secret, slen) == 0);
	/* Exactly the stream's size: a read past it is ASan's to see. */
	if ((in = malloc(size - 1)) == NULL)
		abort();
	memcpy(in, data + 1, size - 1);
	serve(&r, &client, in, size - 1, data[0] & 0x80);
	free(in);
	tlsrec_free(&client);
	tlsrec_free(&r);
	return 0;
}
