using System.Text.Json;

namespace Sandboxing.Cli.Tests;

/// <summary>
/// Tier 2: the built CLI as a child process, on the real kernel. These need the rights to
/// create namespaces (CI runs them as root).
/// </summary>
public sealed class EndToEndTests : IDisposable
{
    // World-writable: a root caller's sandbox runs as the host's nobody.
    private readonly DirectoryInfo _temp = WorldWritable(Directory.CreateTempSubdirectory("sandbox-cli-tests-"));

    private static DirectoryInfo WorldWritable(DirectoryInfo dir)
    {
        dir.UnixFileMode = (UnixFileMode)0x1FF; // 0777
        return dir;
    }

    public void Dispose() => _temp.Delete(recursive: true);

    private string TempPath(string name) => Path.Combine(_temp.FullName, name);

    private static JsonElement ReadReport(string path)
    {
        string text = File.ReadAllText(path);
        Assert.Equal(1, text.Count(c => c == '\n')); // one object, on one line
        using var json = JsonDocument.Parse(text);
        return json.RootElement.Clone();
    }

    // ---- exit status ----

    [Fact]
    public async Task I_can_run_a_command_and_get_its_exit_code()
    {
        var result = await Cli.RunAsync("run", "--", "/bin/sh", "-c", "exit 7");

        Assert.Equal(7, result.ExitCode);
        Assert.Equal("", result.StandardError);
    }

