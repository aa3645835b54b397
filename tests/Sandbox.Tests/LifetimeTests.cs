using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Timeouts, cancellation, stop and kill take the whole sandbox down, every descendant included.</summary>
public class LifetimeTests
{
    public static TheoryData<bool> PidNamespace => new() { true, false };

    private static SandboxBuilder Builder(bool pidNamespace) =>
        pidNamespace ? new SandboxBuilder() : new SandboxBuilder().WithoutNamespaces(SandboxNamespaces.Pid);

    /// <summary>
    /// A script that leaves a double-forked, setsid daemon running `sleep TOKEN`, then prints
    /// "ready" and blocks. The daemon's stdio is detached so only the kill can end it.
    /// </summary>
    private static string DaemonScript(string token, string then = "sleep 1000") =>
        $"setsid sh -c 'sleep {token} </dev/null >/dev/null 2>&1 & echo $! > /tmp/daemon' </dev/null >/dev/null 2>&1; " +
        // Wait until the daemon has exec'd sleep, so the kill below has something to kill. The
        // token must be a whole argument (-xz: NUL-separated, matched whole): the forked shell
        // holds it too, inside its -c script, until it execs sleep.
        $"while ! grep -qsxzF {token} /proc/$(cat /tmp/daemon)/cmdline; do :; done; echo ready; {then}";

    private static async Task<SandboxProcess> StartUntilReadyAsync(Sandbox sandbox, string script, CancellationToken ct = default)
    {
        var p = await sandbox.StartAsync(["/bin/sh", "-c", script], ct);
        var reader = new StreamReader(p.StandardOutput);
        Assert.Equal("ready", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        return p;
    }

    [Theory]
    [MemberData(nameof(PidNamespace))]
    public async Task A_timeout_kills_a_double_forked_daemon_too(bool pidNamespace)
    {
        string token = Sandboxes.UniqueSleepToken();
        // The timer runs from the sandbox's setup on, and the daemon must be up (ready) before it
        // strikes: on a loaded machine, setup, two shells and the wait for sleep's exec can take
        // a good part of a second.
        var sandbox = Builder(pidNamespace).WithTimeout(TimeSpan.FromSeconds(3)).Build();
        var r = await sandbox.ShAsync(DaemonScript(token, then: "sleep 1000"));
        Assert.Equal(SandboxVerdict.TimedOut, r.Verdict);
        Assert.Equal(9, r.Signal);
        Assert.Contains("ready", r.StandardOutput);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
    }

    [Theory]
    [MemberData(nameof(PidNamespace))]
    public async Task Cancellation_kills_a_double_forked_daemon_and_returns_a_canceled_result(bool pidNamespace)
    {
        string token = Sandboxes.UniqueSleepToken();
        var sandbox = Builder(pidNamespace).WithStandardOutput(SandboxOutput.Pipe).Build();
        using var cts = new CancellationTokenSource();
        await using var p = await StartUntilReadyAsync(sandbox, DaemonScript(token), cts.Token);
        Assert.NotEmpty(Sandboxes.HostPidsWithArgument(token));
        cts.Cancel();
        var r = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
    }

    [Theory]
    [MemberData(nameof(PidNamespace))]
    public async Task When_the_command_exits_its_leftover_daemons_die_with_the_sandbox(bool pidNamespace)
    {
        string token = Sandboxes.UniqueSleepToken();
        var r = await Builder(pidNamespace).Build().ShAsync(DaemonScript(token, then: "exit 3"));
        Assert.Equal(3, r.ExitCode);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
    }

    [Fact]
    public async Task RunAsync_with_a_cancelled_token_returns_a_canceled_result()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var r = await new SandboxBuilder().Build().RunAsync(["/bin/sleep", "1000"], cts.Token);
        Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
        Assert.Equal(9, r.Signal);
    }

    [Fact]
    public async Task Cancelling_while_the_sandbox_is_being_set_up_gives_a_canceled_result()
    {
        string token = Sandboxes.UniqueSleepToken();
        using var cts = new CancellationTokenSource();
        var run = new SandboxBuilder().Build().RunAsync(["/bin/sleep", token], cts.Token); // returns at its first await: setup under way
        cts.Cancel();
        var r = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
    }

