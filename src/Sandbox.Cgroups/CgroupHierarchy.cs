namespace Sandboxing.Cgroups;

/// <summary>
/// A cgroup hierarchy the calling process can reach: where it is mounted, and where the
/// process's own cgroup is inside it. Produced by <see cref="CgroupHost.Detect"/>.
/// </summary>
public class CgroupHierarchy
{
    internal CgroupHierarchy(CgroupMembership membership, MountInfoEntry mount, string pathInMount, IReadOnlyList<string> controllers)
    {
        Membership = membership;
        Mount = mount;
        PathInMount = pathInMount;
        Controllers = controllers;
        Directory = CgroupPaths.Join(mount.MountPoint, pathInMount);
    }

    /// <summary><see cref="CgroupVersion.V2"/> for the unified hierarchy, otherwise <see cref="CgroupVersion.V1"/>.</summary>
    public CgroupVersion Version => Membership.IsUnified ? CgroupVersion.V2 : CgroupVersion.V1;

    /// <summary>The hierarchy id from <c>/proc/self/cgroup</c>: 0 for v2.</summary>
    public int HierarchyId => Membership.HierarchyId;

    /// <summary>
    /// The controllers this hierarchy serves for the caller: for v1, the ones bound to it; for v2,
    /// the ones listed in <c>cgroup.controllers</c> (see <see cref="UnifiedCgroupHierarchy"/>).
    /// </summary>
    public IReadOnlyList<string> Controllers { get; }

    /// <summary>The name of a named v1 hierarchy (<c>systemd</c>), otherwise <see langword="null"/>.</summary>
    public string? Name => Membership.Name;

    /// <summary>Where the hierarchy is mounted, such as <c>/sys/fs/cgroup/memory</c>.</summary>
    public string MountPoint => Mount.MountPoint;

    /// <summary>
    /// The cgroup shown at <see cref="MountPoint"/> (mountinfo's root field): <c>/</c> for a whole
    /// hierarchy, or a container's cgroup such as <c>/docker/&lt;id&gt;</c> when a runtime bind-mounted only that.
    /// </summary>
    public string MountRoot => Mount.Root;

    /// <summary>The caller's cgroup as <c>/proc/self/cgroup</c> prints it (relative to its cgroup namespace root).</summary>
    public string CgroupPath => Membership.Path;

    /// <summary>
    /// The caller's cgroup relative to <see cref="MountPoint"/>: <see cref="CgroupPath"/> with
    /// <see cref="MountRoot"/> taken off the front; <c>/</c> when the caller is at the mount's root.
    /// </summary>
    public string PathInMount { get; }

    /// <summary>The absolute directory of the caller's cgroup: <see cref="MountPoint"/> followed by <see cref="PathInMount"/>.</summary>
    public string Directory { get; }

    /// <summary>Whether the mount is read-only (container runtimes mount cgroupfs <c>ro</c> unless privileged).</summary>
    public bool IsReadOnly => Mount.IsReadOnly;

    /// <summary>The <c>/proc/self/cgroup</c> line this hierarchy comes from.</summary>
    public CgroupMembership Membership { get; }

    /// <summary>The <c>/proc/self/mountinfo</c> line of the mount used.</summary>
    public MountInfoEntry Mount { get; }

    /// <summary>A one-line description.</summary>
    /// <returns>For example <c>v1 memory at /sys/fs/cgroup/memory, cgroup /user.slice</c>.</returns>
    public override string ToString()
    {
        string what = Name is not null ? "name=" + Name : string.Join(',', Controllers);
        return $"v{(int)Version} {(what.Length == 0 ? "(no controllers)" : what)} at {MountPoint}, cgroup {PathInMount} -> {Directory}";
    }
}

/// <summary>
/// The cgroup v2 hierarchy, with what the caller's cgroup can do there.
/// </summary>
public sealed class UnifiedCgroupHierarchy : CgroupHierarchy
{
    internal UnifiedCgroupHierarchy(
        CgroupMembership membership, MountInfoEntry mount, string pathInMount, IReadOnlyList<string> controllers,
        IReadOnlyList<string> rootControllers, IReadOnlyList<string> availableControllers, bool hasKill, bool hasFreeze)
        : base(membership, mount, pathInMount, controllers)
    {
        RootControllers = rootControllers;
        AvailableControllers = availableControllers;
        HasKill = hasKill;
        HasFreeze = hasFreeze;
    }

    /// <summary>
    /// <c>cgroup.controllers</c> at the mount root: every controller bound to v2 that this mount
    /// shows. On a hybrid host this is often empty; in a container it is what was delegated to it.
    /// </summary>
    public IReadOnlyList<string> RootControllers { get; }

    /// <summary>
    /// <c>cgroup.controllers</c> of the caller's cgroup: the controllers its parent enabled for it,
    /// and so the most the caller can enable for cgroups it creates below its own.
    /// </summary>
    public IReadOnlyList<string> AvailableControllers { get; }

    /// <summary>
    /// Whether the caller's cgroup has <c>cgroup.kill</c> (Linux 5.14). The root cgroup of the
    /// whole hierarchy never has it, even when the kernel supports it.
    /// </summary>
    public bool HasKill { get; }

    /// <summary>
    /// Whether the caller's cgroup has <c>cgroup.freeze</c> (Linux 5.2; v2 freezing is built in, not a
    /// controller). The root cgroup of the whole hierarchy never has it.
    /// </summary>
    public bool HasFreeze { get; }

    /// <summary>Whether the hierarchy was mounted with <c>nsdelegate</c> (cgroup namespaces are delegation boundaries).</summary>
    public bool IsNamespaceDelegated => Mount.SuperOptions.Contains("nsdelegate");
}

/// <summary>A cgroup mount from <c>/proc/self/mountinfo</c> that detection did not use, and why.</summary>
public sealed class IgnoredCgroupMount
{
    internal IgnoredCgroupMount(MountInfoEntry mount, string reason)
    {
        Mount = mount;
        Reason = reason;
    }

    /// <summary>The mount.</summary>
    public MountInfoEntry Mount { get; }

    /// <summary>Why it was not used, in words.</summary>
    public string Reason { get; }

    /// <summary>The mount and the reason.</summary>
    /// <returns>A one-line description.</returns>
    public override string ToString() => $"{Mount}: {Reason}";
}
