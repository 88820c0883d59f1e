/* SPDX-License-Identifier: BSD-3-Clause */
#include "steer.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>

#define M_PORT	0	/* scratch memory: the client's source port */
#define M_ADDR	1	/* the last 32 bits of its address */
#define M_HASH	2

#define STMT(c, k)		((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, jt, jf)	((struct sock_filter)BPF_JUMP((c), (k), (jt), (jf)))

/*
 * Port and address of the client's SYN into scratch memory. SKF_NET_OFF
 * addresses the packet from its IP header; an IPv6 SYN carries no
 * extension headers, so its TCP header is at 40.
 */
static int
load_client(struct sock_filter *c)
{
	int n = 0;

	c[n++] = STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF);
	c[n++] = STMT(BPF_ALU | BPF_RSH | BPF_K, 4);
	c[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 6);
	/* IPv4: X = header length; the port right after the header */
	c[n++] = STMT(BPF_LDX | BPF_B | BPF_MSH, (uint32_t)SKF_NET_OFF);
	c[n++] = STMT(BPF_LD | BPF_H | BPF_IND, (uint32_t)SKF_NET_OFF);
	c[n++] = STMT(BPF_ST, M_PORT);
	c[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12);
	c[n++] = STMT(BPF_ST, M_ADDR);
	c[n++] = JUMP(BPF_JMP | BPF_JA, 4, 0, 0);
	/* IPv6 */
	c[n++] = STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)SKF_NET_OFF + 40);
	c[n++] = STMT(BPF_ST, M_PORT);
	c[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 20);
	c[n++] = STMT(BPF_ST, M_ADDR);
	return n;
}

/*
 * A = a hash of port and address (a multiply-xorshift finaliser), so that
 * ports that are all even, or differ only in high bits, still spread over
 * any number of workers.
 */
static int
load_hash(struct sock_filter *c)
{
	int n = 0;

	c[n++] = STMT(BPF_LD | BPF_MEM, M_PORT);
	c[n++] = STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1);
	c[n++] = STMT(BPF_LDX | BPF_MEM, M_ADDR);
	c[n++] = STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	c[n++] = STMT(BPF_ALU | BPF_MUL | BPF_K, 0x85ebca6b);
	c[n++] = STMT(BPF_ST, M_HASH);
	c[n++] = STMT(BPF_ALU | BPF_RSH | BPF_K, 15);
	c[n++] = STMT(BPF_MISC | BPF_TAX, 0);
	c[n++] = STMT(BPF_LD | BPF_MEM, M_HASH);
	c[n++] = STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	c[n++] = STMT(BPF_ALU | BPF_MUL | BPF_K, 0xc2b2ae35);
	c[n++] = STMT(BPF_ST, M_HASH);
	c[n++] = STMT(BPF_ALU | BPF_RSH | BPF_K, 13);
	c[n++] = STMT(BPF_MISC | BPF_TAX, 0);
	c[n++] = STMT(BPF_LD | BPF_MEM, M_HASH);
	c[n++] = STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	return n;
}

int
steer_build(enum steer_mode mode, uint32_t n, const uint8_t *alive,
    struct sock_filter *code)
{
	uint32_t live[64], nlive = 0, slots, k, to;
	int len;

	if (n > 64)
		return 0;
	for (k = 0; k < n; k++)
		if (alive[k])
			live[nlive++] = k;
	if (nlive == 0)
		return 0;
	len = load_client(code);
	if (mode == STEER_HASH) {
		len += load_hash(code + len);
		slots = nlive;
	} else {
		code[len++] = STMT(BPF_LD | BPF_MEM, M_PORT);
		slots = n;
	}
	code[len++] = STMT(BPF_ALU | BPF_MOD | BPF_K, slots);
	/* A is a slot: hash mode's k-th live worker; a port's own worker
	 * while it lives, else a live one (spread by the slot number). */
	for (k = 0; k < slots; k++) {
		to = mode == STEER_HASH ? live[k] : alive[k] ? k : live[k % nlive];
		if (to == k)
			continue;
		code[len++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1);
		code[len++] = STMT(BPF_RET | BPF_K, to);
	}
	code[len++] = STMT(BPF_RET | BPF_A, 0);
	return len;
}

int
steer_apply(int fd, enum steer_mode mode, uint32_t n, const uint8_t *alive)
{
	struct sock_filter code[STEER_MAX_INSNS];
	struct sock_fprog prog;

	memset(&prog, 0, sizeof(prog));
	if ((prog.len = (unsigned short)steer_build(mode, n, alive, code)) == 0) {
		errno = EINVAL;
		return -1;
	}
	prog.filter = code;
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
	    sizeof(prog));
}
