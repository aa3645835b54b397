using Sandboxing.Cgroups;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>
/// One process runs a thousand sandboxes at once without a thread each and without running out
/// of descriptors, and thousands of short ones from many tasks leave nothing behind. Counted
/// process-wide, so these run alone, with the hygiene tests.
/// </summary>
[Collection(nameof(HygieneTests))]
public class ScaleTests
{
    private static int ThreadCount() => Directory.GetDirectories("/proc/self/task").Length;

    private static int FdCount()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return Directory.GetFiles("/proc/self/fd").Length;
    }

    /// <summary>Children of every thread of this process; a thread that exits meanwhile (the pool retires idle ones) counts none.</summary>
    private static int ChildCount() =>
        Directory.GetDirectories("/proc/self/task").Sum(t =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(t, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            }
            catch (IOException)
            {
                return 0;
            }
        });

    /// <summary>
    /// The cgroups of these sandboxes that still exist under this process's own cgroups, in
    /// every hierarchy (other test processes make sandboxes of their own meanwhile).
    /// </summary>
    private static List<string> LeftoverCgroups(IReadOnlySet<string> sandboxIds)
    {
        var found = new List<string>();
        foreach (var line in File.ReadAllLines("/proc/self/cgroup"))
        {
            var parts = line.Split(':', 3);
            string controller = parts[1].Split(',')[0];
            string mount = parts[1].Length == 0 ? "/sys/fs/cgroup/unified" : $"/sys/fs/cgroup/{controller}";
            string dir = mount + parts[2];
            if (Directory.Exists(dir))
                found.AddRange(Directory.GetDirectories(dir, "sandbox-*").Where(d => sandboxIds.Contains(Path.GetFileName(d)["sandbox-".Length..])));
        }
        return found;
    }

    [Fact]
    public async Task A_thousand_sleeping_sandboxes_run_at_once_without_a_thread_each_then_all_die()
    {
        const int count = 1000;
        string token = Sandboxes.UniqueSleepToken();
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Null).WithStandardError(SandboxOutput.Null).Build();
        await (await sandbox.StartAsync(["/bin/true"])).WaitForExitAsync(); // warm up
        int threadsBefore = ThreadCount(), fdsBefore = FdCount(), childrenBefore = ChildCount();

        var processes = new SandboxProcess[count];
        using (var gate = new SemaphoreSlim(16))
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    processes[i] = await sandbox.StartAsync(["/bin/sleep", token]);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        try
        {
            Assert.Equal(count, Sandboxes.HostPidsWithArgument(token).Count);
            Assert.All(processes, p => Assert.Equal(SandboxState.Running, p.State));
            int threads = ThreadCount(), fds = FdCount();
            // The shared reactor and the thread pool, not one thread per sandbox; two
            // descriptors per sandbox (the control socket and the helper's pidfd).
            Assert.True(threads - threadsBefore < 50, $"{threads - threadsBefore} more threads for {count} sandboxes");
            Assert.InRange(fds - fdsBefore, count, 3 * count);
            Assert.Equal(count, ChildCount() - childrenBefore); // one helper each, nothing else
        }
        finally
        {
            var results = await Task.WhenAll(processes.Where(p => p is not null).Select(p => p.KillAsync()));
            Assert.All(results, r => Assert.Equal(SandboxVerdict.Canceled, r.Verdict));
            foreach (var p in processes.Where(p => p is not null))
                await p.DisposeAsync();
        }
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
        Assert.InRange(FdCount(), fdsBefore - 10, fdsBefore + 10);
        Assert.Equal(childrenBefore, ChildCount());
    }

    [Fact]
    public async Task Thousands_of_short_sandboxes_from_many_tasks_lose_no_status_and_leave_nothing_behind()
    {
        const int runs = 1500, tasks = 24;
        var plain = new SandboxBuilder().Build();
        var limited = new SandboxBuilder().WithPidsLimit(32).WithMemoryLimit(64L << 20).Build();
        await plain.ShAsync("true");
        await limited.ShAsync("true");
        int threadsBefore = ThreadCount(), fdsBefore = FdCount(), childrenBefore = ChildCount();
        var mountsBefore = File.ReadAllLines("/proc/self/mountinfo");
        var ids = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();

        int next = -1, mismatches = 0;
        await Task.WhenAll(Enumerable.Range(0, tasks).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < runs)
            {
                // Every fourth run has a cgroup; every seventh is killed by a signal of its own.
                var sandbox = i % 4 == 0 ? limited : plain;
                var r = await sandbox.ShAsync(i % 7 == 0 ? "kill -TERM $$" : $"exit {i % 200}");
                ids[r.SandboxId] = true;
                bool ok = i % 7 == 0 ? r is { Verdict: SandboxVerdict.Signaled, Signal: 15 } : r is { Verdict: SandboxVerdict.Exited } && r.ExitCode == i % 200;
                if (!ok)
                    Interlocked.Increment(ref mismatches);
            }
        })));

        Assert.Equal(0, mismatches);
        Assert.InRange(FdCount(), fdsBefore - 10, fdsBefore + 10);
        Assert.True(ThreadCount() - threadsBefore < 50, $"{ThreadCount() - threadsBefore} more threads");
        Assert.Equal(childrenBefore, ChildCount());
        Assert.Equal(mountsBefore, File.ReadAllLines("/proc/self/mountinfo"));
        Assert.Equal(runs, ids.Count);
        Assert.Empty(LeftoverCgroups(ids.Keys.ToHashSet()));
    }
}
