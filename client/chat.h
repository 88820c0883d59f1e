/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd-client chat: a line-based chat between keys through the relay,
 * end-to-end encrypted (crypto.h; messages in chatmsg.h). chat.c runs the
 * loop and handles what arrives; chat_cmd.c the user's commands. The relay
 * keeps no room or registry: peers know each other's keys.
 */
#ifndef CLIENT_CHAT_H
#define CLIENT_CHAT_H

#include "chat_peers.h"
#include "derpconn.h"
#include "opts.h"

#define CHAT_PENDING_MAX	64
#define CHAT_LINE_MAX		(CHAT_TEXT_MAX + 64)

/* A TEXT waiting for its ACK. */
struct pending {
	struct peer	*to;
	uint32_t	 id;
	int		 tries;
	int64_t		 resend_at;
	size_t		 len;
	uint8_t		 msg[CHAT_MSG_MAX];
};

struct chat {
	const struct copts	*o;
	struct derpconn		*c;
	struct ident		 id;
	struct peers		 peers;
	char			 name[CHAT_NAME_MAX + 1];	/* /register */
	uint32_t		 next_id;
	struct pending		 pend[CHAT_PENDING_MAX];
	unsigned		 npend;
	int			 info_wanted;	/* /info waits for a Pong */
	uint8_t			 ping[8];
	double			 ping_at;
	int64_t			 info_deadline;
	int			 quit;
	char			 line[CHAT_LINE_MAX];
	size_t			 linelen;
};

int	cmd_chat(const struct copts *o);

/* chat.c, for the commands */
void	chat_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	chat_send(struct chat *ch, struct peer *p, const uint8_t *msg, size_t len);
void	chat_hello(struct chat *ch, struct peer *p, int ask);
void	chat_text(struct chat *ch, struct peer *p, const char *text, int all);
void	chat_info(struct chat *ch, double rtt);

/* chat_cmd.c */
void	chat_command(struct chat *ch, char *line);

#endif
