using System.Collections.Immutable;

namespace Sandboxing.Cgroups;

/// <summary>
/// Resource limits for one cgroup, in docker's terms. <see langword="null"/> leaves a limit
/// unset (the parent's applies). Each backend translates them to its own control files.
/// </summary>
public sealed record CgroupLimits
{
    /// <summary>Hard memory limit in bytes (v2 memory.max; v1 memory.limit_in_bytes). docker --memory.</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>
    /// Memory plus swap in bytes, docker's --memory-swap: -1 for unlimited swap. Alone (without
    /// <see cref="MemoryBytes"/>) it still bounds memory: memory is then limited to this value too
    /// (v2 memory.max + memory.swap.max = total - memory; v1 memory.memsw.limit_in_bytes).
    /// </summary>
    public long? MemorySwapBytes { get; init; }

    /// <summary>Soft memory limit in bytes (v2 memory.low; v1 memory.soft_limit_in_bytes). docker --memory-reservation.</summary>
    public long? MemoryReservationBytes { get; init; }

    /// <summary>CPU quota as a number of CPUs, e.g. 0.5 (v2 cpu.max; v1 cpu.cfs_quota_us / cpu.cfs_period_us). docker --cpus.</summary>
    public double? Cpus { get; init; }

    /// <summary>Relative CPU weight in v1 shares, 2 to 262144, 1024 normal (v1 cpu.shares; v2 cpu.weight, converted). docker --cpu-shares.</summary>
    public long? CpuShares { get; init; }

    /// <summary>CPUs the cgroup may run on, in cpuset list syntax ("0-1,3"). docker --cpuset-cpus.</summary>
    public string? CpusetCpus { get; init; }

    /// <summary>Memory nodes the cgroup may use, in cpuset list syntax. docker --cpuset-mems.</summary>
    public string? CpusetMems { get; init; }

    /// <summary>Maximum number of processes and threads (pids.max). docker --pids-limit.</summary>
    public long? PidsMax { get; init; }

    /// <summary>Block I/O throttles per device (v2 io.max; v1 blkio.throttle.*). docker --device-read-bps etc.</summary>
    public ImmutableArray<IoThrottle> IoThrottles { get; init; } = [];

    /// <summary>
    /// Whether a limit whose controller this host does not offer is dropped instead of failing
    /// (see <see cref="WithoutUnavailableControllers"/>). Off by default: a limit asked for is a
    /// limit enforced, or an error naming the missing controller.
    /// </summary>
    public bool SkipUnavailableControllers { get; init; }

    /// <summary>
    /// These limits without those whose controller <paramref name="host"/> lacks, and the names of
    /// the controllers that were missing.
    /// </summary>
    public CgroupLimits WithoutUnavailableControllers(CgroupHost host, out IReadOnlyList<string> skipped)
    {
        ArgumentNullException.ThrowIfNull(host);
        var missing = new List<string>();
        bool Has(string controller, bool wanted)
        {
            if (!wanted || host.FindController(controller) is not null)
                return true;
            missing.Add(controller);
            return false;
        }
        var result = this;
        if (!Has("memory", MemoryBytes is not null || MemorySwapBytes is not null || MemoryReservationBytes is not null))
            result = result with { MemoryBytes = null, MemorySwapBytes = null, MemoryReservationBytes = null };
        if (!Has("cpu", Cpus is not null || CpuShares is not null))
            result = result with { Cpus = null, CpuShares = null };
        if (!Has("cpuset", CpusetCpus is not null || CpusetMems is not null))
            result = result with { CpusetCpus = null, CpusetMems = null };
        if (!Has("pids", PidsMax is not null))
            result = result with { PidsMax = null };
        if (!Has("io", !IoThrottles.IsDefaultOrEmpty))
            result = result with { IoThrottles = [] };
        skipped = missing;
        return result;
    }

    /// <summary>Whether no limit is set at all.</summary>
    public bool IsEmpty => MemoryBytes is null && MemorySwapBytes is null && MemoryReservationBytes is null && Cpus is null
        && CpuShares is null && CpusetCpus is null && CpusetMems is null && PidsMax is null && IoThrottles.IsDefaultOrEmpty;
}

/// <summary>One block I/O throttle: <paramref name="Kind"/> limited to <paramref name="Value"/> on device <paramref name="Major"/>:<paramref name="Minor"/>.</summary>
public readonly record struct IoThrottle(uint Major, uint Minor, IoThrottleKind Kind, ulong Value);

/// <summary>What an <see cref="IoThrottle"/> limits.</summary>
public enum IoThrottleKind
{
    /// <summary>Bytes read per second.</summary>
    ReadBytesPerSecond,

    /// <summary>Bytes written per second.</summary>
    WriteBytesPerSecond,

    /// <summary>Read operations per second.</summary>
    ReadOperationsPerSecond,

    /// <summary>Write operations per second.</summary>
    WriteOperationsPerSecond,
}

/// <summary>What a cgroup has consumed so far. Values a hierarchy cannot report are <see langword="null"/>.</summary>
public sealed record CgroupStats
{
    /// <summary>CPU time in user mode.</summary>
    public TimeSpan? CpuUser { get; init; }

    /// <summary>CPU time in kernel mode.</summary>
    public TimeSpan? CpuSystem { get; init; }

    /// <summary>Total CPU time (more exact than user + system where the kernel reports it in ns).</summary>
    public TimeSpan? CpuTotal { get; init; }

    /// <summary>Memory in use now, in bytes.</summary>
    public long? MemoryCurrentBytes { get; init; }

    /// <summary>Highest memory use so far, in bytes (v2 memory.peak needs Linux 5.19).</summary>
    public long? MemoryPeakBytes { get; init; }

    /// <summary>Processes and threads now.</summary>
    public long? PidsCurrent { get; init; }

    /// <summary>Bytes read from block devices.</summary>
    public long? IoReadBytes { get; init; }

    /// <summary>Bytes written to block devices.</summary>
    public long? IoWriteBytes { get; init; }

    /// <summary>Read operations on block devices.</summary>
    public long? IoReadOperations { get; init; }

    /// <summary>Write operations on block devices.</summary>
    public long? IoWriteOperations { get; init; }
}

/// <summary>Limit events counted by the kernel since the cgroup was made.</summary>
public sealed record CgroupEvents
{
    /// <summary>Processes the OOM killer killed in this cgroup (v2 memory.events oom_kill; v1 memory.oom_control oom_kill).</summary>
    public long OomKills { get; init; }

    /// <summary>Times memory use hit the limit (v2 memory.events max; v1 memory.failcnt).</summary>
    public long MemoryLimitHits { get; init; }

    /// <summary>Forks refused by the pids limit (v2 and v1 pids.events max).</summary>
    public long PidsLimitHits { get; init; }
}
