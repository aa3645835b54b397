using System.Globalization;

namespace Sandboxing.Cli;

/// <summary>
/// Sizes and durations as written on the command line. Sizes follow docker (and go-units'
/// RAMInBytes): binary multiples, so <c>64m</c> is 64 MiB. Durations take one unit; a bare
/// number is seconds, as in <c>timeout(1)</c>.
/// </summary>
internal static class Units
{
    private static readonly (string Suffix, long Multiplier)[] s_sizeUnits =
    [
        ("", 1), ("b", 1),
        ("k", 1L << 10), ("kb", 1L << 10), ("kib", 1L << 10),
        ("m", 1L << 20), ("mb", 1L << 20), ("mib", 1L << 20),
        ("g", 1L << 30), ("gb", 1L << 30), ("gib", 1L << 30),
        ("t", 1L << 40), ("tb", 1L << 40), ("tib", 1L << 40),
    ];

    private static readonly (string Suffix, long TicksPerUnit)[] s_durationUnits =
    [
        ("", TimeSpan.TicksPerSecond),
        ("ms", TimeSpan.TicksPerMillisecond),
        ("s", TimeSpan.TicksPerSecond),
        ("m", TimeSpan.TicksPerMinute),
        ("h", TimeSpan.TicksPerHour),
    ];

    /// <summary>Parses <c>1048576</c>, <c>512k</c>, <c>64m</c>, <c>1.5g</c>, <c>64MiB</c>: a positive whole number of bytes.</summary>
    /// <summary>Bytes as docker prints them: 512B, 1.5KiB, 20.3MiB, 1.2GiB.</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes}B" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{value:0.##}{units[unit]}");
    }

    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        if (!TrySplitNumber(text, out decimal number, out string suffix))
            return false;
        foreach (var (unit, multiplier) in s_sizeUnits)
        {
            if (!suffix.Equals(unit, StringComparison.OrdinalIgnoreCase))
                continue;
            if (number > long.MaxValue / multiplier)
                return false;
            bytes = (long)decimal.Truncate(number * multiplier);
            return bytes > 0;
        }
        return false;
    }

    /// <summary>Parses <c>500ms</c>, <c>2s</c>, <c>1.5s</c>, <c>1m</c>, <c>1h</c> or <c>30</c> (seconds): a positive duration.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        if (!TrySplitNumber(text, out decimal number, out string suffix))
            return false;
        foreach (var (unit, ticksPerUnit) in s_durationUnits)
        {
            if (suffix != unit)
                continue;
            if (number > TimeSpan.MaxValue.Ticks / ticksPerUnit)
                return false;
            long ticks = (long)decimal.Truncate(number * ticksPerUnit);
            duration = TimeSpan.FromTicks(ticks);
            return ticks > 0;
        }
        return false;
    }

    /// <summary>Splits "DIGITS[.DIGITS]SUFFIX"; no sign, exponent or spaces, so "-1s" and "1e3" are rejected.</summary>
    private static bool TrySplitNumber(string text, out decimal number, out string suffix)
    {
        number = 0;
        suffix = "";
        int i = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
            i++;
        if (i == 0)
            return false;
        if (i < text.Length && text[i] == '.')
        {
            int fractionStart = ++i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
                i++;
            if (i == fractionStart)
                return false;
        }
        suffix = text[i..];
        // Long digit strings overflow decimal; nothing that large is a sensible size or duration.
        return i <= 24 && decimal.TryParse(text.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number);
    }
}
