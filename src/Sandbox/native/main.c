/* main.c - sandbox-helper: everything between clone() and execve(), as one recipe.
 *
 * Started by the .NET library with the spec on fd 3 and the control channel on fd 4
 * (protocol.h; docs/helper-protocol.md). The steps, in order:
 *   1. close every other inherited fd; read and parse the spec
 *   2. clone the sandbox's init into its new namespaces (init.c takes over there)
 *   3. write the init's uid/gid maps from outside, then let it go on
 *   4. supervise: relay reports, enforce the timeout, report the exit (supervise.c)
 * Any failure is reported as (step, errno, detail) on the control channel. */
#include "init.h"
#include "ns.h"
#include "protocol.h"
#include "report.h"
#include "spec.h"
#include "supervise.h"
#include "kernel.h"
#include "mount.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

static uint8_t *read_spec(size_t *len)
{
    uint8_t *buf;
    if (read_whole_fd(SBX_FD_SPEC, SBX_SPEC_HEADER_SIZE, SBX_SPEC_MAX_SIZE, &buf, len) != 0)
        die(SBX_STEP_SPEC_READ, errno, "read the spec from fd %d", SBX_FD_SPEC);
    close(SBX_FD_SPEC);
    return buf;
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "sandbox-helper is started by the Sandbox .NET library, not by hand.\n");
        return 2;
    }
    close_fds_from(SBX_FD_FIRST_EXTRA);
    report_fd = SBX_FD_CONTROL;
    die_control_fd = SBX_FD_CONTROL;
    /* Writes to a vanished peer must fail with EPIPE rather than kill us. */
    signal(SIGPIPE, SIG_IGN);

    size_t len;
    uint8_t *buf = read_spec(&len);
    struct sbx_spec spec;
    char err[512];
    if (spec_parse(buf, len, &spec, err, sizeof err) != 0) {
        report_error(SBX_STEP_SPEC_PARSE, EINVAL, "%s", err);
        finish(SBX_FD_CONTROL, 1);
    }
    free(buf);

    if (spec.namespaces & SBX_NS_MOUNT)
        mount_precreate_targets(&spec);
    /* held until we exit */
    static int layer_locks[SBX_MAX_LAYERS + 1];
    int n_layer_locks = mount_lock_layers(&spec, layer_locks, sizeof layer_locks / sizeof *layer_locks);

    /* Orphans of a sandbox without a PID namespace are reparented to us, so we can kill them. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        report_error(SBX_STEP_CLONE, errno, "PR_SET_CHILD_SUBREAPER");
        finish(SBX_FD_CONTROL, 1);
    }

    int report_pair[2], sync_pipe[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report_pair) != 0 || pipe2(sync_pipe, O_CLOEXEC) != 0) {
        report_error(SBX_STEP_CLONE, errno, "report channel");
        finish(SBX_FD_CONTROL, 1);
    }

    /* init sends STARTED with SCM_CREDENTIALS; the kernel attaches them only if we ask. */
    int one = 1;
    if (setsockopt(report_pair[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
        report_error(SBX_STEP_CLONE, errno, "SO_PASSCRED on the report channel");
        finish(SBX_FD_CONTROL, 1);
    }

    /* The sandbox's init must be inside its cgroups before it runs anything: v1 cgroups by
     * joining them ourselves before the clone (the child inherits them), the v2 one by
     * cloning straight into it. */
    for (size_t i = 0; i < spec.n_cgroup_join; i++)
        if (write_file(spec.cgroup_join[i], "0") != 0) {
            report_error(SBX_STEP_CGROUP, errno, "join %s", spec.cgroup_join[i]);
            finish(SBX_FD_CONTROL, 1);
        }
    int cgroup_fd = -1;
    if (spec.cgroup_unified != NULL && (cgroup_fd = open(spec.cgroup_unified, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        report_error(SBX_STEP_CGROUP, errno, "open %s", spec.cgroup_unified);
        finish(SBX_FD_CONTROL, 1);
    }

    int pidfd = -1;
    struct sbx_clone_args args = {
        .flags = ns_clone_flags(spec.namespaces) | SBX_CLONE_PIDFD | (cgroup_fd >= 0 ? SBX_CLONE_INTO_CGROUP : 0),
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
    };
    pid_t child = (pid_t)sys_clone3(&args);
    if (child < 0) {
        report_error(cgroup_fd >= 0 && (errno == EBUSY || errno == EOPNOTSUPP || errno == EACCES) ? SBX_STEP_CGROUP : SBX_STEP_CLONE,
                     errno, "clone3 flags 0x%llx%s%s", (unsigned long long)args.flags, cgroup_fd >= 0 ? " into " : "", cgroup_fd >= 0 ? spec.cgroup_unified : "");
        finish(SBX_FD_CONTROL, 1);
    }
    if (child == 0) {
        close(report_pair[0]);
        close(sync_pipe[1]);
        close(SBX_FD_CONTROL); /* the sandbox never holds the library's channel */
        if (cgroup_fd >= 0)
            close(cgroup_fd);
        for (int i = 0; i < n_layer_locks; i++)
            close(layer_locks[i]);
        report_fd = report_pair[1];
        die_control_fd = -1;
        sandbox_child_main(&spec, sync_pipe[0]);
    }
    close(report_pair[1]);
    close(sync_pipe[0]);
    die_kill_pid = child;
    if (cgroup_fd >= 0)
        close(cgroup_fd);
    /* Back to where we came from: the supervisor is not part of the sandbox's accounting. */
    for (size_t i = 0; i < spec.n_cgroup_return; i++)
        if (write_file(spec.cgroup_return[i], "0") != 0)
            die(SBX_STEP_CGROUP, errno, "return to %s", spec.cgroup_return[i]);

    struct sandbox sb = {
        .init_pid = child,
        .init_host_pid = child,
        .init_pidfd = pidfd,
        .report_fd = report_pair[0],
        .control_fd = SBX_FD_CONTROL,
        .has_pid_ns = (spec.namespaces & SBX_NS_PID) != 0,
        .timeout_ms = spec.timeout_ms,
        .waits_for_start = spec.wait_for_start,
    };
    if (spec.namespaces & SBX_NS_USER) {
        /* idmap_write dies on failure; the child then sees end of file and exits, and
         * PR_SET_PDEATHSIG covers the rest. */
        idmap_write(child, &spec);
        if (spec.root_flags & SBX_ROOT_IDMAP_LAYERS)
            mount_send_idmapped_layers(&spec, child, report_pair[0]);
    }
    if (RETRY_EINTR(write(sync_pipe[1], "x", 1)) != 1) {
        report_error(SBX_STEP_SYNC, errno, "release the sandbox");
        kill_sandbox(&sb);
        finish(SBX_FD_CONTROL, 1);
    }
    /* sync_pipe[1] stays open while we live: init checks it to know we are still here
     * after its credential change cleared its death signal. */

    /* Our stdio belongs to the command now: holding it would keep the library's output
     * pipes open after the sandbox has ended. */
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2; fd++)
        if (null_fd >= 0)
            dup3(null_fd, fd, O_CLOEXEC);
    if (null_fd > 2)
        close(null_fd);

    /* Kept past spec_free: the supervisor removes these if the library dies. */
    for (size_t i = 0; i < spec.n_cgroup_join && sb.n_cgroup_dirs < SBX_MAX_CGROUP_PATHS; i++) {
        char *dir = strdup(spec.cgroup_join[i]);
        char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
        if (slash != NULL && slash != dir) {
            *slash = '\0'; /* .../sandbox-<id>/cgroup.procs -> .../sandbox-<id> */
            sb.cgroup_dirs[sb.n_cgroup_dirs++] = dir;
        } else {
            free(dir);
        }
    }
    if (spec.cgroup_unified != NULL && sb.n_cgroup_dirs < SBX_MAX_CGROUP_PATHS && (sb.cgroup_dirs[sb.n_cgroup_dirs] = strdup(spec.cgroup_unified)) != NULL)
        sb.n_cgroup_dirs++;
    spec_free(&spec);
    die_kill_pid = 0; /* from here on, supervise() handles failures itself */
    supervise(&sb);
}
