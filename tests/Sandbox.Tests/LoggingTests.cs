using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>The log events of real runs, with their structured fields, through a capturing logger.</summary>
public class LoggingTests
{
    [Fact]
    public void Without_a_logger_nothing_is_logged()
    {
        Assert.Same(NullLogger.Instance, new SandboxBuilder().Build().Configuration.Logger);
        Assert.Same(NullLogger.Instance, new SandboxBuilder().WithLogger(null).Configuration.Logger);
    }

    [Fact]
    public async Task A_run_logs_its_start_and_its_end_with_structured_fields()
    {
        var log = new CapturingLogger();
        var sandbox = new SandboxBuilder().WithLogger(log).WithPidsLimit(32).WithTimeout(TimeSpan.FromSeconds(30)).Build();
        var result = await sandbox.RunAsync(["/bin/sh", "-c", "echo out; exit 3"]);

        var started = await log.WaitForAsync("SandboxStarted", result.SandboxId);
        Assert.Equal(LogLevel.Information, started.Level);
        Assert.Equal(1, started.Id.Id);
        Assert.Equal(["/bin/sh", "-c", "echo out; exit 3"], Assert.IsAssignableFrom<IReadOnlyList<string>>(started["Command"]));
        Assert.True((int)started["Pid"]! > 0);
        Assert.Equal(SandboxNamespaces.All, started["Namespaces"]);
        Assert.Equal(SandboxRootKind.Host, started["RootKind"]);
        Assert.Equal("pids=32 timeout=30s", started["Limits"]);

        var exited = await log.WaitForAsync("SandboxExited", result.SandboxId);
        Assert.Equal(2, exited.Id.Id);
        Assert.Equal(SandboxVerdict.Exited, exited["Verdict"]);
        Assert.Equal(3, exited["ExitCode"]);
        Assert.Null(exited["Signal"]);
        Assert.Equal(result.WallTime.TotalMilliseconds, (double)exited["WallTimeMs"]!);
        Assert.Equal(result.Usage!.CpuTotal!.Value.TotalMilliseconds, (double)exited["CpuTimeMs"]!);
        Assert.Contains($"Sandbox {result.SandboxId} ended: Exited, exit code 3", exited.Message);
        // Nothing per byte or line of output, and no limit was hit.
        Assert.Equal(["SandboxStarted", "SandboxExited"], log.Events.Where(e => e.Level >= LogLevel.Information).Select(e => e.Id.Name));
        // Every event of WatchEventsAsync at Debug too.
        var debug = log.Events.Where(e => e.Id.Name == "SandboxEvent").ToList();
        Assert.All(debug, e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Equal([SandboxEventKind.Started, SandboxEventKind.Exited], debug.Select(e => (SandboxEventKind)e["Event"]!));
    }

    [Fact]
    public async Task A_limit_hit_is_a_warning_naming_the_limit()
    {
        var log = new CapturingLogger();
        var sandbox = new SandboxBuilder().WithLogger(log).WithTimeout(TimeSpan.FromMilliseconds(200)).Build();
        var result = await sandbox.RunAsync(["/bin/sleep", "10"]);
        Assert.Equal(SandboxVerdict.TimedOut, result.Verdict);

        var hit = await log.WaitForAsync("SandboxLimitHit", result.SandboxId);
        Assert.Equal(LogLevel.Warning, hit.Level);
        Assert.Equal(SandboxLimits.WallTime, hit["LimitsHit"]);
        Assert.Equal(SandboxVerdict.TimedOut, hit["Verdict"]);
        var exited = await log.WaitForAsync("SandboxExited", result.SandboxId);
        Assert.Equal(SandboxVerdict.TimedOut, exited["Verdict"]);
        Assert.Null(exited["CpuTimeMs"]); // no cgroup, no CPU accounting
    }

    [Fact]
    public async Task A_failed_start_logs_the_step_and_errno_with_the_exception()
    {
        var log = new CapturingLogger();
        var sandbox = new SandboxBuilder().WithLogger(log).Build();
        var e = await Assert.ThrowsAsync<SandboxException>(() => sandbox.RunAsync(["/no/such/program"]));

        var failed = Assert.Single(log.Events);
        Assert.Equal("SandboxStartFailed", failed.Id.Name);
        Assert.Equal(LogLevel.Error, failed.Level);
        Assert.Equal(e.Step, failed["Step"]);
        Assert.Equal(2, failed["Errno"]); // ENOENT
        Assert.Equal(e.SandboxId, failed["SandboxId"]);
        Assert.Same(e, failed.Exception);
    }

    [Fact]
    public async Task The_end_is_logged_even_when_nobody_waits_for_it()
    {
        var log = new CapturingLogger();
        var sandbox = new SandboxBuilder().WithLogger(log).Build();
        string id;
        await using (var process = await sandbox.StartAsync(["/bin/sleep", "10"]))
            id = process.Id; // disposing kills it
        var exited = await log.WaitForAsync("SandboxExited", id);
        Assert.Equal(SandboxVerdict.Canceled, exited["Verdict"]);
    }

    [Fact]
    public async Task A_logger_that_wants_only_warnings_gets_no_information_events()
    {
        var log = new CapturingLogger(LogLevel.Warning);
        var result = await new SandboxBuilder().WithLogger(log).Build().RunAsync(["/bin/true"]);
        Assert.True(result.IsSuccess);
        await Task.Delay(50); // the exit continuation has run by the time RunAsync's disposal returned, or very soon after
        Assert.Empty(log.Events);
    }
}
