/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How the master starts a child: fork, then execve of derpd itself (from a
 * descriptor opened before the privilege drop) as
 *
 *	argv = { "<title>", "-role", "<role>", NULL }
 *
 * with descriptor ROLE_SETUP_FD holding the child's set-up as JSON (what
 * its role needs, nothing more) and the descriptors the set-up names right
 * after it; every other descriptor is closed. A fresh exec gives each child
 * its own address-space layout and nothing of the master's memory.
 */
#ifndef DERPD_ROLE_H
#define DERPD_ROLE_H

#define ROLE_FLAG	"-role"
#define ROLE_SETUP_FD	3	/* then ROLE_SETUP_FD + 1, + 2, ...: passed descriptors */

#endif
