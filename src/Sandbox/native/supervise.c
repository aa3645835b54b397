/* supervise.c - the helper stays outside the sandbox as its supervisor: it relays the
 * sandbox's reports, kills the whole sandbox on timeout, on request, or when the library
 * goes away (end of file on the control channel, which also happens when the .NET process
 * is killed), and reports the command's exit status itself. The library never needs
 * waitpid() to learn it, which matters because .NET reaps every child when it runs as pid 1
 * or with SIGCHLD ignored. */
#include "supervise.h"

#include "protocol.h"
#include "report.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

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

/* First pid listed in /proc/<pid>/task/<pid>/children, or 0. */
static pid_t first_child_of(pid_t pid)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    pid_t child = 0;
    if (fgets(buf, sizeof buf, f) != NULL)
        child = (pid_t)atoi(buf);
    fclose(f);
    return child;
}

/* SIGKILL every child of ours (the helper is a subreaper, so orphans of the sandbox are
 * ours too); returns how many were signalled. */
static int kill_our_children(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)getpid());
    DIR *tasks = opendir(path);
    if (tasks == NULL)
        return 0;
    int killed = 0;
    struct dirent *t;
    while ((t = readdir(tasks)) != NULL) {
        if (t->d_name[0] == '.')
            continue;
        char cpath[512];
        snprintf(cpath, sizeof cpath, "%s/%s/children", path, t->d_name);
        FILE *f = fopen(cpath, "re");
        if (f == NULL)
            continue;
        int pid;
        while (fscanf(f, "%d", &pid) == 1)
            if (kill(pid, SIGKILL) == 0)
                killed++;
        fclose(f);
    }
    closedir(tasks);
    return killed;
}

void kill_sandbox(struct sandbox *sb)
{
    if (sb->init_pid <= 0)
        return;
    /* pidfd_send_signal would be exact, but init cannot be reaped (and its pid reused)
     * before we wait for it below, so kill() on the pid is exact too. */
    kill(sb->init_pid, SIGKILL);
    if (sb->has_pid_ns)
        return; /* the kernel kills the rest of the PID namespace when its init dies */
    /* Without a PID namespace, kill descendants round by round: each killed process's
     * children are reparented to us (we are a subreaper), so the next round finds them. */
    for (;;) {
        kill_our_children();
        int status;
        pid_t pid = (pid_t)RETRY_EINTR(waitpid(-1, &status, __WALL));
        if (pid < 0)
            break; /* ECHILD: nothing left */
        if (pid == sb->init_pid)
            sb->init_pid = -pid; /* reaped here; remember it for the exit report */
    }
}

static void relay(int to_fd, const unsigned char *msg, ssize_t len)
{
    if (len > 0)
        RETRY_EINTR(send(to_fd, msg, (size_t)len, MSG_NOSIGNAL));
}

void supervise(struct sandbox *sb)
{
    int timer_fd = -1;
    if (sb->timeout_ms > 0) {
        timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        struct itimerspec its = {.it_value = {.tv_sec = (time_t)(sb->timeout_ms / 1000), .tv_nsec = (long)(sb->timeout_ms % 1000) * 1000000}};
        if (timer_fd < 0 || timerfd_settime(timer_fd, 0, &its, NULL) != 0) {
            report_error(SBX_STEP_SUPERVISE, errno, "timer for the %llu ms timeout", (unsigned long long)sb->timeout_ms);
            kill_sandbox(sb);
            finish(sb->control_fd, 1);
        }
    }

    int kill_reason = -1; /* SBX_REASON_* once we killed the sandbox */
    int exit_kind = 0, exit_value = 0; /* from init's SBX_MSG_EXITED */
    int init_gone = 0, report_open = 1;
    unsigned char msg[SBX_MSG_HEADER_SIZE + SBX_MSG_MAX_DETAIL];

    /* Until init has exited and its report channel is drained. */
    while (!init_gone || report_open) {
        struct pollfd fds[4] = {
            {.fd = sb->control_fd, .events = POLLIN},
            {.fd = report_open ? sb->report_fd : -1, .events = POLLIN},
            {.fd = init_gone ? -1 : sb->init_pidfd, .events = POLLIN},
            {.fd = kill_reason < 0 ? timer_fd : -1, .events = POLLIN},
        };
        if (RETRY_EINTR(poll(fds, 4, -1)) < 0) {
            report_error(SBX_STEP_SUPERVISE, errno, "poll");
            kill_sandbox(sb);
            finish(sb->control_fd, 1);
        }
        if (fds[0].revents) {
            ssize_t n = RETRY_EINTR(recv(sb->control_fd, msg, sizeof msg, 0));
            if (n <= 0) {
                /* The library is gone (closed, or its process died): take the sandbox along. */
                kill_sandbox(sb);
                _exit(0);
            }
            uint32_t type;
            int32_t arg;
            memcpy(&type, msg, 4);
            memcpy(&arg, msg + 4, 4);
            if (n >= SBX_MSG_HEADER_SIZE && type == SBX_CMD_KILL && kill_reason < 0 && !init_gone) {
                kill_reason = SBX_REASON_KILLED;
                kill_sandbox(sb);
            } else if (n >= SBX_MSG_HEADER_SIZE && type == SBX_CMD_SIGNAL && !init_gone && arg > 0 && arg < NSIG) {
                if (arg == SIGKILL) {
                    kill_reason = kill_reason < 0 ? SBX_REASON_KILLED : kill_reason;
                    kill_sandbox(sb);
                } else {
                    kill(sb->init_pid, arg); /* init forwards it to the command */
                }
            }
        }
        if (fds[3].revents) {
            kill_reason = SBX_REASON_TIMEOUT;
            kill_sandbox(sb);
        }
        if (fds[1].revents) {
            ssize_t n = RETRY_EINTR(recv(sb->report_fd, msg, sizeof msg, 0));
            if (n <= 0) {
                report_open = 0;
            } else if (n >= SBX_MSG_HEADER_SIZE) {
                uint32_t type;
                memcpy(&type, msg, 4);
                if (type == SBX_MSG_EXITED) {
                    memcpy(&exit_kind, msg + 4, 4);
                    memcpy(&exit_value, msg + 8, 4);
                } else if (type == SBX_MSG_STARTED) {
                    /* init knows the command's pid only inside the PID namespace; its only
                     * child right now is the command, so /proc gives the host pid. */
                    int32_t host_pid = sb->has_pid_ns ? first_child_of(sb->init_pid) : 0;
                    if (host_pid != 0)
                        memcpy(msg + 4, &host_pid, 4);
                    relay(sb->control_fd, msg, n);
                } else {
                    relay(sb->control_fd, msg, n);
                }
            }
        }
        if (fds[2].revents) {
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (sb->init_pid > 0)
                RETRY_EINTR(waitid((idtype_t)P_PIDFD, (id_t)sb->init_pidfd, &si, WEXITED));
            init_gone = 1;
            /* Without a PID namespace, init's orphans are ours now; none may outlive it. */
            if (!sb->has_pid_ns) {
                sb->init_pid = 0;
                while (kill_our_children() > 0)
                    while (RETRY_EINTR(waitpid(-1, NULL, __WALL | WNOHANG)) > 0) {
                    }
                while (RETRY_EINTR(waitpid(-1, NULL, __WALL)) > 0) {
                }
            }
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
        finish(sb->control_fd, 1); /* a setup error was already relayed */
    }
    report_send(sb->control_fd, SBX_MSG_EXITED, kind, value, reason, NULL, 0);
    finish(sb->control_fd, 0);
}