    [Fact]
    public async Task A_token_cancelled_before_start_starts_nothing()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new SandboxBuilder().Build().RunAsync(["/bin/true"], cts.Token));
    }

    [Fact]
    public async Task StopAsync_lets_a_cooperative_command_exit_on_SIGTERM()
    {
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var p = await StartUntilReadyAsync(sandbox, "trap 'exit 42' TERM; echo ready; sleep 1000 & wait");
        var r = await p.StopAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        Assert.Equal(42, r.ExitCode);
    }

    [Fact]
    public async Task StopAsync_kills_a_command_that_ignores_SIGTERM_after_the_grace_period()
    {
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var p = await StartUntilReadyAsync(sandbox, "trap '' TERM; echo ready; while :; do :; done");
        var r = await p.StopAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
        Assert.Equal(9, r.Signal);
        Assert.True(r.WallTime >= TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Signals_are_forwarded_to_the_command()
    {
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var p = await StartUntilReadyAsync(sandbox, "trap 'exit 10' USR1; echo ready; sleep 1000 & wait");
        p.Signal(10);
        var r = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(10, r.ExitCode);
    }

    [Fact]
    public async Task KillAsync_and_dispose_take_everything_down()
    {
        string token = Sandboxes.UniqueSleepToken();
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        var p = await StartUntilReadyAsync(sandbox, DaemonScript(token));
        var r = await p.KillAsync();
        Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
        await p.DisposeAsync();

        string token2 = Sandboxes.UniqueSleepToken();
        var p2 = await StartUntilReadyAsync(sandbox, DaemonScript(token2));
        await p2.DisposeAsync();
        Assert.True(p2.HasExited);
        Assert.Empty(Sandboxes.HostPidsWithArgument(token2));
    }

    [Theory]
    [InlineData("pid")]
    [InlineData("nopid")]
    [InlineData("limits")]
    public async Task Killing_the_dotnet_parent_with_SIGKILL_kills_its_sandboxes_and_removes_their_cgroups(string mode)
    {
        string token = Sandboxes.UniqueSleepToken();
        using var host = TestHostProcess.Start([], "hold", token, mode);
        try
        {
            string? line = await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            if (line?.StartsWith("ready ") != true)
                Assert.Fail($"test host said '{line}': {await host.StandardError.ReadToEndAsync()}");
            var fields = line!.Split(' ');
            int sandboxedPid = int.Parse(fields[1]);
            string id = fields[2];
            Assert.Contains(sandboxedPid, Sandboxes.HostPidsWithArgument(token));
            // command -> init -> sandbox-helper: the helper is the last to go, after cleaning up
            int helperPid = Sandboxes.ParentOf(Sandboxes.ParentOf(sandboxedPid));
            Assert.Equal("sandbox-helper", File.ReadAllText($"/proc/{helperPid}/comm").Trim());

            host.Kill(); // SIGKILL: no managed code runs
            await host.WaitForExitAsync();
            await Sandboxes.WaitForHostProcessExitAsync(sandboxedPid, TimeSpan.FromSeconds(30));
            await Sandboxes.WaitForHostProcessExitAsync(helperPid, TimeSpan.FromSeconds(30));
            Assert.Empty(Sandboxes.HostPidsWithArgument(token));
            foreach (var h in Cgroups.CgroupHost.Current.Hierarchies)
                Assert.False(Directory.Exists(Path.Combine(h.Directory, "sandbox-" + id)), $"cgroup sandbox-{id} left in {h.Directory}");
        }
        finally
        {
            if (!host.HasExited)
                host.Kill(entireProcessTree: true); // a failed assertion must not leave the host running
        }
    }

    [Fact]
    public async Task Exit_statuses_survive_a_dotnet_process_that_reaps_every_child()
    {
        // With SIGCHLD ignored at startup, .NET reaps every child itself (as it does when it
        // runs as pid 1 in a container); the helper reports statuses over its channel instead.
        var (code, output, error) = await TestHostProcess.RunAsync(["env", "--ignore-signal=CHLD"], "statuses");
        Assert.True(code == 0, error);
        var lines = output.Trim().Split('\n');
        Assert.Equal(20, lines.Length);
        for (int i = 0; i < lines.Length; i += 4)
        {
            Assert.Equal("Exited 0 -", lines[i]);
            Assert.Equal("Exited 7 -", lines[i + 1]);
            Assert.Equal("Signaled - 15", lines[i + 2]);
            Assert.Equal("Signaled - 9", lines[i + 3]);
        }
    }
}
