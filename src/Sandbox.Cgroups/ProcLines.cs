namespace Sandboxing.Cgroups;

/// <summary>The line loop shared by the /proc file parsers: errors name the file and line.</summary>
internal static class ProcLines
{
    public static IReadOnlyList<T> Parse<T>(string text, string path, Func<string, T> parseLine)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<T>();
        int lineNumber = 0;
        foreach (string line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            try
            {
                result.Add(parseLine(line));
            }
            catch (FormatException e)
            {
                throw new FormatException($"{path} line {lineNumber}: {e.Message}", e);
            }
        }
        return result.AsReadOnly();
    }
}