    [Fact]
    public async Task I_can_run_a_command_without_the_double_dash()
    {
        var result = await Cli.RunAsync("run", "echo", "hi", "--there");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hi --there\n", result.StandardOutput);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(15)]
    public async Task A_command_killed_by_signal_N_exits_with_128_plus_N(int signal)
    {
        var result = await Cli.RunAsync("run", "--", "/bin/sh", "-c", $"kill -{signal} $$");

        Assert.Equal(128 + signal, result.ExitCode);
    }

    [Theory]
    [InlineData("/nonexistent/program")]
    [InlineData("no-such-program-anywhere")]
    public async Task A_missing_program_exits_with_125_and_says_why_on_stderr(string program)
    {
        var result = await Cli.RunAsync("run", "--", program);

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("sandbox: ", result.StandardError);
        Assert.Contains(program, result.StandardError);
        Assert.Contains("Hint: ", result.StandardError);
        Assert.Single(result.StandardError.TrimEnd('\n').Split('\n'));
        Assert.Equal("", result.StandardOutput);
    }

    [Fact]
    public async Task An_unknown_option_exits_with_125_and_points_to_the_help()
    {
        var result = await Cli.RunAsync("run", "--x", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal("sandbox: unknown option '--x'. See 'sandbox run --help'.\n", result.StandardError);
    }

    [Fact]
    public async Task A_malformed_value_exits_with_125_naming_the_option()
    {
        var result = await Cli.RunAsync("run", "--timeout", "soon", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("sandbox: invalid value 'soon' for --timeout: ", result.StandardError);
    }

    [Fact]
    public async Task A_setting_the_library_rejects_exits_with_125()
    {
        var result = await Cli.RunAsync("run", "--hostname", "not_valid", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("sandbox: ", result.StandardError);
        Assert.Contains("hostname", result.StandardError);
    }

    [Fact]
    public async Task A_bind_source_that_does_not_exist_is_reported_as_the_option_given()
    {
        string missing = TempPath("missing");

        var result = await Cli.RunAsync("run", "-v", $"{missing}:/data:ro", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith($"sandbox: --bind {missing}:/data:ro: ", result.StandardError);
    }

    [Theory]
    [InlineData("sandbox: unknown command 'bogus'. See 'sandbox --help'.\n", "bogus")]
    [InlineData("sandbox: unknown option '--bogus'. See 'sandbox --help'.\n", "--bogus", "run")]
    [InlineData("sandbox: unknown command 'bogus'. See 'sandbox --help'.\n", "help", "bogus")]
    public async Task An_unknown_command_or_global_option_exits_with_125(string error, params string[] args)
    {
        var result = await Cli.RunAsync(args);

        Assert.Equal(125, result.ExitCode);
        Assert.Equal(error, result.StandardError);
    }

    // ---- timeout and report ----

    [Fact]
    public async Task A_timeout_kills_the_sandbox_with_status_137_and_the_report_says_timedout()
    {
        string report = TempPath("report.json");

        var result = await Cli.RunAsync("run", "--timeout", "300ms", "--report", report, "--", "sleep", "5");

        Assert.Equal(137, result.ExitCode);
        var json = ReadReport(report);
        Assert.Equal("timedout", json.GetProperty("verdict").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("exitCode").ValueKind);
        Assert.True(json.GetProperty("wallTimeMs").GetDouble() >= 300, "the sandbox was killed before its timeout");
    }

    [Fact]
    public async Task The_report_describes_a_normal_run()
    {
        string report = TempPath("report.json");
        var before = DateTimeOffset.UtcNow;

        var result = await Cli.RunAsync("run", "--report", report, "--", "/bin/sh", "-c", "exit 3");

        var after = DateTimeOffset.UtcNow;
        Assert.Equal(3, result.ExitCode);
        var json = ReadReport(report);
        Assert.Equal(
            ["sandboxId", "exitCode", "signal", "verdict", "startTime", "exitTime", "wallTimeMs", "shellExitStatus", "usage"],
            json.EnumerateObject().Select(p => p.Name));
        Assert.Matches("^[0-9a-f]{12}$", json.GetProperty("sandboxId").GetString());
        Assert.Equal(result.ExitCode, json.GetProperty("exitCode").GetInt32());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("signal").ValueKind);
        Assert.Equal("exited", json.GetProperty("verdict").GetString());
        var start = json.GetProperty("startTime").GetDateTimeOffset();
        var exit = json.GetProperty("exitTime").GetDateTimeOffset();
        Assert.InRange(start, before, exit);
        Assert.InRange(exit, start, after);
        Assert.True(json.GetProperty("wallTimeMs").GetDouble() > 0);
        Assert.Equal(3, json.GetProperty("shellExitStatus").GetInt32());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("usage").ValueKind); // no limits, no --cgroup: no cgroup
    }

    [Fact]
    public async Task The_report_of_a_signaled_run_has_the_signal()
    {
        string report = TempPath("report.json");

        var result = await Cli.RunAsync("run", "--report", report, "--", "/bin/sh", "-c", "kill -9 $$");

        Assert.Equal(137, result.ExitCode);
        var json = ReadReport(report);
        Assert.Equal("signaled", json.GetProperty("verdict").GetString());
        Assert.Equal(9, json.GetProperty("signal").GetInt32());
        Assert.Equal(137, json.GetProperty("shellExitStatus").GetInt32());
    }

    [Fact]
    public async Task The_report_of_a_sandbox_that_could_not_start_has_the_error_step_and_errno()
    {
        string report = TempPath("report.json");

        var result = await Cli.RunAsync("run", "--report", report, "--", "/nonexistent/program");

        Assert.Equal(125, result.ExitCode);
        var json = ReadReport(report);
        Assert.Equal(["error", "step", "errno"], json.EnumerateObject().Select(p => p.Name));
        Assert.Contains("/nonexistent/program", json.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("step").GetString()));
        Assert.Equal(2, json.GetProperty("errno").GetInt32()); // ENOENT
    }

    [Fact]
    public async Task A_report_that_cannot_be_written_is_an_error()
    {
        var result = await Cli.RunAsync("run", "--report", TempPath("no/such/dir/report.json"), "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("sandbox: cannot write the report", result.StandardError);
    }

    // ---- resource limits (cgroups; these need root or a delegated cgroup) ----

    [Fact]
    public async Task A_command_past_its_memory_limit_is_oom_killed_and_the_report_says_memorylimitexceeded()
    {
        string report = TempPath("report.json");
        // Allocates and touches 200 MiB; without python, dd's 200 MiB buffer does the same.
        string[] hog = File.Exists("/usr/bin/python3")
            ? ["/usr/bin/python3", "-c", "b = bytearray(200 * 1024 * 1024)"]
            : ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"];

        var result = await Cli.RunAsync(["run", "--memory", "32m", "--report", report, "--", .. hog], standardInput: "");

        Assert.Equal(137, result.ExitCode); // the command's own status: SIGKILL from the OOM killer
        var json = ReadReport(report);
        Assert.Equal("memorylimitexceeded", json.GetProperty("verdict").GetString());
        Assert.Equal(137, json.GetProperty("shellExitStatus").GetInt32());
        var usage = json.GetProperty("usage");
        Assert.True(usage.GetProperty("oomKills").GetInt64() >= 1, usage.ToString());
        Assert.Contains("memory", LimitsHit(usage));
    }

    [Fact]
    public async Task Forks_past_the_pids_limit_fail_and_the_report_says_the_limit_was_hit()
    {
        string report = TempPath("report.json");

        var result = await Cli.RunAsync(
            "run", "--pids-limit", "8", "--timeout", "3s", "--report", report, "--",
            // A failed fork ends a non-interactive sh, so the loop runs in a subshell and the outer
            // shell lives to say so (echo is a builtin: it needs no fork).
            "/bin/sh", "-c", "(i=0; while [ $i -lt 30 ]; do sleep 100 & i=$((i+1)); done) 2>/dev/null; echo done");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("done\n", result.StandardOutput);
        var usage = ReadReport(report).GetProperty("usage");
        Assert.Contains("pids", LimitsHit(usage));
        Assert.DoesNotContain("memory", LimitsHit(usage));
    }

    [Fact]
    public async Task Cgroup_without_limits_reports_the_usage()
    {
        string report = TempPath("report.json");

        var result = await Cli.RunAsync("run", "--cgroup", "--report", report, "--", "true");

        Assert.Equal(0, result.ExitCode);
        var json = ReadReport(report);
        Assert.Equal("exited", json.GetProperty("verdict").GetString());
        var usage = json.GetProperty("usage");
        Assert.Equal(
            ["cpuUserMs", "cpuSystemMs", "cpuTotalMs", "memoryPeakBytes", "oomKills", "limitsHit"],
            usage.EnumerateObject().Select(p => p.Name));
        Assert.True(usage.GetProperty("cpuTotalMs").GetDouble() >= 0, usage.ToString());
        Assert.Equal(0, usage.GetProperty("oomKills").GetInt64());
        Assert.Empty(LimitsHit(usage));
    }

    [Theory]
    [InlineData("--device-read-bps", "/dev/null:1m", "/dev/null is not a block device", 0)]
    [InlineData("--device-write-iops", "/dev/no-such-disk:100", "/dev/no-such-disk does not exist", 2)]
    public async Task A_throttled_device_that_is_not_a_block_device_exits_with_125_naming_the_option(string option, string value, string why, int errno)
    {
        string report = TempPath("report.json");

        var result = await Cli.RunAsync("run", option, value, "--report", report, "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith($"sandbox: invalid value '{value}' for {option}: {why}", result.StandardError);
        Assert.EndsWith(". See 'sandbox run --help'.\n", result.StandardError);
        Assert.Single(result.StandardError.TrimEnd('\n').Split('\n'));
        var json = ReadReport(report);
        Assert.Equal("validate", json.GetProperty("step").GetString());
        Assert.Equal(errno, json.GetProperty("errno").GetInt32());
    }

    [Fact]
    public async Task A_throttled_block_device_is_found_by_its_node()
    {
        // Any block device this host has a node for (a disk, or an unused loop device).
        string? device = Directory.EnumerateDirectories("/sys/class/block")
            .Select(dir => "/dev/" + Path.GetFileName(dir))
            .FirstOrDefault(File.Exists);
        Assert.False(device is null, "this host has no block device node under /dev");
        string report = TempPath("report.json");

        var result = await Cli.RunAsync("run", "--device-read-bps", $"{device}:1m", "--device-write-iops", $"{device}:100", "--report", report, "true");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(JsonValueKind.Object, ReadReport(report).GetProperty("usage").ValueKind);
    }

    [Fact]
    public async Task A_limit_the_library_rejects_is_reported_as_the_option_given()
    {
        var result = await Cli.RunAsync("run", "--memory", "1m", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("sandbox: --memory: ", result.StandardError);
    }

    private static string?[] LimitsHit(JsonElement usage) => [.. usage.GetProperty("limitsHit").EnumerateArray().Select(e => e.GetString())];

    // ---- signals to the CLI ----

    [Theory]
    [InlineData(15, 143)] // SIGTERM
    [InlineData(2, 130)] // SIGINT, Ctrl-C
    [InlineData(1, 129)] // SIGHUP, the terminal closed
    [InlineData(3, 131)] // SIGQUIT, Ctrl-backslash
    public async Task A_signal_to_the_cli_kills_the_sandbox_and_exits_with_128_plus_the_signal(int signal, int status)
    {
        string report = TempPath("report.json");
        using var process = Cli.Start(["run", "--report", report, "--", "/bin/sh", "-c", "echo ready; exec sleep 600"], defaultSignals: true);
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();

        // The command's own output says the sandbox is running, so the CLI's handlers are in place.
        Assert.Equal("ready", await process.StandardOutput.ReadLineAsync());
        Cli.Signal(process, signal);

        // Reading to the end also proves no sandboxed process still holds the pipe.
        var result = await Cli.WaitAsync(process, process.StandardOutput.ReadToEndAsync(), stderr);
        Assert.Equal(status, result.ExitCode);
        Assert.Equal("canceled", ReadReport(report).GetProperty("verdict").GetString());
    }

    // ---- what the command sees ----

    [Fact]
    public async Task Hostname_sets_the_sandboxs_hostname()
    {
        var result = await Cli.RunAsync("run", "--hostname", "box", "hostname");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("box\n", result.StandardOutput);
    }

    [Fact]
    public async Task Env_sets_variables_and_copies_named_ones_from_the_caller()
    {
        var result = await Cli.RunAsync(
            ["run", "--env", "A=1", "-e", "B", "-e", "NOT_SET_ANYWHERE", "--", "/bin/sh", "-c", "echo \"$A $B ${NOT_SET_ANYWHERE-unset}\""],
            standardInput: "",
            new Dictionary<string, string> { ["B"] = "from caller" });

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("1 from caller unset\n", result.StandardOutput);
    }

    [Fact]
    public async Task The_callers_environment_does_not_leak_in()
    {
        var result = await Cli.RunAsync(
            ["run", "--", "/bin/sh", "-c", "echo \"${LEAK-unset}\""],
            standardInput: "",
            new Dictionary<string, string> { ["LEAK"] = "leaked" });

        Assert.Equal("unset\n", result.StandardOutput);
    }

    [Fact]
    public async Task A_read_only_bind_is_visible_but_cannot_be_written()
    {
        File.WriteAllText(TempPath("hello.txt"), "from the host");

        var result = await Cli.RunAsync("run", "--bind", $"{_temp.FullName}:/tmp/data:ro", "--",
            "/bin/sh", "-c", "cat /tmp/data/hello.txt && echo x > /tmp/data/new.txt");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("from the host", result.StandardOutput);
        Assert.Contains("Read-only file system", result.StandardError);
        Assert.False(File.Exists(TempPath("new.txt")));
    }

    [Theory]
    [InlineData("")]
    [InlineData(":rw")]
    public async Task A_bind_is_read_write_by_default_and_with_rw(string mode)
    {
        var result = await Cli.RunAsync("run", "-v", $"{_temp.FullName}:/tmp/data{mode}", "--",
            "/bin/sh", "-c", "echo from the sandbox > /tmp/data/new.txt");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("from the sandbox\n", File.ReadAllText(TempPath("new.txt")));
    }

    [Fact]
    public async Task Net_none_leaves_only_loopback()
    {
        var result = await Cli.RunAsync("run", "--net", "none", "cat", "/proc/net/dev");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["lo"], Interfaces(result.StandardOutput));
    }

    [Fact]
    public async Task Net_host_shows_the_hosts_interfaces()
    {
        var result = await Cli.RunAsync("run", "--network", "host", "cat", "/proc/net/dev");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Interfaces(File.ReadAllText("/proc/net/dev")), Interfaces(result.StandardOutput));
    }

    /// <summary>Interface names from /proc/net/dev: two header lines, then "name: counters".</summary>
    private static string[] Interfaces(string procNetDev) =>
        [.. procNetDev.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2).Select(l => l.Split(':')[0].Trim()).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Standard_input_passes_through_to_the_command()
    {
        var result = await Cli.RunAsync(["run", "--", "cat"], standardInput: "hello\n");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hello\n", result.StandardOutput);
    }

    [Fact]
    public async Task Standard_error_passes_through_to_the_callers()
    {
        var result = await Cli.RunAsync("run", "--", "/bin/sh", "-c", "echo oops >&2");

        Assert.Equal("oops\n", result.StandardError);
        Assert.Equal("", result.StandardOutput);
    }

    [Fact]
    public async Task User_and_workdir_set_who_and_where_the_command_runs()
    {
        var result = await Cli.RunAsync("run", "-u", "1000:1001", "-w", "/tmp", "--", "/bin/sh", "-c", "id -u; id -g; pwd");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("1000\n1001\n/tmp\n", result.StandardOutput);
    }

    [Fact]
    public async Task Tmpfs_mounts_a_sized_private_filesystem()
    {
        var result = await Cli.RunAsync("run", "--tmpfs", "/tmp/scratch:size=1m,mode=700", "--", "/bin/sh", "-c", "grep ' /tmp/scratch ' /proc/mounts");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("none /tmp/scratch tmpfs ", result.StandardOutput);
        Assert.Contains("size=1024k", result.StandardOutput);
        Assert.Contains("mode=700", result.StandardOutput);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rootfs_replaces_the_root_and_read_only_protects_it(bool readOnly)
    {
        string root = CreateRootFilesystem();
        List<string> args = ["run", "--rootfs", root];
        if (readOnly)
            args.Add("--read-only");
        args.AddRange(HostBinds());
        args.AddRange(["--", "/bin/sh", "-c", "cat /marker; echo written > /new"]);

        var result = await Cli.RunAsync(args, standardInput: "");

        Assert.StartsWith("inside the rootfs\n", result.StandardOutput);
        Assert.Equal(readOnly, result.ExitCode != 0);
        Assert.Equal(!readOnly, File.Exists(Path.Combine(root, "new")));
    }

    /// <summary>
    /// A root filesystem that borrows the host's programs: /usr bound read-only, and /bin, /lib
    /// and friends recreated as the host has them (symlinks into /usr on merged-/usr systems,
    /// binds otherwise). The mount points exist so a read-only root still works.
    /// </summary>
    private string CreateRootFilesystem()
    {
        string root = TempPath("rootfs");
        foreach (string dir in new[] { "usr", "proc", "dev", "tmp" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        foreach (string name in new[] { "bin", "sbin", "lib", "lib32", "lib64" })
        {
            var host = new FileInfo("/" + name);
            if (host.LinkTarget is { } target)
                File.CreateSymbolicLink(Path.Combine(root, name), target);
            else if (Directory.Exists(host.FullName))
                Directory.CreateDirectory(Path.Combine(root, name));
        }
        File.WriteAllText(Path.Combine(root, "marker"), "inside the rootfs\n");
        // A root caller's sandbox user is the host's nobody: it may write only what nobody may.
        File.SetUnixFileMode(root, (UnixFileMode)0x1FF);
        return root;
    }

    private static IEnumerable<string> HostBinds()
    {
        yield return "--bind";
        yield return "/usr:/usr:ro";
        foreach (string name in new[] { "bin", "sbin", "lib", "lib32", "lib64" })
        {
            var host = new DirectoryInfo("/" + name);
            if (host.Exists && host.LinkTarget is null)
            {
                yield return "--bind";
                yield return $"/{name}:/{name}:ro";
            }
        }
    }

    // ---- help and version ----

    [Theory]
    [InlineData("run", "--help")]
    [InlineData("run", "-h")]
    [InlineData("help", "run")]
    public async Task Run_help_documents_the_options_and_exits_with_0(params string[] args)
    {
        var result = await Cli.RunAsync(args);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(HelpText.Run, result.StandardOutput);
        Assert.Contains("Usage:  sandbox run [OPTIONS] [--] COMMAND [ARG...]", result.StandardOutput);
    }

    [Theory]
    [InlineData]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    [InlineData("--help", "run")]
    public async Task Main_help_lists_the_commands_and_exits_with_0(params string[] args)
    {
        var result = await Cli.RunAsync(args);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:  sandbox [OPTIONS] COMMAND", result.StandardOutput);
        Assert.Contains("  run ", result.StandardOutput);
    }

    [Fact]
    public async Task Version_prints_the_version()
    {
        var result = await Cli.RunAsync("--version");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^sandbox version \d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(, build [0-9a-f]{1,7})?\n$", result.StandardOutput);
    }
}
