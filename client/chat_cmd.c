/* SPDX-License-Identifier: BSD-3-Clause */
/* The chat's commands, one line each from stdin. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "clock.h"

static const char help_text[] =
    "/register NAME          your name, told to the peers you talk to\n"
    "* /add NAME nodekey:HEX   know a peer by that name (asks theirs)\n"
    "* /send NAME|ALL TEXT     a message to one peer, or to every known peer\n"
    "* /list                   known peers and when each last answered\n"
    "* /info                   the relay, its key, the round trip, your key\n"
    "* /quit                   leave (so does end of input)";

/* Splits "word rest" in place: returns rest (may be empty), NULL if no word. */
static char *
word(char *s, char **rest)
{
	char *sp;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return NULL;
	if ((sp = strchr(s, ' ')) != NULL) {
		*sp = '\0';
		for (sp++; *sp == ' '; sp++)
			;
	}
	*rest = sp != NULL ? sp : s + strlen(s);
	return s;
}

static int
name_usable(const char *name)
{
	return *name != '\0' && chatmsg_name_ok(name, strlen(name)) &&
	    strcmp(name, "ALL") != 0;
}

static void
cmd_register(struct chat *ch, char *args)
{
	char *rest, *name = word(args, &rest);
	unsigned i;

	if (name == NULL || *rest != '\0' || !name_usable(name)) {
		chat_say("usage: /register NAME (up to %d of A-Z a-z 0-9 _ . -)",
		    CHAT_NAME_MAX);
		return;
	}
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	for (i = 0; i < ch->peers.n; i++)
		ch->peers.p[i].greeted = 0;	/* tell them at next contact */
	chat_say("you are %s", ch->name);
}

static void
cmd_add(struct chat *ch, char *args)
{
	char *rest, *key, *name = word(args, &rest), buf[PEER_NAME_MAX];
	uint8_t k[KEY_LEN];
	struct peer *p, *other;

	key = name != NULL ? word(rest, &rest) : NULL;
	if (name == NULL || key == NULL || *rest != '\0' || !name_usable(name) ||
	    key_parse_text(key, strlen(key), NODEKEY_PREFIX, k) != 0) {
		chat_say("usage: /add NAME nodekey:HEX");
		return;
	}
	if ((other = peers_by_name(&ch->peers, name)) != NULL &&
	    memcmp(other->key, k, KEY_LEN) != 0) {
		chat_say("%s is already another key's name", name);
		return;
	}
	if ((p = peers_add(&ch->peers, k, &ch->id)) == NULL) {
		chat_say("cannot add %s: the peer list is full or the key unusable",
		    name);
		return;
	}
	snprintf(p->alias, sizeof(p->alias), "%s", name);
	chat_say("added %s %s", peer_name(&ch->peers, p, buf), key);
	chat_hello(ch, p, 1);
}

static void
cmd_send(struct chat *ch, char *args)
{
	char *text, *to = word(args, &text);
	struct peer *p;
	unsigned i;

	if (to == NULL || *text == '\0') {
		chat_say("usage: /send NAME|ALL TEXT");
		return;
	}
	if (strcmp(to, "ALL") == 0) {
		if (ch->peers.n == 0)
			chat_say("no known peers; /add one first");
		for (i = 0; i < ch->peers.n; i++)
			chat_text(ch, &ch->peers.p[i], text, 1);
	} else if ((p = peers_by_name(&ch->peers, to)) == NULL)
		chat_say("no peer called %s; /list shows the known ones", to);
	else
		chat_text(ch, p, text, 0);
}

static void
cmd_list(struct chat *ch)
{
	char name[PEER_NAME_MAX], key[KEY_TEXT_MAX], when[48];
	const struct peer *p;
	unsigned i;

	if (ch->peers.n == 0)
		chat_say("no known peers");
	for (i = 0; i < ch->peers.n; i++) {
		p = &ch->peers.p[i];
		key_format_text(key, NODEKEY_PREFIX, p->key);
		if (p->heard_at == 0)
			snprintf(when, sizeof(when), "no answer yet");
		else
			snprintf(when, sizeof(when), "answered %llds ago",
			    (long long)(now_ms() - p->heard_at) / 1000);
		chat_say("%s %s %s", peer_name(&ch->peers, p, name), key, when);
	}
}

/* Asks the relay for a Pong; chat.c prints the answer with the round trip. */
static void
cmd_info(struct chat *ch)
{
	randombytes_buf(ch->ping, sizeof(ch->ping));
	ch->ping_at = now_msf();
	ch->info_deadline = now_ms() + ch->o->timeout_ms;
	ch->info_wanted = dc_send_ping(ch->c, ch->ping, ch->info_deadline) == 0;
	if (!ch->info_wanted)
		chat_info(ch, -1);
}

void
chat_command(struct chat *ch, char *line)
{
	char *args, *cmd = word(line, &args);

	if (cmd == NULL)
		return;
	if (strcmp(cmd, "/register") == 0)
		cmd_register(ch, args);
	else if (strcmp(cmd, "/add") == 0)
		cmd_add(ch, args);
	else if (strcmp(cmd, "/send") == 0)
		cmd_send(ch, args);
	else if (strcmp(cmd, "/list") == 0)
		cmd_list(ch);
	else if (strcmp(cmd, "/info") == 0)
		cmd_info(ch);
	else if (strcmp(cmd, "/help") == 0)
		chat_say("%s", help_text);
	else if (strcmp(cmd, "/quit") == 0)
		ch->quit = 1;
	else
		chat_say("unknown command %.40s; /help lists them", cmd);
}
