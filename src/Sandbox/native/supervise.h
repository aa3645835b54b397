/* supervise.h - the helper's life after the sandbox has been cloned. */
#ifndef SBX_SUPERVISE_H
#define SBX_SUPERVISE_H

#include "spec.h"
#include "protocol.h"
#include "util.h"

#include <sys/types.h>

struct sandbox {
    pid_t init_pid;   /* the cloned child: init of the sandbox; 0 once reaped */
    pid_t init_host_pid; /* the same, kept for reports after init is gone */
    int init_pidfd;   /* from clone3(CLONE_PIDFD) */
    int namespace_fds[8]; /* init's namespaces, which exec'd commands join (SBX_MSG_NAMESPACES) */
    size_t n_namespace_fds;
    int exec_ready; /* init sent its namespaces: commands can be exec'd */
    int report_fd;    /* SEQPACKET from the sandbox's init */
    int control_fd;   /* SEQPACKET to and from the library */
    int has_pid_ns;   /* killing init then kills everything inside */
    uint64_t timeout_ms;
    int waits_for_start; /* created: the command starts on SBX_CMD_START (and the timeout then) */
    /* The sandbox's cgroup directories: removed here if the library dies (it removes them
     * itself otherwise, after reading their accounting). */
    char *cgroup_dirs[SBX_MAX_CGROUP_PATHS + 1];
    size_t n_cgroup_dirs;
};

/* Relay reports, enforce the timeout, obey commands, report the exit, wait for the
 * library to close the control channel, then exit. */
SBX_NORETURN void supervise(struct sandbox *sb);

/* Kill init and every process that descends from it, then reap them. */
void kill_sandbox(struct sandbox *sb);

/* After a fatal error: wait until the library closes the control channel, then exit, so
 * our pid stays valid until the library has opened its pidfd. */
SBX_NORETURN void finish(int control_fd, int status);

#endif
