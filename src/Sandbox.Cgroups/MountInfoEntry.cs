namespace Sandboxing.Cgroups;

/// <summary>
/// One line of <c>/proc/self/mountinfo</c>, with octal escapes decoded. Parse with <see cref="MountInfoFile"/>.
/// </summary>
/// <remarks>
/// <code>
/// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
/// (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
/// </code>
/// See proc(5). For a cgroup filesystem, <see cref="Root"/> is the cgroup the mount shows at its
/// mount point, relative to the reading process's cgroup namespace root.
/// </remarks>
public sealed class MountInfoEntry
{
    internal MountInfoEntry(
        int mountId, int parentId, int major, int minor, string root, string mountPoint,
        IReadOnlyList<string> mountOptions, IReadOnlyList<string> optionalFields,
        string fileSystemType, string source, IReadOnlyList<string> superOptions)
    {
        MountId = mountId;
        ParentId = parentId;
        Major = major;
        Minor = minor;
        Root = root;
        MountPoint = mountPoint;
        MountOptions = mountOptions;
        OptionalFields = optionalFields;
        FileSystemType = fileSystemType;
        Source = source;
        SuperOptions = superOptions;
    }

    /// <summary>(1) The mount's unique id.</summary>
    public int MountId { get; }

    /// <summary>(2) The id of the parent mount (of itself for the root of the mount tree; may be absent from the file).</summary>
    public int ParentId { get; }

    /// <summary>(3) st_dev major number of files on this filesystem.</summary>
    public int Major { get; }

    /// <summary>(3) st_dev minor number of files on this filesystem.</summary>
    public int Minor { get; }

    /// <summary>(4) The path inside the filesystem that forms the root of this mount.</summary>
    public string Root { get; }

    /// <summary>(5) Where it is mounted, relative to the process's root directory.</summary>
    public string MountPoint { get; }

    /// <summary>(6) Per-mount options (<c>rw</c>, <c>nosuid</c>, <c>relatime</c>, ...).</summary>
    public IReadOnlyList<string> MountOptions { get; }

    /// <summary>(7) Zero or more tagged fields such as <c>shared:9</c> or <c>master:1</c>.</summary>
    public IReadOnlyList<string> OptionalFields { get; }

    /// <summary>(9) The filesystem type, such as <c>cgroup2</c>, <c>cgroup</c> or <c>tmpfs</c>.</summary>
    public string FileSystemType { get; }

    /// <summary>(10) The mount source (device or "none"-style name).</summary>
    public string Source { get; }

    /// <summary>(11) Per-superblock options; for a cgroup v1 mount, the controllers of the hierarchy.</summary>
    public IReadOnlyList<string> SuperOptions { get; }

    /// <summary>Whether this mount is read-only (<c>ro</c> in the per-mount options), as container runtimes often mount cgroupfs.</summary>
    public bool IsReadOnly => MountOptions.Contains("ro");

    /// <summary>A short description for messages: id, type and mount point.</summary>
    /// <returns>For example <c>mount 40 (cgroup2 at /sys/fs/cgroup/unified, root /)</c>.</returns>
    public override string ToString() => $"mount {MountId} ({FileSystemType} at {MountPoint}, root {Root})";
}
