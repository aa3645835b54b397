using System.Collections.Immutable;
using Sandboxing.Cgroups;

namespace Sandboxing;

/// <summary>
/// What this host offers sandboxes, and why something is missing: the kernel, the helper, user
/// namespaces, each namespace, cgroups per controller, seccomp, Landlock, overlayfs, idmapped
/// mounts and the process-handling calls. Immutable; made by <see cref="SandboxHost.Probe"/>.
/// </summary>
public sealed class HostReport
{
    internal HostReport(
        string operatingSystem, string? kernelRelease, Version? kernelVersion, string architecture, uint effectiveUid,
        HostFeature kernel, HostFeature helper, string? helperPath,
        HostFeature privilegedUserNamespaces, HostFeature unprivilegedUserNamespaces, ImmutableArray<HostFeature> namespaces,
        CgroupMode cgroupMode, HostFeature cgroups, ImmutableArray<HostCgroupController> cgroupControllers,
        HostFeature seccomp, HostFeature landlock, int? landlockAbi, HostFeature overlayfs, HostFeature overlayfsInUserNamespace,
        HostFeature idmappedMounts, HostFeature mountApi, HostFeature pidfd, HostFeature clone3, HostFeature cloneIntoCgroup)
    {
        OperatingSystem = operatingSystem;
        KernelRelease = kernelRelease;
        KernelVersion = kernelVersion;
        Architecture = architecture;
        EffectiveUid = effectiveUid;
        Kernel = kernel;
        Helper = helper;
        HelperPath = helperPath;
        PrivilegedUserNamespaces = privilegedUserNamespaces;
        UnprivilegedUserNamespaces = unprivilegedUserNamespaces;
        Namespaces = namespaces;
        CgroupMode = cgroupMode;
        Cgroups = cgroups;
        CgroupControllers = cgroupControllers;
        Seccomp = seccomp;
        Landlock = landlock;
        LandlockAbi = landlockAbi;
        Overlayfs = overlayfs;
        OverlayfsInUserNamespace = overlayfsInUserNamespace;
        IdmappedMounts = idmappedMounts;
        MountApi = mountApi;
        Pidfd = pidfd;
        Clone3 = clone3;
        CloneIntoCgroup = cloneIntoCgroup;
    }

    /// <summary>The operating system, as the runtime describes it (<c>Linux 6.1.0-18-amd64 #1 SMP ...</c>).</summary>
    public string OperatingSystem { get; }

    /// <summary>The kernel's release string (<c>/proc/sys/kernel/osrelease</c>), or <see langword="null"/> when unreadable.</summary>
    public string? KernelRelease { get; }

    /// <summary>The kernel's major.minor.patch, or <see langword="null"/> when the release does not start with one.</summary>
    public Version? KernelVersion { get; }

    /// <summary>This process's architecture (<c>x64</c>, <c>arm64</c>).</summary>
    public string Architecture { get; }

    /// <summary>This process's effective uid: what is possible depends on it (root may create cgroups and privileged user namespaces).</summary>
    public uint EffectiveUid { get; }

    /// <summary>Whether the kernel has the system calls a default sandbox needs (<see cref="SandboxHost.MinimumKernelWithMountNamespace"/>).</summary>
    public HostFeature Kernel { get; }

    /// <summary>Whether <c>sandbox-helper</c> was found, is executable and is built for this architecture.</summary>
    public HostFeature Helper { get; }

    /// <summary>Where the helper was found, or <see langword="null"/>.</summary>
    public string? HelperPath { get; }

    /// <summary>Whether a process with CAP_SYS_ADMIN (root) may create user namespaces.</summary>
    public HostFeature PrivilegedUserNamespaces { get; }

    /// <summary>
    /// Whether an unprivileged process may create user namespaces (the sysctls
    /// <c>user.max_user_namespaces</c>, Debian's <c>kernel.unprivileged_userns_clone</c>, Ubuntu's
    /// <c>kernel.apparmor_restrict_unprivileged_userns</c>).
    /// </summary>
    public HostFeature UnprivilegedUserNamespaces { get; }

    /// <summary>One entry per namespace type (<c>ns.user</c>, <c>ns.pid</c>, <c>ns.mount</c>, <c>ns.network</c>, <c>ns.uts</c>, <c>ns.ipc</c>, <c>ns.cgroup</c>, <c>ns.time</c>).</summary>
    public ImmutableArray<HostFeature> Namespaces { get; }

    /// <summary>How this process's cgroup hierarchies are laid out.</summary>
    public CgroupMode CgroupMode { get; }

    /// <summary>Whether a usable cgroup hierarchy exists, with a summary of the layout.</summary>
    public HostFeature Cgroups { get; }

