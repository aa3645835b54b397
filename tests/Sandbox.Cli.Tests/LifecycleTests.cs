using System.Diagnostics;
using System.Text.Json;

namespace Sandboxing.Cli.Tests;

/// <summary>
/// run -d and the verbs that work on a running sandbox across CLI invocations (exec, ps, top,
/// stats, logs, inspect, pause, unpause, stop, kill, rm), and -t/-i in a real terminal.
/// </summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("sandbox-state-").FullName;
    private readonly Dictionary<string, string> _env;

    public LifecycleTests() => _env = new() { ["SANDBOX_STATE_DIR"] = _state };

    public void Dispose()
    {
        // Whatever a failed test left running goes first.
        foreach (var dir in Directory.EnumerateDirectories(_state))
            Cli.RunAsync(["rm", "-f", Path.GetFileName(dir)], "", _env).GetAwaiter().GetResult();
        Directory.Delete(_state, recursive: true);
    }

    private Task<CliResult> RunAsync(params string[] args) => Cli.RunAsync(args, "", _env);

    private async Task<string> StartDetachedAsync(params string[] command)
    {
        var r = await RunAsync(["run", "-d", "--", .. command]);
        Assert.True(r.ExitCode == 0, r.ToString());
        string id = r.StandardOutput.Trim();
        Assert.Matches("^[0-9a-f]{12}$", id);
        return id;
    }

    [Fact]
    public async Task A_detached_sandbox_is_listed_exec_d_into_inspected_stopped_and_removed()
    {
        string id = await StartDetachedAsync("/bin/sh", "-c", "echo to-the-log; echo to-stderr >&2; exec sleep 1000");

        var ps = await RunAsync("ps");
        Assert.Contains(id, ps.StandardOutput);
        Assert.Contains("running", ps.StandardOutput);

        // Two execs share the sandbox's namespaces, which are not the host's.
        string view = "readlink /proc/self/ns/mnt /proc/self/ns/pid; id -u";
        var first = await RunAsync("exec", id[..6], "sh", "-c", view);
        var second = await RunAsync("exec", id, "--", "sh", "-c", view);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(first.StandardOutput, second.StandardOutput);
        Assert.DoesNotContain(new FileInfo("/proc/self/ns/mnt").LinkTarget!, first.StandardOutput);
        Assert.EndsWith("65534\n", first.StandardOutput);

        Assert.Equal(7, (await RunAsync("exec", id, "sh", "-c", "exit 7")).ExitCode);
        var missing = await RunAsync("exec", id, "no-such-program");
        Assert.Equal(127, missing.ExitCode);
        Assert.Contains("no-such-program", missing.StandardError);
        var withOptions = await RunAsync("exec", "-e", "GREETING=hi", "-w", "/tmp", id, "sh", "-c", "echo $GREETING $(pwd)");
        Assert.Equal("hi /tmp\n", withOptions.StandardOutput);

        var top = await RunAsync("top", id);
        Assert.Contains("sleep 1000", top.StandardOutput);
        Assert.Matches(@"\n2\s+\d+\s+1\s+65534\s", top.StandardOutput); // pid 2 inside, under init

        var stats = await RunAsync("stats", "--no-stream", id);
        Assert.True(stats.ExitCode == 0, stats.ToString());
        Assert.Contains("MEM USAGE", stats.StandardOutput);

        var logs = await RunAsync("logs", id);
        Assert.Equal("to-the-log\n", logs.StandardOutput);
        Assert.Equal("to-stderr\n", logs.StandardError);
        var stamped = await RunAsync("logs", "-t", id);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z to-the-log\n$", stamped.StandardOutput);

        Assert.Equal(0, (await RunAsync("stop", "-t", "5", id)).ExitCode);
        var psAll = await RunAsync("ps", "-a");
        Assert.Contains("exited (143, signaled)", psAll.StandardOutput);
        Assert.DoesNotContain(id, (await RunAsync("ps")).StandardOutput);
        var inspect = await RunAsync("inspect", id);
        Assert.Contains("\"shellExitStatus\": 143", inspect.StandardOutput);
        Assert.Contains("cannot", (await RunAsync("exec", id, "true")).StandardError.Replace("not running", "cannot"));

        Assert.Equal(0, (await RunAsync("rm", id)).ExitCode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_state));
    }

    [Fact]
    public async Task Create_sets_a_sandbox_up_that_exec_works_in_and_start_runs_its_command_once()
    {
        string token = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000, 9999)}";
        var created = await RunAsync("create", "--hostname", "made", "--", "/bin/sh", "-c", $"echo ran on $(hostname); exec sleep {token}");
        Assert.True(created.ExitCode == 0, created.ToString());
        string id = created.StandardOutput.Trim();
        Assert.Matches("^[0-9a-f]{12}$", id);

        Assert.Contains("created", (await RunAsync("ps")).StandardOutput);
        Assert.Equal(0, JsonDocument.Parse((await RunAsync("inspect", id)).StandardOutput).RootElement.GetProperty("pid").GetInt32());
        Assert.Empty(PidsWithArgument(token)); // the command has not run
        var inside = await RunAsync("exec", id, "sh", "-c", "hostname; n=0; for d in /proc/[0-9]*; do n=$((n+1)); done; echo $n");
        Assert.Equal("made\n2\n", inside.StandardOutput); // init and the exec'd shell
        Assert.Equal("", (await RunAsync("logs", id)).StandardOutput);

        var start = await RunAsync("start", id[..5]);
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Equal(id + "\n", start.StandardOutput);
        // start returns once the shell runs; it execs the sleep a moment later (bounded wait).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (PidsWithArgument(token).Count == 0 && DateTime.UtcNow < deadline)
            await Task.Yield();
        var state = JsonDocument.Parse((await RunAsync("inspect", id)).StandardOutput).RootElement;
        Assert.Equal("running", state.GetProperty("status").GetString());
        Assert.Equal(Assert.Single(PidsWithArgument(token)), state.GetProperty("pid").GetInt32()); // the shell exec'd it: one pid
        var again = await RunAsync("start", id);
        Assert.Equal(125, again.ExitCode);
        Assert.Contains("started already", again.StandardError);
        string other = (await RunAsync("create", "--", "/bin/true")).StandardOutput.Trim();
        var signal = await RunAsync("kill", "-s", "TERM", other);
        Assert.Equal(125, signal.ExitCode);
        Assert.Contains("'sandbox start' it", signal.StandardError);
        Assert.Equal(0, (await RunAsync("rm", "-f", other)).ExitCode);

        deadline = DateTime.UtcNow.AddSeconds(30);
        string logs;
        while ((logs = (await RunAsync("logs", id)).StandardOutput) == "" && DateTime.UtcNow < deadline)
            await Task.Yield();
        Assert.Equal("ran on made\n", logs);
        Assert.Equal(0, (await RunAsync("rm", "-f", id)).ExitCode);
        Assert.Empty(PidsWithArgument(token));
    }

    [Fact]
    public async Task A_created_sandbox_whose_program_is_missing_fails_its_start_and_ends_and_bad_create_options_are_refused()
    {
        var created = await RunAsync("create", "--", "no-such-program");
        Assert.True(created.ExitCode == 0, created.ToString());
        string id = created.StandardOutput.Trim();
        var start = await RunAsync("start", id);
        Assert.Equal(125, start.ExitCode);
        Assert.Contains("no-such-program", start.StandardError);
        // One line: the library's reason and hint, not a pointer to help for a command line that was right.
        Assert.StartsWith("sandbox: could not find the command", start.StandardError);
        Assert.DoesNotContain("See '", start.StandardError);
        Assert.False(start.StandardError.TrimEnd().EndsWith("..", StringComparison.Ordinal), start.StandardError);
        // The monitor records the end as it exits.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string ps;
        while (!(ps = (await RunAsync("ps", "-a")).StandardOutput).Contains("exited") && DateTime.UtcNow < deadline)
            await Task.Yield();
        Assert.Contains("exited (failed: see inspect)", ps);
        Assert.Contains("no-such-program", (await RunAsync("inspect", id)).StandardOutput);
        Assert.Equal(0, (await RunAsync("rm", id)).ExitCode);

        var killed = (await RunAsync("create", "--", "/bin/true")).StandardOutput.Trim();
        Assert.Equal(0, (await RunAsync("kill", killed)).ExitCode);
        Assert.Contains("exited (137, canceled)", (await RunAsync("ps", "-a")).StandardOutput);
        Assert.Equal(0, (await RunAsync("rm", killed)).ExitCode);

        var tty = await RunAsync("create", "-t", "--", "/bin/sh");
        Assert.Equal(125, tty.ExitCode);
        Assert.Contains("drop -i/-t", tty.StandardError);
        Assert.Contains("See 'sandbox create --help'", tty.StandardError);
        string detached = (await RunAsync("run", "-d", "--", "/bin/sleep", "1000")).StandardOutput.Trim();
        var notCreated = await RunAsync("start", detached);
        Assert.Equal(125, notCreated.ExitCode);
        Assert.Contains("only a sandbox made by 'sandbox create'", notCreated.StandardError);
        Assert.Equal(0, (await RunAsync("rm", "-f", detached)).ExitCode);
        Assert.Contains("Usage:  sandbox create", (await RunAsync("create", "--help")).StandardOutput);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_state));
    }

    [Fact]
    public async Task Pause_freezes_every_process_until_unpause()
    {
        string id = await StartDetachedAsync("/bin/sh", "-c", "while :; do :; done");
        Assert.Equal(0, (await RunAsync("pause", id)).ExitCode);
        Assert.Contains("paused", (await RunAsync("ps")).StandardOutput);
        double frozen1 = await CpuSecondsAsync(id);
        double frozen2 = await CpuSecondsAsync(id);
        Assert.Equal(frozen1, frozen2); // nothing ran in between, however long that was
        Assert.Equal(0, (await RunAsync("unpause", id)).ExitCode);
        double running;
        do
            running = await CpuSecondsAsync(id);
        while (running == frozen2); // the spinning shell runs again
        Assert.Contains("running", (await RunAsync("ps")).StandardOutput);
        Assert.Equal(0, (await RunAsync("kill", id)).ExitCode);
        Assert.Contains("exited (137, canceled)", (await RunAsync("ps", "-a")).StandardOutput);
    }

    private async Task<double> CpuSecondsAsync(string id)
    {
        var top = await RunAsync("inspect", id); // the monitor answers, so it is alive
        Assert.Equal(0, top.ExitCode);
        var stats = await RunAsync("stats", "--no-stream", id);
        string row = stats.StandardOutput.Split('\n')[1];
        return double.Parse(row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2].TrimEnd('s'), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Rm_refuses_a_running_sandbox_and_rm_f_kills_it_with_everything_inside()
    {
        string token = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000, 9999)}";
        string id = await StartDetachedAsync("/bin/sleep", token);
        Assert.NotEmpty(PidsWithArgument(token));
        var refused = await RunAsync("rm", id);
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains("running", refused.StandardError);
        var monitor = JsonDocument.Parse((await RunAsync("inspect", id)).StandardOutput).RootElement.GetProperty("monitorPid").GetInt32();
        string[] before = StatOf(monitor)!;
        Assert.Equal(0, (await RunAsync("rm", "-f", id)).ExitCode);
        Assert.Empty(PidsWithArgument(token));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_state));
        // rm waits for the monitor's end (its lock), not for a pid that may be someone else's by now.
        var after = StatOf(monitor);
        Assert.True(after is null || after[19] != before[19] || after[0] == "Z", $"the monitor outlived rm -f: {string.Join(' ', after ?? [])}");
    }

    /// <summary>The fields of /proc/PID/stat after the name (state first, start time at 19), null once it is gone.</summary>
    private static string[]? StatOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    [Fact]
    public async Task An_output_limit_stops_a_detached_flood_before_it_fills_the_state_directory()
    {
        var started = await RunAsync("run", "-d", "--output-limit", "4k", "--", "/bin/sh", "-c", "yes sandbox");
        Assert.True(started.ExitCode == 0, started.ToString());
        string id = started.StandardOutput.Trim();
        // The sandbox ends by itself at the limit; the monitor writes the result as it exits.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string inspect;
        while (!(inspect = (await RunAsync("inspect", id)).StandardOutput).Contains("\"result\"") && DateTime.UtcNow < deadline)
            await Task.Yield();
        Assert.Contains("\"verdict\": \"outputlimitexceeded\"", inspect);
        var logged = (await RunAsync("logs", id)).StandardOutput;
        Assert.Equal(4096, logged.Length);
        Assert.EndsWith("sandbox\n", logged[..4096]);
        Assert.Equal(0, (await RunAsync("rm", id)).ExitCode);
    }

    [Fact]
    public async Task Bad_lifecycle_requests_fail_clearly_and_leave_nothing()
    {
        var unknown = await RunAsync("exec", "abcdef", "true");
        Assert.Equal(125, unknown.ExitCode);
        Assert.Contains("no sandbox 'abcdef'", unknown.StandardError);
        var detachedTty = await RunAsync("run", "-d", "-it", "--", "/bin/sh");
        Assert.Equal(125, detachedTty.ExitCode);
        Assert.Contains("-d", detachedTty.StandardError);
        var badRoot = await RunAsync("run", "-d", "--rootfs", "/no/such/root", "--", "/bin/true");
        Assert.Equal(125, badRoot.ExitCode);
        Assert.Contains("/no/such/root", badRoot.StandardError);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_state));
        Assert.Equal(125, (await RunAsync("top")).ExitCode);

        // A state directory others may enter or write is refused, not used.
        File.SetUnixFileMode(_state, (UnixFileMode)0x1ff /* 0777 */);
        var open = await RunAsync("run", "-d", "--", "/bin/true");
        Assert.Equal(125, open.ExitCode);
        Assert.Contains("open to other users (mode 0777)", open.StandardError);
        Assert.Contains($"chmod 700 {_state}", open.StandardError);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_state));
        File.SetUnixFileMode(_state, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(0, (await RunAsync("ps")).ExitCode);
    }

    [Fact]
    public async Task The_monitor_answers_garbage_with_an_error_and_an_idle_client_does_not_keep_it_alive()
    {
        string id = await StartDetachedAsync("/bin/sleep", "1000");
        string socket = Path.Combine(_state, id, "control.sock");
        // A raw client: null, not JSON, an unknown request; then one that connects and says nothing.
        string script = """
            import socket, sys
            def ask(data):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); s.send(data)
                print(s.recv(65536).decode()); s.close()
            ask(b'null'); ask(b'not json'); ask(b'{"op":"nonsense"}')
            idle = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); idle.connect(sys.argv[1])
            print('idle', flush=True)
            sys.stdin.read()
            """;
        var info = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(socket);
        using var client = Process.Start(info)!;
        var answers = new List<string>();
        string? line;
        while ((line = await client.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30))) != "idle" && line is not null)
            answers.Add(line);
        Assert.Equal(3, answers.Count);
        Assert.All(answers, a => Assert.Contains("\"error\"", a));
        Assert.Contains("running", (await RunAsync("ps")).StandardOutput); // still serving

        var record = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_state, id, "state.json")));
        int monitor = record.RootElement.GetProperty("monitorPid").GetInt32();
        Assert.Equal(0, (await RunAsync("kill", id)).ExitCode);
        // The monitor ends although the idle client still holds its connection.
        using (var pidfd = new Microsoft.Win32.SafeHandles.SafeFileHandle(pidfd_open(monitor, 0), ownsHandle: true))
        {
            if (!pidfd.IsInvalid)
                Assert.True(await WaitReadableAsync(pidfd, TimeSpan.FromSeconds(30)), "the monitor is still alive");
        }
        Assert.False(client.HasExited);
        client.StandardInput.Close();
        await client.WaitForExitAsync();
        Assert.Contains("exited (137, canceled)", (await RunAsync("ps", "-a")).StandardOutput);
    }

    private static Task<bool> WaitReadableAsync(Microsoft.Win32.SafeHandles.SafeFileHandle fd, TimeSpan timeout) => Task.Run(() =>
    {
        var pfd = new PollFd { Fd = (int)fd.DangerousGetHandle(), Events = 1 };
        return poll(ref pfd, 1, (int)timeout.TotalMilliseconds) == 1;
    });

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events, Revents;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int poll(ref PollFd fds, int count, int timeoutMs);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern nint pidfd_open(int pid, uint flags);

    [Fact]
    public async Task Interrupting_an_exec_that_waits_for_a_paused_sandbox_ends_it_and_its_command_dies_on_unpause()
    {
        string token = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000, 9999)}";
        string id = await StartDetachedAsync("/bin/sleep", "1000");
        Assert.Equal(0, (await RunAsync("pause", id)).ExitCode);
        // The sandbox's cgroup in every hierarchy: an exec'd command joins them one after another,
        // the one that freezes it (the unified one, else the v1 freezer) last.
        string[] procs = Directory.GetDirectories("/sys/fs/cgroup", $"sandbox-{id}", SearchOption.AllDirectories)
            .Select(d => Path.Combine(d, "cgroup.procs")).Where(File.Exists).ToArray();
        Assert.NotEmpty(procs);
        var before = procs.SelectMany(File.ReadAllLines).ToHashSet();
        // A process new to the sandbox that is in every one of its cgroups: the frozen one included.
        bool JoinedEverywhere() => procs.Select(f => File.ReadAllLines(f).Except(before))
            .Aggregate((joined, next) => joined.Intersect(next)).Any();

        using var exec = Cli.Start(["exec", id, "/bin/sleep", token], _env, defaultSignals: true);
        var stdout = exec.StandardOutput.ReadToEndAsync();
        var stderr = exec.StandardError.ReadToEndAsync();
        // The exec'd command has joined the frozen cgroup: the CLI is waiting for it to start.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!JoinedEverywhere() && DateTime.UtcNow < deadline)
            await Task.Yield();
        Assert.True(JoinedEverywhere(), $"the exec'd command never joined every cgroup of the sandbox ({string.Join(", ", procs)})");

        Cli.Signal(exec, 15);
        // Not its output: the frozen command holds our stdout and stderr until it dies.
        await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(143, exec.ExitCode);

        Assert.Equal(0, (await RunAsync("unpause", id)).ExitCode);
        // The client is gone, so the monitor kills the command as soon as it runs.
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (PidsWithArgument(token).Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Empty(PidsWithArgument(token));
        Assert.Equal(0, (await RunAsync("rm", "-f", id)).ExitCode);
    }

    /// <summary>Runs the CLI under script(1), which gives it a real terminal, and feeds it <paramref name="input"/>.</summary>
    private async Task<CliResult> InTerminalAsync(string cliArgs, string input)
    {
        string host = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var info = new ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-qec", $"{host} {Cli.DllPath} {cliArgs}", "/dev/null"])
            info.ArgumentList.Add(a);
        info.Environment["SANDBOX_STATE_DIR"] = _state;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(input);
        p.StandardInput.Close();
        var r = await Cli.WaitAsync(p, stdout, stderr);
        return r with { StandardOutput = r.StandardOutput.Replace("\r", "") };
    }

    [Fact]
    public async Task Run_t_gives_the_command_a_terminal_and_run_it_types_into_it()
    {
        var t = await InTerminalAsync("run -t -- /bin/sh -c '[ -t 0 ] && echo in-a-terminal; stty size; echo x > /dev/tty && echo controlling'", "");
        Assert.True(t.ExitCode == 0, t.ToString());
        Assert.Contains("in-a-terminal\n24 80\nx\ncontrolling\n", t.StandardOutput);

        var it = await InTerminalAsync("run -it -- /bin/sh", "echo typed-$((6*7))\nexit 5\n");
        Assert.Equal(5, it.ExitCode);
        Assert.Contains("typed-42", it.StandardOutput);
    }

    [Fact]
    public async Task Exec_it_works_in_a_real_terminal()
    {
        string id = await StartDetachedAsync("/bin/sleep", "1000");
        var it = await InTerminalAsync($"exec -it {id} /bin/sh", "[ -t 0 ] && echo exec-terminal-$((6*7))\nexit 3\n");
        Assert.Equal(3, it.ExitCode);
        Assert.Contains("exec-terminal-42", it.StandardOutput);
        Assert.Equal(0, (await RunAsync("rm", "-f", id)).ExitCode);
    }

    /// <summary>The CLI as the host's nobody, with a state directory of its own.</summary>
    private static async Task<CliResult> AsNobodyAsync(string stateDir, params string[] args)
    {
        string host = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var info = new ProcessStartInfo("setpriv") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--reuid", "65534", "--regid", "65534", "--clear-groups", host, Cli.DllPath, .. args])
            info.ArgumentList.Add(a);
        info.Environment["SANDBOX_STATE_DIR"] = stateDir;
        info.Environment["HOME"] = "/tmp";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(info)!;
        p.StandardInput.Close();
        return await Cli.WaitAsync(p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
    }

    [Fact]
    public async Task An_unprivileged_user_runs_detached_sandboxes_and_execs_into_them()
    {
        // Its own place: the test's state directory is root's alone.
        string state = Path.Combine(Path.GetTempPath(), "sandbox-state-nobody-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(state);
        File.SetUnixFileMode(state, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(0, chown(state, 65534, 65534));
        var run = await AsNobodyAsync(state, "run", "-d", "--", "/bin/sleep", "1000");
        Assert.True(run.ExitCode == 0, run.ToString());
        string id = run.StandardOutput.Trim();
        try
        {
            var exec = await AsNobodyAsync(state, "exec", id, "sh", "-c", "id -u; readlink /proc/self/ns/user");
            Assert.True(exec.ExitCode == 0, exec.ToString());
            Assert.StartsWith("65534\n", exec.StandardOutput);
            Assert.DoesNotContain(new FileInfo("/proc/self/ns/user").LinkTarget!, exec.StandardOutput);
            Assert.Contains("sleep 1000", (await AsNobodyAsync(state, "top", id)).StandardOutput);
            // Without a cgroup of its own (nobody may not create one here), pause says why.
            var pause = await AsNobodyAsync(state, "pause", id);
            Assert.Equal(125, pause.ExitCode);
            Assert.Contains("cgroup", pause.StandardError);
        }
        finally
        {
            Assert.Equal(0, (await AsNobodyAsync(state, "rm", "-f", id)).ExitCode);
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(state));
        Directory.Delete(state);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int chown(string path, int uid, int gid);

    private static List<int> PidsWithArgument(string token) => Sandboxing.Tests.Shared.HostProcesses.WithArgument(token);
}
