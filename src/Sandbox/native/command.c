/* command.c - see command.h. */
#include "command.h"

#include "protocol.h"
#include "report.h"
#include "security.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

static const char *env_value(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (; *envp != NULL; envp++)
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
            return *envp + len + 1;
    return NULL;
}

/* execvpe with the sandbox's own PATH; reports exactly what was looked up on failure. */
static SBX_NORETURN void exec_command(const struct sbx_spec *spec)
{
    const char *file = spec->argv[0];
    if (strchr(file, '/') != NULL) {
        execve(file, spec->argv, spec->envp);
        if (errno == ENOENT && access(file, F_OK) == 0)
            die(SBX_STEP_EXEC, ENOENT, "%s exists, but its interpreter or dynamic loader does not", file);
        die(errno == ENOENT ? SBX_STEP_EXEC_NOT_FOUND : SBX_STEP_EXEC, errno, "%s", file);
    }
    const char *path = env_value(spec->envp, "PATH");
    if (path == NULL)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    int saw_eacces = 0;
    for (const char *dir = path;; dir++) {
        const char *end = strchrnul(dir, ':');
        char candidate[PATH_MAX];
        int n = end == dir ? snprintf(candidate, sizeof candidate, "%s", file)
                           : snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(end - dir), dir, file);
        if (n > 0 && (size_t)n < sizeof candidate) {
            execve(candidate, spec->argv, spec->envp);
            if (errno == ENOENT && access(candidate, F_OK) == 0)
                die(SBX_STEP_EXEC, ENOENT, "%s exists, but its interpreter or dynamic loader does not", candidate);
            if (errno == EACCES)
                saw_eacces = 1;
            else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT)
                die(SBX_STEP_EXEC, errno, "%s", candidate);
        }
        dir = end;
        if (*end == '\0')
            break;
    }
    if (saw_eacces)
        die(SBX_STEP_EXEC, EACCES, "%s (found in PATH=%s but not executable)", file, path);
    die(SBX_STEP_EXEC_NOT_FOUND, ENOENT, "%s (looked up in PATH=%s)", file, path);
}

SBX_NORETURN void command_run(const struct sbx_spec *spec, int report_to, pid_t parent)
{
    report_fd = report_to;
    sigset_t none;
    sigemptyset(&none);
    /* exec resets caught signals itself, but not ignored ones: the helper ignores SIGPIPE
     * alone (the library spawns it with every signal at its default). */
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setsid() < 0)
        die(SBX_STEP_FORK, errno, "setsid");
    /* Only a terminal the library made for this command: the caller's own terminal never
     * becomes its controlling terminal, so TIOCSTI cannot reach the caller's input. */
    if (spec->terminal && ioctl(0, TIOCSCTTY, 0) != 0)
        die(SBX_STEP_TERMINAL, errno, "make standard input the controlling terminal");
    const char *cwd = spec->cwd != NULL ? spec->cwd : "/";
    if (chdir(cwd) != 0)
        die(SBX_STEP_CHDIR, errno, "%s", cwd);
    /* By default the command gets no capability in any set and cannot gain one: without
     * CAP_SYS_ADMIN it cannot remount the read-only root, unmount a mask, or mount anything;
     * with no_new_privs a setuid binary grants nothing; with an empty bounding set not even
     * exec as uid 0 brings capabilities back. */
    security_apply(spec);
    /* Without a PID namespace nothing else kills the command if its parent dies. Set after
     * the last credential change, which clears it, then check the parent did not die
     * meanwhile. */
    if (!(spec->namespaces & SBX_NS_PID)) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            die(SBX_STEP_FORK, errno, "PR_SET_PDEATHSIG");
        if (getppid() != parent)
            _exit(125);
    }
    exec_command(spec);
}