    /// <summary>Each controller the host offers this process, its version, and whether sandbox cgroups can have it.</summary>
    public ImmutableArray<HostCgroupController> CgroupControllers { get; }

    /// <summary>Whether seccomp filter mode, and the actions the library's filters use, are available.</summary>
    public HostFeature Seccomp { get; }

    /// <summary>Whether Landlock is available (see <see cref="LandlockAbi"/>).</summary>
    public HostFeature Landlock { get; }

    /// <summary>The Landlock ABI version, or <see langword="null"/> without Landlock.</summary>
    public int? LandlockAbi { get; }

    /// <summary>Whether overlayfs is available (image and overlay roots).</summary>
    public HostFeature Overlayfs { get; }

    /// <summary>Whether overlayfs can be mounted inside a user namespace, as the sandbox's init does (Linux 5.11).</summary>
    public HostFeature OverlayfsInUserNamespace { get; }

    /// <summary>Whether idmapped mounts work for the default image store's filesystem (a root caller's image roots use them).</summary>
    public HostFeature IdmappedMounts { get; }

    /// <summary>Whether the fd-based mount API a mount namespace needs is there (open_tree, fsopen, openat2, mount_setattr).</summary>
    public HostFeature MountApi { get; }

    /// <summary>Whether pidfd_open and waitid(P_PIDFD) are available.</summary>
    public HostFeature Pidfd { get; }

    /// <summary>Whether clone3 is available (a seccomp filter such as docker's default hides it).</summary>
    public HostFeature Clone3 { get; }

    /// <summary>Whether clone3's CLONE_INTO_CGROUP (Linux 5.7) is available, which cgroup v2 limits use.</summary>
    public HostFeature CloneIntoCgroup { get; }

    /// <summary>Every feature, in the order a report lists them.</summary>
    public IEnumerable<HostFeature> Features =>
        [Kernel, Helper, PrivilegedUserNamespaces, UnprivilegedUserNamespaces, .. Namespaces, Cgroups, Seccomp, Landlock,
         Overlayfs, OverlayfsInUserNamespace, IdmappedMounts, MountApi, Pidfd, Clone3, CloneIntoCgroup];

    /// <summary>The feature named <paramref name="name"/> (see <see cref="HostFeature.Name"/>), or <see langword="null"/>.</summary>
    /// <param name="name">A name such as <c>userns.unprivileged</c> or <c>ns.time</c>.</param>
    /// <returns>The feature, or <see langword="null"/> when there is none of that name.</returns>
    public HostFeature? Find(string name) => Features.FirstOrDefault(f => f.Name == name);

    /// <summary>
    /// Whether this process can run a default sandbox here: the kernel and the helper are fit,
    /// and it may create user namespaces (privileged ones as root, unprivileged ones otherwise).
    /// </summary>
    public bool CanRunSandboxes =>
        Kernel.Supported && Helper.Supported && Namespaces.All(n => n.Supported)
        && (EffectiveUid == 0 ? PrivilegedUserNamespaces : UnprivilegedUserNamespaces).Supported;

    internal HostReport WithUserNamespaceTrial(HostFeature result) => EffectiveUid == 0
        ? new(OperatingSystem, KernelRelease, KernelVersion, Architecture, EffectiveUid, Kernel, Helper, HelperPath, result, UnprivilegedUserNamespaces, Namespaces,
            CgroupMode, Cgroups, CgroupControllers, Seccomp, Landlock, LandlockAbi, Overlayfs, OverlayfsInUserNamespace, IdmappedMounts, MountApi, Pidfd, Clone3, CloneIntoCgroup)
        : new(OperatingSystem, KernelRelease, KernelVersion, Architecture, EffectiveUid, Kernel, Helper, HelperPath, PrivilegedUserNamespaces, result, Namespaces,
            CgroupMode, Cgroups, CgroupControllers, Seccomp, Landlock, LandlockAbi, Overlayfs, OverlayfsInUserNamespace, IdmappedMounts, MountApi, Pidfd, Clone3, CloneIntoCgroup);

    /// <summary>One line per feature and controller, for logs.</summary>
    /// <returns>The report as text.</returns>
    public override string ToString()
    {
        var text = new System.Text.StringBuilder();
        text.Append(OperatingSystem).Append(" (").Append(Architecture).Append(", euid ").Append(EffectiveUid).Append(")\n");
        foreach (var feature in Features)
            text.Append(feature).Append('\n');
        foreach (var c in CgroupControllers)
            text.Append("cgroup ").Append(c.Name).Append(" (v").Append((int)c.Version).Append("): ").Append(c.CanDelegate ? "yes" : "no").Append(" (").Append(c.Reason).Append(")\n");
        return text.ToString();
    }
}
