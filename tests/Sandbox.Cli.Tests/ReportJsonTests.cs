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
            ["sandboxId", "exitCode", "signal", "verdict", "startTime", "exitTime", "wallTimeMs", "shellExitStatus"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("0123456789ab", root.GetProperty("sandboxId").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("exitCode").ValueKind);
        Assert.Equal(9, root.GetProperty("signal").GetInt32());
        Assert.Equal("timedout", root.GetProperty("verdict").GetString());
        Assert.Equal(start, root.GetProperty("startTime").GetDateTimeOffset());
        Assert.Equal(start.AddMilliseconds(300), root.GetProperty("exitTime").GetDateTimeOffset());
        Assert.Equal(300.5, root.GetProperty("wallTimeMs").GetDouble());
        Assert.Equal(137, root.GetProperty("shellExitStatus").GetInt32());
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
    public void Verdicts_are_lowercase_words(SandboxVerdict verdict, string name)
    {
        Assert.Equal(name, RunReport.VerdictName(verdict));
    }
}
