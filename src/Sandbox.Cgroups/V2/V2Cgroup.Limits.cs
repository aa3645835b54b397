using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Sandboxing.Cgroups;

/// <summary>
/// Limits: one small setter per control file, each with the kernel version that added the file,
/// and the pure conversions they use (docker's terms to the kernel's).
/// </summary>
internal sealed partial class V2Cgroup
{
    /// <summary>cpu.max period in microseconds: the kernel's default, and docker's for --cpus.</summary>
    internal const long CpuPeriodMicroseconds = 100_000;

    /// <summary>The smallest cpu.max quota the kernel accepts: 1 ms.</summary>
    internal const long MinCpuQuotaMicroseconds = 1_000;

    /// <summary>The largest cpu.max quota the kernel accepts (kernel/sched/core.c: max_cfs_runtime).</summary>
    private const long MaxCpuQuotaMicroseconds = (1L << 44) - 1;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A limit is invalid; the message names the docker option.</exception>
    /// <exception cref="InvalidOperationException">A controller a limit needs is not enabled for this cgroup.</exception>
    /// <exception cref="IOException">The kernel refused a value; the inner <see cref="CgroupWriteException"/> has the errno.</exception>
    public void Apply(CgroupLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var required = RequiredControllers(limits);
        var available = V2Delegation.ReadWords(_fs, Directory + "/cgroup.controllers");
        var missing = V2Delegation.Ordered(required.Keys.Where(c => !available.Contains(c))).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidOperationException(
                $"cgroup {Directory} lacks the {string.Join(", ", missing)} controller(s), needed for "
                + $"{string.Join(", ", missing.Select(c => required[c]))}: its cgroup.controllers lists "
                + $"`{string.Join(' ', V2Delegation.Ordered(available))}` (the parent must enable them in cgroup.subtree_control).");
        }

