using System.Collections.Frozen;
using System.Runtime.Versioning;
using System.Text;

namespace Sandboxing.Cgroups;

/// <summary>
/// What cgroups the calling process can use: the <see cref="CgroupMode"/>, the hierarchy that
/// serves each controller, and the process's own cgroup directory in each. Immutable.
/// </summary>
/// <remarks>
/// <para>
/// Detection never assumes <c>/sys/fs/cgroup</c>. It reads <c>/proc/self/cgroup</c> (which
/// cgroup the process is in, per hierarchy) and <c>/proc/self/mountinfo</c> (where each
/// hierarchy is mounted, and which cgroup a mount shows at its mount point), then checks with
/// statfs that each mount point really is a cgroup filesystem: on v1 and hybrid hosts
/// <c>/sys/fs/cgroup</c> is a tmpfs, and a directory made there is not a cgroup.
/// </para>
/// <para>
/// The caller's directory in a hierarchy is the mount point followed by the caller's cgroup with
/// the mount's root taken off: inside a container without a cgroup namespace
/// <c>/proc/self/cgroup</c> says <c>/docker/&lt;id&gt;</c> while the runtime mounted exactly that
/// cgroup at <c>/sys/fs/cgroup</c>, so the directory is <c>/sys/fs/cgroup</c> itself.
/// </para>
/// </remarks>
public sealed class CgroupHost
{
    private static readonly IReadOnlyList<string> NoStrings = Array.Empty<string>().AsReadOnly();

    [SupportedOSPlatform("linux")]
    private static class CurrentHolder
    {
        // Detected once per process (like crun's cached cgroup mode): a process does not change
        // its cgroup layout under itself, and detection reads a few /proc files.
        internal static readonly Lazy<CgroupHost> Value = new(() => Detect(LinuxCgroupFileSystem.Instance));
    }

    private CgroupHost(
        CgroupMode mode,
        IReadOnlyList<CgroupMembership> memberships,
        IReadOnlyList<CgroupHierarchy> hierarchies,
        UnifiedCgroupHierarchy? unified,
        IReadOnlyDictionary<string, CgroupHierarchy> controllers,
        IReadOnlyList<IgnoredCgroupMount> ignoredMounts,
        IReadOnlyList<string> notes)
    {
        Mode = mode;
        Memberships = memberships;
        Hierarchies = hierarchies;
        Unified = unified;
        Controllers = controllers;
        IgnoredMounts = ignoredMounts;
        Notes = notes;
    }

    /// <summary>
    /// The calling process's cgroups, detected on first use with <see cref="LinuxCgroupFileSystem"/>
    /// and cached for the life of the process.
    /// </summary>
    /// <exception cref="FormatException">(On first use) <c>/proc/self/cgroup</c> or <c>/proc/self/mountinfo</c> is malformed.</exception>
    [SupportedOSPlatform("linux")]
    public static CgroupHost Current => CurrentHolder.Value.Value;

    /// <summary>The layout: pure v2, pure v1, hybrid, or nothing usable.</summary>
    public CgroupMode Mode { get; }

    /// <summary>Every line of <c>/proc/self/cgroup</c>, whether or not a usable mount was found for it.</summary>
    public IReadOnlyList<CgroupMembership> Memberships { get; }

    /// <summary>The usable hierarchies (v1 ones, named ones, and the unified one), in <c>/proc/self/cgroup</c> order.</summary>
    public IReadOnlyList<CgroupHierarchy> Hierarchies { get; }

    /// <summary>The cgroup v2 hierarchy, when it is mounted where this process can use it.</summary>
    public UnifiedCgroupHierarchy? Unified { get; }

    /// <summary>
    /// The hierarchy serving each controller, keyed by the kernel's name for it: <c>blkio</c> on
    /// v1, <c>io</c> on v2 (use <see cref="FindController"/> to look up either). A controller
    /// whose hierarchy is not mounted here is absent.
    /// </summary>
    public IReadOnlyDictionary<string, CgroupHierarchy> Controllers { get; }

    /// <summary>cgroup mounts found in mountinfo but not used, each with the reason.</summary>
    public IReadOnlyList<IgnoredCgroupMount> IgnoredMounts { get; }

