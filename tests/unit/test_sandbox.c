/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for common/sandbox.c: every role's policy builds for x86_64
 * and aarch64, and every syscall in the table exists on both, or is listed
 * below as absent there together with the syscall that replaces it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox.h"

static const struct {
	uint32_t	 arch;
	const char	*name;
	const char	*replacement;	/* must be in the same roles */
} absent[] = {
	{ SCMP_ARCH_AARCH64, "epoll_wait", "epoll_pwait" },
	{ SCMP_ARCH_AARCH64, "poll", "ppoll" },
};

static const uint32_t arches[] = { SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64 };

static const char *
replacement_on(uint32_t arch, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		if (absent[i].arch == arch && strcmp(absent[i].name, name) == 0)
			return absent[i].replacement;
	return NULL;
}

static int
in_role(const char *name, unsigned int role)
{
	const struct sandbox_rule *p;
	size_t n, i;

	p = sandbox_policy(&n);
	for (i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0 && (p[i].roles & (1u << role)))
			return 1;
	return 0;
}

/* The pseudo filter code libseccomp generates for role on one architecture. */
static char *
filter_text(uint32_t arch, enum sandbox_role role)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	char *text;
	off_t len;
	int fd;

	assert_non_null(ctx);
	if (arch != seccomp_arch_native()) {
		assert_int_equal(seccomp_arch_add(ctx, arch), 0);
		assert_int_equal(seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE), 0);
	}
	assert_int_equal(sandbox_add_rules(ctx, role), 0);
	fd = memfd_create("pfc", 0);
	assert_true(fd >= 0);
	assert_int_equal(seccomp_export_pfc(ctx, fd), 0);
	assert_int_equal(seccomp_export_bpf(ctx, fd), 0);
	len = lseek(fd, 0, SEEK_END);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)len, 0), len);
	close(fd);
	seccomp_release(ctx);
	return text;
}

static void
check_role(uint32_t arch, enum sandbox_role role)
{
	const struct sandbox_rule *p;
	char *text = filter_text(arch, role), want[96];
	const char *rep;
	size_t n, i;
	int nr;

	p = sandbox_policy(&n);
	for (i = 0; i < n; i++) {
		if (!(p[i].roles & (1u << role)))
			continue;
		nr = seccomp_syscall_resolve_name_arch(arch, p[i].name);
		if (nr >= 0) {
			snprintf(want, sizeof(want), "syscall \"%s\" (%d)", p[i].name, nr);
			if (strstr(text, want) == NULL)
				fail_msg("role %d arch %#x: %s not in the filter", role,
				    arch, p[i].name);
			continue;
		}
		rep = replacement_on(arch, p[i].name);
		if (rep == NULL)
			fail_msg("%s does not exist on arch %#x and has no listed "
			    "replacement", p[i].name, arch);
		if (!in_role(rep, role) || seccomp_syscall_resolve_name_arch(arch,
		    rep) < 0)
			fail_msg("%s's replacement %s is missing for role %d on "
			    "arch %#x", p[i].name, rep, role, arch);
	}
	free(text);
}

static void
test_policies_resolve_on_every_arch(void **state)
{
	size_t a;
	int role;

	(void)state;
	for (a = 0; a < sizeof(arches) / sizeof(arches[0]); a++)
		for (role = 0; role < SANDBOX_NROLES; role++)
			check_role(arches[a], (enum sandbox_role)role);
}

/* The absent list is exact: an entry that does exist is a stale excuse. */
static void
test_absent_list_is_current(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		assert_true(seccomp_syscall_resolve_name_arch(absent[i].arch,
		    absent[i].name) < 0);
}

/*
 * No role may ever execute, trace, signal others, or open a new socket
 * except DNS, the verifier, the mesh dialer and the ACME client; and none
 * may wait on a futex (waking is allowed): no process can be made to wait
 * on a lock another holds. Only the resolvers (DNS, the mesh dialer) and
 * the ACME client may open files.
 */
static void
test_forbidden_everywhere(void **state)
{
	static const char *const never[] = { "execve", "execveat", "ptrace",
	    "process_vm_readv", "process_vm_writev", "open", "fork", "vfork",
	    "clone", "clone3", "kill", "setuid", "mount", "bpf", "memfd_create" };
	const struct sandbox_rule *p;
	size_t i, n;
	int role;

	(void)state;
	p = sandbox_policy(&n);
	for (i = 0; i < n; i++)
		if (strcmp(p[i].name, "futex") == 0 && p[i].rule != FUTEX_WAKE_ONLY)
			fail_msg("futex allowed for more than waking");
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		for (role = 0; role < SANDBOX_NROLES; role++)
			if (in_role(never[i], (unsigned int)role))
				fail_msg("role %d allows %s", role, never[i]);
	for (role = 0; role < SANDBOX_NROLES; role++) {
		if (role != SANDBOX_DNS && role != SANDBOX_VERIFY &&
		    role != SANDBOX_DIALER && role != SANDBOX_ACME &&
		    (in_role("socket", (unsigned int)role) ||
		    in_role("connect", (unsigned int)role)))
			fail_msg("role %d may create or connect sockets", role);
		if (role != SANDBOX_DNS && role != SANDBOX_DIALER &&
		    role != SANDBOX_ACME &&
		    in_role("openat", (unsigned int)role))
			fail_msg("role %d may open files", role);
	}
}

/* The ACME client may create files in its certdir, never open one to
 * write (O_CREAT|O_EXCL only), and nobody else may create any. */
static void
test_file_creation_only_in_acme(void **state)
{
	const struct sandbox_rule *p;
	size_t i, n;

	(void)state;
	p = sandbox_policy(&n);
	for (i = 0; i < n; i++) {
		if (p[i].rule == CREATE_EXCL)
			assert_int_equal(p[i].roles, 1u << SANDBOX_ACME);
		if (strcmp(p[i].name, "openat") == 0)
			assert_true(p[i].rule == READ_ONLY_OPEN ||
			    p[i].rule == CREATE_EXCL);
	}
	for (i = 0; i < n; i++)
		if (strcmp(p[i].name, "renameat2") == 0 ||
		    strcmp(p[i].name, "unlinkat") == 0)
			assert_int_equal(p[i].roles, 1u << SANDBOX_ACME);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policies_resolve_on_every_arch),
		cmocka_unit_test(test_absent_list_is_current),
		cmocka_unit_test(test_forbidden_everywhere),
		cmocka_unit_test(test_file_creation_only_in_acme),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
