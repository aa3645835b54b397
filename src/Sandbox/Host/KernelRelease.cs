namespace Sandboxing.Host;

/// <summary>Reads the version out of a kernel release string such as <c>6.1.0-18-amd64</c> or <c>5.15.0-1051-azure</c>.</summary>
internal static class KernelRelease
{
    public const string ProcPath = "/proc/sys/kernel/osrelease";

    /// <summary>The leading <c>major.minor[.patch]</c>, or <see langword="null"/> when the string does not start with one.</summary>
    public static Version? Parse(string? release)
    {
        if (string.IsNullOrWhiteSpace(release))
            return null;
        Span<int> parts = stackalloc int[3];
        int count = 0, i = 0;
        release = release.Trim();
        while (count < 3)
        {
            int start = i;
            long value = 0;
            while (i < release.Length && char.IsAsciiDigit(release[i]) && i - start < 9)
                value = value * 10 + (release[i++] - '0');
            if (i == start)
                break;
            parts[count++] = (int)value;
            if (i >= release.Length || release[i] != '.')
                break;
            i++;
        }
        return count switch
        {
            < 2 => null,
            2 => new Version(parts[0], parts[1]),
            _ => new Version(parts[0], parts[1], parts[2]),
        };
    }

    /// <summary>The running kernel's release, from procfs (cheaper than uname through a P/Invoke, and what uname returns).</summary>
    public static string? Current()
    {
        try
        {
            return File.ReadAllText(ProcPath).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
