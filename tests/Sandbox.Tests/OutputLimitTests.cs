using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Output limits: truncate and go on, or kill with a verdict, as a code runner needs.</summary>
public class OutputLimitTests
{
    [Fact]
    public async Task Output_past_a_killing_limit_ends_the_whole_sandbox_with_its_own_verdict()
    {
        var sandbox = new SandboxBuilder()
            .WithStandardOutput(SandboxOutput.CaptureUpTo(64 * 1024, killOnOverflow: true))
            .WithTimeout(TimeSpan.FromSeconds(30))
            .Build();
        string token = Sandboxes.UniqueSleepToken();
        // A background writer and a sleeping process: the limit must take down both.
        var r = await sandbox.RunAsync(["/bin/sh", "-c", $"sleep {token} & yes sandbox; wait"]);
        Assert.Equal(SandboxVerdict.OutputLimitExceeded, r.Verdict);
        Assert.True(r.StandardOutputTruncated);
        Assert.Equal(64 * 1024, r.StandardOutput.Length);
        Assert.StartsWith("sandbox\nsandbox\n", r.StandardOutput);
        Assert.True(r.WallTime < TimeSpan.FromSeconds(30), $"{r.WallTime}");
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
    }

    [Fact]
    public async Task The_verdict_and_the_limit_show_in_the_usage_with_a_cgroup()
    {
        var r = await new SandboxBuilder()
            .WithStandardError(SandboxOutput.CaptureUpTo(100, killOnOverflow: true))
            .WithCgroup()
            .Build().RunAsync(["/bin/sh", "-c", "head -c 1000 /dev/zero >&2"]);
        Assert.Equal(SandboxVerdict.OutputLimitExceeded, r.Verdict);
        Assert.True(r.StandardErrorTruncated);
        Assert.Equal(SandboxLimits.Output, r.Usage!.LimitsHit & SandboxLimits.Output);
    }

    [Fact]
    public async Task A_truncating_limit_keeps_the_start_and_lets_the_command_finish()
    {
        var r = await new SandboxBuilder().WithStandardOutput(SandboxOutput.CaptureUpTo(10))
            .Build().RunAsync(["/bin/sh", "-c", "echo 0123456789abcdef; exit 3"]);
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        Assert.Equal(3, r.ExitCode);
        Assert.Equal("0123456789", r.StandardOutput);
        Assert.True(r.StandardOutputTruncated);
    }

    [Fact]
    public async Task Output_within_a_killing_limit_is_an_ordinary_run()
    {
        var r = await new SandboxBuilder().WithStandardOutput(SandboxOutput.CaptureUpTo(16, killOnOverflow: true))
            .Build().RunAsync(["/bin/sh", "-c", "printf 0123456789abcdef"]);
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        Assert.Equal("0123456789abcdef", r.StandardOutput);
        Assert.False(r.StandardOutputTruncated);
    }

    [Fact]
    public async Task A_stream_gets_at_most_its_limit_and_the_flood_is_killed()
    {
        using var log = new MemoryStream();
        string token = Sandboxes.UniqueSleepToken();
        var r = await new SandboxBuilder()
            .WithStandardOutput(SandboxOutput.ToStream(log, timestamps: false, 4096, killOnOverflow: true))
            .WithTimeout(TimeSpan.FromSeconds(30))
            .Build().RunAsync(["/bin/sh", "-c", $"sleep {token} & yes sandbox; wait"]);
        Assert.Equal(SandboxVerdict.OutputLimitExceeded, r.Verdict);
        Assert.True(r.StandardOutputTruncated);
        Assert.Equal(4096, log.Length);
        Assert.StartsWith("sandbox\nsandbox\n", System.Text.Encoding.UTF8.GetString(log.ToArray()));
        Assert.Empty(Sandboxes.HostPidsWithArgument(token));
    }

    [Fact]
    public async Task A_truncating_stream_limit_counts_the_command_s_bytes_not_the_timestamps()
    {
        using var log = new MemoryStream();
        var r = await new SandboxBuilder()
            .WithStandardError(SandboxOutput.ToStream(log, timestamps: true, 12, killOnOverflow: false))
            .Build().RunAsync(["/bin/sh", "-c", "printf 'one\\ntwo\\nthree\\nfour\\n' >&2; exit 4"]);
        Assert.Equal(SandboxVerdict.Exited, r.Verdict);
        Assert.Equal(4, r.ExitCode);
        Assert.True(r.StandardErrorTruncated);
        Assert.False(r.StandardOutputTruncated);
        var lines = System.Text.Encoding.UTF8.GetString(log.ToArray()).Split('\n');
        // 12 bytes of the command's: "one\ntwo\nthre", each line behind its stamp.
        Assert.Equal(["one", "two", "thre"], lines.Select(l => l[(l.IndexOf(' ') + 1)..]));
        Assert.All(lines, l => Assert.Matches(@"^\d{4}-\d\d-\d\dT", l));
    }

    [Fact]
    public async Task A_stream_that_fails_does_not_stop_the_limit_from_ending_a_flood()
    {
        // A log on a full disk: every write fails, and the flood must still end at the limit.
        var r = await new SandboxBuilder()
            .WithStandardOutput(SandboxOutput.ToStream(new FailingStream(), timestamps: false, 1 << 20, killOnOverflow: true))
            .WithTimeout(TimeSpan.FromSeconds(30))
            .Build().RunAsync(["/bin/sh", "-c", "yes sandbox"]);
        Assert.Equal(SandboxVerdict.OutputLimitExceeded, r.Verdict);
        Assert.True(r.StandardOutputTruncated);
    }

    private sealed class FailingStream : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("No space left on device");

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new IOException("No space left on device"));
    }

    [Fact]
    public void A_negative_stream_limit_is_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SandboxOutput.ToStream(Stream.Null, false, -1, true));
        Assert.Equal("maxBytes", e.ParamName);
    }
}

/// <summary>SandboxOutput.ToStream with timestamps: every line starts with the time it arrived.</summary>
public class TimestampedOutputTests
{
    [Fact]
    public async Task Every_line_gets_the_time_it_arrived_and_nothing_else_changes()
    {
        var log = new MemoryStream();
        var before = DateTimeOffset.UtcNow;
        var r = await new SandboxBuilder().WithStandardOutput(SandboxOutput.ToStream(log, timestamps: true)).Build()
            .RunAsync(["/bin/sh", "-c", "echo first; printf 'sec'; printf 'ond\\n'; printf 'no newline'"]);
        Assert.True(r.IsSuccess);
        var lines = System.Text.Encoding.UTF8.GetString(log.ToArray()).Split('\n');
        Assert.Equal(3, lines.Length);
        string[] expected = ["first", "second", "no newline"];
        for (int i = 0; i < 3; i++)
        {
            var m = System.Text.RegularExpressions.Regex.Match(lines[i], @"^(\S+Z) (.*)$");
            Assert.True(m.Success, lines[i]);
            Assert.Equal(expected[i], m.Groups[2].Value);
            var stamp = DateTimeOffset.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(stamp, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        }
    }
}
