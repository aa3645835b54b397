using Sandboxing.Cgroups;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>
/// Sandbox.CreateAsync sets a sandbox up without running its command (runc create);
/// SandboxProcess.StartAsync runs it (runc start). Proven from inside: before the start the
/// sandbox holds nothing but its init and what is exec'd into it.
/// </summary>
[Collection(nameof(HygieneTests))] // counts cgroups process-wide
public class CreateStartTests
{
    // Every pid the sandbox's /proc lists but the listing shell's own: the loop runs in the shell.
    private const string OtherPids = "for d in /proc/[0-9]*; do n=${d#/proc/}; [ \"$n\" = $$ ] || echo $n; done";

    public static TheoryData<bool> PidNamespace => new() { true, false };

    [Fact]
    public async Task A_created_sandbox_runs_nothing_until_it_is_started()
    {
        var sandbox = new SandboxBuilder().WithCgroup().WithHostname("made").Build();
        await using var p = await sandbox.CreateAsync(["/bin/sh", "-c", "echo $$ on $(hostname)"]);
        Assert.Equal(SandboxState.Created, p.State);
        Assert.Equal(0, p.Pid);
        Assert.True(p.InitPid > 0);
        Assert.Equal("sandbox-helper", File.ReadAllText($"/proc/{p.InitPid}/comm").Trim());

        // Set up already: the hostname, and the cgroup holding init; but no command yet.
        var view = await p.ExecAsync(["/bin/sh", "-c", $"hostname; {OtherPids}; echo $$"]);
        var lines = view.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["made", "1"], lines[..2]);
        int execPid = int.Parse(lines[2]);
        Assert.Equal([p.InitPid], p.GetProcessIds());
        Assert.NotNull(p.GetStats());
        Assert.Equal(SandboxState.Created, p.State);

