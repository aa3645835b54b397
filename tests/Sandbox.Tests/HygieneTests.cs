using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

[CollectionDefinition(nameof(HygieneTests), DisableParallelization = true)]
public class SerialCollection;

/// <summary>
/// Runs leave nothing behind: no fd, mount, zombie or process. Counted process-wide,
/// so these tests run alone.
/// </summary>
[Collection(nameof(HygieneTests))]
public class HygieneTests
{
    private static string[] FdTargets()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return Directory.GetFiles("/proc/self/fd").Select(f =>
        {
            try { return new FileInfo(f).LinkTarget ?? ""; }
            catch (IOException) { return ""; }
        }).ToArray();
    }

    /// <summary>fds only this library opens: pidfds of helpers and spec memfds.</summary>
    private static int CountOwnFds(string[] targets) =>
        targets.Count(t => t == "anon_inode:[pidfd]" || t.StartsWith("/memfd:sandbox-spec"));

    private static string[] Mounts() => File.ReadAllLines("/proc/self/mountinfo");

    private static int CountZombieChildren()
    {
        int self = Environment.ProcessId, zombies = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] == "Z" && int.Parse(fields[1]) == self)
                    zombies++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
            }
        }
        return zombies;
    }

    /// <summary>A file of one of this process's threads; empty when the thread has exited meanwhile (the pool retires idle ones).</summary>
    private static string TaskFile(string task, string name)
    {
        try
        {
            return File.ReadAllText(Path.Combine(task, name));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Live children of this process: a helper left behind would show here.</summary>
    private static int CountChildren() =>
        Directory.GetDirectories("/proc/self/task").Sum(t => TaskFile(t, "children").Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);

    [Fact]
    public async Task Two_hundred_runs_in_a_row_leave_nothing_behind()
    {
        var sandbox = new SandboxBuilder().Build();
        var failing = new SandboxBuilder().WithWorkingDirectory("/no/such").Build();
        // Warm up both paths: the first failure loads more of the runtime (and its fds).
        await sandbox.ShAsync("true");
        await Assert.ThrowsAsync<SandboxException>(() => failing.ShAsync("true"));
        var fds = FdTargets();
        var mounts = Mounts();

        for (int i = 0; i < 200; i++)
        {
            if (i % 10 == 9)
                await Assert.ThrowsAsync<SandboxException>(() => failing.ShAsync("true"));
            else
                Assert.Equal(i % 7, (await sandbox.ShAsync($"exit {i % 7}")).ExitCode);
        }

        var after = FdTargets();
        Assert.Equal(CountOwnFds(fds), CountOwnFds(after));
        // Pipes and sockets are shared with the runtime, which opens and closes its own
        // meanwhile; a leak of one per run would show as +200.
        Assert.InRange(after.Length, fds.Length - 10, fds.Length + 10);
        Assert.Equal(mounts, Mounts());
        Assert.Equal(0, CountZombieChildren());
        Assert.Equal(0, CountChildren());
    }

    [Fact]
    public async Task Many_concurrent_sandboxes_share_one_monitoring_thread()
    {
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        await sandbox.ShAsync("true");
        var processes = new List<SandboxProcess>();
        try
        {
            for (int i = 0; i < 50; i++)
                processes.Add(await sandbox.StartAsync(["/bin/sleep", "1000"]));
            var reactorThreads = Directory.GetDirectories("/proc/self/task")
                .Count(t => TaskFile(t, "comm").Trim() == "Sandbox reactor");
            Assert.Equal(1, reactorThreads);
            // no thread per sandbox: far fewer threads than sandboxes
            Assert.True(Directory.GetDirectories("/proc/self/task").Length < 50, "a thread per sandbox?");
        }
        finally
        {
            foreach (var p in processes)
                await p.DisposeAsync();
        }
        Assert.All(processes, p => Assert.True(p.HasExited));
    }
}
