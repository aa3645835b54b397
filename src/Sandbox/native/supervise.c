/* supervise.c - the helper stays outside the sandbox as its supervisor: it relays the
 * sandbox's reports, kills the whole sandbox on timeout, on request, or when the library
 * goes away (end of file on the control channel, which also happens when the .NET process
 * is killed), and reports the command's exit status itself. The library never needs
 * waitpid() to learn it, which matters because .NET reaps every child when it runs as pid 1
 * or with SIGCHLD ignored. */
#include "supervise.h"

#include "exec.h"
#include "kernel.h"
#include "protocol.h"
#include "report.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

void finish(int control_fd, int status)
{
    shutdown(control_fd, SHUT_WR);
    unsigned char buf[SBX_MSG_HEADER_SIZE + SBX_MSG_MAX_DETAIL];
    while (RETRY_EINTR(recv(control_fd, buf, sizeof buf, 0)) > 0) {
    }
    _exit(status);
}

/* Our children: the helper has one thread, so one list holds them all, and as a subreaper,
 * orphans of the sandbox are among them. At most SBX_MAX_CHILDREN_READ at a time; callers
 * repeat until done. Read whole before acting on any: the kernel builds the list a page at a
 * time by position, so changing it while reading can skip entries. */
#define SBX_MAX_CHILDREN_READ 4096
static pid_t children[SBX_MAX_CHILDREN_READ];

static size_t read_our_children(void)
{
    FILE *f = fopen("/proc/thread-self/children", "re");
    if (f == NULL)
        return 0;
    size_t n = 0;
    int pid;
    while (n < SBX_MAX_CHILDREN_READ && fscanf(f, "%d", &pid) == 1)
        children[n++] = pid;
    fclose(f);
    return n;
}

/* SIGKILL every child of ours. */
static void kill_our_children(void)
{
    size_t n = read_our_children();
    for (size_t i = 0; i < n; i++)
        kill(children[i], SIGKILL);
}

/* Without a PID namespace: kill our children round by round, reaping as we go. Each
 * killed process's children are reparented to us (we are a subreaper), so the next round
 * finds them; it ends when we have no child left. */
static void kill_and_reap_all_children(void)
{
    for (;;) {
        kill_our_children();
        if (RETRY_EINTR(waitpid(-1, NULL, __WALL)) < 0)
            break; /* ECHILD: nothing left */
    }
}

void kill_sandbox(struct sandbox *sb)
{
    if (sb->init_pid <= 0)
        return; /* already reaped: its pid may belong to someone else now */
    /* Through the pidfd: exact even if init has just exited. */
    if (sys_pidfd_send_signal(sb->init_pidfd, SIGKILL) != 0)
        kill(sb->init_pid, SIGKILL);
    if (sb->has_pid_ns)
        return; /* the kernel kills the rest of the PID namespace when its init dies */
    kill_and_reap_all_children();
    sb->init_pid = 0; /* reaped by the loop above */
}

/* The library is gone (before the sandbox ended, or before it took over after the end), so
 * nobody else will remove the sandbox's cgroups. Everything in them has been killed and
 * reaped; the kernel may still be detaching the last tasks for a moment. */
static void remove_cgroups(struct sandbox *sb)
{
    for (size_t i = 0; i < sb->n_cgroup_dirs; i++)
        for (int attempt = 0; attempt < 200; attempt++) {
            if (rmdir(sb->cgroup_dirs[i]) == 0 || errno != EBUSY)
                break;
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
}

static int is_forwarded_signal(int sig)
{
    static const int forwarded[] = {SBX_FORWARDED_SIGNALS};
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        if (forwarded[i] == sig)
            return 1;
    return 0;
}

/* Receive one report. For STARTED, put the command's pid as the kernel translated it (from
 * init's SCM_CREDENTIALS) into field a; for NAMESPACES, keep the fds it carries in
 * sb->namespace_fds. */
static ssize_t receive_report(struct sandbox *sb, unsigned char *msg, size_t size)
{
    struct iovec iov = {.iov_base = msg, .iov_len = size};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n = RETRY_EINTR(recvmsg(sb->report_fd, &mh, MSG_CMSG_CLOEXEC));
    if (n < 0)
        return n;
    uint32_t type = 0;
    int32_t with_creds = 0;
    if (n >= SBX_MSG_HEADER_SIZE) {
        memcpy(&type, msg, 4);
        memcpy(&with_creds, msg + 8, 4);
    }
    int32_t host_pid = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(cm), sizeof cred);
            host_pid = cred.pid;
        } else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int keep = type == SBX_MSG_NAMESPACES && !sb->exec_ready && count <= 8;
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
                if (keep)
                    sb->namespace_fds[sb->n_namespace_fds++] = fd;
                else
                    close(fd);
            }
        }
    }
    if (type == SBX_MSG_NAMESPACES)
        sb->exec_ready = 1;
    /* With SO_PASSCRED the kernel attaches the sender's own credentials to every message;
     * only a STARTED that says so carries the command's. */
    if (type == SBX_MSG_STARTED && with_creds == 1)
        memcpy(msg + 4, &host_pid, 4);
    if (type == SBX_MSG_STARTED)
        memcpy(msg + 8, &sb->init_host_pid, 4);
    return n;
}