        // cpuset before the rest: its files must be set before anything runs on the cgroup's CPUs.
        SetCpusetCpus(limits);
        SetCpusetMems(limits);
        SetCpuWeight(limits);
        SetCpuMax(limits);
        SetMemoryLow(limits);
        SetMemoryMax(limits);
        SetMemorySwapMax(limits);
        SetPidsMax(limits);
        SetIoMax(limits);
    }

    // ---- memory ---------------------------------------------------------------------------

    // memory.max: Linux 4.5 (the v2 memory controller). docker --memory; --memory-swap alone also
    // bounds memory, to the total (docker: "memory-swap without memory" limits both to it).
    private void SetMemoryMax(CgroupLimits limits)
    {
        long? bytes = limits.MemoryBytes ?? (limits.MemorySwapBytes is > 0 ? limits.MemorySwapBytes : null);
        if (bytes is long value)
            Write("memory.max", Format(value), "memory limit", limits.MemoryBytes is null ? "--memory-swap" : "--memory");
    }

    // memory.swap.max: Linux 4.5 (absent when swap accounting is off: swapaccount=0 or no CONFIG_MEMCG_SWAP).
    private void SetMemorySwapMax(CgroupLimits limits)
    {
        if (SwapMax(limits.MemoryBytes, limits.MemorySwapBytes) is string value)
            Write("memory.swap.max", value, "swap limit", "--memory-swap");
    }

    // memory.low: Linux 4.5. docker --memory-reservation (v1's soft limit; v2's best-effort protection).
    private void SetMemoryLow(CgroupLimits limits)
    {
        if (limits.MemoryReservationBytes is long value)
            Write("memory.low", Format(value), "memory reservation", "--memory-reservation");
    }

    /// <summary>
    /// memory.swap.max from docker's --memory and --memory-swap (memory plus swap):
    /// -1 → <c>max</c>; both → total − memory; the total alone → 0 (memory.max takes the total);
    /// neither → <see langword="null"/> (leave it).
    /// </summary>
    internal static string? SwapMax(long? memory, long? memorySwap) => (memory, memorySwap) switch
    {
        (_, null) => null,
        (_, -1) => "max",
        (long m, long total) => Format(total - m),
        (null, _) => "0",
    };

    // ---- cpu ------------------------------------------------------------------------------

    // cpu.max: Linux 4.15 (the v2 cpu controller). "$QUOTA $PERIOD" in microseconds; docker --cpus.
    private void SetCpuMax(CgroupLimits limits)
    {
        if (limits.Cpus is double cpus)
            Write("cpu.max", CpuMax(cpus), "CPU quota", "--cpus");
    }

    // cpu.weight: Linux 4.15. 1-10000 (100 normal); docker --cpu-shares, converted.
    private void SetCpuWeight(CgroupLimits limits)
    {
        if (limits.CpuShares is long shares)
            Write("cpu.weight", Format(ConvertSharesToWeight(shares)), "CPU weight", "--cpu-shares");
    }

    /// <summary><c>quota period</c> for a number of CPUs: quota = cpus × 100000 µs, at least 1000 µs.</summary>
    internal static string CpuMax(double cpus)
    {
        long quota = Math.Max(MinCpuQuotaMicroseconds, (long)Math.Round(cpus * CpuPeriodMicroseconds, MidpointRounding.AwayFromZero));
        return $"{Format(quota)} {Format(CpuPeriodMicroseconds)}";
    }

    /// <summary>
    /// v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000], linearly, as crun's
    /// convert_shares_to_weight does (and runc since 1.0): 2 → 1, 1024 → 39, 262144 → 10000.
    /// </summary>
    internal static long ConvertSharesToWeight(long shares) => shares == 0 ? 0 : 1 + ((shares - 2) * 9999) / 262142;

    // ---- cpuset ---------------------------------------------------------------------------

    // cpuset.cpus: Linux 5.0 (cpuset on v2). docker --cpuset-cpus; must be within the parent's cpuset.cpus.effective.
    private void SetCpusetCpus(CgroupLimits limits)
    {
        if (limits.CpusetCpus is string cpus)
            Write("cpuset.cpus", cpus, "CPU set", "--cpuset-cpus");
    }

    // cpuset.mems: Linux 5.0. docker --cpuset-mems.
    private void SetCpusetMems(CgroupLimits limits)
    {
        if (limits.CpusetMems is string mems)
            Write("cpuset.mems", mems, "memory node set", "--cpuset-mems");
    }

    // ---- pids -----------------------------------------------------------------------------

    // pids.max: Linux 4.3 (pids controller), on v2 from 4.5. docker --pids-limit, -1 for "max".
    private void SetPidsMax(CgroupLimits limits)
    {
        if (limits.PidsMax is long value)
            Write("pids.max", value == -1 ? "max" : Format(value), "process limit", "--pids-limit");
    }

    // ---- io -------------------------------------------------------------------------------

    // io.max: Linux 4.5 (the v2 io controller). One write per device, "MAJ:MIN rbps=.. wbps=.. riops=.. wiops=..";
    // docker --device-read-bps, --device-write-bps, --device-read-iops, --device-write-iops.
    private void SetIoMax(CgroupLimits limits)
    {
        foreach (string line in IoMaxLines(limits.IoThrottles))
            Write("io.max", line, "block I/O throttle", "--device-read-bps/--device-write-bps/--device-read-iops/--device-write-iops");
    }

    /// <summary>One io.max line per device, in the order devices first appear; keys in the kernel's order.</summary>
    internal static IReadOnlyList<string> IoMaxLines(IReadOnlyList<IoThrottle> throttles)
    {
        var lines = new List<string>();
        foreach (var device in throttles.GroupBy(t => (t.Major, t.Minor)))
        {
            var line = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{device.Key.Major}:{device.Key.Minor}");
            foreach (var kind in new[] { IoThrottleKind.ReadBytesPerSecond, IoThrottleKind.WriteBytesPerSecond, IoThrottleKind.ReadOperationsPerSecond, IoThrottleKind.WriteOperationsPerSecond })
            {
                foreach (var throttle in device.Where(t => t.Kind == kind))
                    line.Append(' ').Append(IoKey(kind)).Append('=').Append(throttle.Value.ToString(CultureInfo.InvariantCulture));
            }
            lines.Add(line.ToString());
        }
        return lines;
    }

    // ---- validation -----------------------------------------------------------------------

    /// <summary>
    /// Checks every limit and returns the controllers they need, each with the docker option that
    /// needs it (for messages). Runs before anything is written.
    /// </summary>
    /// <exception cref="ArgumentException">A limit is invalid; the message names the docker option.</exception>
    internal static IReadOnlyDictionary<string, string> RequiredControllers(CgroupLimits limits)
    {
        var required = new Dictionary<string, string>(StringComparer.Ordinal);
        void Need(string controller, string option)
        {
            if (!required.TryAdd(controller, option))
                required[controller] += ", " + option;
        }

        if (limits.MemoryBytes is long memory)
        {
            Check(memory > 0, $"--memory must be > 0 bytes, got {memory}.");
            Need("memory", "--memory");
        }
        if (limits.MemorySwapBytes is long swap)
        {
            Check(swap == -1 || swap > 0, $"--memory-swap must be > 0 bytes (memory plus swap), or -1 for unlimited swap, got {swap}.");
            Check(swap == -1 || limits.MemoryBytes is not long m || swap >= m,
                $"--memory-swap ({swap}) must be >= --memory ({limits.MemoryBytes}): it is memory plus swap (or -1 for unlimited swap).");
            Need("memory", "--memory-swap");
        }
        if (limits.MemoryReservationBytes is long reservation)
        {
            Check(reservation >= 0, $"--memory-reservation must be >= 0 bytes, got {reservation}.");
            Check(limits.MemoryBytes is not long m || reservation <= m,
                $"--memory-reservation ({reservation}) must be <= --memory ({limits.MemoryBytes}).");
            Need("memory", "--memory-reservation");
        }
        if (limits.Cpus is double cpus)
        {
            Check(double.IsFinite(cpus) && cpus > 0, $"--cpus must be > 0, got {cpus.ToString(CultureInfo.InvariantCulture)}.");
            Check(cpus * CpuPeriodMicroseconds <= MaxCpuQuotaMicroseconds, $"--cpus {cpus.ToString(CultureInfo.InvariantCulture)} is more than the kernel accepts.");
            Need("cpu", "--cpus");
        }
        if (limits.CpuShares is long shares)
        {
            Check(shares is >= 2 and <= 262144, $"--cpu-shares must be between 2 and 262144 (1024 is normal), got {shares}.");
            Need("cpu", "--cpu-shares");
        }
        if (limits.CpusetCpus is string cpuList)
        {
            Check(IsCpuList(cpuList), $"--cpuset-cpus must be a CPU list such as `0-3,6`, got `{cpuList}`.");
            Need("cpuset", "--cpuset-cpus");
        }
        if (limits.CpusetMems is string memList)
        {
            Check(IsCpuList(memList), $"--cpuset-mems must be a memory node list such as `0` or `0-1`, got `{memList}`.");
            Need("cpuset", "--cpuset-mems");
        }
        if (limits.PidsMax is long pids)
        {
            Check(pids > 0 || pids == -1, $"--pids-limit must be > 0, or -1 for unlimited, got {pids}.");
            Need("pids", "--pids-limit");
        }
        if (!limits.IoThrottles.IsDefaultOrEmpty)
        {
            foreach (var throttle in limits.IoThrottles)
            {
                string option = DockerOption(throttle.Kind);
                Check(throttle.Value > 0, $"{option} for device {throttle.Major}:{throttle.Minor} must be > 0, got {throttle.Value}.");
                Check(limits.IoThrottles.Count(t => t.Major == throttle.Major && t.Minor == throttle.Minor && t.Kind == throttle.Kind) == 1,
                    $"{option} is given more than once for device {throttle.Major}:{throttle.Minor}.");
                Need("io", option);
            }
        }
        return required;
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
            throw new ArgumentException(message, "limits");
    }

    /// <summary>cpuset list syntax: "0", "0-3", "0-3,6,8-9" (ranges ascending).</summary>
    private static bool IsCpuList(string list)
    {
        if (!CpuListPattern().IsMatch(list))
            return false;
        foreach (string part in list.Split(','))
        {
            string[] ends = part.Split('-');
            if (ends.Length == 2 && (!int.TryParse(ends[0], CultureInfo.InvariantCulture, out int low)
                || !int.TryParse(ends[1], CultureInfo.InvariantCulture, out int high) || low > high))
                return false;
        }
        return true;
    }

    [GeneratedRegex(@"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex CpuListPattern();

    private static string IoKey(IoThrottleKind kind) => kind switch
    {
        IoThrottleKind.ReadBytesPerSecond => "rbps",
        IoThrottleKind.WriteBytesPerSecond => "wbps",
        IoThrottleKind.ReadOperationsPerSecond => "riops",
        IoThrottleKind.WriteOperationsPerSecond => "wiops",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static string DockerOption(IoThrottleKind kind) => kind switch
    {
        IoThrottleKind.ReadBytesPerSecond => "--device-read-bps",
        IoThrottleKind.WriteBytesPerSecond => "--device-write-bps",
        IoThrottleKind.ReadOperationsPerSecond => "--device-read-iops",
        IoThrottleKind.WriteOperationsPerSecond => "--device-write-iops",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"{kind} is not an I/O throttle kind."),
    };

    /// <summary>One control-file write; a refusal becomes an error saying which limit failed, with a hint where one helps.</summary>
    private void Write(string file, string content, string limit, string option)
    {
        try
        {
            _fs.WriteControlFile(Directory + "/" + file, content);
        }
        catch (CgroupWriteException e)
        {
            throw new IOException(
                $"Cannot set the {limit} ({option}) of cgroup {Directory}: writing `{content}` to {file} failed: {e.Message}.{Hint(file, e.ErrorNumber)}", e);
        }
    }

    private static string Hint(string file, int errno) => (file, errno) switch
    {
        ("memory.swap.max", ENOENT) => " The kernel does not account swap (booted with swapaccount=0, or built without it): leave --memory-swap out.",
        ("cpuset.cpus" or "cpuset.mems", 22) => " The set must be within the parent's (see cpuset.cpus.effective / cpuset.mems.effective there).",
        ("io.max", 22 or 19) => " The device must be a whole block device (MAJ:MIN from /proc/partitions or lsblk), not a partition or a missing one.",
        (_, ENOENT) => " The file is missing: the kernel is too old for it, or its controller is not enabled for this cgroup.",
        _ => "",
    };
}
