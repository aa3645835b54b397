namespace Sandboxing.Tests;

/// <summary>WatchEventsAsync tells a sandbox's life as it happens, and in full to a late watcher.</summary>
public class EventTests
{
    private static async Task<List<SandboxEvent>> CollectAsync(SandboxProcess p)
    {
        var events = new List<SandboxEvent>();
        await foreach (var e in p.WatchEventsAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token))
            events.Add(e);
        return events;
    }

    [Fact]
    public async Task Exec_pause_resume_and_a_live_limit_arrive_in_order_and_the_exit_ends_the_stream()
    {
        var sandbox = new SandboxBuilder().WithCgroup().WithStandardInput(SandboxInput.Pipe)
            .WithStandardOutput(SandboxOutput.CaptureUpTo(100, killOnOverflow: true)).Build();
        await using var p = await sandbox.StartAsync(["/bin/sh", "-c", "read line; yes"]);
        var watching = CollectAsync(p);
        var exec = await p.ExecAsync(["/bin/true"]);
        await p.PauseAsync();
        await p.ResumeAsync();
        p.StandardInput.Dispose(); // the command goes on to print past its limit
        var result = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var events = await watching;

        Assert.Equal(
            [SandboxEventKind.Started, SandboxEventKind.ExecStarted, SandboxEventKind.ExecExited, SandboxEventKind.Paused, SandboxEventKind.Resumed, SandboxEventKind.LimitHit, SandboxEventKind.Exited],
            events.Select(e => e.Kind));
        Assert.Equal(p.Pid, events[0].Pid);
        Assert.Same(exec.GetType(), events[2].Result!.GetType());
        Assert.Equal(0, events[2].Result!.ExitCode);
        Assert.Equal(SandboxLimits.Output, events[5].Limits);
        Assert.Same(result, events[^1].Result);
        Assert.Equal(SandboxVerdict.OutputLimitExceeded, result.Verdict);
        Assert.All(events, e => Assert.Equal(p.Id, e.SandboxId));
        Assert.True(events.Zip(events.Skip(1)).All(pair => pair.First.Time <= pair.Second.Time));
    }

    [Fact]
    public async Task An_OOM_kill_shows_as_a_memory_limit_hit_and_an_OOM_event_and_a_late_watcher_sees_it_all()
    {
        var sandbox = new SandboxBuilder().WithMemoryLimit(64L << 20, 64L << 20).Build();
        await using var p = await sandbox.StartAsync(["python3", "-c", "b = bytearray(200 * 1024 * 1024)"]);
        var result = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(SandboxVerdict.MemoryLimitExceeded, result.Verdict);

        var events = await CollectAsync(p); // after the end: the whole story, then the end of the stream
        Assert.Equal(SandboxEventKind.Started, events[0].Kind);
        Assert.Contains(events, e => e.Kind == SandboxEventKind.LimitHit && e.Limits.HasFlag(SandboxLimits.Memory));
        Assert.Contains(events, e => e.Kind == SandboxEventKind.OomKilled);
        Assert.Equal(SandboxEventKind.Exited, events[^1].Kind);
        Assert.Same(result, events[^1].Result);
    }
}