/* Receive one command from the library, with the fds SBX_CMD_EXEC carries (any others are
 * closed). Returns the message length; *n_fds says how many of fds[] are ours to close. */
static ssize_t receive_command(int control_fd, unsigned char *msg, size_t size, int fds[4], int *n_fds, int flags)
{
    struct iovec iov = {.iov_base = msg, .iov_len = size};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    *n_fds = 0;
    ssize_t n = RETRY_EINTR(recvmsg(control_fd, &mh, MSG_CMSG_CLOEXEC | flags));
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (*n_fds < 4)
                fds[(*n_fds)++] = fd;
            else
                close(fd);
        }
    }
    /* Fds cut off by a short control buffer were closed by the kernel; the command is then
     * incomplete, which the caller sees from the count. */
    if (n >= 0 && (mh.msg_flags & MSG_CTRUNC))
        *n_fds = -*n_fds - 1;
    return n;
}

/* The library is gone (closed, or its process died): take the sandbox along, and wait until
 * it is gone so nothing outlives this helper. Every child is reaped on the way, not init
 * alone: an exec'd command lives in init's PID namespace as our child (CLONE_PARENT), and
 * init cannot finish dying until we have reaped it. */
static SBX_NORETURN void library_gone(struct sandbox *sb)
{
    /* A paused sandbox's processes die only once thawed (the v1 freezer holds even SIGKILL);
     * the library, which paused it, is not there to thaw it. */
    for (size_t i = 0; i < sb->n_cgroup_dirs; i++) {
        char path[SBX_MAX_PATH + 32];
        snprintf(path, sizeof path, "%s/freezer.state", sb->cgroup_dirs[i]);
        write_file(path, "THAWED");
        snprintf(path, sizeof path, "%s/cgroup.freeze", sb->cgroup_dirs[i]);
        write_file(path, "0");
    }
    kill_sandbox(sb);
    while (sb->init_pid > 0) {
        pid_t pid = RETRY_EINTR(waitpid(-1, NULL, __WALL));
        if (pid == sb->init_pid || pid < 0)
            break;
    }
    remove_cgroups(sb);
    _exit(0);
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static void relay(int to_fd, const unsigned char *msg, ssize_t len)
{
    if (len > 0)
        RETRY_EINTR(send(to_fd, msg, (size_t)len, MSG_NOSIGNAL));
}

/* Without a PID namespace, orphans of exec'd commands are reparented to us (the subreaper),
 * not to init: reap the ones that have ended, so they do not hold pids of the sandbox until its
 * end. Only children we do not track, and only while no joiner may have cloned a command whose
 * pid we have yet to learn (its status would be lost). */
static void reap_orphans(const struct sandbox *sb, const struct execs *execs)
{
    /* Again until a pass reaps nothing: one pass sees SBX_MAX_CHILDREN_READ at most. */
    for (int reaped = 1; reaped;) {
        reaped = 0;
        size_t n = read_our_children();
        for (size_t i = 0; i < n; i++) {
            if (children[i] == sb->init_pid || exec_owns(execs, children[i]))
                continue;
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (RETRY_EINTR(waitid(P_PID, (id_t)children[i], &si, WEXITED | WNOHANG | __WALL)) == 0 && si.si_pid != 0)
                reaped = 1;
        }
    }
}

/* A SIGCHLD signalfd for reap_orphans, without a PID namespace only (-1 otherwise, or when it
 * cannot be had: orphans are then reaped at the end, as before). Children we start later reset
 * their signal mask (command.c); init was cloned before this. */
static int open_child_signals(const struct sandbox *sb)
{
    if (sb->has_pid_ns)
        return -1;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0)
        return -1;
    int fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
    return fd;
}