    /// <summary>Other observations worth showing a user who wonders why a controller is missing.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>
    /// The hierarchy serving a controller, or <see langword="null"/>. <c>io</c> and <c>blkio</c>
    /// name the same controller (v2 and v1 spellings) and find each other.
    /// </summary>
    /// <param name="controller">A controller name such as <c>memory</c>, <c>cpu</c>, <c>io</c>.</param>
    /// <returns>The hierarchy, or <see langword="null"/> when no usable hierarchy serves it.</returns>
    public CgroupHierarchy? FindController(string controller)
    {
        ArgumentNullException.ThrowIfNull(controller);
        if (Controllers.TryGetValue(controller, out var hierarchy))
            return hierarchy;
        string? alias = controller switch { "io" => "blkio", "blkio" => "io", _ => null };
        return alias is not null && Controllers.TryGetValue(alias, out hierarchy) ? hierarchy : null;
    }

    /// <summary>A multi-line report of everything detected, for diagnostics.</summary>
    /// <returns>The report.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append("cgroup mode: ").Append(Mode).Append('\n');
        foreach (var hierarchy in Hierarchies)
            text.Append("  ").Append(hierarchy).Append('\n');
        if (Unified is not null)
        {
            text.Append("  unified: root controllers [").AppendJoin(' ', Unified.RootControllers)
                .Append("], available [").AppendJoin(' ', Unified.AvailableControllers)
                .Append("], cgroup.kill ").Append(Unified.HasKill ? "yes" : "no")
                .Append(", cgroup.freeze ").Append(Unified.HasFreeze ? "yes" : "no").Append('\n');
        }
        foreach (var ignored in IgnoredMounts)
            text.Append("  ignored ").Append(ignored).Append('\n');
        foreach (string note in Notes)
            text.Append("  note: ").Append(note).Append('\n');
        return text.ToString();
    }

    /// <summary>
    /// Detects the cgroups of the calling process as seen through <paramref name="fileSystem"/>.
    /// Pure apart from the reads it makes there; <see cref="Current"/> caches the result for the real host.
    /// </summary>
    /// <param name="fileSystem">Where to read <c>/proc/self/*</c> and the cgroup mounts.</param>
    /// <returns>The detected layout. When /proc cannot be read the mode is <see cref="CgroupMode.None"/> and <see cref="Notes"/> says why.</returns>
    /// <exception cref="FormatException"><c>/proc/self/cgroup</c> or <c>/proc/self/mountinfo</c> is malformed.</exception>
    public static CgroupHost Detect(ICgroupFileSystem fileSystem)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        var notes = new List<string>();

        string? cgroupText = TryRead(fileSystem, ProcCgroupFile.SelfPath, notes);
        string? mountInfoText = TryRead(fileSystem, MountInfoFile.SelfPath, notes);
        if (cgroupText is null || mountInfoText is null)
        {
            notes.Add("no cgroup can be used without /proc: mount procfs (in a container, the runtime does this).");
            return Empty(cgroupText is null ? [] : ProcCgroupFile.Parse(cgroupText), notes);
        }

        var memberships = ProcCgroupFile.Parse(cgroupText);
        var mounts = MountInfoFile.Parse(mountInfoText);
        var ignored = new List<IgnoredCgroupMount>();

        // 1. Sort every cgroup mount into the hierarchy it belongs to, or ignore it with a reason.
        var usable = new Dictionary<CgroupMembership, List<(MountInfoEntry Mount, string PathInMount)>>();
        var mountIndex = new Dictionary<MountInfoEntry, int>();
        for (int i = 0; i < mounts.Count; i++)
            mountIndex[mounts[i]] = i;
        foreach (var mount in mounts)
        {
            bool isV2 = mount.FileSystemType == "cgroup2";
            if (!isV2 && mount.FileSystemType != "cgroup")
                continue;

            var membership = isV2
                ? memberships.FirstOrDefault(m => m.IsUnified)
                : memberships.Where(m => Belongs(mount, m)).MaxBy(m => m.MountTokens.Count()); // most specific, should lines ever overlap
            string? pathInMount = null;
            string? reason = HiddenReason(mount, mounts, mountIndex, stackedChild: null, depth: 0)
                ?? CheckFileSystemType(fileSystem, mount, isV2 ? CgroupFilesystem.CgroupV2Magic : CgroupFilesystem.CgroupV1Magic)
                ?? (membership is null ? NoMembershipReason(mount, isV2) : null)
                ?? OutsideReason(membership!, mount, out pathInMount);
            if (reason is not null)
            {
                ignored.Add(new IgnoredCgroupMount(mount, reason));
                continue;
            }
            if (!usable.TryGetValue(membership!, out var list))
                usable[membership!] = list = [];
            list.Add((mount, pathInMount!));
        }

        // 2. One mount per hierarchy: the one showing the most of it (shortest root), then the first.
        var hierarchies = new List<CgroupHierarchy>();
        UnifiedCgroupHierarchy? unified = null;
        foreach (var membership in memberships)
        {
            if (membership.IsDeleted)
                notes.Add($"the kernel reports the caller's cgroup as deleted: `{membership}`.");
            if (!usable.TryGetValue(membership, out var candidates))
            {
                notes.Add(ignored.Count(i => Belongs(i.Mount, membership)) is int n and > 0
                    ? $"hierarchy `{membership}` has {n} mount(s), none usable (see the ignored mounts)."
                    : $"hierarchy `{membership}` is not mounted in this mount namespace.");
                continue;
            }
            var chosen = candidates.OrderBy(c => c.Mount.Root.Length).ThenBy(c => mountIndex[c.Mount]).First();
            foreach (var other in candidates.Where(c => c.Mount != chosen.Mount))
                ignored.Add(new IgnoredCgroupMount(other.Mount, $"another mount of the same hierarchy is used: {chosen.Mount}."));

            CgroupHierarchy hierarchy;
            if (membership.IsUnified)
                hierarchy = unified = CreateUnified(fileSystem, membership, chosen.Mount, chosen.PathInMount, notes);
            else
                hierarchy = new CgroupHierarchy(membership, chosen.Mount, chosen.PathInMount, membership.Controllers);
            if (!fileSystem.DirectoryExists(hierarchy.Directory))
                notes.Add($"the caller's cgroup directory {hierarchy.Directory} ({hierarchy}) does not exist.");
            hierarchies.Add(hierarchy);
        }

        // 3. Controller -> hierarchy. A controller bound to v1 cannot also be on v2 (the kernel
        // moves it), so v1 bindings come first and v2 takes the rest of what cgroup.controllers lists.
        var controllers = new Dictionary<string, CgroupHierarchy>(StringComparer.Ordinal);
        foreach (var hierarchy in hierarchies.Where(h => h.Version == CgroupVersion.V1))
        {
            foreach (string controller in hierarchy.Controllers)
                controllers.TryAdd(controller, hierarchy);
        }
        if (unified is not null)
        {
            foreach (string controller in unified.Controllers)
            {
                if (!controllers.TryAdd(controller, unified))
                    notes.Add($"controller {controller} is listed by both {controllers[controller].MountPoint} (v1) and {unified.MountPoint} (v2); using v1.");
            }
        }

        bool v1Controllers = hierarchies.Any(h => h.Version == CgroupVersion.V1 && h.Controllers.Count > 0);
        bool v1Any = hierarchies.Any(h => h.Version == CgroupVersion.V1);
        CgroupMode mode = (unified is not null, v1Controllers) switch
        {
            (true, true) => CgroupMode.Hybrid,
            (true, false) => CgroupMode.Unified,
            (false, _) when v1Any => CgroupMode.Legacy,
            _ => CgroupMode.None,
        };

        return new CgroupHost(
            mode,
            memberships,
            hierarchies.AsReadOnly(),
            unified,
            controllers.ToFrozenDictionary(StringComparer.Ordinal),
            ignored.AsReadOnly(),
            notes.AsReadOnly());
    }

    private static CgroupHost Empty(IReadOnlyList<CgroupMembership> memberships, List<string> notes) =>
        new(CgroupMode.None, memberships, [], null, FrozenDictionary<string, CgroupHierarchy>.Empty, [], notes.AsReadOnly());

    private static string? TryRead(ICgroupFileSystem fileSystem, string path, List<string> notes)
    {
        try
        {
            return fileSystem.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            notes.Add($"cannot read {path}: {e.Message}");
            return null;
        }
    }

    private static bool Belongs(MountInfoEntry mount, CgroupMembership membership) =>
        membership.IsUnified
            ? mount.FileSystemType == "cgroup2"
            : mount.FileSystemType == "cgroup" && membership.MountTokens.Any() && membership.MountTokens.All(mount.SuperOptions.Contains);

    /// <summary>
    /// Why a mount cannot be reached by path, or <see langword="null"/> when it can. Path lookup
    /// only crosses into mounts that are children of the mount being walked, so a mount is hidden
    /// when another is stacked on its mount point, when a sibling covers its mount point or a
    /// parent directory of it, or when its parent mount is hidden (a parent hidden only by this
    /// very mount stacked on top of it does not count).
    /// </summary>
    private static string? HiddenReason(
        MountInfoEntry mount, IReadOnlyList<MountInfoEntry> mounts, Dictionary<MountInfoEntry, int> index, MountInfoEntry? stackedChild, int depth)
    {
        if (depth > 64)
            return null; // A parent loop cannot happen in a real mountinfo; do not recurse forever.
        foreach (var other in mounts)
        {
            if (other == mount || other == stackedChild)
                continue;
            if (other.ParentId == mount.MountId && other.MountPoint == mount.MountPoint)
                return $"{other} is mounted on top of it, so the path shows that instead.";
            if (other.ParentId == mount.ParentId && other.MountId != mount.MountId && CgroupPaths.IsAncestorOrSelf(other.MountPoint, mount.MountPoint))
            {
                if (other.MountPoint != mount.MountPoint)
                    return $"{other} covers a parent directory of its mount point, so the path does not reach it.";
                if (index[other] > index[mount])
                    return $"{other} was mounted later on the same mount point, so the path shows that instead.";
            }
        }
        var parent = mounts.FirstOrDefault(m => m.MountId == mount.ParentId);
        if (parent is null || parent == mount)
            return null;
        var stacked = parent.MountPoint == mount.MountPoint ? mount : null;
        return HiddenReason(parent, mounts, index, stacked, depth + 1) is string reason
            ? $"its parent {parent} is not reachable: {reason}"
            : null;
    }

    private static string? CheckFileSystemType(ICgroupFileSystem fileSystem, MountInfoEntry mount, long expected)
    {
        long actual;
        try
        {
            actual = fileSystem.GetFileSystemType(mount.MountPoint);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"statfs failed, so it cannot be checked: {e.Message}";
        }
        if (actual == expected)
            return null;
        return $"mountinfo lists it as {mount.FileSystemType}, but statfs({mount.MountPoint}) reports {CgroupFilesystem.Describe(actual)}, "
            + $"not {CgroupFilesystem.Describe(expected)}: the path is not a cgroup filesystem (over-mounted, or stale), "
            + "and directories made there would not be cgroups.";
    }

    private static string NoMembershipReason(MountInfoEntry mount, bool isV2) =>
        isV2
            ? "/proc/self/cgroup has no `0::` line, so the caller's cgroup v2 path is unknown."
            : $"no line of /proc/self/cgroup matches its options ({string.Join(',', mount.SuperOptions)}), so the caller's cgroup in it is unknown.";

    private static string? OutsideReason(CgroupMembership membership, MountInfoEntry mount, out string? pathInMount)
    {
        pathInMount = null;
        if (CgroupPaths.HasParentReference(membership.Path))
            return $"the caller's cgroup {membership.Path} is outside its cgroup namespace root, so no mount made inside the namespace shows it.";
        if (CgroupPaths.HasParentReference(mount.Root))
        {
            return $"it shows cgroup {mount.Root}, above the caller's cgroup namespace root, so the caller's place in it cannot be worked out "
                + "(the namespace was entered after this was mounted: mount cgroupfs again inside the namespace).";
        }
        pathInMount = CgroupPaths.RelativeTo(membership.Path, mount.Root);
        return pathInMount is null
            ? $"it shows cgroup {mount.Root}, which does not contain the caller's cgroup {membership.Path}."
            : null;
    }

    private static UnifiedCgroupHierarchy CreateUnified(
        ICgroupFileSystem fileSystem, CgroupMembership membership, MountInfoEntry mount, string pathInMount, List<string> notes)
    {
        string directory = CgroupPaths.Join(mount.MountPoint, pathInMount);
        var rootControllers = ReadControllers(fileSystem, CgroupPaths.Join(mount.MountPoint, "cgroup.controllers"), notes);
        var available = pathInMount == "/"
            ? rootControllers
            : ReadControllers(fileSystem, CgroupPaths.Join(directory, "cgroup.controllers"), notes);
        var served = rootControllers.Union(available, StringComparer.Ordinal).ToArray().AsReadOnly();
        return new UnifiedCgroupHierarchy(
            membership, mount, pathInMount, served, rootControllers, available,
            hasKill: fileSystem.FileExists(CgroupPaths.Join(directory, "cgroup.kill")),
            hasFreeze: fileSystem.FileExists(CgroupPaths.Join(directory, "cgroup.freeze")));
    }

    private static IReadOnlyList<string> ReadControllers(ICgroupFileSystem fileSystem, string path, List<string> notes)
    {
        try
        {
            return fileSystem.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).AsReadOnly();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            notes.Add($"cannot read {path}: {e.Message}");
            return NoStrings;
        }
    }
}
