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
}
