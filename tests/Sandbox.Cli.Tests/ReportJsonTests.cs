using System.Text.Json;

namespace Sandboxing.Cli.Tests;

public class ReportJsonTests
{
    [Fact]
    public void A_run_report_is_one_object_with_every_field_even_when_null()
    {
        var start = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var report = new RunReport("0123456789ab", null, 9, "timedout", start, start.AddMilliseconds(300), 300.5, 137);

        using var json = JsonDocument.Parse(ReportJsonContext.Serialize(report));

        var root = json.RootElement;
        Assert.Equal(
            ["sandboxId", "exitCode", "signal", "verdict", "startTime", "exitTime", "wallTimeMs", "shellExitStatus", "usage"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("0123456789ab", root.GetProperty("sandboxId").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("exitCode").ValueKind);
        Assert.Equal(9, root.GetProperty("signal").GetInt32());
        Assert.Equal("timedout", root.GetProperty("verdict").GetString());
        Assert.Equal(start, root.GetProperty("startTime").GetDateTimeOffset());
        Assert.Equal(start.AddMilliseconds(300), root.GetProperty("exitTime").GetDateTimeOffset());
        Assert.Equal(300.5, root.GetProperty("wallTimeMs").GetDouble());
        Assert.Equal(137, root.GetProperty("shellExitStatus").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("usage").ValueKind); // no cgroup
    }

    [Fact]
    public void The_usage_has_cpu_times_in_milliseconds_the_memory_peak_oom_kills_and_the_limits_hit()
    {
        var usage = new SandboxUsage
        {
            CpuUser = TimeSpan.FromMilliseconds(12.5),
            CpuSystem = TimeSpan.FromMilliseconds(3),
            CpuTotal = TimeSpan.FromMilliseconds(15.75),
            MemoryPeakBytes = 33_554_432,
            OomKills = 2,
            LimitsHit = SandboxLimits.Memory | SandboxLimits.WallTime,
        };
        var start = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var report = new RunReport("0123456789ab", null, 9, "memorylimitexceeded", start, start, 1, 137, UsageReport.From(usage));

        using var json = JsonDocument.Parse(ReportJsonContext.Serialize(report));

        var root = json.RootElement.GetProperty("usage");
        Assert.Equal(
            ["cpuUserMs", "cpuSystemMs", "cpuTotalMs", "memoryPeakBytes", "oomKills", "limitsHit"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(12.5, root.GetProperty("cpuUserMs").GetDouble());
        Assert.Equal(3, root.GetProperty("cpuSystemMs").GetDouble());
        Assert.Equal(15.75, root.GetProperty("cpuTotalMs").GetDouble());
        Assert.Equal(33_554_432, root.GetProperty("memoryPeakBytes").GetInt64());
        Assert.Equal(2, root.GetProperty("oomKills").GetInt64());
        Assert.Equal(["memory", "walltime"], root.GetProperty("limitsHit").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Usage_figures_the_kernel_does_not_report_are_null_and_no_limit_hit_is_an_empty_list()
    {
        var report = new RunReport("0123456789ab", 0, null, "exited", default, default, 1, 0, UsageReport.From(new SandboxUsage()));

        using var json = JsonDocument.Parse(ReportJsonContext.Serialize(report));

        Assert.Equal("""{"cpuUserMs":null,"cpuSystemMs":null,"cpuTotalMs":null,"memoryPeakBytes":null,"oomKills":0,"limitsHit":[]}""", json.RootElement.GetProperty("usage").GetRawText());
    }

    [Theory]
    [InlineData(SandboxLimits.None, new string[0])]
    [InlineData(SandboxLimits.Memory, new[] { "memory" })]
    [InlineData(SandboxLimits.Pids, new[] { "pids" })]
    [InlineData(SandboxLimits.WallTime, new[] { "walltime" })]
    [InlineData(SandboxLimits.Output, new[] { "output" })]
    [InlineData(SandboxLimits.CpuTime | SandboxLimits.Output, new[] { "output", "cputime" })]
    [InlineData(SandboxLimits.WallTime | SandboxLimits.Pids | SandboxLimits.Memory, new[] { "memory", "pids", "walltime" })]
    public void Limits_hit_are_lowercase_words_in_a_fixed_order(SandboxLimits limits, string[] names)
    {
        Assert.Equal(names, UsageReport.LimitNames(limits));
    }

    [Fact]
    public void An_error_report_has_the_message_the_step_and_the_errno()
    {
        using var json = JsonDocument.Parse(ReportJsonContext.Serialize(new ErrorReport("Sandbox could not find the command", "find the command", 2)));

        Assert.Equal(["error", "step", "errno"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("find the command", json.RootElement.GetProperty("step").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("errno").GetInt32());
    }

    [Fact]
    public void Messages_stay_readable_in_the_file()
    {
        string json = ReportJsonContext.Serialize(new ErrorReport("the host's \"root\" <is> read-only", null, 0));

        Assert.Equal("""{"error":"the host's \"root\" <is> read-only","step":null,"errno":0}""", json);
    }

    [Theory]
    [InlineData(SandboxVerdict.Exited, "exited")]
    [InlineData(SandboxVerdict.Signaled, "signaled")]
    [InlineData(SandboxVerdict.TimedOut, "timedout")]
    [InlineData(SandboxVerdict.Canceled, "canceled")]
    [InlineData(SandboxVerdict.MemoryLimitExceeded, "memorylimitexceeded")]
    [InlineData(SandboxVerdict.OutputLimitExceeded, "outputlimitexceeded")]
    [InlineData(SandboxVerdict.CpuTimeLimitExceeded, "cputimelimitexceeded")]
    public void Verdicts_are_lowercase_words(SandboxVerdict verdict, string name)
    {
        Assert.Equal(name, RunReport.VerdictName(verdict));
    }
}
