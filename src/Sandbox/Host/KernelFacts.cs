using System.Collections.Immutable;

namespace Sandboxing.Host;

/// <summary>
/// What the running kernel offers the system calls and namespaces the helper needs, found once
/// per process: a kernel does not change under a running process, and each fact costs a system
/// call or a stat. <see cref="HostRequirements"/> decides with it whether a configuration can run;
/// <see cref="SandboxHost.Probe"/> reports it.
/// </summary>
/// <remarks>
/// The calls are tried, not inferred from the version: distribution kernels backport them
/// (a "5.10" may have mount_setattr), and a container runtime's seccomp filter can hide a call the
/// kernel has (docker's default profile answers clone3 with ENOSYS, so that glibc falls back to clone).
/// </remarks>
internal sealed class KernelFacts
{
    private static readonly Lazy<KernelFacts> s_current = new(Detect);

    /// <summary>The facts of the running kernel, found on first use.</summary>
    public static KernelFacts Current => s_current.Value;

    /// <summary>Each namespace and its name under /proc/self/ns and in the user.max_*_namespaces sysctls.</summary>
    public static ImmutableArray<(SandboxNamespaces Flag, string ProcName, string SysctlName, string Config, Version Since)> NamespaceKinds { get; } =
    [
        (SandboxNamespaces.User, "user", "user", "CONFIG_USER_NS", new(3, 8)),
        (SandboxNamespaces.Pid, "pid", "pid", "CONFIG_PID_NS", new(2, 6, 24)),
        (SandboxNamespaces.Mount, "mnt", "mnt", "always built in", new(2, 4, 19)),
        (SandboxNamespaces.Network, "net", "net", "CONFIG_NET_NS", new(2, 6, 29)),
        (SandboxNamespaces.Uts, "uts", "uts", "CONFIG_UTS_NS", new(2, 6, 19)),
        (SandboxNamespaces.Ipc, "ipc", "ipc", "CONFIG_IPC_NS", new(2, 6, 19)),
        (SandboxNamespaces.Cgroup, "cgroup", "cgroup", "CONFIG_CGROUPS", new(4, 6)),
        (SandboxNamespaces.Time, "time", "time", "CONFIG_TIME_NS", new(5, 6)),
    ];

    public string? Release { get; init; }
    public Version? Version { get; init; }

    /// <summary>errno of each probe: 0 or anything but ENOSYS means the call is there.</summary>
    public int Clone3Errno { get; init; }
    public int PidfdOpenErrno { get; init; }
    public int WaitidPidfdErrno { get; init; }
    public int Openat2Errno { get; init; }
    public int MountSetattrErrno { get; init; }

    /// <summary>Namespaces this kernel has (/proc/self/ns/NAME exists) and may create (user.max_NAME_namespaces is not 0).</summary>
    public SandboxNamespaces Namespaces { get; init; }

    /// <summary>Namespaces disabled by a user.max_NAME_namespaces of 0, though the kernel has them.</summary>
    public SandboxNamespaces NamespacesDisabledBySysctl { get; init; }

    /// <summary>Seccomp: Seccomp and Seccomp_filters of /proc/self/status (the filters this process already runs under).</summary>
    public int SelfSeccompMode { get; init; }
    public int SelfSeccompFilters { get; init; }

    public bool HasClone3 => Clone3Errno != HostNative.ENOSYS;
    public bool HasPidfdOpen => PidfdOpenErrno != HostNative.ENOSYS;
    public bool HasWaitidPidfd => WaitidPidfdErrno != HostNative.EINVAL && WaitidPidfdErrno != HostNative.ENOSYS;
    public bool HasOpenat2 => Openat2Errno != HostNative.ENOSYS;
    public bool HasMountSetattr => MountSetattrErrno != HostNative.ENOSYS;

    /// <summary>Whether this kernel's version is at least <paramref name="major"/>.<paramref name="minor"/> (unknown versions count as new enough: the calls themselves were tried).</summary>
    public bool AtLeast(int major, int minor) => Version is null || Version >= new Version(major, minor);

    /// <summary>"Linux 6.1.0-18-amd64", or "this kernel" when procfs is unreadable.</summary>
    public string Describe() => Release is null ? "this kernel" : $"Linux {Release}";

    /// <summary>
    /// Why a call the kernel should have is missing: a version at or past the one that added it
    /// means a seccomp filter (a container runtime's) answers ENOSYS for it.
    /// </summary>
    public string WhyMissing(string call, int major, int minor) =>
        Version is { } v && v >= new Version(major, minor)
            ? $"{call} fails with ENOSYS although {Describe()} has it (Linux {major}.{minor}+): a seccomp filter on this process hides it"
              + (SelfSeccompMode == 2 ? $" (this process runs under {SelfSeccompFilters} seccomp filter(s), a container runtime's)" : "")
            : $"{Describe()} lacks {call} (Linux {major}.{minor}+)";

    private static KernelFacts Detect()
    {
        string? release = KernelRelease.Current();
        var namespaces = SandboxNamespaces.None;
        var disabled = SandboxNamespaces.None;
        foreach (var (flag, procName, sysctl, _, _) in NamespaceKinds)
        {
            if (!File.Exists($"/proc/self/ns/{procName}"))
                continue;
            if (ProcFiles.ReadLong($"/proc/sys/user/max_{sysctl}_namespaces") == 0)
                disabled |= flag;
            else
                namespaces |= flag;
        }
        var status = ProcFiles.ReadStatus();
        return new KernelFacts
        {
            Release = release,
            Version = KernelRelease.Parse(release),
            Clone3Errno = HostNative.ProbeClone3(),
            PidfdOpenErrno = HostNative.ProbePidfdOpen(),
            WaitidPidfdErrno = HostNative.ProbeWaitidPidfd(),
            Openat2Errno = HostNative.ProbeOpenat2(),
            MountSetattrErrno = HostNative.ProbeMountSetattr(),
            Namespaces = namespaces,
            NamespacesDisabledBySysctl = disabled,
            SelfSeccompMode = status.TryGetValue("Seccomp", out var mode) && int.TryParse(mode, out int m) ? m : -1,
            SelfSeccompFilters = status.TryGetValue("Seccomp_filters", out var filters) && int.TryParse(filters, out int f) ? f : 0,
        };
    }
}

/// <summary>Small, forgiving readers for procfs and sysfs values: a missing or unreadable file is <see langword="null"/>.</summary>
internal static class ProcFiles
{
    public static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static long? ReadLong(string path) =>
        long.TryParse(Read(path), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long value) ? value : null;

    /// <summary>/proc/self/status as name -> value (tabs and spaces trimmed).</summary>
    public static IReadOnlyDictionary<string, string> ReadStatus() => ParseStatus(Read("/proc/self/status"));

    public static IReadOnlyDictionary<string, string> ParseStatus(string? text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in (text ?? "").Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon > 0)
                fields[line[..colon]] = line[(colon + 1)..].Trim();
        }
        return fields;
    }
}
