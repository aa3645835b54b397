using System.Collections.Immutable;

namespace Sandboxing;

/// <summary>One process of a running sandbox, as <see cref="SandboxProcess.GetProcesses"/> (docker top) lists it.</summary>
public sealed record SandboxProcessInfo
{
    /// <summary>Its pid on the host.</summary>
    public required int HostPid { get; init; }

    /// <summary>Its pid inside the sandbox's PID namespace (the host pid without one).</summary>
    public required int Pid { get; init; }

    /// <summary>Its parent's pid inside the sandbox; 0 when the parent is outside (an exec'd command's).</summary>
    public required int ParentPid { get; init; }

    /// <summary>Its real user id inside the sandbox; null when it is not mapped there.</summary>
    public uint? Uid { get; init; }

    /// <summary>Its real user id on the host.</summary>
    public required uint HostUid { get; init; }

    /// <summary>Its state letter as in ps: R running, S sleeping, D disk wait, T stopped, Z zombie, ...</summary>
    public required char State { get; init; }

    /// <summary>CPU time it has used, user and system together.</summary>
    public required TimeSpan CpuTime { get; init; }

    /// <summary>Its resident memory in bytes.</summary>
    public required long ResidentBytes { get; init; }

    /// <summary>Its command line (the program name in brackets when it has none, as for a zombie).</summary>
    public required string CommandLine { get; init; }
}

/// <summary>
/// Lists a sandbox's processes from the host's /proc: the members of its cgroup when it has one,
/// else every descendant of its helper. The helper's own children are the sandbox's init,
/// joiners of exec'd commands, and the exec'd commands themselves; only the last are listed (the
/// caller knows their pids). A process inside cannot hide by its name. The walk without a cgroup
/// reads the descendants twice, so that a process handed from a dying parent to init (or to a
/// subreaper) during the first pass is found in the second.
/// </summary>
internal static class SandboxTop
{
    private static readonly long s_ticksPerSecond = Math.Max(1, Interop.LibC.sysconf(Interop.LibC.SC_CLK_TCK));

    public static ImmutableArray<SandboxProcessInfo> List(int helperPid, IReadOnlySet<int> execPids, IReadOnlyList<int>? cgroupMembers)
    {
        // init and the joiners: the helper's children that are not exec'd commands.
        var helperChildren = ChildrenOf(helperPid).ToList();
        var notListed = helperChildren.Where(p => !execPids.Contains(p)).ToHashSet();
        var listed = new HashSet<int>();
        if (cgroupMembers is not null)
        {
            listed.UnionWith(cgroupMembers.Where(p => !notListed.Contains(p)));
        }
        else
        {
            for (int pass = 0; pass < 2; pass++)
            {
                var pending = new Stack<int>(pass == 0 ? helperChildren : ChildrenOf(helperPid));
                var seen = new HashSet<int>();
                while (pending.Count > 0)
                {
                    int pid = pending.Pop();
                    if (!seen.Add(pid))
                        continue;
                    foreach (int child in ChildrenOf(pid))
                        pending.Push(child);
                    if (!notListed.Contains(pid))
                        listed.Add(pid);
                }
            }
        }
        var result = ImmutableArray.CreateBuilder<SandboxProcessInfo>(listed.Count);
        foreach (int pid in listed)
            if (Describe(pid) is { } info)
                result.Add(info);
        result.Sort((a, b) => a.Pid.CompareTo(b.Pid));
        return result.ToImmutable();
    }

    private static IEnumerable<int> ChildrenOf(int pid)
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break; // it has exited
        }
        foreach (var task in tasks)
        {
            string text;
            try
            {
                text = File.ReadAllText(Path.Combine(task, "children"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if (int.TryParse(part, out int child))
                    yield return child;
        }
    }

    private static SandboxProcessInfo? Describe(int pid)
    {
        try
        {
            string status = File.ReadAllText($"/proc/{pid}/status");
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string comm = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
            // Fields after "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
            var nsPids = Field(status, "NSpid:").Split('\t', StringSplitOptions.RemoveEmptyEntries);
            var nsParent = Field(status, "PPid:");
            uint hostUid = uint.Parse(Field(status, "Uid:").Split('\t', StringSplitOptions.RemoveEmptyEntries)[0]);
            byte[] cmdline = File.ReadAllBytes($"/proc/{pid}/cmdline");
            string commandLine = cmdline.Length == 0 ? $"[{comm}]" : System.Text.Encoding.UTF8.GetString(cmdline).TrimEnd('\0').Replace('\0', ' ');
            return new SandboxProcessInfo
            {
                HostPid = pid,
                Pid = int.Parse(nsPids[^1]),
                ParentPid = ParentInside(int.Parse(nsParent), nsPids.Length),
                HostUid = hostUid,
                Uid = InsideUid(pid, hostUid),
                State = fields[0][0],
                CpuTime = TimeSpan.FromSeconds((double)ticks / s_ticksPerSecond),
                ResidentBytes = long.TryParse(Field(status, "VmRSS:").Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(), out long kb) ? kb * 1024 : 0,
                CommandLine = commandLine,
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null; // it exited while we read it
        }
    }

    /// <summary>The parent's pid inside: its NSpid's last entry when it shares the process's namespace depth, else 0 (outside).</summary>
    private static int ParentInside(int hostParent, int depth)
    {
        if (depth == 1)
            return hostParent;
        try
        {
            var parentPids = Field(File.ReadAllText($"/proc/{hostParent}/status"), "NSpid:").Split('\t', StringSplitOptions.RemoveEmptyEntries);
            return parentPids.Length == depth ? int.Parse(parentPids[^1]) : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }

    /// <summary>The host uid as the process's user namespace names it, from its uid_map (inside, outside, count).</summary>
    private static uint? InsideUid(int pid, uint hostUid)
    {
        foreach (var line in File.ReadAllLines($"/proc/{pid}/uid_map"))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3 && uint.TryParse(parts[0], out uint inside) && uint.TryParse(parts[1], out uint outside)
                && uint.TryParse(parts[2], out uint count) && hostUid >= outside && hostUid - outside < count)
                return inside + (hostUid - outside);
        }
        return null;
    }

    private static string Field(string status, string name)
    {
        int start = status.IndexOf("\n" + name, StringComparison.Ordinal);
        if (start < 0)
            return "";
        start += name.Length + 1;
        int end = status.IndexOf('\n', start);
        return status[start..(end < 0 ? status.Length : end)].Trim();
    }
}
