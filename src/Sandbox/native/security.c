/* security.c - see security.h. */
#include "security.h"

#include "landlock.h"
#include "protocol.h"
#include "report.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif

static int kept(const struct sbx_spec *spec, int cap)
{
    return spec->has_capabilities && cap < 64 && (spec->capabilities >> cap) & 1;
}

/* The bounding set is what exec can ever grant again: everything not kept goes, even for root. */
static void shrink_bounding_set(const struct sbx_spec *spec)
{
    for (int cap = 0; cap <= 63; cap++) {
        if (kept(spec, cap) || prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
            continue;
        if (errno == EINVAL)
            break; /* past the kernel's last capability: capabilities are numbered without gaps */
        die(SBX_STEP_CAPABILITIES, errno, "drop capability %d from the bounding set", cap);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        die(SBX_STEP_CAPABILITIES, errno, "clear ambient capabilities");
}

/* Exactly the kept capabilities in the permitted, effective and inheritable sets, and raised as
 * ambient so that they survive exec of an ordinary binary as a non-root user (for uid 0, exec
 * grants the bounding set anyway). */
static void set_capabilities(const struct sbx_spec *spec)
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (spec->has_capabilities) {
        uint64_t mask = spec->capabilities;
        data[0].permitted = data[0].effective = data[0].inheritable = (uint32_t)mask;
        data[1].permitted = data[1].effective = data[1].inheritable = (uint32_t)(mask >> 32);
    }
    if (syscall(SYS_capset, &header, data) != 0)
        die(SBX_STEP_CAPABILITIES, errno, "set capabilities 0x%llx (the kernel may not know one of them)",
            (unsigned long long)spec->capabilities);
    for (int cap = 0; cap <= 63; cap++)
        if (kept(spec, cap) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
            die(SBX_STEP_CAPABILITIES, errno, "raise ambient capability %d", cap);
}

static void apply_rlimits(const struct sbx_spec *spec)
{
    for (size_t i = 0; i < spec->n_rlimits; i++) {
        const struct sbx_rlimit *l = &spec->rlimits[i];
        struct rlimit r = {
            .rlim_cur = l->soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t)l->soft,
            .rlim_max = l->hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t)l->hard,
        };
        if (setrlimit((int)l->resource, &r) != 0)
            die(SBX_STEP_RLIMIT, errno, "resource %u soft %llu hard %llu", l->resource, (unsigned long long)l->soft,
                (unsigned long long)l->hard);
    }
}

static void install_seccomp(const struct sbx_spec *spec)
{
    if (spec->seccomp == NULL)
        return;
    struct sock_filter *program = calloc(spec->n_seccomp, sizeof *program);
    if (program == NULL)
        die(SBX_STEP_SECCOMP, ENOMEM, "seccomp program");
    for (size_t i = 0; i < spec->n_seccomp; i++) {
        const uint8_t *insn = spec->seccomp + 8 * i;
        memcpy(&program[i].code, insn, 2);
        program[i].jt = insn[2];
        program[i].jf = insn[3];
        memcpy(&program[i].k, insn + 4, 4);
    }
    struct sock_fprog prog = {.len = (unsigned short)spec->n_seccomp, .filter = program};
    unsigned long flags = (spec->security_flags & SBX_SECURITY_SECCOMP_LOG) ? SECCOMP_FILTER_FLAG_LOG : 0;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0)
        die(SBX_STEP_SECCOMP, errno, "install the filter (%zu instructions)", spec->n_seccomp);
    free(program);
}

void security_apply(const struct sbx_spec *spec)
{
    int allow_new_privs = (spec->security_flags & SBX_SECURITY_ALLOW_NEW_PRIVS) != 0;
    umask(spec->has_umask ? (mode_t)spec->umask : 022);
    shrink_bounding_set(spec);
    /* Without no_new_privs the kernel installs a filter only for a process with CAP_SYS_ADMIN
     * in its namespace, which we hold only now: the filter must then allow the rest of the
     * setup (setgroups, setresuid, capset, prctl, execve), as docker's default profile does. */
    if (allow_new_privs) {
        landlock_apply(spec);
        install_seccomp(spec);
    }
    if (spec->has_user) {
        /* setgroups is denied in an unprivileged user namespace (and only then fails with
         * EPERM): there are no groups to drop there, and none can be added. */
        if (setgroups(spec->n_groups, spec->groups) != 0 && !(errno == EPERM && spec->n_groups == 0))
            die(SBX_STEP_SET_USER, errno, "set %zu supplementary groups", spec->n_groups);
        if (prctl(PR_SET_KEEPCAPS, spec->has_capabilities ? 1 : 0, 0, 0, 0) != 0)
            die(SBX_STEP_SET_USER, errno, "PR_SET_KEEPCAPS");
        if (setresgid(spec->gid, spec->gid, spec->gid) != 0)
            die(SBX_STEP_SET_USER, errno, "gid %u", spec->gid);
        if (setresuid(spec->uid, spec->uid, spec->uid) != 0)
            die(SBX_STEP_SET_USER, errno, "uid %u", spec->uid);
    }
    set_capabilities(spec);
    apply_rlimits(spec);
    if (!allow_new_privs) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            die(SBX_STEP_CAPABILITIES, errno, "PR_SET_NO_NEW_PRIVS");
        landlock_apply(spec);
        install_seccomp(spec);
    }
}
