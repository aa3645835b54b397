using Sandboxing.Cgroups;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>
/// Resource limits through the sandbox's own cgroup, on the real kernel: a memory bomb, a fork
/// bomb and a CPU spin stay inside their limits, and the verdict says which limit ended them.
/// </summary>
[Collection(nameof(HygieneTests))] // counts cgroups process-wide; timing-sensitive
public class ResourceTests : IDisposable
{
    private const string Allocate200MiB = "python3 -c \"b = bytearray(200 * 1024 * 1024); print(len(b))\"";

    [Fact]
    public async Task A_memory_bomb_ends_as_MemoryLimitExceeded()
    {
        var r = Track(await new SandboxBuilder().WithMemoryLimit(32L << 20).Build().ShAsync(Allocate200MiB));
        Assert.Equal(SandboxVerdict.MemoryLimitExceeded, r.Verdict);
        Assert.Equal(128 + 9, r.ShellExitStatus); // python was SIGKILLed; sh reports 137
        Assert.NotNull(r.Usage);
        Assert.True(r.Usage!.OomKills >= 1);
        Assert.True(r.Usage.LimitsHit.HasFlag(SandboxLimits.Memory));
        Assert.DoesNotContain("209715200", r.StandardOutput);
    }

    [Fact]
    public async Task An_OOM_kill_of_a_child_process_is_detected_too()
    {
        var r = Track(await new SandboxBuilder().WithMemoryLimit(32L << 20).Build().ShAsync($"{Allocate200MiB}; echo child-status=$?"));
        Assert.Equal(SandboxVerdict.MemoryLimitExceeded, r.Verdict);
        Assert.Equal(0, r.ExitCode); // the shell itself exited normally
        Assert.Contains("child-status=137", r.StandardOutput);
    }

    [Fact]
    public async Task Within_the_limit_memory_use_is_reported()
    {
        var r = Track(await new SandboxBuilder().WithMemoryLimit(256L << 20).Build().ShAsync(Allocate200MiB.Replace("200", "64")));
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(0, r.Usage!.OomKills);
        if (r.Usage.MemoryPeakBytes is { } peak)
            Assert.InRange(peak, 64L << 20, 256L << 20);
    }

    [Fact]
    public async Task A_fork_bomb_stops_at_the_pids_limit_and_the_sandbox_is_still_killable()
    {
        string token = Sandboxes.UniqueSleepToken();
        var sandbox = new SandboxBuilder().WithPidsLimit(16).WithTimeout(TimeSpan.FromSeconds(30)).Build();
        // The shell forks until the kernel refuses (dash then gives up with "Cannot fork").
        var r = Track(await sandbox.ShAsync($"while :; do sleep {token} & done"));
        Assert.True(r.Usage!.LimitsHit.HasFlag(SandboxLimits.Pids), $"limits hit: {r.Usage.LimitsHit}");
        Assert.Contains("fork", r.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token)); // its 15 sleeps died with the sandbox

