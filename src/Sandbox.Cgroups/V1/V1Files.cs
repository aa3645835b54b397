using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>Parsers for the text formats of cgroup v1 control files. Pure: they only look at the text.</summary>
internal static class V1Files
{
    /// <summary>A file holding one integer, such as <c>memory.usage_in_bytes</c> or <c>cpuacct.usage</c>.</summary>
    public static long ParseInt64(string text, string path)
    {
        string trimmed = text.Trim();
        return long.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new FormatException($"{path}: expected a number, got `{trimmed}`");
    }

    /// <summary>
    /// A flat keyed file, one <c>key value</c> pair a line: <c>memory.oom_control</c>
    /// (<c>oom_kill_disable 0</c>, <c>under_oom 0</c>, <c>oom_kill 2</c>), <c>cpuacct.stat</c>
    /// (<c>user 12</c>, <c>system 3</c>), <c>pids.events</c> (<c>max 5</c>). Lines that are not
    /// a key and a number are skipped, so a kernel that adds a differently shaped line does not break us.
    /// </summary>
    public static IReadOnlyDictionary<string, long> ParseFlatKeyed(string text)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2 && long.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
                values[fields[0]] = value;
        }
        return values;
    }

    /// <summary>
    /// The read and write totals of a blkio statistics file (<c>blkio.throttle.io_service_bytes</c>,
    /// <c>blkio.throttle.io_serviced</c>): lines <c>MAJ:MIN Read|Write|Sync|Async|Discard|Total N</c>
    /// per device, then <c>Total N</c>. Read and Write lines are summed over the devices.
    /// </summary>
    public static (long Read, long Write) ParseBlkioReadWrite(string text)
    {
        long read = 0, write = 0;
        foreach (string line in text.Split('\n'))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 3 || !fields[0].Contains(':', StringComparison.Ordinal)
                || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                continue;
            if (fields[1] == "Read")
                read += value;
            else if (fields[1] == "Write")
                write += value;
        }
        return (read, write);
    }

    /// <summary>The pids in a <c>cgroup.procs</c> file, one a line.</summary>
    public static IEnumerable<int> ParsePids(string text, string path)
    {
        foreach (string line in text.Split('\n'))
        {
            string trimmed = line.Trim();
            if (trimmed.Length == 0)
                continue;
            yield return int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                ? pid
                : throw new FormatException($"{path}: expected a pid, got `{trimmed}`");
        }
    }
}