/* The wall-clock limit counts from the command's start: at once, or on SBX_CMD_START for a
 * created sandbox. Returns the timerfd, or -1 without a limit. */
static int start_timeout(struct sandbox *sb)
{
    if (sb->timeout_ms == 0)
        return -1;
    int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(sb->timeout_ms / 1000), .tv_nsec = (long)(sb->timeout_ms % 1000) * 1000000}};
    if (timer_fd < 0 || timerfd_settime(timer_fd, 0, &its, NULL) != 0) {
        report_error(SBX_STEP_SUPERVISE, errno, "timer for the %llu ms timeout", (unsigned long long)sb->timeout_ms);
        kill_sandbox(sb);
        finish(sb->control_fd, 1);
    }
    return timer_fd;
}

void supervise(struct sandbox *sb)
{
    int timer_fd = sb->waits_for_start ? -1 : start_timeout(sb);

    int child_fd = open_child_signals(sb);
    int orphans_to_reap = 0;
    int kill_reason = -1; /* SBX_REASON_* once we killed the sandbox */
    int exit_kind = 0, exit_value = 0; /* from init's SBX_MSG_EXITED */
    int init_gone = 0, report_open = 1, init_signal = 0;
    unsigned char msg[SBX_MSG_HEADER_SIZE + SBX_MSG_MAX_DETAIL];
    static struct execs execs;
    execs_init(&execs);

    /* Until init has exited, its report channel is drained, and every exec'd command has
     * been reported ended (the sandbox's end kills them). */
    while (!init_gone || report_open || exec_busy(&execs)) {
        struct pollfd fds[5 + EXEC_POLL_FDS] = {
            {.fd = sb->control_fd, .events = POLLIN},
            {.fd = report_open ? sb->report_fd : -1, .events = POLLIN},
            {.fd = init_gone ? -1 : sb->init_pidfd, .events = POLLIN},
            {.fd = kill_reason < 0 && !init_gone ? timer_fd : -1, .events = POLLIN},
            {.fd = init_gone ? -1 : child_fd, .events = POLLIN},
        };
        exec_poll_fds(&execs, fds + 5);
        if (RETRY_EINTR(poll(fds, 5 + EXEC_POLL_FDS, -1)) < 0) {
            report_error(SBX_STEP_SUPERVISE, errno, "poll");
            kill_sandbox(sb);
            finish(sb->control_fd, 1);
        }
        /* Every queued command before init's death is handled: a kill the library sent just
         * before its cgroup kill reached init must count as ours. */
        for (int first = 1; fds[0].revents; first = 0) {
            int passed[4], n_passed;
            ssize_t n = receive_command(sb->control_fd, msg, sizeof msg, passed, &n_passed, first ? 0 : MSG_DONTWAIT);
            if (n < 0 && !first && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n <= 0)
                library_gone(sb);
            uint32_t type = 0;
            int32_t arg = 0, arg2 = 0;
            if (n >= SBX_MSG_HEADER_SIZE) {
                memcpy(&type, msg, 4);
                memcpy(&arg, msg + 4, 4);
                memcpy(&arg2, msg + 8, 4);
            }
            if (type == SBX_CMD_EXEC) {
                if (n_passed == 4)
                    exec_start(&execs, arg, passed, sb->namespace_fds, init_gone || kill_reason >= 0 || !sb->exec_ready ? -1 : (ssize_t)sb->n_namespace_fds, sb->control_fd);
                else {
                    static const char detail[] = "SBX_CMD_EXEC needs exactly four file descriptors";
                    report_send(sb->control_fd, SBX_MSG_EXEC_ERROR, arg, SBX_STEP_EXEC_JOIN, EINVAL, detail, sizeof detail - 1);
                }
            }
            if (type != SBX_CMD_EXEC || n_passed != 4)
                close_all(passed, n_passed < 0 ? -n_passed - 1 : n_passed);
            if (type == SBX_CMD_KILL && kill_reason < 0 && !init_gone) {
                kill_reason = SBX_REASON_KILLED;
                kill_sandbox(sb);
            } else if (type == SBX_CMD_SIGNAL && !init_gone && arg > 0 && arg < NSIG) {
                if (arg == SIGKILL) {
                    kill_reason = kill_reason < 0 ? SBX_REASON_KILLED : kill_reason;
                    kill_sandbox(sb);
                } else if (is_forwarded_signal(arg) && sb->init_pid > 0) {
                    /* init forwards it to the command; through the pidfd, never a stale pid */
                    sys_pidfd_send_signal(sb->init_pidfd, arg);
                }
            } else if (type == SBX_CMD_EXEC_SIGNAL && (arg2 == SIGKILL || is_forwarded_signal(arg2))) {
                exec_signal(&execs, arg, arg2);
            } else if (type == SBX_CMD_START && sb->waits_for_start && !init_gone && kill_reason < 0) {
                sb->waits_for_start = 0;
                /* A failed send means init is gone: its pidfd says so next. */
                report_send(sb->report_fd, SBX_CMD_START, 0, 0, 0, NULL, 0);
                timer_fd = start_timeout(sb);
            }
        }
        if (fds[3].revents) {
            kill_reason = SBX_REASON_TIMEOUT;
            kill_sandbox(sb);
        }
        if (fds[1].revents) {
            ssize_t n = receive_report(sb, msg, sizeof msg);
            if (n <= 0) {
                report_open = 0;
            } else if (n >= SBX_MSG_HEADER_SIZE) {
                uint32_t type;
                memcpy(&type, msg, 4);
                if (type == SBX_MSG_EXITED) {
                    memcpy(&exit_kind, msg + 4, 4);
                    memcpy(&exit_value, msg + 8, 4);
                } else if (type != SBX_MSG_NAMESPACES) {
                    if (type == SBX_MSG_CREATED)
                        memcpy(msg + 4, &sb->init_host_pid, 4); /* init cannot know its host pid */
                    relay(sb->control_fd, msg, n);
                }
            }
        }
        exec_handle(&execs, fds + 5, sb->control_fd);
        if (fds[4].revents) {
            struct signalfd_siginfo si;
            while (read(child_fd, &si, sizeof si) == sizeof si) {
            }
            orphans_to_reap = 1;
        }
        /* Also when a pending exec's pid has just become known, after a SIGCHLD that waited. */
        if (orphans_to_reap && !init_gone && !exec_pid_pending(&execs)) {
            orphans_to_reap = 0;
            reap_orphans(sb, &execs);
        }
        if (fds[2].revents) {
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (sb->init_pid > 0)
                RETRY_EINTR(waitid((idtype_t)P_PIDFD, (id_t)sb->init_pidfd, &si, WEXITED));
            sb->init_pid = 0;
            init_gone = 1;
            /* No more exec'd commands: the sandbox they would join is ending. */
            while (sb->n_namespace_fds > 0)
                close(sb->namespace_fds[--sb->n_namespace_fds]);
            sb->exec_ready = 0;
            if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
                init_signal = si.si_status;
            /* Without a PID namespace, init's orphans are ours now; none may outlive it. */
            if (!sb->has_pid_ns)
                kill_and_reap_all_children();
        }
    }

    int32_t kind, value, reason;
    if (exit_kind != 0) {
        kind = exit_kind; /* the command's own status, even if a kill raced with its exit */
        value = exit_value;
        reason = SBX_REASON_EXITED;
    } else if (kill_reason >= 0) {
        kind = SBX_EXIT_SIGNAL;
        value = SIGKILL;
        reason = kill_reason;
    } else {
        /* No exit report and no kill of ours: init died during setup, after relaying its
         * error, or was killed by something outside. */
        if (init_signal != 0)
            report_error(SBX_STEP_SUPERVISE, 0, "the sandbox's init was killed by signal %d", init_signal);
        finish(sb->control_fd, 1);
    }
    report_send(sb->control_fd, SBX_MSG_EXITED, kind, value, reason, NULL, 0);
    /* Nothing of the sandbox is left. We may not exit before the library answers: until it
     * has our report, our pid must stay ours (a process that reaps every child, as .NET as pid
     * 1 does, would lose it, and the library opens its pidfd on it after posix_spawn). Its
     * SBX_CMD_DONE comes as soon as it has the report; it then reads the cgroups' accounting
     * and removes them while we exit. End of file instead: it died, the cgroups are ours. */
    for (;;) {
        int passed[4], n_passed;
        ssize_t n = receive_command(sb->control_fd, msg, sizeof msg, passed, &n_passed, 0);
        close_all(passed, n_passed < 0 ? -n_passed - 1 : n_passed);
        if (n <= 0) {
            remove_cgroups(sb);
            _exit(0);
        }
        uint32_t type = 0;
        if (n >= SBX_MSG_HEADER_SIZE)
            memcpy(&type, msg, 4);
        if (type == SBX_CMD_DONE)
            _exit(0);
    }
}
