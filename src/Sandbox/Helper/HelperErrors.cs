using Sandboxing.Interop;
using static Sandboxing.Helper.HelperProtocol;

namespace Sandboxing.Helper;

/// <summary>
/// Turns the helper's (step, errno, detail) error records into exceptions that say what
/// failed, why, and what to do about it.
/// </summary>
internal static class HelperErrors
{
    private const int EPERM = 1, ENOENT = 2, EACCES = 13, EINVAL = 22, ENOSPC = 28, EROFS = 30, ENOSYS = 38, EEXIST = 17, ENOTDIR = 20, EBUSY = 16;

    public static string StepName(int step) => step switch
    {
        StepSpecRead => "read the spec",
        StepSpecParse => "parse the spec",
        StepClone => "create the namespaces",
        StepSetgroups => "deny setgroups",
        StepUidMap => "write uid_map",
        StepGidMap => "write gid_map",
        StepSync => "synchronise with the sandbox",
        StepHostname => "set the hostname",
        StepLoopback => "bring up loopback",
        StepTimeNamespace => "set up the time namespace",
        StepMountPrivate => "make mounts private",
        StepRoot => "set up the root filesystem",
        StepMountTarget => "resolve a mount target",
        StepMountBind => "bind mount",
        StepMountTmpfs => "mount tmpfs",
        StepMountProc => "mount proc",
        StepMountDev => "mount /dev",
        StepPivotRoot => "pivot_root",
        StepChdir => "enter the working directory",
        StepSetUser => "switch to the sandbox user",
        StepFork => "start the command",
        StepExec => "execute the command",
        StepExecNotFound => "find the command",
        StepSupervise => "supervise the sandbox",
        StepCgroup => "place the sandbox in its cgroup",
        StepMask => "mask a path",
        StepMountSysfs => "mount sysfs",
        StepOverlay => "mount the overlay root",
        StepIdmapLayers => "give the image layers idmapped mounts",
        StepMountMqueue => "mount mqueue",
        StepCreate => "create a file, directory or symlink",
        StepRlimit => "set a resource limit",
        StepCapabilities => "set the command's capabilities",
        StepSeccomp => "install the seccomp filter",
        StepLandlock => "apply the Landlock rules",
        StepExecJoin => "join the running sandbox",
        StepTerminal => "give the command its terminal",
        _ => $"step {step}",
    };

    public static SandboxException ToException(int step, int errno, string detail, SandboxConfiguration config)
    {
        string hint = Hint(step, errno, detail, config) ?? "";
        string message = $"Sandbox could not {StepName(step)} ({detail}): {LibC.ErrnoText(errno)}." + (hint.Length > 0 ? $" Hint: {hint}" : "");
        return new SandboxException(message, StepName(step), errno, hint.Length > 0 ? hint : null);
    }

