namespace Sandboxing.Tests.Shared;

/// <summary>Finds host processes by an argument of theirs. Shared by the test projects (linked, not referenced).</summary>
internal static class HostProcesses
{
    /// <summary>Host pids of live (not zombie) processes with <paramref name="argument"/> among their arguments.</summary>
    public static List<int> WithArgument(string argument)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (args.Contains(argument) && !File.ReadAllText(Path.Combine(dir, "stat")).Contains(") Z "))
                    pids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // exited while we looked
            }
        }
        return pids;
    }
}
