using System.Globalization;
using System.Text;

namespace Sandboxing.Cgroups;

/// <summary>
/// Parser for <c>/proc/[pid]/mountinfo</c> (see proc(5)). Pure: it only looks at the text.
/// </summary>
public static class MountInfoFile
{
    /// <summary>Where the file is for the calling process.</summary>
    public const string SelfPath = "/proc/self/mountinfo";

    /// <summary>Parses the whole file: one <see cref="MountInfoEntry"/> per non-empty line, in file order.</summary>
    /// <param name="text">The file's contents.</param>
    /// <returns>The mounts, in file order (for mounts stacked on one point, the later one is on top).</returns>
    /// <exception cref="FormatException">A line is malformed.</exception>
    public static IReadOnlyList<MountInfoEntry> Parse(string text) => ProcLines.Parse(text, SelfPath, ParseLine);

    /// <summary>Parses one line.</summary>
    /// <param name="line">The line, without its newline.</param>
    /// <returns>The parsed mount, with escapes in paths and options decoded.</returns>
    /// <exception cref="FormatException">The line is malformed.</exception>
    public static MountInfoEntry ParseLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        // The kernel separates fields with single spaces and escapes any space, tab, newline or
        // backslash inside a field as \ooo, so splitting on ' ' is exact (and keeps an empty source).
        string[] fields = line.Split(' ');
        // Fields 1-6 are fixed, then any number of optional fields, then "-".
        int separator = fields.Length < 7 ? -1 : Array.IndexOf(fields, "-", 6);
        if (separator < 0)
            throw new FormatException($"expected `id parent major:minor root mount-point options [optional...] - type source super-options`, got `{line}`");
        if (separator + 1 >= fields.Length)
            throw new FormatException($"no filesystem type after `-` in `{line}`");

        int mountId = ParseInt(fields[0], "mount id", line);
        int parentId = ParseInt(fields[1], "parent id", line);
        int colon = fields[2].IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
            throw new FormatException($"expected major:minor, got `{fields[2]}` in `{line}`");
        int major = ParseInt(fields[2][..colon], "major", line);
        int minor = ParseInt(fields[2][(colon + 1)..], "minor", line);

        return new MountInfoEntry(
            mountId, parentId, major, minor,
            root: Unescape(fields[3]),
            mountPoint: Unescape(fields[4]),
            mountOptions: SplitOptions(fields[5]),
            optionalFields: fields[6..separator].Where(f => f.Length > 0).ToArray().AsReadOnly(),
            fileSystemType: Unescape(fields[separator + 1]),
            // Older kernels and odd filesystems can leave the last two out; treat them as empty.
            source: separator + 2 < fields.Length ? Unescape(fields[separator + 2]) : "",
            superOptions: separator + 3 < fields.Length ? SplitOptions(fields[separator + 3]) : Array.Empty<string>().AsReadOnly());
    }

    /// <summary>
    /// Decodes the kernel's octal escapes (<c>\040</c> space, <c>\011</c> tab, <c>\012</c>
    /// newline, <c>\134</c> backslash). A backslash not followed by three octal digits is kept.
    /// </summary>
    /// <param name="field">A field as it appears in the file.</param>
    /// <returns>The decoded text.</returns>
    public static string Unescape(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        int backslash = field.IndexOf('\\', StringComparison.Ordinal);
        if (backslash < 0)
            return field;

        var builder = new StringBuilder(field.Length);
        builder.Append(field, 0, backslash);
        for (int i = backslash; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                builder.Append((char)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                builder.Append(field[i]);
            }
        }
        return builder.ToString();

        static bool IsOctal(char c) => c is >= '0' and <= '7';
    }

    private static IReadOnlyList<string> SplitOptions(string field) =>
        field.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Unescape).ToArray().AsReadOnly();

    private static int ParseInt(string text, string what, string line) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"{what} `{text}` is not a number in `{line}`");
}
