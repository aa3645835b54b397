using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

[CollectionDefinition(nameof(HygieneTests), DisableParallelization = true)]
public class SerialCollection;

/// <summary>
/// Runs leave nothing behind: no fd, mount, zombie, thread or temp dir. Counted process-wide,
/// so these tests run alone.
/// </summary>
[Collection(nameof(HygieneTests))]
public class HygieneTests
{
    private static int CountFds() => Directory.GetFiles("/proc/self/fd").Length;

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

    private static string[] TempEntries() => Directory.GetFileSystemEntries(Path.GetTempPath());

    [Fact]
    public async Task Two_hundred_runs_in_a_row_leave_nothing_behind()
    {
        var sandbox = new SandboxBuilder().Build();
        var failing = new SandboxBuilder().WithWorkingDirectory("/no/such").Build();
        // Warm up both paths: the first failure loads more of the runtime (and its fds).
        await sandbox.ShAsync("true");
        await Assert.ThrowsAsync<SandboxException>(() => failing.ShAsync("true"));
        int fds = CountFds();
        var mounts = Mounts();
        var temp = TempEntries();

        for (int i = 0; i < 200; i++)
        {
            if (i % 10 == 9)
                await Assert.ThrowsAsync<SandboxException>(() => failing.ShAsync("true"));
            else
                Assert.Equal(i % 7, (await sandbox.ShAsync($"exit {i % 7}")).ExitCode);
        }

        Assert.Equal(fds, CountFds());
        Assert.Equal(mounts, Mounts());
        Assert.Equal(0, CountZombieChildren());
        Assert.Equal(temp.Order(), TempEntries().Order());
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
                .Count(t => File.ReadAllText(Path.Combine(t, "comm")).Trim() == "Sandbox reactor");
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
