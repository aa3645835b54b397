/* exec.h - commands exec'd into a running sandbox (docker exec), kept by the supervisor.
 *
 * For each SBX_CMD_EXEC the helper forks a short-lived "joiner". The joiner opens the
 * sandbox's cgroup.procs files while it still sees the host, makes itself non-dumpable, joins
 * every namespace of the sandbox through the fds init sent (init's own, opened before the
 * command ran, so the command cannot move what exec'd commands join), and clones
 * the command with CLONE_PARENT: a PID namespace is entered only by children, and
 * CLONE_PARENT makes the command the helper's own child, so the helper reaps it and learns
 * its status although the joiner is long gone. The command moves itself into the cgroups,
 * then takes the same last steps as the sandbox's main command (command.c). Nothing inside
 * the sandbox can reach the joiner: it is not in the sandbox's PID namespace, and it is
 * non-dumpable while its /proc/<pid>/exe is still the helper binary (the runc CVE-2019-5736
 * class). */
#ifndef SBX_EXEC_H
#define SBX_EXEC_H

#include "protocol.h"
#include "util.h"

#include <poll.h>
#include <sys/types.h>

struct exec_slot {
    int in_use;
    int32_t id;
    int channel_fd;  /* reports of the joiner and the command; -1 after end of file */
    pid_t joiner;    /* 0 once reaped */
    pid_t pid;       /* the command, our child; 0 until the joiner names it */
    int pidfd;       /* -1 until the command is known, and after it is reaped */
    int failed;      /* an SBX_MSG_ERROR arrived and was relayed */
    int exited;      /* reaped: exit_kind and exit_value hold its status */
    int32_t exit_kind, exit_value;
};

struct execs {
    struct exec_slot slots[SBX_MAX_EXECS];
};

/* Each slot polls two fds: its channel and its command's pidfd. */
#define EXEC_POLL_FDS (2 * SBX_MAX_EXECS)

void execs_init(struct execs *ex);

/* Start an exec'd command. fds are the four SCM_RIGHTS fds of SBX_CMD_EXEC (taken over and
 * closed here); namespace_fds are init's namespaces, user first (n_namespace_fds -1: the
 * sandbox cannot take one now). Every failure is reported to control_fd as SBX_MSG_EXEC_ERROR. */
void exec_start(struct execs *ex, int32_t id, int fds[4], const int *namespace_fds, ssize_t n_namespace_fds, int control_fd);

/* Signal an exec'd command that is still running; others are ignored. */
void exec_signal(struct execs *ex, int32_t id, int sig);

/* Fill EXEC_POLL_FDS entries (fd -1 where there is nothing to wait for). */
void exec_poll_fds(const struct execs *ex, struct pollfd *fds);

/* Handle what the poll found in those entries: relay reports, reap, report exits. */
void exec_handle(struct execs *ex, const struct pollfd *fds, int control_fd);

/* Whether any exec'd command has not been reported ended yet. */
int exec_busy(const struct execs *ex);

/* Whether pid is a joiner or an exec'd command we track (and reap ourselves). */
int exec_owns(const struct execs *ex, pid_t pid);

/* Whether a joiner may have cloned a command whose pid we do not know yet. */
int exec_pid_pending(const struct execs *ex);

#endif
