/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS 1.3 record layer of an established server connection (RFC 8446
 * section 5), once OpenSSL has made the handshake: AEAD records with the
 * application traffic keys, alerts, KeyUpdate. What the kernel's kTLS does
 * where it has the tls ULP: it lets the worker free OpenSSL's connection
 * (SSL object, session, handshake state: 13 KiB) and keep two cipher
 * contexts. The AEADs are OpenSSL's (EVP); only the framing is ours.
 */
#ifndef DERPD_TLSREC_H
#define DERPD_TLSREC_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define TLSREC_HDR		5
#define TLSREC_TAG		16
#define TLSREC_MAX_PLAIN	16384		/* 2^14 */
#define TLSREC_MAX_BODY		(TLSREC_MAX_PLAIN + 256)	/* ciphertext, tag included */
#define TLSREC_MAX		(TLSREC_HDR + TLSREC_MAX_BODY)
#define TLSREC_MAX_SECRET	48		/* SHA-384 */
/* Records under one write key (RFC 8446 5.5: AES-GCM's bound is 2^24.5). */
#define TLSREC_KEY_LIMIT	(1ULL << 24)
/* Records in a row that carry no data (empty, KeyUpdate): OpenSSL's 32. */
#define TLSREC_MAX_IDLE		32

/* Inner content types. */
#define TLSREC_ALERT		21
#define TLSREC_HANDSHAKE	22
#define TLSREC_DATA		23

struct tlsrec_dir {
	EVP_CIPHER_CTX	*ctx;
	uint8_t		 secret[TLSREC_MAX_SECRET];
	uint8_t		 iv[12];
	uint64_t	 seq;
};

struct tlsrec {
	const EVP_CIPHER *cipher;	/* not owned */
	const EVP_MD	*md;		/* not owned */
	size_t		 secret_len;	/* the hash's length */
	struct tlsrec_dir rd, wr;
	unsigned	 idle;		/* records in a row without data */
	int		 send_key_update;	/* the peer asked for ours */
	int		 closed;	/* close_notify received */
};

/*
 * Keys for suite (0x1301 AES-128-GCM-SHA256, 0x1302 AES-256-GCM-SHA384,
 * 0x1303 CHACHA20-POLY1305-SHA256) from the two application traffic
 * secrets, rd the peer's and wr ours (secret_len bytes each, the suite's
 * hash length); both sequence numbers start at 0. 0, or -1 (unknown suite,
 * wrong length, no memory) with r left empty (tlsrec_free is safe).
 */
int	tlsrec_init(struct tlsrec *r, uint16_t suite, const uint8_t *rd_secret,
	    const uint8_t *wr_secret, size_t secret_len);
/* Frees the cipher contexts and wipes the secrets; r may be zeroed. */
void	tlsrec_free(struct tlsrec *r);

/*
 * The length of the record starting at p (header included) when all of it
 * is in p[0..n), 0 when more bytes are needed, -1 when the header is not
 * an application_data record of TLS 1.2's legacy version (0x0303) with a
 * body of 17 .. TLSREC_MAX_BODY bytes: the connection must be closed.
 */
ssize_t	tlsrec_record_len(const uint8_t *p, size_t n);

/*
 * Decrypts the complete record rec[0..len) (len from tlsrec_record_len)
 * into out, which has room for len - TLSREC_HDR - TLSREC_TAG bytes: either
 * rec + TLSREC_HDR (in place) or memory that does not overlap rec. Returns the content's length (the inner type and its
 * zero padding removed) and sets *type, or -1: the tag did not verify, no
 * inner type, an inner plaintext over 2^14 + 1 bytes, or the
 * TLSREC_MAX_IDLE + 1st record in a row without data (close the
 * connection); after a tag that did not verify, what it wrote to out is
 * wiped. Advances
 * the read sequence number on success.
 */
ssize_t	tlsrec_open(struct tlsrec *r, const uint8_t *rec, size_t len,
	    uint8_t *out, uint8_t *type);

/*
 * What an opened record of a type other than TLSREC_DATA means: a
 * close_notify alert sets r->closed and returns 0; a KeyUpdate, alone in
 * its record (a key change ends a record), installs the peer's next key
 * and, when it asked for ours, sets r->send_key_update (tlsrec_seal sends
 * it first); 0. Any other alert, handshake message or type, returns -1.
 */
int	tlsrec_control(struct tlsrec *r, uint8_t type, const uint8_t *p,
	    size_t n);

/* A KeyUpdate of ours is due: the peer asked, or TLSREC_KEY_LIMIT records
 * went under this key. tlsrec_seal sends it first. */
int	tlsrec_update_due(const struct tlsrec *r);
/*
 * Encrypts what it can of iov[0..iovcnt) into out[0..room) as records of
 * up to TLSREC_MAX_PLAIN bytes each (gathered across the iovecs; the last
 * one shorter when that is what fits), first a KeyUpdate if one is due
 * (then the new key). Sets *consumed to the plaintext bytes taken and returns
 * the bytes written to out (0 when not even a KeyUpdate or a record of
 * one byte fits). Advances the write sequence number per record. Returns
 * -1 on an internal error.
 */
ssize_t	tlsrec_seal(struct tlsrec *r, const struct iovec *iov, int iovcnt,
	    uint8_t *out, size_t room, size_t *consumed);

/* A close_notify alert record into out (room >= TLSREC_HDR + 2 + 1 +
 * TLSREC_TAG); its length, or -1. */
ssize_t	tlsrec_seal_close(struct tlsrec *r, uint8_t *out, size_t room);

#endif