    private static string? Hint(int step, int errno, string detail, SandboxConfiguration config) => (step, errno) switch
    {
        (StepClone, ENOSPC) => "A namespace limit is reached: raise the sysctl user.max_user_namespaces (or max_pid_namespaces, max_net_namespaces, ...), or end other sandboxes.",
        (StepClone, ENOSYS) => "This kernel has no clone3; the library needs Linux 5.12 or newer.",
        (StepClone, EPERM or EACCES or EINVAL) when config.Has(SandboxNamespaces.User) =>
            "Unprivileged user namespaces look disabled on this host. Enable them (Debian: sysctl kernel.unprivileged_userns_clone=1; Ubuntu 23.10+: sysctl kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for the application; everywhere: user.max_user_namespaces > 0), or run as root. Inside a container, the runtime's seccomp profile may block clone with namespace flags.",
        (StepClone, EPERM) => "Creating namespaces without a user namespace needs root (CAP_SYS_ADMIN).",
        (StepUidMap or StepGidMap or StepSetgroups, EPERM or EINVAL) =>
            "The kernel refused the id mapping: an unprivileged caller can map only its own uid and gid, one id each; ranges need root. Check that no mapping overlaps another.",
        (StepTimeNamespace, EINVAL) => "Time namespaces need Linux 5.6+ (CONFIG_TIME_NS), and an offset must keep the clock non-negative.",
        (StepTimeNamespace, _) => "Drop SandboxNamespaces.Time if this host cannot create time namespaces.",
        (StepRoot or StepMountBind or StepMountTmpfs or StepMountProc or StepMountDev, ENOSYS) => "This kernel lacks the new mount API (open_tree, fsopen, mount_setattr); the library needs Linux 5.12 or newer.",
        (StepRoot, ENOENT or ENOTDIR) => "The root filesystem directory does not exist (any more).",
        (StepMountTarget, EROFS) => "The mount target does not exist and the root filesystem is read-only, so it cannot be created. Create the directory in the root filesystem, or mount under a writable place such as /tmp.",
        (StepMountTarget, ENOENT) => "A component of the mount target is a dangling symbolic link inside the root filesystem; links are resolved inside it, never on the host.",
        (StepMountTarget, 40 /* ELOOP */) => "A symbolic link in the mount target's path loops when resolved inside the root filesystem (for example an absolute link to a host path); links are never followed out to the host.",
        (StepMountTarget, EACCES) => "The sandbox's user (the caller, or the host's nobody for a root caller) cannot search a directory on the way to the target: the root filesystem directory and the directories in it must be searchable by that user (chmod 755), or create the target beforehand.",
        (StepMountTarget, ENOTDIR) => "A component of the mount target is a file, or a directory is mounted onto a file (or the other way round).",
        (StepMountBind, EINVAL) => "In a user namespace the kernel refuses a non-recursive bind of a directory that has mounts below it (it would reveal what they cover): bind it recursively.",
        (StepMountBind, ENOENT) => "The bind mount source disappeared after validation, or is not visible to the sandbox's user.",
        (StepMountProc, EPERM or EBUSY) => "A fresh /proc needs the PID namespace and a host /proc that is fully visible (inside some containers, /proc has masked paths that forbid it). Keep SandboxNamespaces.Pid, or remove the ProcMount.",
        (StepOverlay, EBUSY) => "The persistent directory is in use by another running sandbox: one directory serves one sandbox at a time. Wait for it to end, or give this sandbox a directory of its own.",
        (StepOverlay, EINVAL) => "overlayfs refused the layers: a layer, the writable directory or its work directory may lie on a filesystem overlayfs cannot use (another overlay, NFS), the upper and work directories must be on one filesystem, `dmesg | grep overlay` shows the kernel's reason.",
        (StepOverlay, EPERM or EACCES) => "The sandbox's root user cannot read a layer or write the persistent directory. Layers imported by root are mounted idmapped for a root caller; directories made by another user are not. Check the owners, or map root inside to the directories' owner.",
        (StepOverlay, ENOENT or ENOTDIR) => "A layer or the persistent directory disappeared after validation.",
        (StepOverlay, ENOSYS or 19 /* ENODEV */) => "This kernel has no overlayfs (modprobe overlay), or cannot mount it in a user namespace (Linux 5.11+).",
        (StepIdmapLayers, EINVAL or EPERM or 95 /* EOPNOTSUPP */) => "The filesystem holding the layers does not support idmapped mounts (ext4, xfs and btrfs do, tmpfs from Linux 6.3; overlayfs accepts idmapped layers from 5.19). Keep the image store on such a filesystem, or map root inside to host root with WithUidMappings(new IdMapping(0, 0, 65536)).",
        (StepMountMqueue, EPERM or EINVAL) => "An mqueue filesystem can be mounted only for an IPC namespace the sandbox owns: keep SandboxNamespaces.Ipc.",
        (StepRlimit, EPERM) => "A hard limit can be raised only by a privileged caller: ask for at most the caller's own hard limit (ulimit -H).",
        (StepRlimit, EINVAL) => "The soft limit is above the hard limit, or the value is out of range for this resource.",
        (StepCapabilities, EPERM or EINVAL) => "The kernel does not know one of the capabilities, or refused to keep it; check capabilities(7) for this kernel.",
        (StepSeccomp, EINVAL) => "The kernel refused the filter program (it may lack seccomp filters: CONFIG_SECCOMP_FILTER).",
        (StepSeccomp, EACCES or EPERM) => "Installing a filter without no_new_privs needs CAP_SYS_ADMIN; with AllowNewPrivileges the filter is installed while the command still holds it, so the filter itself denied a later setup step. Allow setgroups, setresuid, capset, prctl and execve in the policy.",
        (StepLandlock, ENOSYS or 95 /* EOPNOTSUPP */) => "This kernel has no Landlock (Linux 5.13+, with landlock in the lsm= boot list). Pass bestEffort: true to run without it, or drop the rules.",
        (StepLandlock, ENOENT or ENOTDIR) => "A Landlock rule names a path that does not exist inside the sandbox.",
        (StepExecJoin, 3 /* ESRCH */) => "The sandbox's command has ended (or is ending): commands can be exec'd only while it runs.",
        (StepExecJoin, 11 /* EAGAIN */) => $"At most {MaxExecs} exec'd commands run at once in one sandbox; wait for some to end.",
        (StepExecJoin, EPERM or EACCES) => "The kernel refused to join the sandbox's namespaces: only the user who started the sandbox (or root) can exec into it.",
        (StepCreate, EROFS) => "The place is read-only: create it under a writable mount (a tmpfs mounted before it, an overlay root, /tmp).",
        (StepCreate, EEXIST) => "Something already exists there (a symlink is never replaced).",
        (StepCreate, 40 /* ELOOP */) => "The target is a symbolic link; files are never written through one.",
        (StepExecNotFound, _) => config.Root.IsHost
            ? "The program does not exist on the host's filesystem as the sandbox sees it. Use an absolute path, or set PATH in the sandbox's environment (WithEnvironmentVariable, or --env PATH=...)."
            : $"The program does not exist inside the root filesystem {config.Root}: paths refer to files inside it. Use an absolute path, or set PATH in the sandbox's environment (WithEnvironmentVariable, or --env PATH=...).",
        (StepExec, EACCES) => "The file is not executable for the sandbox's user, or lies on a noexec mount.",
        (StepExec, ENOENT) => "The program's interpreter or dynamic loader (for example /lib64/ld-linux-x86-64.so.2) is missing inside the sandbox.",
        (StepChdir, ENOENT or ENOTDIR) => $"The working directory {config.WorkingDirectory} does not exist inside the sandbox.",
        (StepChdir, EACCES) => $"The sandbox's user may not enter {config.WorkingDirectory}.",
        (StepSetUser, EINVAL) => "The uid or gid is not mapped in the sandbox's user namespace.",
        (StepCgroup, _) => "The sandbox's cgroup could not be joined: on cgroup v2 the parent must have the controllers delegated and no processes of its own; clone3(CLONE_INTO_CGROUP) needs Linux 5.7.",
        (StepSpecParse, _) => "The library and sandbox-helper come from different builds. Rebuild, or reinstall the package so both match.",
        _ => null,
    };
}