        await p.StartAsync();
        Assert.True(p.Pid > 0);
        Assert.True(p.StartTime >= p.CreateTime);
        var r = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        // pids count up in the sandbox's fresh PID namespace: the command came after the exec.
        var ran = r.StandardOutput.Split(' ');
        Assert.Equal("on made\n", string.Join(' ', ran[1..]));
        Assert.True(int.Parse(ran[0]) > execPid, r.StandardOutput);
        Assert.Equal(SandboxState.Exited, p.State);
        AssertNoCgroupLeft(p.Id);
    }

    [Theory]
    [MemberData(nameof(PidNamespace))]
    public async Task Orphans_of_exec_d_commands_are_reaped_while_the_sandbox_waits_and_its_start_still_works(bool pidNamespace)
    {
        var builder = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe);
        if (!pidNamespace)
            builder = builder.WithoutNamespaces(SandboxNamespaces.Pid);
        await using var p = await builder.Build().CreateAsync(["/bin/sh", "-c", "echo started; exec sleep 1000"]);
        string token = Sandboxes.UniqueSleepToken();
        // The exec'd shell ends at once; its background child is orphaned to init (or the helper).
        var exec = await p.ExecAsync(["/bin/sh", "-c", $"/bin/sleep {token} >/dev/null 2>&1 & echo $!"]);
        int orphanInside = int.Parse(exec.StandardOutput.Trim());
        var orphan = Assert.Single(Sandboxes.HostPidsWithArgument(token));
        if (pidNamespace)
            Assert.Equal(p.InitPid, Sandboxes.ParentOf(orphan));
        Assert.Equal(SandboxState.Created, p.State);

        // Killed from inside, the orphan must not stay a zombie of the waiting init (or, without a
        // PID namespace, of the helper, to which it was reparented).
        Assert.Equal(0, (await p.ExecAsync(["/bin/sh", "-c", $"kill -9 {orphanInside}"])).ExitCode);
        await Sandboxes.WaitForHostProcessExitAsync(orphan, TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => !File.Exists($"/proc/{orphan}/stat"), "the orphan to be reaped");

        await p.StartAsync();
        Assert.Equal("started", await new StreamReader(p.StandardOutput).ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(SandboxState.Running, p.State);
        Assert.Equal(SandboxVerdict.Canceled, (await p.KillAsync()).Verdict);
    }

    [Fact]
    public async Task The_wall_clock_limit_counts_from_the_start_not_from_the_creation()
    {
        var sandbox = new SandboxBuilder().WithTimeout(TimeSpan.FromMilliseconds(300)).Build();
        await using var p = await sandbox.CreateAsync(["/bin/sleep", "1000"]);
        // Four seconds inside the created sandbox, past its limit many times, and it is still there.
        var exec = await p.ExecAsync(["/bin/sleep", "4"]);
        Assert.Equal(SandboxVerdict.Exited, exec.Verdict);
        Assert.Equal(SandboxState.Created, p.State);

        await p.StartAsync();
        var r = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SandboxVerdict.TimedOut, r.Verdict);
        // Counted from the creation it would be past four seconds. Counted from the start it is
        // the limit, plus whatever a loaded machine adds to the kill and its report.
        Assert.InRange(r.WallTime, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(3.9));
    }

    [Fact]
    public async Task A_command_that_cannot_be_executed_fails_the_start_clearly_and_leaves_nothing()
    {
        var sandbox = new SandboxBuilder().WithMemoryLimit(64L << 20).Build();
        var p = await sandbox.CreateAsync(["no-such-program"]); // looked up only at the start
        int init = p.InitPid;
        var e = await Assert.ThrowsAsync<SandboxException>(() => p.StartAsync());
        Assert.Equal("find the command", e.Step);
        Assert.Equal(p.Id, e.SandboxId);
        Assert.Contains("no-such-program", e.Message);
        Assert.Same(e, await Assert.ThrowsAsync<SandboxException>(() => p.WaitForExitAsync()));
        Assert.Equal(SandboxState.Exited, p.State);
        await p.DisposeAsync();
        await Sandboxes.WaitForHostProcessExitAsync(init, TimeSpan.FromSeconds(5)); // init is gone (or throws)
        AssertNoCgroupLeft(p.Id);
    }

    [Fact]
    public async Task A_created_sandbox_can_be_killed_or_disposed_but_not_signalled_or_started_twice()
    {
        var sandbox = new SandboxBuilder().WithCgroup().Build();
        await using (var p = await sandbox.CreateAsync(["/bin/true"]))
        {
            Assert.Throws<InvalidOperationException>(() => p.Signal(15));
            var r = await p.StopAsync(TimeSpan.FromMinutes(5)); // nothing to ask: killed at once
            Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
            Assert.Null(r.ExitCode);
            Assert.Equal(0, p.Pid);
            Assert.Contains("has ended", (await Assert.ThrowsAsync<InvalidOperationException>(() => p.StartAsync())).Message);
            AssertNoCgroupLeft(p.Id);
        }

        var q = await sandbox.CreateAsync(["/bin/sleep", "1000"]);
        int init = q.InitPid;
        await q.DisposeAsync(); // never started: the sandbox goes all the same
        Assert.Equal(SandboxState.Exited, q.State);
        AssertNoCgroupLeft(q.Id);
        await Sandboxes.WaitForHostProcessExitAsync(init, TimeSpan.FromSeconds(5));

        await using var s = await sandbox.CreateAsync(["/bin/sleep", "1000"]);
        await s.StartAsync();
        Assert.Contains("started already", (await Assert.ThrowsAsync<InvalidOperationException>(() => s.StartAsync())).Message);
        await using var plain = await sandbox.StartAsync(["/bin/sleep", "1000"]);
        Assert.Contains("CreateAsync", (await Assert.ThrowsAsync<InvalidOperationException>(() => plain.StartAsync())).Message);
        Assert.Equal(SandboxState.Running, plain.State);
    }

    [Fact]
    public async Task Cancelling_the_creation_s_token_kills_the_created_sandbox_and_a_started_one_takes_signals()
    {
        using var cts = new CancellationTokenSource();
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using (var p = await sandbox.CreateAsync(["/bin/sleep", "1000"], cts.Token))
        {
            cts.Cancel();
            Assert.Equal(SandboxVerdict.Canceled, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30))).Verdict);
        }

        // Once started, signals are the command's again.
        await using var q = await sandbox.CreateAsync(["/bin/sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 1; done"]);
        await q.StartAsync();
        Assert.Equal("ready", await new StreamReader(q.StandardOutput).ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        q.Signal(15);
        var r = await q.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(7, r.ExitCode);
    }

    [Fact]
    public async Task A_paused_or_cancelled_start_is_refused_and_the_sandbox_still_starts_afterwards()
    {
        var sandbox = new SandboxBuilder().WithCgroup().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var p = await sandbox.CreateAsync(["/bin/sh", "-c", "echo $$; exec sleep 1000"]);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => p.StartAsync(new CancellationToken(canceled: true)));
        Assert.Equal(SandboxState.Created, p.State);

        // Its init is frozen with the rest: it could not start the command.
        await p.PauseAsync();
        Assert.Equal(SandboxState.Paused, p.State);
        Assert.Contains("resume it first", (await Assert.ThrowsAsync<InvalidOperationException>(() => p.StartAsync())).Message);
        await p.ResumeAsync();
        Assert.Equal(SandboxState.Created, p.State);

        await p.StartAsync();
        Assert.Equal(SandboxState.Running, p.State);
        Assert.Equal("2", await new StreamReader(p.StandardOutput).ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(SandboxVerdict.Canceled, (await p.KillAsync()).Verdict);
    }

    [Fact]
    public async Task A_plain_start_knows_its_init_even_when_the_command_ends_at_once()
    {
        var sandbox = new SandboxBuilder().Build();
        for (int i = 0; i < 20; i++)
        {
            await using var p = await sandbox.StartAsync(["/bin/true"]);
            Assert.True(p.InitPid > 0 && p.InitPid != p.Pid, $"init {p.InitPid}, command {p.Pid}");
            Assert.Equal(p.StartTime, p.CreateTime);
        }
    }

    [Fact]
    public async Task A_start_that_cannot_execute_its_command_is_logged_once_as_a_failed_start()
    {
        var log = new CapturingLogger();
        var sandbox = new SandboxBuilder().WithLogger(log).Build();
        await using var p = await sandbox.CreateAsync(["no-such-program"]);
        var created = await log.WaitForAsync("SandboxCreated", p.Id);
        Assert.Equal(p.InitPid, created["InitPid"]);
        await Assert.ThrowsAsync<SandboxException>(() => p.StartAsync());
        var failed = await log.WaitForAsync("SandboxStartFailed", p.Id);
        Assert.Equal("find the command", failed["Step"]);
        await Assert.ThrowsAsync<SandboxException>(() => p.WaitForExitAsync());
        Assert.Equal(["SandboxCreated", "SandboxStartFailed"], log.Events.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Information).Select(e => e.Id.Name));
    }

    [Fact]
    public async Task Events_tell_created_then_started_then_exited()
    {
        await using var p = await new SandboxBuilder().Build().CreateAsync(["/bin/true"]);
        await p.StartAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var events = new List<SandboxEvent>();
        await foreach (var e in p.WatchEventsAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
            events.Add(e);
        Assert.Equal([SandboxEventKind.Created, SandboxEventKind.Started, SandboxEventKind.Exited], events.Select(e => e.Kind));
        Assert.Equal(p.InitPid, events[0].Pid);
        Assert.Equal(p.Pid, events[1].Pid);
    }

    [Fact]
    public async Task An_unprivileged_caller_can_create_exec_into_and_start_a_sandbox()
    {
        var (code, output, error) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "create", "id -u; " + OtherPids);
        Assert.True(code == 0, error);
        Assert.Equal("state=Created pid=0\nexec:\n65534\n1\nstarted:\n65534\n1\nverdict=Exited code=0\nerror step=find the command state=Exited\n", output);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Yield();
        }
    }

    private static void AssertNoCgroupLeft(string id)
    {
        foreach (var h in CgroupHost.Current.Hierarchies)
            Assert.False(Directory.Exists(Path.Combine(h.Directory, "sandbox-" + id)), $"cgroup sandbox-{id} left in {h.Directory}");
    }
}
