namespace Sandboxing.Cgroups;

/// <summary>
/// One line of <c>/proc/self/cgroup</c>: which cgroup the process belongs to in one hierarchy.
/// Parse with <see cref="ProcCgroupFile"/>.
/// </summary>
/// <remarks>
/// The format is <c>hierarchy-id:controller-list:path</c>. The cgroup v2 line is always
/// <c>0::/path</c>; a v1 line lists its controllers (<c>4:cpu,cpuacct:/user.slice</c>) and a named
/// v1 hierarchy with no controller shows <c>name=</c> (<c>1:name=systemd:/init.scope</c>).
/// The path is relative to the root of the reading process's cgroup namespace, so it can begin
/// with <c>/..</c> when the process sits outside that root (see cgroup_namespaces(7)).
/// </remarks>
public sealed class CgroupMembership
{
    internal CgroupMembership(int hierarchyId, IReadOnlyList<string> controllers, string? name, string path, bool isDeleted)
    {
        HierarchyId = hierarchyId;
        Controllers = controllers;
        Name = name;
        Path = path;
        IsDeleted = isDeleted;
    }

    /// <summary>The hierarchy id: 0 for cgroup v2, otherwise the v1 hierarchy's number (as in <c>/proc/cgroups</c>).</summary>
    public int HierarchyId { get; }

    /// <summary>The controllers bound to the hierarchy, in the kernel's order, without any <c>name=</c> entry; empty for v2.</summary>
    public IReadOnlyList<string> Controllers { get; }

    /// <summary>The name of a named v1 hierarchy (<c>systemd</c> for <c>name=systemd</c>), otherwise <see langword="null"/>.</summary>
    public string? Name { get; }

    /// <summary>The cgroup path, relative to the cgroup namespace root, without any <c> (deleted)</c> suffix.</summary>
    public string Path { get; }

    /// <summary>
    /// Whether the kernel marked the cgroup as removed (a <c> (deleted)</c> suffix, printed for
    /// v2 cgroups that were rmdir'ed while a process of theirs was still exiting).
    /// </summary>
    public bool IsDeleted { get; }

    /// <summary>Whether this is the cgroup v2 line (<c>0::/path</c>).</summary>
    public bool IsUnified => HierarchyId == 0 && Controllers.Count == 0 && Name is null;

    /// <summary>
    /// The tokens a v1 mount of this hierarchy carries in its super options: the controllers and
    /// <c>name=</c><see cref="Name"/>.
    /// </summary>
    internal IEnumerable<string> MountTokens => Name is null ? Controllers : Controllers.Append("name=" + Name);

    /// <summary>The line as the kernel prints it.</summary>
    /// <returns>For example <c>4:memory:/user.slice</c>.</returns>
    public override string ToString() =>
        $"{HierarchyId}:{string.Join(',', MountTokens)}:{Path}{(IsDeleted ? ProcCgroupFile.DeletedSuffix : "")}";
}
