/* exec.c - see exec.h. */
#include "exec.h"

#include "command.h"
#include "kernel.h"
#include "report.h"
#include "spec.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

void execs_init(struct execs *ex)
{
    memset(ex, 0, sizeof *ex);
    for (size_t i = 0; i < SBX_MAX_EXECS; i++) {
        ex->slots[i].channel_fd = -1;
        ex->slots[i].pidfd = -1;
    }
}

static void send_exec_error(int control_fd, int32_t id, int step, int err, const char *detail)
{
    report_send(control_fd, SBX_MSG_EXEC_ERROR, id, step, err, detail, strlen(detail));
}

/* In the command, before anything else: move into the sandbox's cgroups through the
 * cgroup.procs files the joiner opened on the host ("0" is the writer itself; the kernel
 * checks the opener's credentials and cgroup namespace, not ours). */
static void join_cgroups(const int *cgroup_fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (RETRY_EINTR(write(cgroup_fds[i], "0", 1)) != 1)
            die(SBX_STEP_CGROUP, errno, "move the exec'd command into the sandbox's cgroup (#%zu)", i);
        close(cgroup_fds[i]);
    }
}

/* The joiner: a fork of the helper, still on the host. Never returns. */
static SBX_NORETURN void joiner_main(const struct sbx_spec *spec, int fds[4], const int *namespace_fds, size_t n_namespace_fds, int channel)
{
    report_fd = channel;
    die_control_fd = -1;
    die_kill_pid = 0;
    pid_t helper = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        die(SBX_STEP_EXEC_JOIN, errno, "PR_SET_PDEATHSIG");
    /* Before we enter anything: nothing inside may ptrace us or open our /proc files, whose
     * exe is the helper binary on the host. The command inherits this until its exec. */
    if (prctl(PR_SET_DUMPABLE, 0) != 0)
        die(SBX_STEP_EXEC_JOIN, errno, "PR_SET_DUMPABLE");

    int cgroup_fds[SBX_MAX_CGROUP_PATHS + 1];
    size_t n_cgroup = 0;
    for (size_t i = 0; i < spec->n_cgroup_join; i++)
        if ((cgroup_fds[n_cgroup++] = open(spec->cgroup_join[i], O_WRONLY | O_CLOEXEC)) < 0)
            die(SBX_STEP_CGROUP, errno, "open %s", spec->cgroup_join[i]);
    if (spec->cgroup_unified != NULL) {
        char path[SBX_MAX_PATH + 32];
        snprintf(path, sizeof path, "%s/cgroup.procs", spec->cgroup_unified);
        if ((cgroup_fds[n_cgroup++] = open(path, O_WRONLY | O_CLOEXEC)) < 0)
            die(SBX_STEP_CGROUP, errno, "open %s", path);
    }

    /* The user namespace first, so the rest are joined with the capabilities it grants. The
     * PID and time namespaces apply to our children. */
    for (size_t i = 0; i < n_namespace_fds; i++) {
        if (setns(namespace_fds[i], 0) != 0)
            die(SBX_STEP_EXEC_JOIN, errno, "setns into the sandbox's namespace #%zu", i);
        close(namespace_fds[i]);
    }

    struct sbx_clone_args args = {.flags = CLONE_PARENT};
    pid_t command = (pid_t)sys_clone3(&args);
    if (command < 0)
        die(SBX_STEP_EXEC_JOIN, errno, "clone the exec'd command into the sandbox");
    if (command == 0) {
        join_cgroups(cgroup_fds, n_cgroup);
        for (int fd = 0; fd < 3; fd++)
            if (dup2(fds[1 + fd], fd) < 0)
                die(SBX_STEP_EXEC_JOIN, errno, "stdio fd %d", fd);
        /* The received fds are all >= 3 (the helper's 0-2 are /dev/null), so fd 3 is free
         * for the channel now; everything above it goes. */
        if (channel != 3 && dup3(channel, 3, O_CLOEXEC) < 0)
            die(SBX_STEP_EXEC_JOIN, errno, "exec channel");
        close_fds_from(4);
        command_run(spec, 3, (spec->namespaces & SBX_NS_PID) ? 0 : helper);
    }
    report_send(channel, SBX_MSG_STARTED, command, 0, 0, NULL, 0);
    _exit(0);
}

