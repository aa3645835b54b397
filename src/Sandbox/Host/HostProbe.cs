using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Sandboxing.Cgroups;
using Sandboxing.Helper;

namespace Sandboxing.Host;

/// <summary>
/// Finds each fact of a <see cref="HostReport"/>: procfs and sysfs reads, a few system calls
/// that change nothing (<see cref="KernelFacts"/>), and one <c>mkdir</c>/<c>rmdir</c> per cgroup
/// hierarchy under this process's own cgroup. Nothing is spawned here.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class HostProbe
{
    private const int EPERM = 1, EACCES = 13, EROFS = 30;

    public static HostReport Run()
    {
        var k = KernelFacts.Current;
        uint euid = HostNative.geteuid();
        var (helper, helperPath) = Helper();
        var (mode, cgroups, controllers) = Cgroups();
        return new HostReport(
            operatingSystem: RuntimeInformation.OSDescription,
            kernelRelease: k.Release,
            kernelVersion: k.Version,
            architecture: RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(),
            effectiveUid: euid,
            kernel: Kernel(k),
            helper: helper,
            helperPath: helperPath,
            privilegedUserNamespaces: PrivilegedUserNamespaces(),
            unprivilegedUserNamespaces: UnprivilegedUserNamespaces(k),
            namespaces: Namespaces(k),
            cgroupMode: mode,
            cgroups: cgroups,
            cgroupControllers: controllers,
            seccomp: Seccomp(k),
            landlock: Landlock(out int? abi),
            landlockAbi: abi,
            overlayfs: Overlayfs(k, out bool overlay),
            overlayfsInUserNamespace: OverlayfsInUserNamespace(k, overlay),
            idmappedMounts: IdmappedMounts(k),
            mountApi: MountApi(k),
            pidfd: Pidfd(k),
            clone3: Clone3(k),
            cloneIntoCgroup: CloneIntoCgroup(k, mode));
    }

    private static HostFeature Kernel(KernelFacts k)
    {
        string floors = $"a sandbox needs Linux {SandboxHost.MinimumKernel} (clone3, pidfd_open, waitid P_PIDFD), one with a mount namespace (the default) {SandboxHost.MinimumKernelWithMountNamespace} (openat2, mount_setattr)";
        if (HostRequirements.Problem(new SandboxConfiguration { Namespaces = SandboxNamespaces.None }) is { } basic)
            return new("kernel", false, basic, "Run a newer kernel (docs/host-support.md).");
        if (!k.HasOpenat2 || !k.HasMountSetattr)
            return new("kernel", false, $"{k.Describe()} can run sandboxes only without a mount namespace; {floors}.",
                $"Run Linux {SandboxHost.MinimumKernelWithMountNamespace} or newer, or use WithoutNamespaces(SandboxNamespaces.Mount).WithoutDefaultMounts().");
        return new("kernel", true, $"{k.Describe()}; {floors}.");
    }

    private static (HostFeature Feature, string? Path) Helper()
    {
        string path;
        try
        {
            path = HelperLocator.Path;
        }
        catch (SandboxException e)
        {
            return (new("helper", false, e.Message.Split(" Hint:")[0], e.Hint), null);
        }
        int expected = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 183 : 62; // EM_AARCH64, EM_X86_64
        try
        {
            Span<byte> header = stackalloc byte[20];
            using (var file = File.OpenRead(path))
                file.ReadExactly(header);
            if (header[0] != 0x7F || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F')
                return (new("helper", false, $"{path} is not an ELF executable.", $"Rebuild the Sandbox project, or point {HelperLocator.PathVariable} at sandbox-helper."), path);
            int machine = header[18] | header[19] << 8;
            if (machine != expected)
                return (new("helper", false, $"{path} is built for another architecture (ELF machine {machine}, this process needs {expected}).",
                    $"Use the runtimes/linux-{(expected == 183 ? "arm64" : "x64")}/native helper of the package, or rebuild on this machine."), path);
            var mode = File.GetUnixFileMode(path);
            if ((mode & UnixFileMode.UserExecute) == 0)
                return (new("helper", false, $"{path} is not executable.", $"chmod +x {path}"), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (new("helper", false, $"{path} cannot be read: {e.Message}", $"Check its permissions, or set {HelperLocator.PathVariable}."), path);
        }
        return (new("helper", true, $"sandbox-helper at {path}, built for this architecture."), path);
    }

    // ---- user namespaces -----------------------------------------------------------------

    private static HostFeature PrivilegedUserNamespaces()
    {
        if (!File.Exists("/proc/self/ns/user"))
            return new("userns.privileged", false, "The kernel has no user namespaces (CONFIG_USER_NS).", "Run a kernel built with CONFIG_USER_NS, or run without one: WithoutNamespaces(SandboxNamespaces.User).");
        long? max = ProcFiles.ReadLong("/proc/sys/user/max_user_namespaces");
        if (max == 0)
            return new("userns.privileged", false, "The sysctl user.max_user_namespaces is 0: nobody may create user namespaces.", "sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d to keep it).");
        return new("userns.privileged", true, $"A process with CAP_SYS_ADMIN (root) may create user namespaces: user.max_user_namespaces is {max?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unset"}.");
    }

    private static HostFeature UnprivilegedUserNamespaces(KernelFacts k)
    {
        const string Name = "userns.unprivileged";
        var privileged = PrivilegedUserNamespaces();
        if (!privileged.Supported)
            return privileged with { Name = Name };
        // Debian's and older Ubuntu's own switch (absent upstream; 1 by default since Debian 11).
        if (ProcFiles.ReadLong("/proc/sys/kernel/unprivileged_userns_clone") == 0)
            return new(Name, false, "The sysctl kernel.unprivileged_userns_clone is 0: only root may create user namespaces.",
                "sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d), or run as root.");
        // Ubuntu 23.10+: an unprivileged process gets a user namespace without capabilities
        // unless its AppArmor profile says "userns,", so the helper fails writing the id maps.
        if (ProcFiles.ReadLong("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1
            && ProcFiles.Read("/sys/module/apparmor/parameters/enabled") is "Y" or null)
            return new(Name, false,
                "The sysctl kernel.apparmor_restrict_unprivileged_userns is 1 (Ubuntu 23.10+): an unprivileged program gets a user namespace without capabilities unless its AppArmor profile allows 'userns'.",
                "Give the application (or sandbox-helper) an AppArmor profile with 'userns,' (docs/host-support.md), or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0.");
        string filtered = k.SelfSeccompMode == 2
            ? $" This process runs under {k.SelfSeccompFilters} seccomp filter(s) (a container runtime's?), which may still refuse; SandboxHost.ProbeAsync tries one."
            : "";
        return new(Name, true, "No sysctl restricts them (user.max_user_namespaces, kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)." + filtered);
    }

    private static ImmutableArray<HostFeature> Namespaces(KernelFacts k)
    {
        var features = ImmutableArray.CreateBuilder<HostFeature>();
        foreach (var (flag, procName, sysctl, config, since) in KernelFacts.NamespaceKinds)
        {
            string name = "ns." + flag.ToString().ToLowerInvariant();
            if (!File.Exists($"/proc/self/ns/{procName}"))
            {
                features.Add(new(name, false, $"{k.Describe()} has no /proc/self/ns/{procName} (Linux {since}+, {config}).",
                    $"Run without it: WithoutNamespaces(SandboxNamespaces.{flag})."));
                continue;
            }
            long? max = ProcFiles.ReadLong($"/proc/sys/user/max_{sysctl}_namespaces");
            features.Add(max == 0
                ? new(name, false, $"The sysctl user.max_{sysctl}_namespaces is 0.", $"sysctl -w user.max_{sysctl}_namespaces=15000, or WithoutNamespaces(SandboxNamespaces.{flag}).")
                : new(name, true, $"/proc/self/ns/{procName} exists" + (max is { } m ? $"; user.max_{sysctl}_namespaces is {m}." : ".")));
        }
        return features.ToImmutable();
    }

    // ---- cgroups -------------------------------------------------------------------------

    private static (CgroupMode, HostFeature, ImmutableArray<HostCgroupController>) Cgroups()
    {
        CgroupHost host;
        try
        {
            host = CgroupHost.Current;
        }
        catch (FormatException e)
        {
            return (CgroupMode.None, new("cgroups", false, $"/proc/self/cgroup or /proc/self/mountinfo could not be parsed: {e.Message}"), []);
        }
        var fs = LinuxCgroupFileSystem.Instance;
        var mkdirResults = new Dictionary<string, ChildFailure?>(StringComparer.Ordinal); // directory -> null when a child could be made
        var controllers = ImmutableArray.CreateBuilder<HostCgroupController>();
        foreach (var (name, hierarchy) in host.Controllers.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            string dir = hierarchy.Directory;
            if (!mkdirResults.TryGetValue(dir, out ChildFailure? mkdirError))
                mkdirResults[dir] = mkdirError = TryCreateChild(fs, dir);
            controllers.Add(Controller(fs, name, hierarchy, mkdirError));
        }

        string summary = host.Mode switch
        {
            CgroupMode.Unified => $"cgroup v2 at {host.Unified!.MountPoint}; this process's cgroup offers [{string.Join(' ', host.Unified.AvailableControllers)}].",
            CgroupMode.Legacy => $"cgroup v1: controllers on {host.Hierarchies.Count(h => h.Version == CgroupVersion.V1)} hierarchies.",
            CgroupMode.Hybrid => $"hybrid: v1 controllers, and cgroup2 at {host.Unified!.MountPoint} with [{string.Join(' ', host.Unified.RootControllers)}] (used for cgroup.kill and cgroup.freeze).",
            _ => "No usable cgroup hierarchy is mounted where this process can see it." + (host.Notes.Count > 0 ? " " + string.Join(" ", host.Notes) : ""),
        };
        if (host.Unified is { } unified && host.Mode == CgroupMode.Hybrid)
        {
            if (!mkdirResults.TryGetValue(unified.Directory, out ChildFailure? error))
                error = TryCreateChild(fs, unified.Directory);
            summary += error is null ? $" A child cgroup can be made in {unified.Directory}." : $" No child cgroup can be made in {unified.Directory}: {error.Message}.";
        }
        var feature = host.Mode == CgroupMode.None
            ? new HostFeature("cgroups", false, summary, "Limits need cgroups: mount cgroup2 at /sys/fs/cgroup, or run without limits.")
            : new HostFeature("cgroups", true, summary);
        return (host.Mode, feature, controllers.ToImmutable());
    }

    /// <summary>
    /// The only reliable delegation test is the kernel's own: make a child cgroup under this
    /// process's cgroup and remove it at once. Named with the library's prefix, so a crash in
    /// between leaves something <see cref="Sandbox.RemoveStaleCgroups(Cgroups.CgroupPlacement?)"/> removes.
    /// </summary>
    /// <returns><see langword="null"/> when it worked, else the error.</returns>
    private static ChildFailure? TryCreateChild(ICgroupFileSystem fs, string directory)
    {
        string child = Path.Combine(directory, $"{SandboxCgroups.NamePrefix}probe-{Environment.ProcessId}-{Random.Shared.Next(100000, 999999)}");
        try
        {
            fs.CreateDirectory(child);
        }
        catch (CgroupWriteException e)
        {
            return new(e.Message, e.ErrorNumber);
        }
        try
        {
            fs.RemoveDirectory(child);
        }
        catch (CgroupWriteException e)
        {
            return new($"made {child} but could not remove it ({e.Message})", e.ErrorNumber);
        }
        return null;
    }

    private sealed record ChildFailure(string Message, int Errno);

    private static HostCgroupController Controller(ICgroupFileSystem fs, string name, CgroupHierarchy hierarchy, ChildFailure? mkdirError)
    {
        string dir = hierarchy.Directory;
        if (mkdirError is not null)
        {
            string? hint = mkdirError.Errno is EPERM or EACCES or EROFS
                ? "Run as root, or in a cgroup delegated to this user (systemd: Delegate=yes, or systemd-run --user --scope -p Delegate=yes); in a container, mount its cgroup writable."
                : null;
            return new(name, hierarchy.Version, dir, false, $"No child cgroup can be made in {dir}: {mkdirError.Message}.", hint);
        }
        if (hierarchy.Version == CgroupVersion.V1)
            return new(name, CgroupVersion.V1, dir, true, $"A child cgroup can be made in {dir}.");

        // cgroup v2: a child gets the controller only when the parent enables it in
        // cgroup.subtree_control, which a non-root cgroup holding processes may not do.
        string subtree = ReadOr(fs, Path.Combine(dir, "cgroup.subtree_control"));
        if (subtree.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(name))
            return new(name, CgroupVersion.V2, dir, true, $"Enabled for children in {dir}/cgroup.subtree_control.");
        bool isRoot = hierarchy.PathInMount == "/" && hierarchy.MountRoot == "/";
        bool hasProcesses = ReadOr(fs, Path.Combine(dir, "cgroup.procs")).Length > 0;
        if (isRoot || !hasProcesses)
            return new(name, CgroupVersion.V2, dir, true, $"Not yet enabled for children in {dir}; the library enables it in cgroup.subtree_control when a limit needs it.");
        return new(name, CgroupVersion.V2, dir, false,
            $"{dir} holds processes (this one among them), and cgroup v2 lets such a cgroup enable controllers for children only at the root (the no-internal-processes rule).",
            "Use CgroupPlacement.MoveCallerToLeaf (CLI: --cgroup-move-to-leaf), a delegated parent (CgroupPlacement.ParentDirectory, --cgroup-parent), or start in a scope: systemd-run --scope -p Delegate=yes.");
    }

    private static string ReadOr(ICgroupFileSystem fs, string path)
    {
        try
        {
            return fs.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    // ---- the rest of the kernel ------------------------------------------------------------

    private static HostFeature Seccomp(KernelFacts k)
    {
        int errno = HostNative.ProbeSeccompFilter();
        string self = k.SelfSeccompMode == 2 ? $" This process already runs under {k.SelfSeccompFilters} filter(s); the sandbox's is added to them." : "";
        if (errno != 0)
            return new("seccomp", false, $"seccomp(SECCOMP_GET_ACTION_AVAIL) fails: {HostNative.ErrnoText(errno)} (filter mode needs CONFIG_SECCOMP_FILTER)." + self,
                "Run without a filter: WithoutSeccomp() (CLI: --security-opt seccomp=unconfined).");
        string actions = ProcFiles.Read("/proc/sys/kernel/seccomp/actions_avail") ?? "";
        var available = actions.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var missing = new[] { "errno", "kill_process", "allow" }.Where(a => !available.Contains(a)).ToArray();
        if (available.Length > 0 && missing.Length > 0)
            return new("seccomp", false, $"Filter mode is there, but the actions [{string.Join(' ', missing)}] are not (actions_avail: {actions})." + self,
                "Run a kernel of Linux 4.14 or newer, or WithoutSeccomp().");
        return new("seccomp", true, $"Filter mode is available; actions: {(actions.Length > 0 ? actions : "unknown")}." + self);
    }

    private static HostFeature Landlock(out int? abi)
    {
        int r = HostNative.LandlockAbi();
        abi = r > 0 ? r : null;
        return r switch
        {
            > 0 => new("landlock", true, $"Landlock ABI {r}."),
            -HostNative.EOPNOTSUPP => new("landlock", false, "Landlock is built in but not enabled at boot.",
                "Add landlock to the lsm= kernel parameter (cat /sys/kernel/security/lsm shows the current list), or pass bestEffort: true to WithLandlock."),
            -HostNative.ENOSYS => new("landlock", false, "The kernel has no Landlock (Linux 5.13+, CONFIG_SECURITY_LANDLOCK), or a seccomp filter hides it.",
                "Run a newer kernel, or pass bestEffort: true to WithLandlock to run without it."),
            _ => new("landlock", false, $"landlock_create_ruleset fails: {HostNative.ErrnoText(-r)}."),
        };
    }

    private static HostFeature Overlayfs(KernelFacts k, out bool available)
    {
        string filesystems = ProcFiles.Read("/proc/filesystems") ?? "";
        if (filesystems.Split('\n').Any(l => l.Split('\t')[^1].Trim() == "overlay"))
        {
            available = true;
            return new("overlayfs", true, "overlay is in /proc/filesystems.");
        }
        string modules = $"/lib/modules/{k.Release}/kernel/fs/overlayfs";
        available = k.Release is not null && Directory.Exists(modules) && Directory.EnumerateFiles(modules, "overlay.ko*").Any();
        return available
            ? new("overlayfs", true, $"Not loaded yet; the module is in {modules} and loads on first use.")
            : new("overlayfs", false, "overlay is neither in /proc/filesystems nor a module of this kernel.", "modprobe overlay; image roots (WithImage, WithOverlayRoot) need it.");
    }

    private static HostFeature OverlayfsInUserNamespace(KernelFacts k, bool overlay)
    {
        if (!overlay)
            return new("overlayfs.userns", false, "There is no overlayfs.", "modprobe overlay.");
        // Mountable in a user namespace since Linux 5.11 (upstream; Ubuntu's kernels allowed it earlier).
        return k.AtLeast(5, 11)
            ? new("overlayfs.userns", true, $"{k.Describe()} mounts overlayfs in a user namespace (Linux 5.11+), with userxattr.")
            : new("overlayfs.userns", false, $"{k.Describe()} predates Linux 5.11, which allows overlayfs in a user namespace.", "Run a newer kernel for image roots.");
    }

    private static HostFeature IdmappedMounts(KernelFacts k)
    {
        if (!k.HasMountSetattr || !k.AtLeast(5, 12))
            return new("idmapped-mounts", false, $"{k.Describe()} has no mount_setattr(MOUNT_ATTR_IDMAP) (Linux 5.12+).",
                "A root caller's image roots need them; run a newer kernel, or run images with WithUidMappings that map root inside to root outside.");
        string store = Images.ImageStore.DefaultRootDirectory;
        string? existing = store;
        while (existing is not null && !Directory.Exists(existing))
            existing = Path.GetDirectoryName(existing);
        long magic;
        try
        {
            magic = existing is null ? 0 : LinuxCgroupFileSystem.Instance.GetFileSystemType(existing);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            magic = 0;
        }
        var (fsName, since) = IdmapSupport(magic);
        if (fsName is null)
            return new("idmapped-mounts", true, $"mount_setattr(MOUNT_ATTR_IDMAP) is available; whether the filesystem of {store} (type 0x{magic:x}) supports idmapped mounts is decided at mount time.");
        if (since is null || !k.AtLeast(since.Major, since.Minor))
            return new("idmapped-mounts", false, $"The image store {store} is on {fsName}, which {(since is null ? "does not support idmapped mounts" : $"supports idmapped mounts only from Linux {since}")}.",
                "Keep the image store (SANDBOX_IMAGE_STORE) on ext4, xfs or btrfs; a root caller's image roots need idmapped layers.");
        return new("idmapped-mounts", true, $"mount_setattr(MOUNT_ATTR_IDMAP) is available, and the image store {store} is on {fsName} (idmapped mounts since Linux {since}).");
    }

    /// <summary>Filesystems by statfs magic, and the kernel that gave them idmapped mounts.</summary>
    private static (string? Name, Version? Since) IdmapSupport(long magic) => magic switch
    {
        0xEF53 => ("ext4", new(5, 12)),
        0x58465342 => ("xfs", new(5, 12)),
        0x4d44 => ("vfat", new(5, 12)),
        0x9123683E => ("btrfs", new(5, 15)),
        0xF2F52010 => ("f2fs", new(5, 18)),
        0x01021994 => ("tmpfs", new(6, 3)),
        0x794c7630 => ("overlayfs", new(5, 19)),
        0x6969 => ("nfs", null),
        0x65735546 => ("fuse", new(6, 12)),
        _ => (null, null),
    };

    private static HostFeature MountApi(KernelFacts k) =>
        k.HasOpenat2 && k.HasMountSetattr
            ? new("mount-api", true, "open_tree, fsopen, move_mount, openat2 and mount_setattr are available.")
            : new("mount-api", false, !k.HasMountSetattr ? k.WhyMissing("mount_setattr", 5, 12) + "." : k.WhyMissing("openat2", 5, 6) + ".",
                "A mount namespace needs them: run a newer kernel, or WithoutNamespaces(SandboxNamespaces.Mount).WithoutDefaultMounts().");

    private static HostFeature Pidfd(KernelFacts k) =>
        !k.HasPidfdOpen ? new("pidfd", false, k.WhyMissing("pidfd_open", 5, 3) + ".", "Run Linux 5.4 or newer.")
        : !k.HasWaitidPidfd ? new("pidfd", false, $"{k.Describe()} lacks waitid(P_PIDFD) (Linux 5.4+).", "Run Linux 5.4 or newer.")
        : new("pidfd", true, "pidfd_open and waitid(P_PIDFD) are available.");

    private static HostFeature Clone3(KernelFacts k) =>
        k.HasClone3
            ? new("clone3", true, "clone3 is available.")
            : new("clone3", false, k.WhyMissing("clone3", 5, 3) + ".", "Run Linux 5.3 or newer; in docker, allow clone3 in the seccomp profile (docs/host-support.md).");

    private static HostFeature CloneIntoCgroup(KernelFacts k, CgroupMode mode)
    {
        if (!k.HasClone3)
            return new("clone-into-cgroup", false, "There is no clone3.");
        if (!k.AtLeast(5, 7))
            return new("clone-into-cgroup", false, $"{k.Describe()} predates CLONE_INTO_CGROUP (Linux 5.7).",
                mode is CgroupMode.Unified or CgroupMode.Hybrid ? "Limits on this host's cgroup v2 hierarchy need it: run a newer kernel." : null);
        return new("clone-into-cgroup", true, mode is CgroupMode.Unified or CgroupMode.Hybrid
            ? "CLONE_INTO_CGROUP (Linux 5.7) puts a sandbox into its cgroup v2 cgroup before it runs."
            : "CLONE_INTO_CGROUP (Linux 5.7) is available (this host's v1 cgroups are joined by the helper instead).");
    }
}
