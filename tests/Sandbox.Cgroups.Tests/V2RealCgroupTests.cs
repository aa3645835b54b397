using System.Diagnostics;
using Xunit.Abstractions;

namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// <see cref="V2Cgroup"/> on a real pure cgroup v2 kernel: limits are enforced and counted,
/// freeze stops processes, kill empties the cgroup, destroy removes it. They need a pure v2 host
/// where this process may create cgroups in its own cgroup (tests/vm/run-v2-tests.sh boots one).
/// Elsewhere (such as this repository's hybrid build host) they pass without doing anything,
/// unless SANDBOX_REQUIRE_CGROUP2 is set: then not being able to run is a failure.
/// </summary>
[Trait("Category", "RealCgroupV2")]
public class V2RealCgroupTests(ITestOutputHelper output)
{
    private const string RequireVariable = "SANDBOX_REQUIRE_CGROUP2";
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task Memory_and_pids_limits_are_enforced_and_counted()
    {
        if (PureV2() is not { } hierarchy)
            return;
        var cgroup = V2Cgroup.Create(hierarchy, hierarchy.Directory, NewName(),
            new CgroupLimits { MemoryBytes = 32 * MiB, MemorySwapBytes = 32 * MiB, PidsMax = 16 },
            moveCallerToLeaf: false, LinuxCgroupFileSystem.Instance);
        string directory = cgroup.UnifiedDirectory!;
        try
        {
            Assert.Equal("33554432", Read(directory, "memory.max"));
            Assert.Equal("0", Read(directory, "memory.swap.max"));
            Assert.Equal("16", Read(directory, "pids.max"));

            // 100 MB under a 32 MB limit without swap: the OOM killer SIGKILLs it.
            var (exit, text) = RunIn(directory, "exec /usr/bin/python3 -c 'b = bytearray(100 * 1024 * 1024); print(\"allocated\", len(b))'");
            output.WriteLine($"allocation: exit {exit}, output `{text}`, memory.events `{Read(directory, "memory.events")}`");
            Assert.Equal(128 + 9, exit);
            Assert.DoesNotContain("allocated", text, StringComparison.Ordinal);
            var events = cgroup.GetEvents();
            Assert.True(events.OomKills >= 1, $"OomKills {events.OomKills}");
            Assert.True(events.MemoryLimitHits >= 1, $"MemoryLimitHits {events.MemoryLimitHits}");

            // 40 background sleeps under pids.max 16: forks fail.
            (exit, text) = RunIn(directory, "for i in $(seq 40); do sleep 1 & done; wait");
            output.WriteLine($"fork loop: exit {exit}, output `{text.Split('\n').FirstOrDefault()}`, pids.events `{Read(directory, "pids.events")}`");
            Assert.True(cgroup.GetEvents().PidsLimitHits >= 1, $"PidsLimitHits {cgroup.GetEvents().PidsLimitHits}");

            var stats = cgroup.GetStats();
            output.WriteLine(stats.ToString());
            Assert.True(stats.CpuTotal > TimeSpan.Zero);
            Assert.True(stats.MemoryPeakBytes is null or > 16 * MiB, $"memory.peak {stats.MemoryPeakBytes}");
            Assert.Equal(0, stats.PidsCurrent);
        }
        finally
        {
            await cgroup.DestroyAsync();
        }
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task Freeze_stops_processes_thaw_resumes_them_kill_empties_and_destroy_removes_children()
    {
        if (PureV2() is not { } hierarchy)
            return;
        string name = NewName();
        var cgroup = V2Cgroup.Create(hierarchy, hierarchy.Directory, name, new CgroupLimits { PidsMax = 32 },
            moveCallerToLeaf: false, LinuxCgroupFileSystem.Instance);
        string directory = cgroup.UnifiedDirectory!;
        string inner = directory + "/inner"; // a child cgroup, as a sandbox may make: destroy must remove it too
        string counter = Path.Combine(Path.GetTempPath(), name + ".counter");
        Process? process = null;
        try
        {
            Directory.CreateDirectory(inner);
            process = Start(inner, $"i=0; while :; do i=$((i+1)); echo $i > {counter}; done");
            Assert.True(WaitUntil(() => Counter(counter) > 0, TimeSpan.FromSeconds(60)), "the counter never started");
            Assert.Contains(process.Id, cgroup.GetProcessIds());

            long polled = CgroupEventsWaiter.PolledWaits;
            var clock = Stopwatch.StartNew();
            await cgroup.FreezeAsync();
            output.WriteLine($"freeze took {clock.ElapsedMilliseconds} ms");
            Assert.Contains("frozen 1", Read(directory, "cgroup.events"), StringComparison.Ordinal);
            Assert.Equal(polled + 1, CgroupEventsWaiter.PolledWaits); // the poll() path, not the re-reading fallback
            string before = RawCounter(counter);
            Thread.Sleep(1000);
            Assert.Equal(before, RawCounter(counter));

            clock.Restart();
            await cgroup.ThawAsync();
            output.WriteLine($"thaw took {clock.ElapsedMilliseconds} ms");
            long after = Counter(counter);
            Assert.True(WaitUntil(() => Counter(counter) > after + 10, TimeSpan.FromSeconds(30)), "the counter did not resume after thaw");

            cgroup.Kill();
            Assert.True(process.WaitForExit(30_000), "kill did not end the process");
            Assert.Equal(128 + 9, process.ExitCode);
        }
        finally
        {
            var clock = Stopwatch.StartNew();
            await cgroup.DestroyAsync();
            output.WriteLine($"destroy took {clock.ElapsedMilliseconds} ms");
            process?.Dispose();
            File.Delete(counter);
        }
        Assert.False(Directory.Exists(inner));
        Assert.False(Directory.Exists(directory));
        await cgroup.DestroyAsync(); // idempotent
    }

    /// <summary>The unified hierarchy when this is a pure v2 host whose cgroup this process may manage; otherwise <see langword="null"/> (or a failure when required).</summary>
    private UnifiedCgroupHierarchy? PureV2()
    {
        var host = CgroupHost.Current;
        string? reason = host.Mode != CgroupMode.Unified || host.Unified is null
            ? $"not a pure cgroup v2 host (mode {host.Mode})"
            : !IsWritable(host.Unified.Directory + "/cgroup.subtree_control")
                ? $"{host.Unified.Directory} is not writable by this user"
                : null;
        if (reason is null)
            return host.Unified;
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(RequireVariable)))
            Assert.Fail($"{RequireVariable} is set, but {reason}:\n{host}");
        output.WriteLine($"Not run: {reason}. Set {RequireVariable}=1 to make this a failure (tests/vm/run-v2-tests.sh does).");
        return null;
    }

    private static bool IsWritable(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string NewName() => "sandbox-v2test-" + Guid.NewGuid().ToString("N")[..8];

    private static string Read(string directory, string file) => File.ReadAllText(Path.Combine(directory, file)).Trim();

    /// <summary>A shell that moves itself into the cgroup first, then runs the workload there.</summary>
    private static Process Start(string directory, string script)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"echo $$ > {directory}/cgroup.procs || exit 99; {script}");
        return Process.Start(start)!;
    }

    private static (int ExitCode, string Output) RunIn(string directory, string script)
    {
        using var process = Start(directory, script);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), $"`{script}` did not finish");
        process.WaitForExit();
        return (process.ExitCode, (stdout.Result + stderr.Result).Trim());
    }

    private static string RawCounter(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    private static long Counter(string path) => long.TryParse(RawCounter(path).Trim(), out long value) ? value : -1;

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
                return false;
            Thread.Sleep(50);
        }
        return true;
    }
}
