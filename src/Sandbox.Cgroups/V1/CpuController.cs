namespace Sandboxing.Cgroups;

/// <summary>
/// The v1 cpu controller (Documentation/scheduler/sched-bwc.rst): the CFS bandwidth quota
/// (<c>cpu.cfs_quota_us</c> per <c>cpu.cfs_period_us</c>) and the relative weight <c>cpu.shares</c>.
/// </summary>
internal sealed class CpuController(string directory, ICgroupFileSystem fileSystem) : V1Controller(directory, fileSystem)
{
    public const string ControllerName = "cpu";
    private const string Quota = "cpu.cfs_quota_us";
    private const string Period = "cpu.cfs_period_us";
    private const string Shares = "cpu.shares";

    /// <summary>docker's period: 100 ms, so --cpus 0.5 is a quota of 50 ms per 100 ms.</summary>
    public const long PeriodMicroseconds = 100_000;

    // The kernel refuses quotas under 1 ms (EINVAL), so 0.01 CPU is the least that can be asked.
    private const long MinQuotaMicroseconds = 1_000;
    private const long MinShares = 2;
    private const long MaxShares = 262_144;

    private const int EINVAL = 22;

    public override string Name => ControllerName;

    public static string? Needed(CgroupLimits limits) =>
        limits.Cpus is not null ? nameof(CgroupLimits.Cpus)
        : limits.CpuShares is not null ? nameof(CgroupLimits.CpuShares)
        : null;

    public static void Validate(CgroupLimits limits)
    {
        if (limits.Cpus is double cpus && (!double.IsFinite(cpus) || QuotaFor(cpus) < MinQuotaMicroseconds))
            throw new ArgumentOutOfRangeException(nameof(limits), cpus, $"{nameof(CgroupLimits.Cpus)} must be at least 0.01 (a 1 ms quota per 100 ms period).");
        if (limits.CpuShares is long shares && shares is < MinShares or > MaxShares)
            throw new ArgumentOutOfRangeException(nameof(limits), shares, $"{nameof(CgroupLimits.CpuShares)} must be between {MinShares} and {MaxShares}.");
    }

    /// <summary>The CFS quota for a number of CPUs, in µs per <see cref="PeriodMicroseconds"/>.</summary>
    public static long QuotaFor(double cpus) => (long)Math.Round(cpus * PeriodMicroseconds, MidpointRounding.AwayFromZero);

    public void Apply(CgroupLimits limits)
    {
        if (limits.Cpus is double cpus)
        {
            long quota = QuotaFor(cpus);
            try
            {
                Write(Period, PeriodMicroseconds);
                Write(Quota, quota);
            }
            catch (CgroupWriteException e) when (e.ErrorNumber == EINVAL)
            {
                // A period change is checked against the quota already there (and a parent's limits
                // on v1), so when the period was refused, write the quota first and try again.
                Write(Quota, quota);
                Write(Period, PeriodMicroseconds);
            }
        }
        if (limits.CpuShares is long shares)
            Write(Shares, shares);
    }
}