static struct exec_slot *find(struct execs *ex, int32_t id)
{
    for (size_t i = 0; i < SBX_MAX_EXECS; i++)
        if (ex->slots[i].in_use && ex->slots[i].id == id)
            return &ex->slots[i];
    return NULL;
}

void exec_start(struct execs *ex, int32_t id, int fds[4], const int *namespace_fds, ssize_t n_namespace_fds, int control_fd)
{
    struct exec_slot *slot = NULL;
    for (size_t i = 0; i < SBX_MAX_EXECS && slot == NULL; i++)
        if (!ex->slots[i].in_use)
            slot = &ex->slots[i];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct sbx_spec spec;
    char err[512];
    int channel[2] = {-1, -1};
    if (n_namespace_fds < 0) {
        send_exec_error(control_fd, id, SBX_STEP_EXEC_JOIN, ESRCH, "the sandbox's command is not running");
    } else if (find(ex, id) != NULL) {
        send_exec_error(control_fd, id, SBX_STEP_EXEC_JOIN, EEXIST, "an exec'd command with this id is still running");
    } else if (slot == NULL) {
        send_exec_error(control_fd, id, SBX_STEP_EXEC_JOIN, EAGAIN, "too many exec'd commands running in this sandbox");
    } else if (read_whole_fd(fds[0], SBX_SPEC_HEADER_SIZE, SBX_SPEC_MAX_SIZE, &buf, &len) != 0) {
        send_exec_error(control_fd, id, SBX_STEP_SPEC_READ, errno, "read the exec spec");
    } else if (spec_parse(buf, len, &spec, err, sizeof err) != 0) {
        send_exec_error(control_fd, id, SBX_STEP_SPEC_PARSE, EINVAL, err);
    } else if (spec.wait_for_start) {
        spec_free(&spec);
        send_exec_error(control_fd, id, SBX_STEP_SPEC_PARSE, EINVAL, "an exec spec may not wait for a start (SBX_REC_WAIT_FOR_START)");
    } else {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
            send_exec_error(control_fd, id, SBX_STEP_EXEC_JOIN, errno, "exec channel");
        } else {
            pid_t joiner = fork();
            if (joiner == 0) {
                close(control_fd);
                close(channel[0]);
                joiner_main(&spec, fds, namespace_fds, (size_t)n_namespace_fds, channel[1]);
            }
            if (joiner < 0) {
                send_exec_error(control_fd, id, SBX_STEP_EXEC_JOIN, errno, "fork");
                close(channel[0]);
            } else {
                *slot = (struct exec_slot){.in_use = 1, .id = id, .channel_fd = channel[0], .joiner = joiner, .pidfd = -1};
            }
            close(channel[1]);
        }
        spec_free(&spec);
    }
    free(buf);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
}

void exec_signal(struct execs *ex, int32_t id, int sig)
{
    struct exec_slot *slot = find(ex, id);
    if (slot != NULL && slot->pidfd >= 0 && !slot->exited)
        sys_pidfd_send_signal(slot->pidfd, sig);
}

void exec_poll_fds(const struct execs *ex, struct pollfd *fds)
{
    for (size_t i = 0; i < SBX_MAX_EXECS; i++) {
        const struct exec_slot *s = &ex->slots[i];
        fds[2 * i] = (struct pollfd){.fd = s->in_use ? s->channel_fd : -1, .events = POLLIN};
        /* Its exit only after its start has been reported, which end of file on the channel
         * decides. */
        fds[2 * i + 1] = (struct pollfd){.fd = s->in_use && s->channel_fd < 0 && !s->exited ? s->pidfd : -1, .events = POLLIN};
    }
}

