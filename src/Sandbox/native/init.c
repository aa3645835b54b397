/* init.c - the sandbox's first process. It finishes the setup that must happen inside the
 * new namespaces, forks the command, and stays as init: pid 1 of a PID namespace must reap
 * orphans, and the kernel only delivers signals to it that it asked for, so it forwards
 * them to the command. When the command ends, init reports its status and exits, which
 * makes the kernel kill whatever is left in the PID namespace. */
#include "init.h"

#include "command.h"
#include "kernel.h"
#include "mount.h"
#include "ns.h"
#include "protocol.h"
#include "report.h"
#include "security.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

/* Signals a caller may send to stop or poke the command; init passes them on. The list is
 * SBX_FORWARDED_SIGNALS in protocol.h: the helper and the library refuse any other. */
static const int forwarded_signals[] = {SBX_FORWARDED_SIGNALS};

static void send_exit(int status)
{
    if (WIFSIGNALED(status))
        report_send(report_fd, SBX_MSG_EXITED, SBX_EXIT_SIGNAL, WTERMSIG(status), SBX_REASON_EXITED, NULL, 0);
    else
        report_send(report_fd, SBX_MSG_EXITED, SBX_EXIT_CODE, WEXITSTATUS(status), SBX_REASON_EXITED, NULL, 0);
}

/* STARTED carries the command's pid as SCM_CREDENTIALS: the kernel translates it into the
 * helper's PID namespace, which init cannot do itself. The command is at worst a zombie
 * here (init reaps only later), so its pid is still valid. */
static void send_started(pid_t command)
{
    struct ucred cred = {.pid = command, .uid = getuid(), .gid = getgid()};
    /* Naming another pid needs CAP_SYS_ADMIN over our PID namespace, which we have only in
     * a PID namespace of our own; without one, pids need no translation anyway. b = 1 says
     * the credentials carry the command's pid. */
    if (report_send_ancillary(report_fd, SBX_MSG_STARTED, command, 1, 0, SCM_CREDENTIALS, &cred, sizeof cred) != 0)
        report_send(report_fd, SBX_MSG_STARTED, command, 0, 0, NULL, 0);
}

/* The namespaces exec'd commands join: init's own, opened by init itself (a non-dumpable
 * process is not open to anyone else's /proc/PID/ns) before the command runs, so nothing the
 * command does (unshare, setns, with CAP_SYS_ADMIN kept) can change what they join. The time
 * namespace is the one made for init's children. Any failure leaves none, and the sandbox
 * then refuses exec'd commands. */
static int namespace_fds[8];
static size_t n_namespace_fds;
static int namespaces_opened;

static void open_namespaces(const struct sbx_spec *spec)
{
    static const struct {
        uint32_t flag;
        const char *path;
    } namespaces[] = {
        {SBX_NS_USER, "/proc/self/ns/user"}, {SBX_NS_MOUNT, "/proc/self/ns/mnt"},
        {SBX_NS_PID, "/proc/self/ns/pid"},   {SBX_NS_NET, "/proc/self/ns/net"},
        {SBX_NS_UTS, "/proc/self/ns/uts"},   {SBX_NS_IPC, "/proc/self/ns/ipc"},
        {SBX_NS_CGROUP, "/proc/self/ns/cgroup"}, {SBX_NS_TIME, "/proc/self/ns/time_for_children"},
    };
    for (size_t i = 0; i < sizeof namespaces / sizeof *namespaces; i++) {
        if (!(spec->namespaces & namespaces[i].flag))
            continue;
        int fd = open(namespaces[i].path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            while (n_namespace_fds > 0)
                close(namespace_fds[--n_namespace_fds]);
            return;
        }
        namespace_fds[n_namespace_fds++] = fd;
    }
    namespaces_opened = 1;
}

/* Once: a created sandbox sends them before it waits, so that commands can be exec'd into it. */
static void send_namespaces(void)
{
    if (n_namespace_fds > 0)
        report_send_ancillary(report_fd, SBX_MSG_NAMESPACES, (int32_t)n_namespace_fds, 0, 0, SCM_RIGHTS, namespace_fds, n_namespace_fds * sizeof(int));
    else if (namespaces_opened)
        report_send(report_fd, SBX_MSG_NAMESPACES, 0, 0, 0, NULL, 0); /* a sandbox of no namespace */
    while (n_namespace_fds > 0)
        close(namespace_fds[--n_namespace_fds]);
    namespaces_opened = 0;
}

/* A created sandbox (SBX_REC_WAIT_FOR_START): everything is set up. Say so, then wait for the
 * helper's SBX_CMD_START. Commands exec'd meanwhile may leave orphans, which are ours to reap.
 * Forwarded signals stay blocked and pending: one the library sent right after the start
 * reaches the command once it runs. End of file: the helper is gone, and the sandbox with it. */
