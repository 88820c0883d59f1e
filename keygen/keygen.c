/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpd-keygen: writes a new DERP server key in derper's key file format,
 * or prints the public key of an existing one.
 *
 *   derpd-keygen PATH        create PATH (mode 0600); never overwrites
 *   derpd-keygen -pub PATH   print "nodekey:<hex>" for the key in PATH
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "keyfile.h"
#include "keyfmt.h"
#include "log.h"

static void
usage(void)
{
	fprintf(stderr, "usage: derpd-keygen PATH\n"
	    "       derpd-keygen -pub PATH\n");
	exit(2);
}

static void
print_public(const uint8_t *priv)
{
	char text[KEY_TEXT_MAX];
	uint8_t pub[KEY_LEN];

	key_public(pub, priv);
	key_format_text(text, NODEKEY_PREFIX, pub);
	printf("%s\n", text);
}

int
main(int argc, char **argv)
{
	char err[512];
	uint8_t *priv;
	int pub_only = 0, rc;
	const char *path;

	log_init("derpd-keygen");
	if (argc == 3 && strcmp(argv[1], "-pub") == 0)
		pub_only = 1;
	else if (argc != 2 || argv[1][0] == '-')
		usage();
	path = argv[argc - 1];
	if (sodium_init() < 0 || (priv = sodium_malloc(32)) == NULL)
		fatalx("libsodium failed to initialise");
	json_setup();
	umask(077);
	if (pub_only) {
		rc = keyfile_load(path, priv, err, sizeof(err));
		if (rc == KEYFILE_MISSING)
			fatalx("%s does not exist", path);
		if (rc != KEYFILE_OK)
			fatalx("%s", err);
	} else {
		if (keyfile_create(path, priv, err, sizeof(err)) != 0)
			fatalx("%s", err);
		fprintf(stderr, "wrote %s; its public key:\n", path);
	}
	print_public(priv);
	sodium_free(priv);
	return 0;
}
