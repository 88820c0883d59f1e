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
seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
    unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	(void)ctx;
	(void)action;
	(void)syscall;
	(void)arg_cnt;
	(void)arg_array;
	return 0;
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
