using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>
/// Statistics and limit events, each from its own file. A file that is missing (its controller
/// not enabled, an older kernel, the cgroup gone) gives <see langword="null"/> or 0: reading
/// statistics never throws.
/// </summary>
internal sealed partial class V2Cgroup
{
    /// <inheritdoc/>
    public CgroupStats GetStats()
    {
        // cpu.stat: usage_usec/user_usec/system_usec are core files (no cpu controller needed); Linux 4.15.
        var cpu = ReadKeyed("cpu.stat");
        // io.stat: Linux 4.5 (io controller); one line per device.
        var io = ReadIoStat();
        return new CgroupStats
        {
            CpuTotal = Microseconds(cpu, "usage_usec"),
            CpuUser = Microseconds(cpu, "user_usec"),
            CpuSystem = Microseconds(cpu, "system_usec"),
            MemoryCurrentBytes = ReadNumber("memory.current"), // Linux 4.5
            MemoryPeakBytes = ReadNumber("memory.peak"),       // Linux 5.19
            PidsCurrent = ReadNumber("pids.current"),          // Linux 4.5 on v2
            IoReadBytes = io?.ReadBytes,
            IoWriteBytes = io?.WriteBytes,
            IoReadOperations = io?.ReadOperations,
            IoWriteOperations = io?.WriteOperations,
        };
    }

    /// <inheritdoc/>
    public CgroupEvents GetEvents()
    {
        // memory.events: Linux 4.5; its oom_kill key: 4.13. Counts this cgroup and its descendants.
        var memory = ReadKeyed("memory.events");
        // pids.events: Linux 4.8.
        var pids = ReadKeyed("pids.events");
        return new CgroupEvents
        {
            OomKills = memory?.GetValueOrDefault("oom_kill") ?? 0,
            MemoryLimitHits = memory?.GetValueOrDefault("max") ?? 0,
            PidsLimitHits = pids?.GetValueOrDefault("max") ?? 0,
        };
    }

    internal sealed record IoTotals(long ReadBytes, long WriteBytes, long ReadOperations, long WriteOperations);

    /// <summary>
    /// Sums io.stat over devices: lines such as
    /// <c>8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0</c>.
    /// </summary>
    internal static IoTotals ParseIoStat(string text)
    {
        long rbytes = 0, wbytes = 0, rios = 0, wios = 0;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (string field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            {
                int equals = field.IndexOf('=', StringComparison.Ordinal);
                if (equals < 0 || !long.TryParse(field.AsSpan(equals + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                    continue;
                switch (field[..equals])
                {
                    case "rbytes": rbytes += value; break;
                    case "wbytes": wbytes += value; break;
                    case "rios": rios += value; break;
                    case "wios": wios += value; break;
                }
            }
        }
        return new IoTotals(rbytes, wbytes, rios, wios);
    }

    /// <summary>Parses a flat-keyed file (<c>key value</c> per line) into numbers; lines that are not are skipped.</summary>
    internal static Dictionary<string, long> ParseKeyed(string text)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                values[parts[0]] = value;
        }
        return values;
    }

    private IoTotals? ReadIoStat() => TryRead("io.stat") is string text ? ParseIoStat(text) : null;

    private Dictionary<string, long>? ReadKeyed(string file) => TryRead(file) is string text ? ParseKeyed(text) : null;

    /// <summary>A single-number file such as memory.current; <c>max</c> or anything else gives <see langword="null"/>.</summary>
    private long? ReadNumber(string file) =>
        TryRead(file) is string text && long.TryParse(text.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : null;

    private static TimeSpan? Microseconds(Dictionary<string, long>? values, string key) =>
        values is not null && values.TryGetValue(key, out long value) ? TimeSpan.FromMicroseconds(value) : null;

    private string? TryRead(string file)
    {
        try
        {
            return _fs.ReadAllText(Directory + "/" + file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
