/* SPDX-License-Identifier: BSD-3-Clause */
#include "chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "session.h"

#define RESEND_MS	1000
#define SEND_TRIES	3

/* One line on stdout for the user, "* "-prefixed (what peers say is not). */
void
chat_say(const char *fmt, ...)
{
	va_list ap;

	fputs("* ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void
chat_send(struct chat *ch, struct peer *p, const uint8_t *msg, size_t len)
{
	if (session_send(ch->c, p->key, p->shared, msg, len,
	    now_ms() + ch->o->timeout_ms) != 0)
		fatalx("%s", ch->c->err);
}

void
chat_hello(struct chat *ch, struct peer *p, int ask)
{
	struct cmsg m = { .kind = CMSG_HELLO, .flags = ask ? CHAT_HELLO_ASK : 0 };
	uint8_t buf[CHAT_MSG_MAX];

	memcpy(m.name, ch->name, sizeof(m.name));
	chat_send(ch, p, buf, chatmsg_encode(buf, &m));
	p->greeted = 1;
}

/* Sends a TEXT and keeps it until its ACK arrives or the tries run out. */
void
chat_text(struct chat *ch, struct peer *p, const char *text, int all)
{
	struct cmsg m = { .kind = CMSG_TEXT, .id = ch->next_id++,
	    .flags = all ? CHAT_TEXT_ALL : 0, .text = (const uint8_t *)text,
	    .len = strlen(text) };
	struct pending *q;

	if (ch->npend == CHAT_PENDING_MAX) {
		chat_say("too many messages without an answer; not sent");
		return;
	}
	q = &ch->pend[ch->npend];
	memcpy(m.name, ch->name, sizeof(m.name));
	if ((q->len = chatmsg_encode(q->msg, &m)) == 0) {
		chat_say("message too long or has line breaks; not sent");
		return;
	}
	ch->npend++;
	q->to = p;
	q->id = m.id;
	q->tries = 1;
	q->resend_at = now_ms() + RESEND_MS;
	chat_send(ch, p, q->msg, q->len);
}

void
chat_info(struct chat *ch, double rtt)
{
	char relay[KEY_TEXT_MAX], me[KEY_TEXT_MAX], r[32] = "no Pong yet";

	key_format_text(relay, NODEKEY_PREFIX, ch->c->server);
	key_format_text(me, NODEKEY_PREFIX, ch->id.pub);
	if (rtt >= 0)
		snprintf(r, sizeof(r), "%.1f ms", rtt);
	chat_say("relay %s, relay key %s, rtt %s; you are %s %s",
	    ch->o->url.text, relay, r, ch->name[0] != '\0' ? ch->name :
	    "(no /register name)", me);
}

static void
drop_pending(struct chat *ch, unsigned i)
{
	ch->pend[i] = ch->pend[--ch->npend];
}

static void
on_text(struct chat *ch, struct peer *p, const struct cmsg *m)
{
	char name[PEER_NAME_MAX], text[4 * CHAT_TEXT_MAX + 1];
	struct cmsg ack = { .kind = CMSG_ACK, .id = m->id };
	uint8_t buf[CHAT_MSG_MAX];

	chat_send(ch, p, buf, chatmsg_encode(buf, &ack));
	if (!p->greeted)
		chat_hello(ch, p, 0);	/* first contact: tell them our name */
	if (peer_seen(p, m->id))
		return;
	chatmsg_printable(text, sizeof(text), m->text, m->len);
	printf("<%s> %s\n", peer_name(&ch->peers, p, name), text);
	fflush(stdout);
}

static void
on_ack(struct chat *ch, struct peer *p, uint32_t id)
{
	unsigned i;

	for (i = 0; i < ch->npend; i++)
		if (ch->pend[i].to == p && ch->pend[i].id == id) {
			drop_pending(ch, i);
			return;
		}
}

static void
on_packet(struct chat *ch, const struct dc_event *ev)
{
	struct peer *p = peers_by_key(&ch->peers, ev->src);
	uint8_t plain[CHAT_MSG_MAX];
	int fresh = p == NULL;
	struct cmsg m;
	size_t len;

	if (ev->len > sizeof(plain) + E2E_OVERHEAD ||
	    (fresh && (p = peers_add(&ch->peers, ev->src, &ch->id)) == NULL))
		return;
	if (e2e_open(plain, &len, ev->data, ev->len, p->shared) != 0 ||
	    chatmsg_decode(plain, len, &m) != 0) {
		if (fresh)
			ch->peers.n--;	/* a stranger's noise: forget it */
		return;
	}
	p->heard_at = now_ms();
	if (m.kind != CMSG_ACK)
		memcpy(p->announced, m.name, sizeof(p->announced));
	if (m.kind == CMSG_TEXT)
		on_text(ch, p, &m);
	else if (m.kind == CMSG_ACK)
		on_ack(ch, p, m.id);
	else if (m.flags & CHAT_HELLO_ASK)
		chat_hello(ch, p, 0);
}

static void
on_event(struct chat *ch, const struct dc_event *ev)
{
	char name[PEER_NAME_MAX];
	struct peer *p;

	if (ev->type == DC_PACKET)
		on_packet(ch, ev);
	else if (ev->type == DC_PONG && ch->info_wanted && ev->len == 8 &&
	    memcmp(ev->data, ch->ping, 8) == 0) {
		ch->info_wanted = 0;
		chat_info(ch, now_msf() - ch->ping_at);
	} else if (ev->type == DC_PEER_GONE &&
	    (p = peers_by_key(&ch->peers, ev->src)) != NULL)
		chat_say("%s is not connected to the relay",
		    peer_name(&ch->peers, p, name));
}

/* Resends TEXTs without an ACK; gives up after SEND_TRIES. */
static void
timers(struct chat *ch)
{
	char name[PEER_NAME_MAX];
	struct pending *q;
	unsigned i;

	for (i = 0; i < ch->npend; i++) {
		q = &ch->pend[i];
		if (now_ms() < q->resend_at)
			continue;
		if (q->tries == SEND_TRIES) {
			chat_say("no answer from %s; the message may be lost",
			    peer_name(&ch->peers, q->to, name));
			drop_pending(ch, i--);
			continue;
		}
		q->tries++;
		q->resend_at = now_ms() + RESEND_MS;
		chat_send(ch, q->to, q->msg, q->len);
	}
	if (ch->info_wanted && now_ms() >= ch->info_deadline) {
		ch->info_wanted = 0;
		chat_info(ch, -1);
	}
}

/* Splits what stdin gave into lines; EOF quits. */
static void
read_lines(struct chat *ch)
{
	ssize_t n;
	char *nl;

	n = read(STDIN_FILENO, ch->line + ch->linelen,
	    sizeof(ch->line) - 1 - ch->linelen);
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		ch->quit = 1;
		return;
	}
	ch->linelen += (size_t)n;
	ch->line[ch->linelen] = '\0';
	while (!ch->quit && (nl = strchr(ch->line, '\n')) != NULL) {
		*nl = '\0';
		chat_command(ch, ch->line);
		ch->linelen -= (size_t)(nl + 1 - ch->line);
		memmove(ch->line, nl + 1, ch->linelen + 1);
	}
	if (ch->linelen == sizeof(ch->line) - 1) {
		chat_say("line too long; ignored");
		ch->linelen = 0;
	}
}

static int64_t
next_timer(const struct chat *ch)
{
	int64_t t = now_ms() + 60000;
	unsigned i;

	for (i = 0; i < ch->npend; i++)
		if (ch->pend[i].resend_at < t)
			t = ch->pend[i].resend_at;
	if (ch->info_wanted && ch->info_deadline < t)
		t = ch->info_deadline;
	return t;
}

int
cmd_chat(const struct copts *o)
{
	static struct chat ch;
	struct dc_event ev;
	char me[KEY_TEXT_MAX];
	int r;

	ch.o = o;
	ident_init(&ch.id, o->keyfile);
	ch.c = session_open(o, &ch.id);
	randombytes_buf(&ch.next_id, sizeof(ch.next_id));
	key_format_text(me, NODEKEY_PREFIX, ch.id.pub);
	chat_say("connected to %s as %s; /help lists the commands",
	    o->url.text, me);
	while (!ch.quit) {
		while ((r = dc_next(ch.c, &ev, 0)) == 1)
			on_event(&ch, &ev);
		if (r < 0)
			fatalx("%s", ch.c->err);
		timers(&ch);
		if (session_wait(ch.c, STDIN_FILENO, next_timer(&ch)) &
		    SESSION_OTHER)
			read_lines(&ch);
	}
	dc_close(ch.c);
	ident_free(&ch.id);
	return 0;
}
