using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>
/// Parser for <c>/proc/[pid]/cgroup</c> (see proc(5) and cgroups(7)). Pure: it only looks at the text.
/// </summary>
public static class ProcCgroupFile
{
    /// <summary>Where the file is for the calling process.</summary>
    public const string SelfPath = "/proc/self/cgroup";

    // kernel/cgroup/cgroup.c, proc_cgroup_show(): appended for a v2 cgroup that is already dead.
    internal const string DeletedSuffix = " (deleted)";

    /// <summary>Parses the whole file: one <see cref="CgroupMembership"/> per non-empty line, in file order.</summary>
    /// <param name="text">The file's contents.</param>
    /// <returns>The lines, in order.</returns>
    /// <exception cref="FormatException">A line is not <c>id:controllers:path</c>.</exception>
    public static IReadOnlyList<CgroupMembership> Parse(string text) => ProcLines.Parse(text, SelfPath, ParseLine);

    /// <summary>Parses one line, such as <c>4:cpu,cpuacct:/user.slice</c> or <c>0::/</c>.</summary>
    /// <param name="line">The line, without its newline.</param>
    /// <returns>The parsed line.</returns>
    /// <exception cref="FormatException">The line is not <c>id:controllers:path</c>.</exception>
    public static CgroupMembership ParseLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        // Only the first two colons separate fields: the path may contain colons (and spaces).
        int first = line.IndexOf(':', StringComparison.Ordinal);
        int second = first < 0 ? -1 : line.IndexOf(':', first + 1);
        if (second < 0)
            throw new FormatException($"expected `hierarchy-id:controller-list:path`, got `{line}`");

        if (!int.TryParse(line.AsSpan(0, first), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            throw new FormatException($"hierarchy id `{line[..first]}` is not a number in `{line}`");

        var controllers = new List<string>();
        string? name = null;
        foreach (string token in line[(first + 1)..second].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.StartsWith("name=", StringComparison.Ordinal))
                name = token["name=".Length..];
            else
                controllers.Add(token);
        }

        string path = line[(second + 1)..];
        bool deleted = path.EndsWith(DeletedSuffix, StringComparison.Ordinal);
        if (deleted)
            path = path[..^DeletedSuffix.Length];
        if (path.Length == 0)
            throw new FormatException($"empty cgroup path in `{line}`");

        return new CgroupMembership(id, controllers.AsReadOnly(), name, path, deleted);
    }
}
