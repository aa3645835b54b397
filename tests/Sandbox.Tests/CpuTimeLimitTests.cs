using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>The CPU-time limit of a whole sandbox, distinct from the wall-clock timeout.</summary>
[Collection(nameof(HygieneTests))] // cgroups, and timing-sensitive
public class CpuTimeLimitTests
{
    [Fact]
    public async Task Spinning_past_the_cpu_time_limit_kills_the_sandbox_with_its_own_verdict()
    {
        var r = await new SandboxBuilder().WithCpuTimeLimit(TimeSpan.FromMilliseconds(300)).WithTimeout(TimeSpan.FromSeconds(30))
            .Build().RunAsync(["/bin/sh", "-c", "while :; do :; done"]);
        Assert.Equal(SandboxVerdict.CpuTimeLimitExceeded, r.Verdict);
        Assert.Equal(SandboxLimits.CpuTime, r.Usage!.LimitsHit & SandboxLimits.CpuTime);
        Assert.True(r.Usage.CpuTotal >= TimeSpan.FromMilliseconds(300), $"{r.Usage.CpuTotal}");
        // The check sleeps until the limit could first be reached, so it overshoots little; but on
        // a loaded 2-core machine its wake-up and the kill can come late, by most of a second at
        // times. Bounded loosely: a watcher that slept past the limit by seconds fails here.
        Assert.True(r.Usage.CpuTotal < TimeSpan.FromMilliseconds(300 + 2500), $"{r.Usage.CpuTotal}");
    }

    [Fact]
    public async Task All_processes_count_together()
    {
        var r = await new SandboxBuilder().WithCpuTimeLimit(TimeSpan.FromMilliseconds(400)).WithTimeout(TimeSpan.FromSeconds(30))
            .Build().RunAsync(["/bin/sh", "-c", "(while :; do :; done) & (while :; do :; done) & wait"]);
        Assert.Equal(SandboxVerdict.CpuTimeLimitExceeded, r.Verdict);
    }

    [Fact]
    public async Task Sleeping_costs_no_cpu_time_so_the_wall_clock_timeout_is_what_ends_it()
    {
        var r = await new SandboxBuilder().WithCpuTimeLimit(TimeSpan.FromSeconds(5)).WithTimeout(TimeSpan.FromMilliseconds(500))
            .Build().RunAsync(["/bin/sleep", "30"]);
        Assert.Equal(SandboxVerdict.TimedOut, r.Verdict);
        Assert.Equal((SandboxLimits)0, r.Usage!.LimitsHit & SandboxLimits.CpuTime);
    }

    [Fact]
    public async Task A_command_within_its_cpu_time_exits_normally()
    {
        var r = await new SandboxBuilder().WithCpuTimeLimit(TimeSpan.FromSeconds(5)).Build().RunAsync(["/bin/sh", "-c", "exit 4"]);
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        Assert.Equal(4, r.ExitCode);
    }

    [Fact]
    public void A_non_positive_limit_is_a_configuration_error()
    {
        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithCpuTimeLimit(TimeSpan.Zero).Build());
        Assert.Contains("cpuTimeLimit", e.Message);
    }
}
