using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
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

    [Theory]
    [InlineData("-v", "{0}:/tmp/data:ro")]
    [InlineData("--bind", "{0}:/tmp/data")]
    [InlineData("--mount", "type=bind,src={0},dst=/tmp/data")]
    public async Task A_bind_source_that_does_not_exist_is_reported_as_the_option_given(string option, string format)
    {
        string value = string.Format(System.Globalization.CultureInfo.InvariantCulture, format, TempPath("missing"));

        var result = await Cli.RunAsync("run", "--tmpfs", "/tmp/a", option, value, "--mqueue", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith($"sandbox: {option} {value}: ", result.StandardError);
        Assert.Contains("does not exist", result.StandardError);
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

    // ---- overlay roots ----

    /// <summary>Busybox applets the tests' root filesystems and images link to /bin/busybox.</summary>
    private static readonly string[] s_applets = ["sh", "cat", "echo", "ls", "rm", "dd", "wc", "grep", "id", "mkdir"];

    /// <summary>
    /// A root filesystem of the static busybox alone: /bin/busybox, its applets as symlinks, the
    /// usual mount points and a marker file, writable by the sandbox (a root caller's is nobody).
    /// </summary>
    private string CreateBusyboxRoot()
    {
        string root = TempPath("busybox-root");
        foreach (string dir in new[] { "bin", "etc", "proc", "dev", "sys", "tmp" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        File.Copy("/bin/busybox", Path.Combine(root, "bin", "busybox"));
        foreach (string applet in s_applets)
            File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        File.WriteAllText(Path.Combine(root, "marker"), "inside the rootfs\n");
        File.SetUnixFileMode(root, (UnixFileMode)0x1FF);
        return root;
    }

    /// <summary>Every file, directory and link under <paramref name="root"/> with its content or target, to show nothing changed.</summary>
    private static string[] Snapshot(string root) =>
        [.. Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(path => new FileInfo(path) is { LinkTarget: { } link } ? $"{path} -> {link}"
                : File.Exists(path) ? $"{path}: {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))}"
                : path + "/")
            .Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Overlay_lets_the_command_change_the_root_but_the_rootfs_is_never_written()
    {
        string root = CreateBusyboxRoot();
        string[] before = Snapshot(root);

        var result = await Cli.RunAsync("run", "--rootfs", root, "--overlay", "-u", "0:0", "--",
            "/bin/sh", "-c", "echo new > /new && echo changed > /marker && rm /bin/ls && mkdir /dir && cat /new /marker && [ ! -e /bin/ls ] && [ -d /dir ]");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("new\nchanged\n", result.StandardOutput);
        Assert.Equal(before, Snapshot(root));
    }

    [Fact]
    public async Task Overlay_dir_keeps_the_writable_layer_from_one_run_to_the_next()
    {
        string root = CreateBusyboxRoot();
        string layer = TempPath("box1");
        string[] before = Snapshot(root);

        var first = await Cli.RunAsync("run", "--rootfs", root, "--overlay-dir", layer, "-u", "0:0", "--", "/bin/sh", "-c", "echo kept > /state && rm /marker");
        var second = await Cli.RunAsync("run", "--rootfs", root, "--overlay-dir", layer, "-u", "0:0", "--", "/bin/sh", "-c", "cat /state; cat /marker");
        var ephemeral = await Cli.RunAsync("run", "--rootfs", root, "--overlay", "--", "/bin/cat", "/state");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal("kept\n", second.StandardOutput);
        Assert.Contains("/marker", second.StandardError); // the deletion was kept too
        Assert.NotEqual(0, second.ExitCode);
        Assert.NotEqual(0, ephemeral.ExitCode);
        Assert.Equal(before, Snapshot(root));
        Assert.True(Directory.Exists(layer), "the writable layer's directory was not created");
    }

    [Fact]
    public async Task Read_only_gives_an_overlay_no_writable_layer()
    {
        string root = CreateBusyboxRoot();
        string[] before = Snapshot(root);

        var result = await Cli.RunAsync("run", "--rootfs", root, "--overlay", "--read-only", "--", "/bin/sh", "-c", "cat /marker; echo x > /new");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("inside the rootfs\n", result.StandardOutput);
        Assert.Contains("Read-only file system", result.StandardError);
        Assert.Equal(before, Snapshot(root));
    }

    [Fact]
    public async Task Overlay_size_caps_the_writable_layer()
    {
        string root = CreateBusyboxRoot();

        var result = await Cli.RunAsync("run", "--rootfs", root, "--overlay-size", "1m", "--",
            "/bin/sh", "-c", "dd if=/dev/zero of=/big bs=1024 count=2048; wc -c < /big");

        Assert.Contains("No space left on device", result.StandardError);
        Assert.InRange(long.Parse(result.StandardOutput.Trim(), System.Globalization.CultureInfo.InvariantCulture), 1, 1L << 20);
    }

    // ---- volumes, --mount and --mqueue ----

    [Fact]
    public async Task A_named_volume_keeps_its_content_from_one_run_to_the_next()
    {
        string root = CreateBusyboxRoot();
        string store = TempPath("volumes");

        var first = await Cli.RunAsync("run", "--rootfs", root, "--overlay", "--volume-store", store, "-v", "data:/data", "--",
            "/bin/sh", "-c", "echo kept > /data/file");
        var second = await Cli.RunAsync("run", "--rootfs", root, "--overlay", "--volume-store", store, "-v", "data:/data:ro", "--",
            "/bin/sh", "-c", "cat /data/file; echo x > /data/other");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal("kept\n", second.StandardOutput);
        Assert.Contains("Read-only file system", second.StandardError);
        Assert.Equal("kept\n", File.ReadAllText(Path.Combine(store, "data", "file")));
        Assert.False(File.Exists(Path.Combine(store, "data", "other")));
    }

    [Fact]
    public async Task A_read_only_host_directory_volume_cannot_be_written()
    {
        string dir = Directory.CreateDirectory(TempPath("host-dir")).FullName;
        File.WriteAllText(Path.Combine(dir, "hello.txt"), "from the host");

        var result = await Cli.RunAsync("run", "-v", $"{dir}:/mnt:ro", "--", "/bin/sh", "-c", "cat /mnt/hello.txt && echo x > /mnt/new.txt");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("from the host", result.StandardOutput);
        Assert.Contains("Read-only file system", result.StandardError);
        Assert.False(File.Exists(Path.Combine(dir, "new.txt")));
    }

    [Fact]
    public async Task A_tmpfs_mount_is_capped_at_its_size()
    {
        string root = CreateBusyboxRoot();

        var result = await Cli.RunAsync("run", "--rootfs", root, "--overlay", "--mount", "type=tmpfs,target=/x,tmpfs-size=1m", "--",
            "/bin/sh", "-c", "grep ' /x ' /proc/mounts; dd if=/dev/zero of=/x/f bs=1024 count=2048; wc -c < /x/f");

        string[] lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("none /x tmpfs ", lines[0]);
        Assert.Contains("size=1024k", lines[0]);
        Assert.Equal("1048576", lines[1].Trim());
        Assert.Contains("No space left on device", result.StandardError);
    }

    [Fact]
    public async Task A_bind_mount_with_bind_optional_skips_a_missing_source()
    {
        var result = await Cli.RunAsync("run", "--mount", $"type=bind,src={TempPath("missing")},dst=/tmp/x,bind-optional", "--", "/bin/sh", "-c", "echo ran");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ran\n", result.StandardOutput);
    }

    [Fact]
    public async Task A_malformed_mount_exits_with_125_naming_the_option_and_the_key()
    {
        var result = await Cli.RunAsync("run", "--mount", "type=bind,dst=/x,colour=red", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("sandbox: invalid value 'type=bind,dst=/x,colour=red' for --mount: unknown key 'colour'; ", result.StandardError);
        Assert.EndsWith(". See 'sandbox run --help'.\n", result.StandardError);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Mqueue_mounts_the_message_queues_at_dev_mqueue(bool mqueue)
    {
        string[] args = mqueue ? ["run", "--mqueue", "--"] : ["run", "--"];

        var result = await Cli.RunAsync([.. args, "/bin/sh", "-c", "grep mqueue /proc/self/mountinfo"], standardInput: "");

        string[] lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (mqueue)
        {
            // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER-OPTIONS
            string line = Assert.Single(lines);
            Assert.Equal("/dev/mqueue", line.Split(' ')[4]);
            Assert.Equal("mqueue", line.Split(" - ")[1].Split(' ')[0]);
        }
        else
        {
            Assert.Empty(lines);
        }
    }

    // ---- images ----

    private const string Passwd = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n";

    /// <summary>
    /// What <c>docker export</c> writes: a root filesystem as one tar, here of /bin/busybox, its
    /// applets as symlinks, /etc/passwd and the usual (empty) mount points.
    /// </summary>
    private static void WriteRootFilesystemTar(Stream stream)
    {
        using var tar = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true);
        const UnixFileMode Directory = (UnixFileMode)0x1ED; // 0755
        foreach (string dir in new[] { "bin/", "etc/", "dev/", "proc/", "sys/" })
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, dir) { Mode = Directory });
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "tmp/") { Mode = (UnixFileMode)0x3FF }); // 1777
        tar.WriteEntry("/bin/busybox", "bin/busybox");
        foreach (string applet in s_applets)
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/" + applet) { LinkName = "busybox" });
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/passwd")
        {
            Mode = (UnixFileMode)0x1A4, // 0644
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(Passwd)),
        });
    }

    private string CreateExportTar(bool gzip)
    {
        string path = TempPath(gzip ? "export.tar.gz" : "export.tar");
        using var file = File.Create(path);
        if (gzip)
        {
            using var compressed = new GZipStream(file, CompressionLevel.Fastest);
            WriteRootFilesystemTar(compressed);
        }
        else
        {
            WriteRootFilesystemTar(file);
        }
        return path;
    }

    /// <summary>
    /// What <c>docker save</c> writes (the layout before Docker 25): manifest.json naming the
    /// config, &lt;sha256 of the config&gt;.json, and one layer tar, here the root filesystem above.
    /// </summary>
    private string CreateSaveTar(object config, string tag = "app:1")
    {
        using var layer = new MemoryStream();
        WriteRootFilesystemTar(layer);
        byte[] configJson = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["architecture"] = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64",
            ["os"] = "linux",
            ["config"] = config,
            ["rootfs"] = new { type = "layers", diff_ids = new[] { "sha256:" + Convert.ToHexStringLower(SHA256.HashData(layer.ToArray())) } },
        });
        string configName = Convert.ToHexStringLower(SHA256.HashData(configJson)) + ".json";
        byte[] manifest = JsonSerializer.SerializeToUtf8Bytes(new[] { new { Config = configName, RepoTags = new[] { tag }, Layers = new[] { "layer1/layer.tar" } } });

        string path = TempPath("save.tar");
        using var file = File.Create(path);
        using var tar = new TarWriter(file, TarEntryFormat.Pax);
        foreach (var (name, content) in new[] { ("manifest.json", manifest), (configName, configJson), ("layer1/layer.tar", layer.ToArray()) })
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0x1A4, DataStream = new MemoryStream(content) });
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_exported_root_filesystem_tar_runs_as_an_image(bool gzip)
    {
        string image = CreateExportTar(gzip);
        string store = TempPath("images");

        var result = await Cli.RunAsync("run", "--image", image, "--image-store", store, "--", "/bin/sh", "-c", "echo hi");

        Assert.Equal("", result.StandardError);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hi\n", result.StandardOutput);
        Assert.True(Directory.Exists(store), "the image store was not created where --image-store said");
    }

    [Fact]
    public async Task An_images_root_is_writable_for_one_run_only_and_read_only_makes_it_read_only()
    {
        string image = CreateExportTar(gzip: false);
        string store = TempPath("images");
        string[] common = ["run", "--image", image, "--image-store", store, "--"];

        var write = await Cli.RunAsync([.. common, "/bin/sh", "-c", "echo x > /etc/new && rm /bin/ls && cat /etc/new"], standardInput: "");
        var next = await Cli.RunAsync([.. common, "/bin/sh", "-c", "cat /etc/new; ls /bin/ls"], standardInput: "");
        var readOnly = await Cli.RunAsync(["run", "--image", image, "--image-store", store, "--read-only", "--", "/bin/sh", "-c", "echo x > /etc/new"], standardInput: "");

        Assert.Equal(0, write.ExitCode);
        Assert.Equal("x\n", write.StandardOutput);
        Assert.Equal(0, next.ExitCode); // ls again, and no /etc/new: only the last command's status counts
        Assert.Equal("/bin/ls\n", next.StandardOutput);
        Assert.Contains("/etc/new", next.StandardError);
        Assert.NotEqual(0, readOnly.ExitCode);
        Assert.Contains("Read-only file system", readOnly.StandardError);
    }

    [Fact]
    public async Task A_saved_image_runs_with_its_entrypoint_command_environment_working_directory_and_user()
    {
        string image = CreateSaveTar(new
        {
            Entrypoint = new[] { "/bin/sh", "-c" },
            Cmd = new[] { "echo \"default: $GREETING in $(pwd) as $(id -u)\"" },
            Env = new[] { "PATH=/bin", "GREETING=from the image" },
            WorkingDir = "/work",
            User = "daemon",
        });
        string store = TempPath("images");
        string[] run = ["run", "--image", image, "--image-store", store];

        var byDefault = await Cli.RunAsync(run);
        var command = await Cli.RunAsync([.. run, "--", "echo \"$GREETING\""], standardInput: "");
        var overridden = await Cli.RunAsync([.. run, "-e", "GREETING=from the cli", "-w", "/tmp", "-u", "0", "--image-ref", "app:1"], standardInput: "");
        var entrypoint = await Cli.RunAsync([.. run, "--entrypoint", "/bin/echo", "--", "replaced"], standardInput: "");
        var cleared = await Cli.RunAsync([.. run, "--entrypoint", ""], standardInput: "");

        Assert.Equal("default: from the image in /work as 1\n", byDefault.StandardOutput);
        Assert.Equal("from the image\n", command.StandardOutput);
        Assert.Equal("default: from the cli in /tmp as 0\n", overridden.StandardOutput);
        Assert.Equal("replaced\n", entrypoint.StandardOutput);
        Assert.Equal(125, cleared.ExitCode);
        Assert.StartsWith("sandbox: --entrypoint replaces the image's entrypoint and drops its default command", cleared.StandardError);
    }

    [Fact]
    public async Task An_image_without_a_default_command_needs_one()
    {
        string image = CreateExportTar(gzip: false);

        var result = await Cli.RunAsync("run", "--image", image, "--image-store", TempPath("images"));

        Assert.Equal(125, result.ExitCode);
        Assert.Equal(
            $"sandbox: the image {image} has no default command (no Entrypoint or Cmd); give the command after the options, for example 'sandbox run --image {image} -- /bin/sh'\n",
            result.StandardError);
    }

    [Fact]
    public async Task A_missing_image_exits_with_125_and_names_the_file()
    {
        string missing = TempPath("no-such-image.tar");
        string report = TempPath("report.json");

        var result = await Cli.RunAsync("run", "--image", missing, "--image-store", TempPath("images"), "--report", report, "--", "/bin/sh");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith($"sandbox: {missing}: ", result.StandardError);
        Assert.Contains("does not exist", result.StandardError);
        Assert.Single(result.StandardError.TrimEnd('\n').Split('\n'));
        Assert.Equal("", result.StandardOutput);
        var json = ReadReport(report);
        Assert.Equal("import the image", json.GetProperty("step").GetString());
        Assert.Contains(missing, json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task An_image_reference_that_names_nothing_exits_with_125()
    {
        string image = CreateSaveTar(new { Cmd = new[] { "/bin/sh" } });

        var result = await Cli.RunAsync("run", "--image", image, "--image-ref", "other:2", "--image-store", TempPath("images"));

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith($"sandbox: {image} ", result.StandardError);
        Assert.Contains("other:2", result.StandardError);
    }

    // ---- sandbox image and sandbox volume ----

    [Fact]
    public async Task Image_import_prints_the_id_that_ls_lists_and_rm_removes()
    {
        string image = CreateSaveTar(new { Cmd = new[] { "/bin/sh", "-c", "echo \"hi\"" } });
        string store = TempPath("images");

        var import = await Cli.RunAsync("image", "import", "--image-store", store, image);
        string id = import.StandardOutput.TrimEnd('\n');
        var list = await Cli.RunAsync("image", "ls", "--image-store", store);
        var quiet = await Cli.RunAsync("image", "ls", "-q", "--image-store", store);
        var run = await Cli.RunAsync("run", "--image", image, "--image-store", store);
        string layers = Path.Combine(store, "layers", "sha256");
        Assert.Single(Directory.EnumerateDirectories(layers));
        var remove = await Cli.RunAsync("image", "rm", "--image-store", store, id[7..19]);
        var afterwards = await Cli.RunAsync("image", "ls", "-q", "--image-store", store);
        var again = await Cli.RunAsync("image", "rm", "--image-store", store, id);

        Assert.Equal(0, import.ExitCode);
        Assert.Matches("^sha256:[0-9a-f]{64}$", id);
        Assert.Equal($"IMAGE ID       LAYERS   COMMAND\n{id[7..19]}   1        [\"/bin/sh\", \"-c\", \"echo \\\"hi\\\"\"]\n", list.StandardOutput);
        Assert.Equal(id[7..19] + "\n", quiet.StandardOutput);
        Assert.Equal("hi\n", run.StandardOutput);
        Assert.Equal(0, remove.ExitCode);
        Assert.Equal($"Deleted: {id}\n", remove.StandardOutput);
        Assert.Equal("", afterwards.StandardOutput);
        Assert.Empty(Directory.EnumerateDirectories(layers));
        Assert.Equal(1, again.ExitCode);
        Assert.Equal($"sandbox: no such image: {id}\n", again.StandardError);
    }

    [Fact]
    public async Task Image_import_of_a_missing_file_exits_with_1_and_names_it()
    {
        string missing = TempPath("missing.tar");

        var result = await Cli.RunAsync("image", "import", "--image-store", TempPath("images"), missing);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"sandbox: {missing}: ", result.StandardError);
        Assert.Equal("", result.StandardOutput);
    }

    [Fact]
    public async Task Volume_ls_lists_the_volumes_runs_created_and_rm_removes_them()
    {
        string store = TempPath("volumes");

        var create = await Cli.RunAsync("run", "--volume-store", store, "-v", "first:/tmp/a", "--mount", "src=second,dst=/tmp/b", "--", "/bin/sh", "-c", "echo x > /tmp/a/file");
        var list = await Cli.RunAsync("volume", "ls", "--volume-store", store);
        var remove = await Cli.RunAsync("volume", "rm", "--volume-store", store, "first", "missing");
        var quiet = await Cli.RunAsync("volume", "ls", "-q", "--volume-store", store);

        Assert.Equal(0, create.ExitCode);
        Assert.Equal("VOLUME NAME\nfirst\nsecond\n", list.StandardOutput);
        Assert.Equal(1, remove.ExitCode);
        Assert.Equal("first\n", remove.StandardOutput);
        Assert.Equal("sandbox: no such volume: missing\n", remove.StandardError);
        Assert.Equal("second\n", quiet.StandardOutput);
        Assert.False(Directory.Exists(Path.Combine(store, "first")));
    }

    [Theory]
    [InlineData("image", "Usage:  sandbox image COMMAND")]
    [InlineData("volume", "Usage:  sandbox volume COMMAND")]
    public async Task Store_commands_print_their_help(string command, string usage)
    {
        var plain = await Cli.RunAsync(command);
        var help = await Cli.RunAsync("help", command);
        var sub = await Cli.RunAsync(command, "ls", "--help");
        var wrong = await Cli.RunAsync(command, "frobnicate");

        Assert.Equal(0, plain.ExitCode);
        Assert.Contains(usage, plain.StandardOutput);
        Assert.Equal(plain.StandardOutput, help.StandardOutput);
        Assert.Equal(plain.StandardOutput, sub.StandardOutput);
        Assert.Equal(125, wrong.ExitCode);
        Assert.Equal($"sandbox: unknown command '{command} frobnicate'. See 'sandbox {command} --help'.\n", wrong.StandardError);
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
        Assert.Contains("  image ", result.StandardOutput);
        Assert.Contains("  volume ", result.StandardOutput);
    }

    [Fact]
    public async Task Version_prints_the_version()
    {
        var result = await Cli.RunAsync("--version");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^sandbox version \d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(, build [0-9a-f]{1,7})?\n$", result.StandardOutput);
    }
}