static void await_start(void)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int chld_fd = signalfd(-1, &chld, SFD_CLOEXEC);
    if (chld_fd < 0)
        die(SBX_STEP_FORK, errno, "signalfd");
    send_namespaces();
    if (report_send(report_fd, SBX_MSG_CREATED, 0, 0, 0, NULL, 0) != 0)
        _exit(125);
    for (;;) {
        struct pollfd fds[2] = {{.fd = report_fd, .events = POLLIN}, {.fd = chld_fd, .events = POLLIN}};
        if (RETRY_EINTR(poll(fds, 2, -1)) < 0)
            die(SBX_STEP_SUPERVISE, errno, "wait for the start");
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            ssize_t r = RETRY_EINTR(read(chld_fd, &si, sizeof si));
            if (r != sizeof si)
                die(SBX_STEP_SUPERVISE, r < 0 ? errno : EIO, "read signalfd");
            while (waitpid(-1, NULL, WNOHANG) > 0) {
            }
        }
        if (fds[0].revents) {
            unsigned char msg[SBX_MSG_HEADER_SIZE];
            ssize_t n = RETRY_EINTR(recv(report_fd, msg, sizeof msg, 0));
            if (n <= 0)
                _exit(125);
            uint32_t type = 0;
            if (n >= 4)
                memcpy(&type, msg, 4);
            if (type == SBX_CMD_START) {
                close(chld_fd);
                return;
            }
        }
    }
}

/* After the helper wrote the maps, become the user namespace's root when it is mapped, so
 * setup runs with ids that exist inside (an explicit range may leave out the caller's own
 * ids, which would then show as the overflow id and make mkdir fail with EOVERFLOW), and
 * drop the caller's supplementary groups where the kernel allows it. */
static void become_namespace_root(const struct sbx_spec *spec)
{
    /* Root of the namespace if it is mapped, else the command's own (always mapped) ids. */
    if (setresgid(0, 0, 0) != 0 && (errno != EINVAL || setresgid(spec->gid, spec->gid, spec->gid) != 0) && errno != EINVAL)
        die(SBX_STEP_SET_USER, errno, "become gid 0 (or %u) of the user namespace", spec->gid);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        die(SBX_STEP_SET_USER, errno, "PR_SET_KEEPCAPS");
    if (setresuid(0, 0, 0) != 0 && (errno != EINVAL || setresuid(spec->uid, spec->uid, spec->uid) != 0) && errno != EINVAL)
        die(SBX_STEP_SET_USER, errno, "become uid 0 (or %u) of the user namespace", spec->uid);
    if (setgroups(0, NULL) != 0 && errno != EPERM)
        die(SBX_STEP_SET_USER, errno, "drop supplementary groups");
    /* Setup still needs its capabilities in the namespace: a switch to a non-root uid
     * cleared the effective set (KEEPCAPS kept the permitted one). */
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0)
        die(SBX_STEP_SET_USER, errno, "capget");
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    if (syscall(SYS_capset, &header, data) != 0)
        die(SBX_STEP_SET_USER, errno, "restore capabilities for setup");
    /* A credential change makes a process non-dumpable, which would make its own /proc
     * files (timens_offsets) root's; it becomes non-dumpable for good after setup. */
    if (prctl(PR_SET_DUMPABLE, 1) != 0)
        die(SBX_STEP_SET_USER, errno, "PR_SET_DUMPABLE");
}

struct command_start {
    const struct sbx_spec *spec;
    int exec_pair[2], signal_fd;
    pid_t init_pid;
};

static int command_entry(void *arg)
{
    const struct command_start *start = arg;
    close(start->exec_pair[0]);
    close(start->signal_fd);
    command_run(start->spec, start->exec_pair[1], start->init_pid);
}

/* The command's process. Like posix_spawn, it shares our memory until its exec (CLONE_VM |
 * CLONE_VFORK, we wait meanwhile) instead of copying our page tables to throw them away: on a
 * virtual machine that copy is one of the costliest steps of a start. It runs on a stack of its
 * own and changes no memory of ours but report_fd, which we restore. Sanitizer builds fork. */
