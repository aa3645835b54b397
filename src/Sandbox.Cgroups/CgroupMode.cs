namespace Sandboxing.Cgroups;

/// <summary>How the cgroup hierarchies the calling process can use are laid out.</summary>
public enum CgroupMode
{
    /// <summary>No usable cgroup hierarchy: none is mounted where this process can see it, or /proc is missing.</summary>
    None = 0,

    /// <summary>Pure cgroup v2: a usable unified hierarchy and no controller on a v1 hierarchy.</summary>
    /// <remarks>A v1 hierarchy without controllers (such as <c>name=systemd</c>, mounted for old containers) does not change this.</remarks>
    Unified,

    /// <summary>Pure cgroup v1: controllers on v1 hierarchies and no usable unified hierarchy.</summary>
    Legacy,

    /// <summary>
    /// Controllers on v1 hierarchies and a usable unified hierarchy as well (systemd's "hybrid",
    /// typically cgroup2 at <c>/sys/fs/cgroup/unified</c> with few or no controllers).
    /// </summary>
    Hybrid,
}

/// <summary>The version of a cgroup hierarchy.</summary>
public enum CgroupVersion
{
    /// <summary>cgroup v1: filesystem type <c>cgroup</c>, one hierarchy per set of controllers.</summary>
    V1 = 1,

    /// <summary>cgroup v2: filesystem type <c>cgroup2</c>, the single unified hierarchy.</summary>
    V2 = 2,
}
