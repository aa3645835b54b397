using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>
/// Commands exec'd into a running sandbox (docker exec), proven from inside: what the exec'd
/// process sees of its namespaces, identity, security settings and cgroup is what the
/// sandbox's own command sees.
/// </summary>
public class ExecTests
{
    public static TheoryData<bool> PidNamespace => new() { true, false };

    /// <summary>What a process sees of itself: its namespaces, ids, capabilities, no_new_privs, seccomp mode and cgroups.</summary>
    private const string SelfView =
        "for n in user pid mnt net uts ipc cgroup time; do echo $n $(readlink /proc/self/ns/$n); done; " +
        "id; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; cat /proc/self/cgroup; hostname; umask";

    /// <summary>Starts a sandbox whose command prints <paramref name="firstOutput"/>'s output, then "ready", and sleeps until killed.</summary>
    private static async Task<(SandboxProcess Process, string Output)> StartLongLivedAsync(SandboxBuilder builder, string firstOutput = "true")
    {
        var sandbox = builder.WithStandardOutput(SandboxOutput.Pipe).Build();
        var p = await sandbox.StartAsync(["/bin/sh", "-c", $"{firstOutput}; echo ready; exec sleep 1000"]);
        var reader = new StreamReader(p.StandardOutput);
        var lines = new List<string>();
        while (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) is { } line && line != "ready")
            lines.Add(line);
        return (p, string.Join('\n', lines));
    }

    [Theory]
    [MemberData(nameof(PidNamespace))]
    public async Task An_exec_d_command_sees_exactly_what_the_sandbox_s_command_sees(bool pidNamespace)
    {
        var builder = new SandboxBuilder().WithMemoryLimit(256L << 20).WithUmask(0x3F /* 077 */);
        if (!pidNamespace)
            builder = builder.WithoutNamespaces(SandboxNamespaces.Pid);
        var (p, mainView) = await StartLongLivedAsync(builder, SelfView);
        await using (p)
        {
            var r = await p.ExecAsync(["/bin/sh", "-c", SelfView]);
            Assert.True(r.IsSuccess, r.ToString() + r.StandardError);
            Assert.Equal(mainView, r.StandardOutput.TrimEnd('\n'));
            Assert.Contains("uid=65534", r.StandardOutput);
            Assert.Contains("NoNewPrivs:\t1", r.StandardOutput);
            Assert.Contains("Seccomp:\t2", r.StandardOutput);
            Assert.NotEqual(Sandboxes.NamespaceOf("mnt"), r.StandardOutput.Split('\n').First(l => l.StartsWith("mnt ")).Split(' ')[1]);
            Assert.Equal(SandboxState.Running, p.State);
        }
    }

    [Fact]
    public async Task An_exec_d_command_is_a_process_of_the_sandbox_and_counts_in_its_cgroup()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder().WithPidsLimit(64));
        await using (p)
        {
            await using var exec = await p.StartExecAsync(["/bin/sh", "-c", "echo $$; ps -o pid,ppid,comm 2>/dev/null || ls /proc; read line"],
                new SandboxExecOptions { StandardInput = SandboxInput.Pipe, StandardOutput = SandboxOutput.Pipe });
            var reader = new StreamReader(exec.StandardOutput);
            int pidInside = int.Parse((await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!);
            Assert.True(pidInside > 2, $"pid inside {pidInside}"); // init is 1, the command 2
            Assert.Contains(exec.Pid, p.GetProcessIds());
            // Its parent is outside the PID namespace, as with docker exec.
            Assert.Contains("PPid:\t0", (await p.ExecAsync(["/bin/cat", $"/proc/{pidInside}/status"])).StandardOutput);
            exec.StandardInput.Dispose();
            var r = await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        }
    }

    [Fact]
    public async Task Exec_takes_input_and_reports_output_error_and_exit_code_of_its_own()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            var r = await p.ExecAsync(["/bin/sh", "-c", "tr a-z A-Z; echo oops >&2; exit 7"],
                new SandboxExecOptions { StandardInput = SandboxInput.FromString("hello\n") });
            Assert.Equal(7, r.ExitCode);
            Assert.Equal(SandboxVerdict.Exited, r.Verdict);
            Assert.Equal("HELLO\n", r.StandardOutput);
            Assert.Equal("oops\n", r.StandardError);
            Assert.Equal(p.Id, r.SandboxId);
            Assert.Null(r.Usage);
        }
    }

    [Fact]
    public async Task Exec_options_set_the_user_environment_and_working_directory()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder()
            .WithUidMappings(new IdMapping(0, 200000, 65536)).WithGidMappings(new IdMapping(0, 200000, 65536))
            .WithEnvironmentVariable("KEPT", "yes").WithEnvironmentVariable("REPLACED", "old"));
        await using (p)
        {
            var options = new SandboxExecOptions { Uid = 0, Gid = 0, WorkingDirectory = "/tmp" }.WithEnvironmentVariable("REPLACED", "new");
            var r = await p.ExecAsync(["/bin/sh", "-c", "id -u; id -g; pwd; echo $KEPT $REPLACED; touch /tmp/made-by-exec"], options);
            Assert.True(r.IsSuccess, r.StandardError);
            Assert.Equal("0\n0\n/tmp\nyes new\n", r.StandardOutput);
            // The same /tmp as the sandbox's command: one mount namespace.
            Assert.Equal("0\n", (await p.ExecAsync(["/bin/sh", "-c", "stat -c %u /tmp/made-by-exec"])).StandardOutput);
        }
    }

    [Fact]
    public async Task A_failing_exec_says_why_and_leaves_the_sandbox_running()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            var notFound = await Assert.ThrowsAsync<SandboxException>(() => p.ExecAsync(["no-such-program-here"]));
            Assert.Equal("find the command", notFound.Step);
            Assert.Equal(p.Id, notFound.SandboxId);
            Assert.Contains("no-such-program-here", notFound.Message);

            var badDir = await Assert.ThrowsAsync<SandboxException>(() => p.ExecAsync(["/bin/true"], new SandboxExecOptions { WorkingDirectory = "/no/such/dir" }));
            Assert.Equal("enter the working directory", badDir.Step);
            Assert.Contains("No such file or directory", badDir.Message);

            await Assert.ThrowsAsync<SandboxConfigurationException>(() => p.ExecAsync([]));
            // The implicit user namespace maps the command's uid alone.
            var unmapped = await Assert.ThrowsAsync<SandboxConfigurationException>(() => p.ExecAsync(["/bin/true"], new SandboxExecOptions { Uid = 0 }));
            Assert.Equal("uid", unmapped.Setting);
            await Assert.ThrowsAsync<SandboxConfigurationException>(() => p.ExecAsync(["/bin/true"], new SandboxExecOptions { WorkingDirectory = "relative" }));

            Assert.Equal(SandboxState.Running, p.State);
            Assert.True((await p.ExecAsync(["/bin/true"])).IsSuccess);
        }
    }

    [Fact]
    public async Task Exec_into_a_sandbox_that_has_ended_is_refused()
    {
        var sandbox = new SandboxBuilder().Build();
        var p = await sandbox.StartAsync(["/bin/true"]);
        await p.WaitForExitAsync();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => p.ExecAsync(["/bin/true"]));
        Assert.Contains(p.Id, e.Message);
        await p.DisposeAsync();
    }

    [Fact]
    public async Task Cancelling_an_exec_kills_it_and_not_the_sandbox()
    {
        string token = Sandboxes.UniqueSleepToken();
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            using var cts = new CancellationTokenSource();
            await using var exec = await p.StartExecAsync(["/bin/sleep", token], cancellationToken: cts.Token);
            Assert.Contains(exec.Pid, Sandboxes.HostPidsWithArgument(token));
            cts.Cancel();
            var r = await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(SandboxVerdict.Canceled, r.Verdict);
            Assert.Equal(9, r.Signal);
            Assert.Empty(Sandboxes.HostPidsWithArgument(token));
            Assert.Equal(SandboxState.Running, p.State);
        }
    }

    [Fact]
    public async Task An_exec_timeout_kills_only_the_exec_d_command()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            var r = await p.ExecAsync(["/bin/sleep", "1000"], new SandboxExecOptions { Timeout = TimeSpan.FromMilliseconds(200) });
            Assert.Equal(SandboxVerdict.TimedOut, r.Verdict);
            Assert.Equal(SandboxState.Running, p.State);
        }
    }

    [Fact]
    public async Task A_signal_reaches_the_exec_d_command()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            await using var exec = await p.StartExecAsync(["/bin/sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo armed; while :; do sleep 1; done"],
                new SandboxExecOptions { StandardOutput = SandboxOutput.Pipe });
            var reader = new StreamReader(exec.StandardOutput);
            Assert.Equal("armed", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            exec.Signal(15);
            Assert.Equal("got TERM", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            var r = await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(3, r.ExitCode);
            Assert.Throws<ArgumentOutOfRangeException>(() => exec.Signal(19));
        }
    }

    [Theory]
    [MemberData(nameof(PidNamespace))]
    public async Task When_the_sandbox_ends_its_exec_d_commands_end_with_it(bool pidNamespace)
    {
        string token = Sandboxes.UniqueSleepToken();
        var builder = pidNamespace ? new SandboxBuilder() : new SandboxBuilder().WithoutNamespaces(SandboxNamespaces.Pid);
        var (p, _) = await StartLongLivedAsync(builder);
        await using (p)
        {
            await using var exec = await p.StartExecAsync(["/bin/sleep", token]);
            Assert.NotEmpty(Sandboxes.HostPidsWithArgument(token));
            var sandboxResult = await p.KillAsync();
            var r = await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(SandboxVerdict.Canceled, sandboxResult.Verdict);
            Assert.Equal(9, r.Signal);
            Assert.Empty(Sandboxes.HostPidsWithArgument(token));
        }
    }

    [Fact]
    public async Task Output_past_an_exec_s_killing_limit_ends_it_with_OutputLimitExceeded()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            var r = await p.ExecAsync(["/bin/sh", "-c", "while :; do echo yes; done"],
                new SandboxExecOptions { StandardOutput = SandboxOutput.CaptureUpTo(1000, killOnOverflow: true) });
            Assert.Equal(SandboxVerdict.OutputLimitExceeded, r.Verdict);
            Assert.True(r.StandardOutputTruncated);
            Assert.Equal(1000, r.StandardOutput.Length);
            Assert.Equal(SandboxState.Running, p.State);
        }
    }

    [Fact]
    public async Task Many_exec_d_commands_run_at_once()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => p.ExecAsync(["/bin/sh", "-c", $"echo {i}"])));
            for (int i = 0; i < results.Length; i++)
                Assert.Equal($"{i}\n", results[i].StandardOutput);
        }
    }

    [Fact]
    public async Task No_process_inside_can_reach_the_helper_binary_while_commands_are_exec_d()
    {
        // The joiner runs the helper binary until the command's exec; it must never be visible
        // inside, and the sandbox's init (a fork of the helper) must not give its exe away.
        string helper = Sandboxing.Helper.HelperLocator.Path;
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder().WithUser(0, 0));
        await using (p)
        {
            var watcher = await p.StartExecAsync(["/bin/sh", "-c",
                "i=0; while [ $i -lt 400 ]; do for e in /proc/[0-9]*/exe; do readlink $e; done; i=$((i+1)); done 2>/dev/null | sort -u"]);
            var execs = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => p.ExecAsync(["/bin/true"])));
            var seen = (await watcher.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120))).StandardOutput;
            Assert.All(execs, r => Assert.True(r.IsSuccess));
            Assert.DoesNotContain("sandbox-helper", seen);
            Assert.DoesNotContain(helper, seen);
        }
    }

    [Fact]
    public async Task An_unprivileged_caller_can_exec_into_its_sandbox()
    {
        var (code, output, error) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "exec", SelfView);
        Assert.True(code == 0, error);
        string main = output[(output.IndexOf("main:\n") + 6)..output.IndexOf("exec:\n")].TrimEnd('\n');
        string exec = output[(output.IndexOf("exec:\n") + 6)..output.IndexOf("exec-verdict")].TrimEnd('\n');
        Assert.Contains("uid=65534", main);
        Assert.Contains("Seccomp:\t2", main);
        Assert.Equal(main, exec);
        Assert.Contains("exec-verdict=Exited code=0", output);
        Assert.Contains("error step=find the command", output);
        Assert.Contains("sandbox-verdict=Canceled", output);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task When_the_library_s_process_dies_the_sandbox_and_its_exec_d_commands_go_with_it(bool paused)
    {
        string token = Sandboxes.UniqueSleepToken();
        using var host = paused ? TestHostProcess.Start([], "hold-exec", token, "paused") : TestHostProcess.Start([], "hold-exec", token);
        string line = (await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)))!;
        var parts = line.Split(' ');
        Assert.True(parts[0] == "ready", line);
        Assert.Equal(3, Sandboxes.HostPidsWithArgument(token).Count); // the test host and the two sleeps
        // command -> init -> sandbox-helper: the helper is the last to go, after removing the cgroups
        int helperPid = Sandboxes.ParentOf(Sandboxes.ParentOf(int.Parse(parts[1])));
        Assert.Equal("sandbox-helper", File.ReadAllText($"/proc/{helperPid}/comm").Trim());
        host.Kill(); // SIGKILL: nothing of the library runs any more; the helper sees end of file
        await host.WaitForExitAsync();
        // The helper must reap the exec'd command (its child, in init's PID namespace) for init
        // to finish dying; then it removes the cgroups and exits.
        await Sandboxes.WaitForHostProcessExitAsync(int.Parse(parts[1]), TimeSpan.FromSeconds(30));
        await Sandboxes.WaitForHostProcessExitAsync(int.Parse(parts[2]), TimeSpan.FromSeconds(30));
        await Sandboxes.WaitForHostProcessExitAsync(helperPid, TimeSpan.FromSeconds(30));
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
        Assert.Empty(Directory.GetDirectories("/sys/fs/cgroup", $"sandbox-{parts[3]}", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_kill_with_exec_requests_still_queued_ends_the_sandbox_as_Canceled()
    {
        for (int round = 0; round < 5; round++)
        {
            var (p, _) = await StartLongLivedAsync(new SandboxBuilder().WithCgroup());
            await using (p)
            {
                var execs = Enumerable.Range(0, 20).Select(_ => p.ExecAsync(["/bin/sleep", "30"])).ToList();
                var result = await p.KillAsync().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Equal(SandboxVerdict.Canceled, result.Verdict);
                foreach (var exec in execs)
                {
                    try
                    {
                        Assert.Equal(9, (await exec.WaitAsync(TimeSpan.FromSeconds(30))).Signal);
                    }
                    catch (Exception e) when (e is SandboxException or InvalidOperationException)
                    {
                        // refused: the sandbox was ending when it arrived
                    }
                }
            }
        }
    }

    [Fact]
    public async Task An_exec_that_exits_before_its_timeout_is_Exited_even_when_a_leftover_child_holds_its_output_past_it()
    {
        var (p, _) = await StartLongLivedAsync(new SandboxBuilder());
        await using (p)
        {
            // The shell only forks and exits, but on a loaded machine even that may take a good
            // part of a second: the timeout leaves it room, and the child outlives it well.
            var r = await p.ExecAsync(["/bin/sh", "-c", "(sleep 5) & exit 0"], new SandboxExecOptions { Timeout = TimeSpan.FromSeconds(2) });
            Assert.Equal(SandboxVerdict.Exited, r.Verdict);
            Assert.Equal(0, r.ExitCode);
        }
    }

    [Fact]
    public async Task Exec_joins_the_sandbox_s_namespaces_even_after_its_command_moved_to_others()
    {
        // With CAP_SYS_ADMIN kept, the command may unshare; what exec'd commands join must not follow it.
        var sandbox = new SandboxBuilder().WithCapabilitiesAdded(Capability.SysAdmin).WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var p = await sandbox.StartAsync(["/bin/sh", "-c",
            "readlink /proc/self/ns/mnt; exec unshare --mount --propagation unchanged /bin/sh -c 'readlink /proc/self/ns/mnt; echo ready; exec sleep 1000'"]);
        var reader = new StreamReader(p.StandardOutput);
        string original = (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!;
        string moved = (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!;
        Assert.True(moved is not null && moved.StartsWith("mnt:") && original != moved, $"unshare did not give the command a new mount namespace: {original} {moved}");
        Assert.Equal("ready", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        var r = await p.ExecAsync(["readlink", "/proc/self/ns/mnt"]);
        Assert.Equal(original + "\n", r.StandardOutput);
    }

    [Theory]
    [MemberData(nameof(PidNamespace))]
    public async Task Orphans_of_exec_d_commands_are_reaped_while_the_sandbox_runs_and_no_exit_status_is_lost(bool pidNamespace)
    {
        var builder = new SandboxBuilder().WithCgroup();
        if (!pidNamespace)
            builder = builder.WithoutNamespaces(SandboxNamespaces.Pid);
        var (p, _) = await StartLongLivedAsync(builder);
        await using (p)
        {
            // Each exec'd shell leaves a child that ends a moment later, orphaned: to init in a PID
            // namespace, to the helper without one (dash, /bin/sh here, does not reap its background
            // jobs). Their ends must not take the exec'd commands' statuses.
            var runs = Enumerable.Range(1, 40).Select(i => p.ExecAsync(["/bin/sh", "-c", $"(exit 0) & exit {i}"])).ToList();
            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(120));
            Assert.Equal(Enumerable.Range(1, 40), results.Select(r => r.ExitCode ?? -1));

            // No zombie stays with the helper or init, the two processes orphans go to.
            int[] reapers = [p.InitPid, Sandboxes.ParentOf(p.InitPid)];
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (ZombiesOf(reapers).Count > 0 && DateTime.UtcNow < deadline)
                await Task.Delay(10); // a poll of a condition that is checked; each pass reads all of /proc
            Assert.Empty(ZombiesOf(reapers));
        }
    }

    /// <summary>Host pids of zombie children of <paramref name="parents"/>.</summary>
    private static List<int> ZombiesOf(int[] parents)
    {
        var zombies = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            try
            {
                string stat = File.ReadAllText($"{dir}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] == "Z" && parents.Contains(int.Parse(fields[1])))
                    zombies.Add(pid);
            }
            catch (IOException)
            {
                // gone meanwhile
            }
        }
        return zombies;
    }
}
