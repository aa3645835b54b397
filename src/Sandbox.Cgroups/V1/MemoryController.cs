namespace Sandboxing.Cgroups;

/// <summary>
/// The v1 memory controller (Documentation/admin-guide/cgroup-v1/memory.rst): hard, swap and
/// soft limits, usage, and the failure and OOM-kill counters.
/// </summary>
internal sealed class MemoryController(string directory, ICgroupFileSystem fileSystem) : V1Controller(directory, fileSystem)
{
    public const string ControllerName = "memory";
    private const string Limit = "memory.limit_in_bytes";
    // Only when the kernel accounts swap (CONFIG_MEMCG_SWAP and swapaccount=1, the default since 5.8).
    private const string MemSwLimit = "memory.memsw.limit_in_bytes";
    private const string SoftLimit = "memory.soft_limit_in_bytes";
    private const string Usage = "memory.usage_in_bytes";
    private const string MaxUsage = "memory.max_usage_in_bytes";
    private const string FailCount = "memory.failcnt";
    private const string MemSwFailCount = "memory.memsw.failcnt";
    private const string OomControl = "memory.oom_control";

    public override string Name => ControllerName;

    /// <summary>The limit that needs this controller, for error messages; <see langword="null"/> when none does.</summary>
    public static string? Needed(CgroupLimits limits) =>
        limits.MemoryBytes is not null ? nameof(CgroupLimits.MemoryBytes)
        : limits.MemorySwapBytes is not null ? nameof(CgroupLimits.MemorySwapBytes)
        : limits.MemoryReservationBytes is not null ? nameof(CgroupLimits.MemoryReservationBytes)
        : null;

    public static void Validate(CgroupLimits limits)
    {
        if (limits.MemoryBytes is long memory && memory <= 0 && memory != -1)
            throw new ArgumentOutOfRangeException(nameof(limits), memory, $"{nameof(CgroupLimits.MemoryBytes)} must be positive, or -1 for no limit.");
        if (limits.MemorySwapBytes is long swap && swap <= 0 && swap != -1)
            throw new ArgumentOutOfRangeException(nameof(limits), swap, $"{nameof(CgroupLimits.MemorySwapBytes)} must be positive, or -1 for unlimited swap.");
        if (limits.MemoryReservationBytes is long soft && soft < 0 && soft != -1)
            throw new ArgumentOutOfRangeException(nameof(limits), soft, $"{nameof(CgroupLimits.MemoryReservationBytes)} must not be negative (-1: no reservation).");
        if (limits is { MemoryBytes: long m, MemorySwapBytes: long s } && s != -1 && (m == -1 || s < m))
        {
            throw new ArgumentException(
                $"{nameof(CgroupLimits.MemorySwapBytes)} ({s}) is memory plus swap, so it cannot be less than {nameof(CgroupLimits.MemoryBytes)} ({m}); "
                + "set it to the memory limit for no swap, or -1 for unlimited swap.", nameof(limits));
        }
    }

    public void Apply(CgroupLimits limits)
    {
        // docker's --memory-swap: memory plus swap. Alone it bounds memory as well (a process with
        // at most S of memory+swap cannot hold more than S in memory); -1 alone only lifts the
        // swap limit and leaves memory as it is.
        long? memory = limits.MemoryBytes ?? (limits.MemorySwapBytes is long alone && alone != -1 ? alone : null);
        long? memorySwap = limits.MemorySwapBytes;

        if (memorySwap is long total && !Has(MemSwLimit))
        {
            // Without swap accounting swap is not limited at all. That is what -1 asks for, and a
            // swap-only limit still bounds memory; a memory limit with a swap limit cannot be honoured.
            if (total != -1 && limits.MemoryBytes is not null)
            {
                throw new InvalidOperationException(
                    $"{nameof(CgroupLimits.MemorySwapBytes)} needs {MemSwLimit}, which {Directory} does not have: the kernel does not account swap "
                    + "(CONFIG_MEMCG_SWAP off, or booted with swapaccount=0). Boot with swapaccount=1, or leave the swap limit unset.");
            }
            memorySwap = null;
        }

        if (memory is long m && memorySwap is long s)
        {
            // The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every write
            // (EINVAL otherwise), so raise memsw first when the new total is at least the current
            // memory limit, and lower memory first otherwise (runc fs/memory.go does the same).
            long current = ReadInt64(Limit);
            if (s == -1 || current <= s)
            {
                Write(MemSwLimit, s);
                Write(Limit, m);
            }
            else
            {
                Write(Limit, m);
                Write(MemSwLimit, s);
            }
        }
        else if (memory is long onlyMemory)
        {
            Write(Limit, onlyMemory);
        }
        else if (memorySwap is long unlimitedSwap)
        {
            Write(MemSwLimit, unlimitedSwap); // -1 alone: always above the memory limit
        }

        if (limits.MemoryReservationBytes is long soft)
            Write(SoftLimit, soft);
    }

    public CgroupStats AddStats(CgroupStats stats) => stats with
    {
        MemoryCurrentBytes = ReadInt64(Usage),
        MemoryPeakBytes = TryReadInt64(MaxUsage),
    };

    public CgroupEvents AddEvents(CgroupEvents events)
    {
        // oom_kill in memory.oom_control appeared in Linux 4.13; older kernels only say under_oom.
        var oom = V1Files.ParseFlatKeyed(Read(OomControl));
        return events with
        {
            OomKills = oom.GetValueOrDefault("oom_kill"),
            // A charge is tried against memory+swap first and counted in the failcnt of whichever
            // limit refused it (mm/memcontrol-v1 try_charge), so with memsw at the memory limit
            // (no swap) every hit lands in memory.memsw.failcnt: the two together are the hits.
            MemoryLimitHits = (TryReadInt64(FailCount) ?? 0) + (TryReadInt64(MemSwFailCount) ?? 0),
        };
    }
}