static void on_channel(struct exec_slot *s, int control_fd)
{
    unsigned char msg[SBX_MSG_HEADER_SIZE + SBX_MSG_MAX_DETAIL];
    ssize_t n = RETRY_EINTR(recv(s->channel_fd, msg, sizeof msg, 0));
    if (n >= SBX_MSG_HEADER_SIZE) {
        uint32_t type;
        int32_t a, b;
        memcpy(&type, msg, 4);
        memcpy(&a, msg + 4, 4);
        memcpy(&b, msg + 8, 4);
        if (type == SBX_MSG_STARTED && s->pid == 0 && a > 0) {
            s->pid = a;
            s->pidfd = sys_pidfd_open(a, 0); /* our unreaped child: the pid is still its own */
        } else if (type == SBX_MSG_ERROR && !s->failed) {
            s->failed = 1;
            report_send(control_fd, SBX_MSG_EXEC_ERROR, s->id, a, b, (const char *)msg + SBX_MSG_HEADER_SIZE,
                        (size_t)n - SBX_MSG_HEADER_SIZE);
        }
        return;
    }
    if (n > 0)
        return; /* too short to be a report: ignore */
    /* End of file: the joiner has exited and the command has exec'd (or failed, or died). */
    close(s->channel_fd);
    s->channel_fd = -1;
    int status = 0;
    if (s->joiner > 0 && RETRY_EINTR(waitpid(s->joiner, &status, __WALL)) < 0)
        status = 0;
    s->joiner = 0;
    if (s->failed)
        return;
    if (s->pid <= 0 || s->pidfd < 0) {
        s->failed = 1;
        char detail[128];
        snprintf(detail, sizeof detail, "the joining process ended (status 0x%x) without starting the command", (unsigned)status);
        send_exec_error(control_fd, s->id, SBX_STEP_EXEC_JOIN, s->pidfd < 0 && s->pid > 0 ? ESRCH : EIO, detail);
        return;
    }
    report_send(control_fd, SBX_MSG_EXEC_STARTED, s->id, s->pid, 0, NULL, 0);
}

static void on_exit_of(struct exec_slot *s, int control_fd)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (RETRY_EINTR(waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &si, WEXITED)) != 0) {
        /* Reaped by the teardown of a sandbox without a PID namespace, which killed it. */
        si.si_code = CLD_KILLED;
        si.si_status = SIGKILL;
    }
    close(s->pidfd);
    s->pidfd = -1;
    s->exited = 1;
    s->exit_kind = si.si_code == CLD_EXITED ? SBX_EXIT_CODE : SBX_EXIT_SIGNAL;
    s->exit_value = si.si_status;
    if (!s->failed)
        report_send(control_fd, SBX_MSG_EXEC_EXITED, s->id, s->exit_kind, s->exit_value, NULL, 0);
}

void exec_handle(struct execs *ex, const struct pollfd *fds, int control_fd)
{
    for (size_t i = 0; i < SBX_MAX_EXECS; i++) {
        struct exec_slot *s = &ex->slots[i];
        if (!s->in_use)
            continue;
        if (fds[2 * i].fd >= 0 && fds[2 * i].revents)
            on_channel(s, control_fd);
        else if (fds[2 * i + 1].fd >= 0 && fds[2 * i + 1].revents)
            on_exit_of(s, control_fd);
        /* Done once started and ended, or failed with nothing left to reap. */
        if (s->channel_fd < 0 && s->joiner == 0 && (s->exited || s->pidfd < 0)) {
            if (s->pidfd >= 0)
                close(s->pidfd);
            *s = (struct exec_slot){.channel_fd = -1, .pidfd = -1};
        }
    }
}

int exec_owns(const struct execs *ex, pid_t pid)
{
    for (size_t i = 0; i < SBX_MAX_EXECS; i++) {
        const struct exec_slot *s = &ex->slots[i];
        if (s->in_use && pid > 0 && (s->joiner == pid || s->pid == pid))
            return 1;
    }
    return 0;
}

int exec_pid_pending(const struct execs *ex)
{
    for (size_t i = 0; i < SBX_MAX_EXECS; i++) {
        const struct exec_slot *s = &ex->slots[i];
        if (s->in_use && s->pid == 0 && s->channel_fd >= 0)
            return 1;
    }
    return 0;
}

int exec_busy(const struct execs *ex)
{
    for (size_t i = 0; i < SBX_MAX_EXECS; i++)
        if (ex->slots[i].in_use)
            return 1;
    return 0;
}