        // A bomb that keeps trying (python retries on EAGAIN) is still killable.
        string token2 = Sandboxes.UniqueSleepToken();
        await using var p = Track(await new SandboxBuilder().WithPidsLimit(16).WithStandardOutput(SandboxOutput.Pipe).Build().StartAsync(
            ["python3", "-c", $"import os, sys\nprint('ready', flush=True)\nwhile True:\n    try:\n        os.posix_spawn('/bin/sleep', ['sleep', '{token2}'], {{}})\n    except OSError:\n        pass"]));
        Assert.Equal("ready", await new StreamReader(p.StandardOutput).ReadLineAsync());
        var killed = await p.KillAsync();
        Assert.Equal(SandboxVerdict.Canceled, killed.Verdict);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token2));
    }

    [Fact]
    public async Task A_cpu_limit_keeps_a_spin_near_its_share()
    {
        var sandbox = new SandboxBuilder().WithCpuLimit(0.2).WithTimeout(TimeSpan.FromSeconds(3)).Build();
        var r = Track(await sandbox.ShAsync("while :; do :; done"));
        Assert.Equal(SandboxVerdict.TimedOut, r.Verdict);
        double share = r.Usage!.CpuTotal!.Value.TotalSeconds / r.WallTime.TotalSeconds;
        Assert.InRange(share, 0.08, 0.35);
    }

    [Fact]
    public async Task A_cpuset_limits_the_cpus_the_command_may_run_on()
    {
        var r = Track(await new SandboxBuilder().WithResources(l => l with { CpusetCpus = "0" }).Build().ShAsync("grep Cpus_allowed_list /proc/self/status"));
        Assert.Equal("Cpus_allowed_list:\t0\n", r.StandardOutput);
        var all = Track(await new SandboxBuilder().WithCgroup().Build().ShAsync("grep Cpus_allowed_list /proc/self/status"));
        Assert.Equal($"Cpus_allowed_list:\t0-{Environment.ProcessorCount - 1}\n", all.StandardOutput);
    }

    [Fact]
    public async Task Pause_stops_progress_and_resume_continues_it()
    {
        var sandbox = new SandboxBuilder().WithCgroup().Build();
        await using var p = Track(await sandbox.StartAsync(["/bin/sh", "-c", "while :; do :; done"]));
        Assert.Equal(SandboxState.Running, p.State);
        await p.PauseAsync();
        Assert.Equal(SandboxState.Paused, p.State);
        var frozen = p.GetStats()!.CpuTotal;
        await Task.Delay(300); // a measurement interval, not synchronisation: a frozen cgroup uses no CPU
        Assert.Equal(frozen, p.GetStats()!.CpuTotal);
        await p.ResumeAsync();
        Assert.Equal(SandboxState.Running, p.State);
        await Task.Delay(300);
        Assert.True(p.GetStats()!.CpuTotal > frozen);
        var r = await p.KillAsync();
        Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
        Assert.Equal(SandboxState.Exited, p.State);
    }

    [Fact]
    public async Task Statistics_stream_while_the_sandbox_runs_and_list_its_processes()
    {
        var sandbox = new SandboxBuilder().WithCgroup().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var p = Track(await sandbox.StartAsync(["/bin/sh", "-c", "sleep 1000 & sleep 1000 & echo ready; while :; do :; done"]));
        Assert.Equal("ready", await new StreamReader(p.StandardOutput).ReadLineAsync());
        var pids = p.GetProcessIds();
        Assert.Contains(p.Pid, pids);
        Assert.True(pids.Count >= 4, $"sh, two sleeps and init: {string.Join(',', pids)}"); // init is in it too
        var samples = new List<CgroupStats>();
        await foreach (var stats in p.StreamStatsAsync(TimeSpan.FromMilliseconds(100)))
        {
            samples.Add(stats);
            if (samples.Count == 3)
                break;
        }
        Assert.Equal(3, samples.Count);
        Assert.True(samples[2].CpuTotal > samples[0].CpuTotal, "a spinning shell consumes CPU between samples");
        Assert.True(samples[0].PidsCurrent >= 4);
        await p.KillAsync();
        Assert.Empty(p.GetProcessIds());
    }

    [Theory]
    [InlineData("no-such-program")]
    [InlineData("/etc/passwd")]
    public async Task A_start_that_fails_half_way_leaves_no_cgroup(string program)
    {
        var sandbox = new SandboxBuilder().WithMemoryLimit(64L << 20).WithPidsLimit(32).Build();
        var e = await Assert.ThrowsAsync<SandboxException>(() => sandbox.RunAsync([program]));
        Assert.NotNull(e.SandboxId);
        _ids.Add(e.SandboxId!); // Dispose checks its cgroups are gone from every hierarchy
    }

    [Fact]
    public async Task Without_a_cgroup_pause_is_refused_clearly()
    {
        await using var p = Track(await new SandboxBuilder().Build().StartAsync(["/bin/sleep", "1000"]));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => p.PauseAsync());
        Assert.Contains("WithCgroup", e.Message);
        Assert.Null(p.GetStats());
    }

    [Fact]
    public async Task Bad_limits_are_refused_by_Build()
    {
        _ids.Add("none");
        Assert.Equal("resources.memory", Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithMemoryLimit(1024).Build()).Setting);
        Assert.Equal("resources.cpus", Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithCpuLimit(0).Build()).Setting);
        Assert.Equal("resources.pidsLimit", Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithPidsLimit(0).Build()).Setting);
        Assert.Equal("resources.cpusetCpus", Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithResources(l => l with { CpusetCpus = "x" }).Build()).Setting);
        await Task.CompletedTask;
    }

    private readonly List<string> _ids = [];

    private T Track<T>(T result) where T : class
    {
        if (result is SandboxResult r)
            _ids.Add(r.SandboxId);
        else if (result is SandboxProcess p)
            _ids.Add(p.Id);
        return result;
    }

    /// <summary>After every test: none of its sandboxes' cgroups is left in any hierarchy.</summary>
    public void Dispose()
    {
        Assert.NotEmpty(_ids);
        foreach (var h in CgroupHost.Current.Hierarchies)
            foreach (var id in _ids)
                Assert.False(Directory.Exists(Path.Combine(h.Directory, "sandbox-" + id)), $"cgroup sandbox-{id} left in {h.Directory}");
    }
}