static pid_t start_command(const struct sbx_spec *spec, int exec_pair[2], int signal_fd)
{
    struct command_start start = {.spec = spec, .exec_pair = {exec_pair[0], exec_pair[1]}, .signal_fd = signal_fd, .init_pid = getpid()};
#if defined(__SANITIZE_ADDRESS__)
    pid_t pid = fork();
    if (pid == 0)
        command_entry(&start);
    return pid;
#else
    static char stack[256 * 1024] __attribute__((aligned(16)));
    int saved_report_fd = report_fd;
    pid_t pid = clone(command_entry, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
    int saved_errno = errno;
    report_fd = saved_report_fd;
    errno = saved_errno;
    /* Before Linux 6.10 a child bound for another time namespace may not share our memory
     * (our time namespace for children differs from our own): fork then. */
    if (pid < 0 && errno == EINVAL) {
        pid = fork();
        if (pid == 0)
            command_entry(&start);
    }
    return pid;
#endif
}

static SBX_NORETURN void run_init(const struct sbx_spec *spec)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof *forwarded_signals; i++)
        sigaddset(&mask, forwarded_signals[i]);
    /* Blocked before fork so no signal slips between fork and the signalfd. */
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        die(SBX_STEP_FORK, errno, "block signals");
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0)
        die(SBX_STEP_FORK, errno, "signalfd");
    if (spec->wait_for_start)
        await_start();

    /* exec channel: close-on-exec, so end of file means the exec succeeded. */
    int exec_pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, exec_pair) != 0)
        die(SBX_STEP_FORK, errno, "exec channel");
    /* A fresh session keyring: the caller's keys (and those of other sandboxes) stay out. */
    syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);

    pid_t command = start_command(spec, exec_pair, sfd);
    if (command < 0)
        die(SBX_STEP_FORK, errno, "start the command");
    /* The command's credential change, while it shared our memory, set the dumpable flag of
     * that memory to fs.suid_dumpable: make ourselves non-dumpable again. */
    if (prctl(PR_SET_DUMPABLE, 0) != 0)
        die(SBX_STEP_FORK, errno, "PR_SET_DUMPABLE");
    close(exec_pair[1]);

    /* init holds no stdio: output pipes must see end of file when the command's side closes. */
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2; fd++) {
        if (null_fd >= 0)
            dup3(null_fd, fd, O_CLOEXEC);
        else
            close(fd);
    }
    if (null_fd > 2)
        close(null_fd);

    unsigned char msg[SBX_MSG_HEADER_SIZE + SBX_MSG_MAX_DETAIL];
    ssize_t n = RETRY_EINTR(recv(exec_pair[0], msg, sizeof msg, 0));
    close(exec_pair[0]);
    int exec_failed = n > 0;
    if (exec_failed)
        RETRY_EINTR(send(report_fd, msg, (size_t)n, MSG_NOSIGNAL)); /* the command's own error record */
    else {
        send_namespaces();
        send_started(command);
    }

    for (;;) {
        struct signalfd_siginfo si;
        ssize_t r = RETRY_EINTR(read(sfd, &si, sizeof si));
        if (r != sizeof si)
            die(SBX_STEP_SUPERVISE, r < 0 ? errno : EIO, "read signalfd");
        if ((int)si.ssi_signo != SIGCHLD) {
            /* Only what the helper sent: a process inside cannot steer its own init. */
            if (si.ssi_pid == 0 || (spec->namespaces & SBX_NS_PID) == 0)
                kill(command, (int)si.ssi_signo);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != command)
                continue; /* an orphan: reaping it is all init owes it */
            if (!exec_failed)
                send_exit(status);
            _exit(exec_failed ? 125 : 0);
        }
    }
}

void sandbox_child_main(const struct sbx_spec *spec, int sync_fd)
{
    /* If the helper dies, so do we (and with us, as pid 1, the whole PID namespace). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        die(SBX_STEP_FORK, errno, "PR_SET_PDEATHSIG");
    /* The helper writes our id maps, then one byte. End of file: it died before that. */
    char byte;
    ssize_t n = RETRY_EINTR(read(sync_fd, &byte, 1));
    if (n != 1)
        _exit(125);

    /* Sources first, with the caller's host identity: a root caller's sandbox becomes an
     * unprivileged host user below, which may not reach a rootfs under /root. */
    struct mount_sources sources = {.tree_fd = -1, .bind_fds = NULL, .lower_fds = NULL, .upper_fd = -1, .work_fd = -1};
    if (spec->root_flags & SBX_ROOT_IDMAP_LAYERS)
        mount_receive_idmapped_layers(spec, report_fd, &sources);
    if (spec->namespaces & SBX_NS_MOUNT)
        mount_open_sources(spec, &sources);
    if (spec->namespaces & SBX_NS_USER) {
        become_namespace_root(spec);
        /* A credential change clears the death signal: set it again, then make sure the
         * helper did not die in between (it holds the sync pipe open while it lives). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            die(SBX_STEP_FORK, errno, "PR_SET_PDEATHSIG");
        struct pollfd pfd = {.fd = sync_fd, .events = POLLIN};
        if (RETRY_EINTR(poll(&pfd, 1, 0)) != 0)
            _exit(125);
    }
    close(sync_fd);

    if (spec->namespaces & SBX_NS_UTS && spec->hostname != NULL)
        ns_set_hostname(spec->hostname);
    if (spec->namespaces & SBX_NS_NET)
        ns_bring_up_loopback();
    if (spec->namespaces & SBX_NS_TIME)
        ns_enter_time_namespace(spec); /* before the mounts: it needs the host's /proc/self */
    /* Still with the host's /proc, whatever the sandbox mounts. */
    open_namespaces(spec);
    if (spec->namespaces & SBX_NS_MOUNT)
        mount_setup_filesystem(spec, &sources);
    if (!(spec->namespaces & SBX_NS_PID) && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        die(SBX_STEP_FORK, errno, "PR_SET_CHILD_SUBREAPER");
    /* From here on, nothing inside may ptrace init or open its /proc files (its exe is the
     * helper binary on the host: the runc CVE-2019-5736 class). */
    if (prctl(PR_SET_DUMPABLE, 0) != 0)
        die(SBX_STEP_FORK, errno, "PR_SET_DUMPABLE");
    run_init(spec);
}
