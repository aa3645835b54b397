namespace Sandboxing.Cgroups;

/// <summary>
/// The v1 pids controller (Documentation/admin-guide/cgroup-v1/pids.rst, Linux 4.3): the number
/// of processes and threads, its limit, and how many forks the limit refused.
/// </summary>
internal sealed class PidsController(string directory, ICgroupFileSystem fileSystem) : V1Controller(directory, fileSystem)
{
    public const string ControllerName = "pids";
    private const string Max = "pids.max";
    private const string Current = "pids.current";
    // pids.events appeared in Linux 4.6.
    private const string Events = "pids.events";

    public override string Name => ControllerName;

    public static string? Needed(CgroupLimits limits) => limits.PidsMax is not null ? nameof(CgroupLimits.PidsMax) : null;

    public static void Validate(CgroupLimits limits)
    {
        if (limits.PidsMax is long max && max < 1 && max != -1)
            throw new ArgumentOutOfRangeException(nameof(limits), max, $"{nameof(CgroupLimits.PidsMax)} must be at least 1, or -1 for no limit.");
    }

    public void Apply(CgroupLimits limits)
    {
        if (limits.PidsMax is long max)
            Write(Max, max == -1 ? "max" : max.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public CgroupStats AddStats(CgroupStats stats) => stats with { PidsCurrent = ReadInt64(Current) };

    public CgroupEvents AddEvents(CgroupEvents events) =>
        events with { PidsLimitHits = Has(Events) ? V1Files.ParseFlatKeyed(Read(Events)).GetValueOrDefault("max") : 0 };
}
