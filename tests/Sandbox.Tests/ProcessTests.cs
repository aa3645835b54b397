using System.Text;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>What the command gets (argv, environment, directory, stdio) and how its end is reported.</summary>
public class ProcessTests
{
    private readonly Sandbox _sandbox = new SandboxBuilder().Build();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(42)]
    [InlineData(255)]
    public async Task The_exit_code_is_reported_faithfully(int code)
    {
        var r = await _sandbox.ShAsync($"exit {code}");
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        Assert.Equal(code, r.ExitCode);
        Assert.Null(r.Signal);
        Assert.Equal(code, r.ShellExitStatus);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(15)]
    [InlineData(11)]
    public async Task The_signal_that_killed_the_command_is_reported(int signal)
    {
        var r = await _sandbox.ShAsync($"kill -{signal} $$");
        Assert.Equal(SandboxVerdict.Signaled, r.Verdict);
        Assert.Equal(signal, r.Signal);
        Assert.Null(r.ExitCode);
        Assert.Equal(128 + signal, r.ShellExitStatus);
    }

    [Fact]
    public async Task A_missing_program_is_a_clear_error_naming_what_was_looked_up()
    {
        var e = await Assert.ThrowsAsync<SandboxException>(() => _sandbox.RunAsync(["no-such-program-xyz"]));
        Assert.Equal("find the command", e.Step);
        Assert.Equal(2, e.ErrorNumber);
        Assert.Contains("no-such-program-xyz", e.Message);
        Assert.Contains("PATH=", e.Message);
        Assert.NotNull(e.Hint);

        var absolute = await Assert.ThrowsAsync<SandboxException>(() => _sandbox.RunAsync(["/no/such/binary"]));
        Assert.Contains("/no/such/binary", absolute.Message);
    }

    [Fact]
    public async Task A_file_that_is_not_executable_is_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<SandboxException>(() => _sandbox.RunAsync(["/etc/passwd"]));
        Assert.Equal("execute the command", e.Step);
        Assert.Equal(13, e.ErrorNumber);
    }

    [Fact]
    public async Task Arguments_arrive_unchanged()
    {
        string[] args = ["a b", "", "ü✓", "--x=\"y\"", "$HOME", "*"];
        var r = await _sandbox.RunAsync(["/usr/bin/printf", "[%s]\\n", .. args]);
        Assert.Equal(string.Concat(args.Select(a => $"[{a}]\n")), r.StandardOutput);
    }

    [Fact]
    public async Task The_environment_is_clean_with_defaults_plus_chosen_variables()
    {
        Environment.SetEnvironmentVariable("SANDBOX_TEST_LEAK", "host-secret");
        var sandbox = new SandboxBuilder().WithEnvironmentVariable("GREETING", "hello world").Build();
        string env = await sandbox.OutputOfAsync("env | sort");
        Assert.DoesNotContain("SANDBOX_TEST_LEAK", env);
        Assert.Contains("GREETING=hello world", env.Split('\n'));
        Assert.Contains($"PATH={SandboxConfiguration.DefaultPath}", env.Split('\n'));
        Assert.Contains("HOME=/", env.Split('\n')); // nobody inside has no home; root inside gets /root
    }

    [Fact]
    public async Task PATH_from_the_environment_is_used_for_lookup()
    {
        using var dir = new TempDirectory();
        string tool = Path.Combine(dir.Path, "mytool");
        File.WriteAllText(tool, "#!/bin/sh\necho found-by-path\n");
        File.SetUnixFileMode(tool, (UnixFileMode)0x1ED);
        var sandbox = new SandboxBuilder().WithBindMount(dir.Path, "/tmp/tools").WithEnvironmentVariable("PATH", "/tmp/tools:/bin").Build();
        var r = await sandbox.RunAsync(["mytool"]);
        Assert.Equal("found-by-path\n", r.StandardOutput);
    }

    [Fact]
    public async Task The_working_directory_is_set()
    {
        Assert.Equal("/usr/share", await new SandboxBuilder().WithWorkingDirectory("/usr/share").Build().OutputOfAsync("pwd"));
        var e = await Assert.ThrowsAsync<SandboxException>(() => new SandboxBuilder().WithWorkingDirectory("/no/such/dir").Build().ShAsync("pwd"));
        Assert.Equal("enter the working directory", e.Step);
        Assert.Contains("/no/such/dir", e.Message);
    }

    [Fact]
    public async Task Output_and_error_are_captured_separately_and_dev_stdout_works()
    {
        var r = await _sandbox.ShAsync("echo out; echo err >&2; echo via-dev-stdout > /dev/stdout; echo via-dev-stderr > /dev/stderr");
        Assert.Equal("out\nvia-dev-stdout\n", r.StandardOutput);
        Assert.Equal("err\nvia-dev-stderr\n", r.StandardError);
    }

    [Fact]
    public async Task Large_output_is_captured_whole()
    {
        var r = await _sandbox.ShAsync("head -c 5000000 /dev/zero | tr '\\0' x");
        Assert.Equal(5_000_000, r.StandardOutput.Length);
        Assert.True(r.StandardOutput.All(c => c == 'x'));
    }

    [Fact]
    public async Task Capture_keeps_at_most_its_limit_and_says_it_truncated()
    {
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.CaptureUpTo(1000)).Build();
        var r = await sandbox.ShAsync("head -c 5000000 /dev/zero | tr '\\0' x; echo done >&2");
        Assert.Equal(0, r.ExitCode); // the rest was drained: the command never blocked
        Assert.Equal(new string('x', 1000), r.StandardOutput);
        Assert.True(r.StandardOutputTruncated);
        Assert.False(r.StandardErrorTruncated);
        Assert.Equal("done\n", r.StandardError);
    }

    [Fact]
    public async Task Standard_input_can_come_from_a_string_a_stream_or_a_file()
    {
        var fromString = await new SandboxBuilder().WithStandardInput(SandboxInput.FromString("line1\nline2\n")).Build().RunAsync(["/bin/cat"]);
        Assert.Equal("line1\nline2\n", fromString.StandardOutput);

        var big = new byte[3_000_000];
        Random.Shared.NextBytes(big);
        var fromStream = await new SandboxBuilder().WithStandardInput(SandboxInput.FromStream(new MemoryStream(big))).Build().ShAsync("sha256sum | cut -d' ' -f1");
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(big)), fromStream.StandardOutput.Trim());

        using var dir = new TempDirectory();
        string file = Path.Combine(dir.Path, "in.txt");
        File.WriteAllText(file, "from-file");
        var fromFile = await new SandboxBuilder().WithStandardInput(SandboxInput.FromFile(file)).Build().RunAsync(["/bin/cat"]);
        Assert.Equal("from-file", fromFile.StandardOutput);

        var none = await _sandbox.RunAsync(["/bin/cat"]);
        Assert.Equal("", none.StandardOutput);
    }

    [Fact]
    public async Task Output_can_go_to_a_file_a_stream_or_nowhere()
    {
        using var dir = new TempDirectory();
        string file = Path.Combine(dir.Path, "out.txt");
        var toFile = await new SandboxBuilder().WithStandardOutput(SandboxOutput.ToFile(file)).Build().ShAsync("echo to-file");
        Assert.Equal("to-file\n", File.ReadAllText(file));
        Assert.Equal("", toFile.StandardOutput);
        await new SandboxBuilder().WithStandardOutput(SandboxOutput.ToFile(file, append: true)).Build().ShAsync("echo again");
        Assert.Equal("to-file\nagain\n", File.ReadAllText(file));

        var stream = new MemoryStream();
        await new SandboxBuilder().WithStandardError(SandboxOutput.ToStream(stream)).Build().ShAsync("echo to-stream >&2");
        Assert.Equal("to-stream\n", Encoding.UTF8.GetString(stream.ToArray()));

        var nothing = await new SandboxBuilder().WithStandardOutput(SandboxOutput.Null).Build().ShAsync("echo gone");
        Assert.Equal("", nothing.StandardOutput);
    }

    [Fact]
    public async Task A_process_can_be_driven_interactively_through_pipes()
    {
        var sandbox = new SandboxBuilder()
            .WithStandardInput(SandboxInput.Pipe)
            .WithStandardOutput(SandboxOutput.Pipe)
            .Build();
        await using var p = await sandbox.StartAsync(["/bin/sh", "-c", "while read line; do echo \"got $line\"; done"]);
        var reader = new StreamReader(p.StandardOutput);
        var writer = new StreamWriter(p.StandardInput) { AutoFlush = true };
        await writer.WriteLineAsync("one");
        Assert.Equal("got one", await reader.ReadLineAsync());
        await writer.WriteLineAsync("two");
        Assert.Equal("got two", await reader.ReadLineAsync());
        await p.StandardInput.DisposeAsync();
        var r = await p.WaitForExitAsync();
        Assert.Equal(0, r.ExitCode);
        Assert.Throws<InvalidOperationException>(() => p.StandardError);
    }

    [Fact]
    public async Task Several_sandboxes_run_concurrently_from_one_Sandbox()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => _sandbox.ShAsync($"echo {i}; exit {i % 5}")));
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal($"{i}\n", results[i].StandardOutput);
            Assert.Equal(i % 5, results[i].ExitCode);
        }
        Assert.Equal(results.Length, results.Select(r => r.SandboxId).Distinct().Count());
    }

    [Fact]
    public async Task Sandboxes_and_System_Diagnostics_Process_work_side_by_side()
    {
        // Both reap their own children: neither may steal the other's exit status.
        var sandboxRuns = Enumerable.Range(0, 12).Select(i => _sandbox.ShAsync($"exit {i}")).ToList();
        var processRuns = Enumerable.Range(0, 12).Select(async i =>
        {
            using var p = System.Diagnostics.Process.Start("/bin/sh", ["-c", $"exit {i + 100}"]);
            await p.WaitForExitAsync();
            return p.ExitCode;
        }).ToList();
        Assert.Equal(Enumerable.Range(0, 12), (await Task.WhenAll(sandboxRuns)).Select(r => r.ExitCode!.Value));
        Assert.Equal(Enumerable.Range(100, 12), await Task.WhenAll(processRuns));
    }

    [Fact]
    public async Task The_result_carries_times_and_the_sandbox_id()
    {
        var before = DateTimeOffset.UtcNow;
        await using var p = await _sandbox.StartAsync(["/bin/true"]);
        var r = await p.WaitForExitAsync();
        Assert.Equal(p.Id, r.SandboxId);
        Assert.Matches("^[0-9a-f]{12}$", r.SandboxId);
        Assert.True(p.Pid > 0);
        Assert.InRange(r.StartTime, before, r.ExitTime);
        Assert.True(r.WallTime > TimeSpan.Zero);
        Assert.True(r.IsSuccess);
    }
}
