/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Profiling aid for bench/profile.sh only, never for a real server:
 * valgrind 3.19 cannot run the seccomp(2) syscall, and derpd's key process
 * installs its filter even with -no-seccomp. LD_PRELOADed under valgrind,
 * this turns libseccomp's calls that derpd makes into no-ops.
 */
#include <seccomp.h>
#include <stddef.h>

static int dummy;

scmp_filter_ctx
seccomp_init(uint32_t def_action)
{
	(void)def_action;
	return &dummy;
}

int
seccomp_syscall_resolve_name(const char *name)
{
	(void)name;
	return __NR_SCMP_ERROR;	/* "not on this architecture": no rule added */
}

int
seccomp_load(const scmp_filter_ctx ctx)
{
	(void)ctx;
	return 0;
}

void
seccomp_release(scmp_filter_ctx ctx)
{
	(void)ctx;
}
