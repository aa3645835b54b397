namespace Sandboxing.Cgroups;

/// <summary>
/// Where a sandbox's cgroup goes. Without one (or with the defaults) it is made directly under
/// the calling process's own cgroup in every hierarchy.
/// </summary>
public sealed record CgroupPlacement
{
    /// <summary>
    /// cgroup v2 only: an existing cgroup directory in the unified hierarchy to make the cgroup
    /// in, such as one delegated to this service; <see langword="null"/> for the caller's own
    /// cgroup. On v1 and hybrid hosts cgroups are always made under the caller's own cgroup in
    /// each hierarchy, and setting this is an error.
    /// </summary>
    public string? ParentDirectory { get; init; }

    /// <summary>
    /// cgroup v2 only: when the parent cgroup holds processes (so, by the "no internal processes"
    /// rule, cannot enable controllers for children), first move this process, and only it, into a
    /// leaf cgroup <c>sandbox-host</c> beside the sandboxes. v1 has no such rule, so it is ignored there.
    /// </summary>
    public bool MoveCallerToLeaf { get; init; }
}

/// <summary>
/// Makes the cgroup for one sandbox with the backend that fits the host: v2 on a unified host,
/// v1 on a legacy one, and on a hybrid host v1 for the controllers plus the unified hierarchy
/// for cgroup.kill and cgroup.freeze.
/// </summary>
public static class CgroupFactory
{
    /// <summary>Makes a cgroup named <paramref name="name"/> with <paramref name="limits"/> written.</summary>
    /// <param name="host">The detected layout, usually <see cref="CgroupHost.Current"/>.</param>
    /// <param name="name">The cgroup's name, one path component; unique among the caller's sandboxes.</param>
    /// <param name="limits">The limits (an empty <see cref="CgroupLimits"/> for none: statistics and kill still work).</param>
    /// <param name="placement">Where to put it; <see langword="null"/> for under the caller's own cgroup.</param>
    /// <param name="fs">Where cgroupfs is read and written; <see langword="null"/> for the real one.</param>
    /// <returns>The cgroup, empty: write the sandbox's first process into every <see cref="ISandboxCgroup.ProcsFiles"/> entry. Nothing is left behind when this throws.</returns>
    /// <exception cref="ArgumentException">The name or a limit is invalid.</exception>
    /// <exception cref="InvalidOperationException">
    /// The host has no usable cgroup hierarchy, a limit needs a controller the host does not offer,
    /// the placement does not fit the host, or the parent is not a cgroup.
    /// </exception>
    /// <exception cref="IOException">A directory or control file could not be written (<see cref="CgroupWriteException"/> carries the errno).</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux, and no <paramref name="fs"/> given.</exception>
    public static ISandboxCgroup Create(CgroupHost host, string name, CgroupLimits limits, CgroupPlacement? placement = null, ICgroupFileSystem? fs = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(limits);
        fs ??= RealFileSystem();
        if (limits.SkipUnavailableControllers)
            limits = limits.WithoutUnavailableControllers(host, out _);
        return host.Mode switch
        {
            CgroupMode.Unified => V2Cgroup.Create(
                host.Unified!, placement?.ParentDirectory ?? host.Unified!.Directory, name, limits, placement?.MoveCallerToLeaf ?? false, fs),
            CgroupMode.Legacy => V1Cgroup.Create(host, name, limits, unified: null, CheckV1Placement(host, placement, fs)),
            CgroupMode.Hybrid => V1Cgroup.Create(host, name, limits, host.Unified, CheckV1Placement(host, placement, fs)),
            _ => throw NoHierarchy(host),
        };
    }

    /// <summary>
    /// Removes leftover cgroups whose names start with <paramref name="prefix"/>, such as those a
    /// crashed process left behind, from where <see cref="Create"/> would have made them. Only
    /// empty ones are removed: a cgroup with processes in it may be a live sandbox of another
    /// process, and nothing in it is ever killed.
    /// </summary>
    /// <param name="host">The detected layout, usually <see cref="CgroupHost.Current"/>.</param>
    /// <param name="prefix">The name prefix of this application's cgroups.</param>
    /// <param name="placement">The placement the cgroups were made with.</param>
    /// <param name="fs">Where cgroupfs is read and written; <see langword="null"/> for the real one.</param>
    /// <returns>How many leftover cgroups were removed.</returns>
    /// <exception cref="InvalidOperationException">The host has no usable cgroup hierarchy, or the placement does not fit it.</exception>
    /// <exception cref="AggregateException">Some leftovers could not be removed (the others were).</exception>
    public static int RemoveStale(CgroupHost host, string prefix, CgroupPlacement? placement = null, ICgroupFileSystem? fs = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        fs ??= RealFileSystem();
        return host.Mode switch
        {
            CgroupMode.Unified => V2Cgroup.RemoveStale(host.Unified!, placement?.ParentDirectory ?? host.Unified!.Directory, prefix, fs),
            CgroupMode.Legacy or CgroupMode.Hybrid => V1Cgroup.RemoveStale(host, prefix, CheckV1Placement(host, placement, fs)),
            _ => throw NoHierarchy(host),
        };
    }

    private static ICgroupFileSystem RealFileSystem() =>
        OperatingSystem.IsLinux()
            ? LinuxCgroupFileSystem.Instance
            : throw new PlatformNotSupportedException("cgroups exist only on Linux; elsewhere pass an ICgroupFileSystem (a fake tree).");

    private static ICgroupFileSystem CheckV1Placement(CgroupHost host, CgroupPlacement? placement, ICgroupFileSystem fs)
    {
        if (placement?.ParentDirectory is string parent)
        {
            throw new InvalidOperationException(
                $"{nameof(CgroupPlacement)}.{nameof(CgroupPlacement.ParentDirectory)} ({parent}) applies to cgroup v2 only, and this host is {host.Mode}: "
                + "v1 cgroups are made under the caller's own cgroup in each hierarchy. Leave it unset here.");
        }
        return fs;
    }

    private static InvalidOperationException NoHierarchy(CgroupHost host) =>
        new("No usable cgroup hierarchy was found, so no cgroup can be made (mount cgroup2 at /sys/fs/cgroup, or run without limits)."
            + (host.Notes.Count > 0 ? " " + string.Join(" ", host.Notes) : "")
            + (host.IgnoredMounts.Count > 0 ? " Ignored mounts: " + string.Join("; ", host.IgnoredMounts) : ""));
}
