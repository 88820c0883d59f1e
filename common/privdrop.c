/* SPDX-License-Identifier: BSD-3-Clause */
#include "privdrop.h"

#include <cap-ng.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

#define DEFAULT_USER	"_derpd"
#define FALLBACK_USER	"nobody"

void
runas_resolve(struct run_as *ra, const char *user_flag)
{
	const char *name = user_flag != NULL && *user_flag != '\0' ?
	    user_flag : DEFAULT_USER;
	struct passwd *pw;

	memset(ra, 0, sizeof(*ra));
	if (geteuid() != 0) {
		ra->uid = geteuid();
		ra->gid = getegid();
		snprintf(ra->name, sizeof(ra->name), "uid %u", (unsigned)ra->uid);
		return;
	}
	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL && name != user_flag) {
		log_warnx("user %s does not exist; running as %s. Create a "
		    "dedicated system user: adduser --system --group %s",
		    DEFAULT_USER, FALLBACK_USER, DEFAULT_USER);
		name = FALLBACK_USER;
		pw = getpwnam(name);
	}
	if (pw == NULL)
		fatalx("user %s does not exist", name);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		fatalx("refusing to run as %s: it has uid or gid 0", name);
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	ra->switch_user = 1;
	snprintf(ra->name, sizeof(ra->name), "%s", name);
}

static void
verify(const struct run_as *ra)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0)
		fatal("getresuid");
	if (r != ra->uid || e != ra->uid || s != ra->uid ||
	    rg != ra->gid || eg != ra->gid || sg != ra->gid)
		fatalx("privilege drop did not take: still uid %u/%u/%u", r, e, s);
	if (ra->switch_user && (setuid(0) == 0 || seteuid(0) == 0))
		fatalx("privilege drop is reversible; refusing to continue");
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		fatalx("capabilities left after the privilege drop");
	if (prctl(PR_CAPBSET_READ, CAP_NET_BIND_SERVICE) == 1)
		fatalx("bounding set not cleared");
}

void
privdrop(const struct run_as *ra)
{
	int rc;

	capng_clear(CAPNG_SELECT_ALL);
	if (ra->switch_user) {
		rc = capng_change_id((int)ra->uid, (int)ra->gid,
		    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
		if (rc != 0)
			fatalx("cannot switch to %s (capng_change_id: %d)",
			    ra->name, rc);
	} else if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
		fatalx("cannot clear capabilities");
	} else {
		/* Without CAP_SETPCAP the bounding set cannot shrink; it is moot
		 * once no_new_privs is set, since nothing can gain privileges. */
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fatal("PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatal("PR_SET_DUMPABLE");
	if (ra->switch_user)
		verify(ra);
}
