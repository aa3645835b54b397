using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>
/// Filesystem magic numbers that identify a real cgroup mount. A directory under
/// <c>/sys/fs/cgroup</c> is only a cgroup when the filesystem it lives on is one of these:
/// on some hosts <c>/sys/fs/cgroup</c> itself is a plain tmpfs.
/// </summary>
public static class CgroupFilesystem
{
    /// <summary>statfs f_type of a cgroup v1 hierarchy (CGROUP_SUPER_MAGIC).</summary>
    public const long CgroupV1Magic = 0x27e0eb;

    /// <summary>statfs f_type of the cgroup v2 unified hierarchy (CGROUP2_SUPER_MAGIC).</summary>
    public const long CgroupV2Magic = 0x63677270;

    /// <summary>
    /// statfs f_type of a tmpfs (TMPFS_MAGIC): what <c>/sys/fs/cgroup</c> is on v1 and hybrid
    /// hosts, and what a directory made there really lives on.
    /// </summary>
    public const long TmpfsMagic = 0x01021994;

    /// <summary>
    /// A short name for a statfs f_type, for messages: <c>cgroup2</c>, <c>cgroup</c>,
    /// <c>tmpfs</c>, a few other common ones, otherwise the number in hex.
    /// </summary>
    /// <param name="fileSystemType">The f_type returned by statfs.</param>
    /// <returns>For example <c>"tmpfs (0x1021994)"</c>.</returns>
    public static string Describe(long fileSystemType)
    {
        string? name = fileSystemType switch
        {
            CgroupV1Magic => "cgroup",
            CgroupV2Magic => "cgroup2",
            TmpfsMagic => "tmpfs",
            0x62656572 => "sysfs",
            0x9fa0 => "proc",
            0xef53 => "ext4",
            0x794c7630 => "overlayfs",
            0x58465342 => "xfs",
            0x9123683e => "btrfs",
            _ => null,
        };
        string hex = "0x" + fileSystemType.ToString("x", CultureInfo.InvariantCulture);
        return name is null ? hex : $"{name} ({hex})";
    }
}
