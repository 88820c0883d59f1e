/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpbench: a load generator for any DERP server (derpd, Tailscale's
 * derper). Each thread runs one epoll loop over its own clients; a client
 * logs in (TLS or plain, HTTP upgrade, ServerKey, ClientInfo, ServerInfo)
 * and then sends or receives packets that carry a pair id, a sequence
 * number and a send time.
 */
#ifndef DERPBENCH_H
#define DERPBENCH_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "frame.h"
#include "log.h"

enum mode { MODE_THROUGHPUT, MODE_IDLE, MODE_HANDSHAKE };
enum placement { PLACE_ANY, PLACE_SAME, PLACE_CROSS };

struct opts {
	enum mode	 mode;
	int		 tls;
	int		 insecure;
	const char	*cafile;
	char		 host[256];	/* from the URL: Host header and SNI */
	const char	*servername;	/* overrides host for SNI and verification */
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	int		 pairs;
	uint32_t	 size;		/* packet bytes, >= PKT_HDR_LEN */
	double		 duration;	/* seconds of sending */
	uint64_t	 count;		/* packets per pair; 0: until duration */
	uint32_t	 window;	/* packets in flight per pair; 0: no limit */
	double		 rate;		/* packets/s over all pairs; 0: no limit */
	int		 workers;	/* server workers, for source-port placement */
	enum placement	 placement;
	int		 clients;	/* idle mode */
	int		 on_worker;	/* idle mode: place every client there; -1: any */
	int		 concurrency;	/* logins under way at once, per thread */
	int		 pid;		/* server master, for memory figures */
	int		 threads;
	int		 json;
	int		 strict;	/* exit 3 unless every packet arrived in order */
	/* --rx-url: receivers log in to another server (a meshed peer relay) */
	int		 rx;
	char		 rx_host[256];
	const char	*rx_servername;
	struct sockaddr_storage rx_addr;
	socklen_t	 rx_addrlen;
	int		 rx_pid;	/* its master, for CPU time */
	double		 settle;	/* seconds between the logins and sending */
	double		 hold;		/* idle: seconds to keep clients after measuring */
};

extern struct opts opt;
extern SSL_CTX *client_ctx;

/* Packet payload: pair id, sequence number, send time; the rest is filler. */
#define PKT_HDR_LEN	24

/* Latency histogram in nanoseconds, log-linear with 64 steps per octave. */
#define HIST_SUB	64
#define HIST_BUCKETS	(HIST_SUB * 42)
struct hist {
	uint64_t	n;
	uint64_t	b[HIST_BUCKETS];
};
void	 hist_add(struct hist *h, uint64_t ns);
void	 hist_merge(struct hist *to, const struct hist *from);
uint64_t hist_quantile(const struct hist *h, double q);

/* Memory of a process and all its descendants, from smaps_rollup. */
struct mem {
	uint64_t	rss_kib;
	uint64_t	pss_kib;
	int		nprocs;
};
int	mem_tree(int pid, struct mem *m);
uint64_t cpu_tree(int pid);	/* ns on CPU, user + kernel */

int64_t	mono_ns(void);

enum cstate {
	C_CONNECTING,
	C_TLS,
	C_HTTP,			/* upgrade sent, reading the 101 */
	C_SERVER_KEY,
	C_SERVER_INFO,
	C_READY,
	C_DEAD,
};

enum role { R_SEND, R_RECV, R_IDLE, R_HANDSHAKE };

struct keypair {
	uint8_t	pub[KEY_LEN];
	uint8_t	sec[KEY_LEN];
};

struct pair;
struct loop;

struct buf {
	uint8_t	*p;
	size_t	 off;		/* first unconsumed (in) or unwritten (out) byte */
	size_t	 len;		/* end of data */
	size_t	 cap;
};

struct client {
	struct loop	*lp;
	enum role	 role;
	enum cstate	 state;
	int		 fd;
	SSL		*ssl;
	uint32_t	 events;	/* registered with epoll */
	int		 tls_wants_write;
	int		 more;		/* sender stopped by its own queue */
	const struct keypair *key;
	struct pair	*pair;
	int		 worker;	/* wanted server worker, or -1 */
	int64_t		 t_start;	/* connect() time */
	struct buf	 in, out;
	struct client	*next_pending;	/* waiting for a connection slot */
};

struct pair {
	uint32_t	 id;
	struct client	 tx, rx;
	uint64_t	 next_seq;	/* sent so far */
	uint64_t	 expect;	/* next in-order sequence number */
	uint64_t	 rcvd;
	uint64_t	 top;		/* highest sequence number received */
	uint64_t	 reordered;	/* arrived at or below top: out of order */
	uint64_t	 gaps;		/* sequence numbers skipped over */
	uint64_t	 foreign;	/* bad source key or pair id */
	uint64_t	 gaps_sched;	/* rate mode: due but not sent (our backlog) */
	int64_t		 last_rx_ns;
	int64_t		 stalled_ns;	/* window full since then, or 0 */
	struct hist	 lat;		/* this pair's relay latency */
};

struct loop {
	int		 id;
	int		 epfd;
	int		 timerfd;
	struct pair	*pairs;
	int		 npairs;
	struct client	*clients;	/* idle and handshake modes */
	int		 nclients;
	struct keypair	*keys;
	int		 nkeys;
	int		 next_key;
	int		 connecting;	/* logins under way */
	int		 ready;		/* logged in */
	int		 failed;	/* never logged in */
	int		 died;		/* closed after logging in */
	int		 sending;	/* throughput: past the start barrier */
	int64_t		 t_send0, t_send_end;
	double		 pair_rate;	/* packets/s per pair, 0: unlimited */
	uint64_t	 skipped;	/* rate mode: our own send queue was full */
	uint64_t	 logins;	/* handshake mode */
	uint64_t	 restarts;	/* Restarting frames seen */
	struct hist	 lat;		/* relay latency */
	struct hist	 hs;		/* connect to ServerInfo */
	int64_t		 first_rx_ns, last_rx_ns;
	uint8_t		 server_pub[2][KEY_LEN];	/* [1]: the --rx-url server's */
	int		 have_server_pub[2];
	uint8_t		 (*shared)[KEY_LEN];	/* per key, after ServerKey */
	uint8_t		*shared_ok;
};

/* client.c */
void	client_start(struct client *c);
void	client_io(struct client *c, uint32_t events);
void	client_close(struct client *c, int reset);
int	client_flush(struct client *c);
uint8_t *client_out_reserve(struct client *c, size_t n);
void	client_update_events(struct client *c);
void	loop_on_ready(struct client *c);	/* in modes.c */
void	loop_on_packet(struct client *c, const uint8_t *src,
	    const uint8_t *pkt, uint32_t len);	/* in modes.c */
void	loop_on_dead(struct client *c, int was_ready);	/* in modes.c */

/* modes.c */
extern pthread_barrier_t start_barrier, measured_barrier;
extern int abort_run;
void	*thread_main(void *arg);
void	 modes_init(struct loop *loops, int n);

#endif
