namespace Sandboxing.Cgroups;

/// <summary>
/// The v1 cpuacct controller (Documentation/admin-guide/cgroup-v1/cpuacct.rst): CPU time used,
/// in total (<c>cpuacct.usage</c>, ns) and split into user and system (<c>cpuacct.stat</c>, USER_HZ ticks).
/// </summary>
internal sealed class CpuacctController(string directory, ICgroupFileSystem fileSystem) : V1Controller(directory, fileSystem)
{
    public const string ControllerName = "cpuacct";
    private const string Usage = "cpuacct.usage";
    private const string Stat = "cpuacct.stat";

    // cpuacct.stat counts in USER_HZ (clock_t) ticks: 100 a second on every architecture's
    // user ABI except alpha, whatever CONFIG_HZ the kernel was built with.
    private const long UserHz = 100;

    public override string Name => ControllerName;

    public CgroupStats AddStats(CgroupStats stats)
    {
        var stat = V1Files.ParseFlatKeyed(Read(Stat));
        return stats with
        {
            CpuTotal = FromNanoseconds(ReadInt64(Usage)),
            CpuUser = stat.TryGetValue("user", out long user) ? FromUserHz(user) : null,
            CpuSystem = stat.TryGetValue("system", out long system) ? FromUserHz(system) : null,
        };
    }

    public static TimeSpan FromNanoseconds(long nanoseconds) => TimeSpan.FromTicks(nanoseconds / (1_000_000_000 / TimeSpan.TicksPerSecond));

    public static TimeSpan FromUserHz(long ticks) => TimeSpan.FromTicks(ticks * (TimeSpan.TicksPerSecond / UserHz));
}
