using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CodeRunner;
using Microsoft.AspNetCore.Builder;

namespace Sandboxing.Samples.Tests;

/// <summary>The CodeRunner sample, started in this process on a free port of 127.0.0.1.</summary>
public sealed class CodeRunnerService : IAsyncLifetime
{
    public WebApplication App { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        App = CodeRunnerApp.Create(["--CodeRunner:Port=0", "--Logging:LogLevel:Default=Warning"]);
        await App.StartAsync();
        Http = new HttpClient { BaseAddress = App.Address(), Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}

public sealed class CodeRunnerTests(CodeRunnerService service) : IClassFixture<CodeRunnerService>
{
    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    private async Task<RunReport> Run(string language, string source, string? stdin = null, SubmissionLimits? limits = null)
    {
        using var response = await service.Http.PostAsJsonAsync("run", new Submission(language, source, stdin, limits), Json);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<RunReport>(Json))!;
    }

    [Fact]
    public async Task A_program_that_reads_its_input_exits_with_0_and_its_output()
    {
        var r = await Run("python", "import sys\nfor line in sys.stdin: print(line.strip().upper())", stdin: "hello\nworld\n");
        Assert.Equal("exited", r.Verdict);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("HELLO\nWORLD\n", r.Stdout);
        Assert.Empty(r.LimitsHit);
        Assert.True(r.CpuTimeMs > 0);
        Assert.True(r.MemoryPeakBytes > 0);
    }

    [Fact]
    public async Task The_exit_code_is_the_programs()
    {
        var r = await Run("python", "import sys\nprint('bye', file=sys.stderr)\nsys.exit(3)");
        Assert.Equal("exited", r.Verdict);
        Assert.Equal(3, r.ExitCode);
        Assert.Equal("bye\n", r.Stderr);
    }

    [Fact]
    public async Task A_busy_loop_exceeds_its_cpu_time()
    {
        var r = await Run("python", "while True: pass", limits: new() { CpuTimeMs = 500, WallTimeMs = 10_000 });
        Assert.Equal("cputimelimitexceeded", r.Verdict);
        Assert.Equal(9, r.Signal);
        Assert.Contains("cputime", r.LimitsHit);
        Assert.InRange(r.CpuTimeMs!.Value, 500, 5_000);
    }

    [Fact]
    public async Task A_sleeping_program_times_out()
    {
        // Sleeping costs no CPU time: only the wall clock catches it.
        var r = await Run("python", "import time\ntime.sleep(60)", limits: new() { WallTimeMs = 500 });
        Assert.Equal("timedout", r.Verdict);
        Assert.Contains("walltime", r.LimitsHit);
        Assert.InRange(r.WallTimeMs, 500, 10_000);
    }

    [Fact]
    public async Task A_memory_hog_exceeds_its_memory_limit()
    {
        var r = await Run("python", "a = []\nwhile True: a.append(' ' * 1_000_000)", limits: new() { MemoryMb = 32 });
        Assert.Equal("memorylimitexceeded", r.Verdict);
        Assert.Contains("memory", r.LimitsHit);
        Assert.True(r.MemoryPeakBytes is null or > 16 << 20, $"peak {r.MemoryPeakBytes}");
    }

    [Fact]
    public async Task A_print_loop_exceeds_its_output_limit()
    {
        var r = await Run("python", "while True: print('x' * 99)", limits: new() { OutputBytes = 1000 });
        Assert.Equal("outputlimitexceeded", r.Verdict);
        Assert.Contains("output", r.LimitsHit);
        Assert.Equal(1000, r.Stdout.Length);     // the first 1000 bytes are kept
    }

    [Fact]
    public async Task A_program_killed_by_a_signal_is_signaled()
    {
        var r = await Run("sh", "echo before\nkill -SEGV $$\necho after");
        Assert.Equal("signaled", r.Verdict);
        Assert.Equal(11, r.Signal);
        Assert.Null(r.ExitCode);
        Assert.Equal("before\n", r.Stdout);
    }

    [Fact]
    public async Task A_submission_has_no_network_and_cannot_write_the_host()
    {
        var r = await Run("python", """
            import socket
            try:
                socket.create_connection(("1.1.1.1", 53), timeout=2)
                print("connected")
            except OSError as e:
                print("network:", e.strerror)
            try:
                open("/etc/submission", "w")
            except OSError as e:
                print("/etc:", e.strerror)
            open("/tmp/scratch", "w").write("ok")
            print("/tmp:", open("/tmp/scratch").read())
            """);
        Assert.Equal("exited", r.Verdict);
        Assert.Equal("network: Network is unreachable\n/etc: Read-only file system\n/tmp: ok\n", r.Stdout);
    }

    [Fact]
    public async Task A_fork_bomb_stops_at_the_pids_limit()
    {
        var r = await Run("sh", "i=0\nwhile [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done 2>/dev/null\necho started", limits: new() { WallTimeMs = 2_000 });
        Assert.Contains("pids", r.LimitsHit);
    }

    [Fact]
    public async Task A_bad_submission_is_a_400_naming_each_problem()
    {
        using var response = await service.Http.PostAsJsonAsync("run",
            new Submission("ruby", "", null, new() { MemoryMb = 1 << 20 }), Json);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var errors = problem.RootElement.GetProperty("errors");
        Assert.Contains("python", errors.GetProperty("language")[0].GetString());
        Assert.True(errors.TryGetProperty("source", out _));
        Assert.Contains("512", errors.GetProperty("limits.memoryMb")[0].GetString());
    }

    [Fact]
    public async Task The_service_listens_on_loopback_only()
    {
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(service.App.Address().Host)));
        Assert.Equal(["python", "sh"], (await service.Http.GetFromJsonAsync<string[]>("languages"))!.Order());
    }
}
