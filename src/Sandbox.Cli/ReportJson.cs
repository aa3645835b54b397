using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandboxing.Cli;

/// <summary>
/// What <c>--report</c> writes after a run: one JSON object, every field always present
/// (<see cref="Usage"/> is null when the sandbox had no cgroup: no limits and no --cgroup).
/// </summary>
internal sealed record RunReport(
    string SandboxId,
    int? ExitCode,
    int? Signal,
    string Verdict,
    DateTimeOffset StartTime,
    DateTimeOffset ExitTime,
    double WallTimeMs,
    int ShellExitStatus,
    UsageReport? Usage = null)
{
    public static RunReport From(SandboxResult result) => new(
        result.SandboxId,
        result.ExitCode,
        result.Signal,
        VerdictName(result.Verdict),
        result.StartTime,
        result.ExitTime,
        result.WallTime.TotalMilliseconds,
        result.ShellExitStatus,
        result.Usage is { } usage ? UsageReport.From(usage) : null);

    /// <summary>Spelled out rather than Enum.ToString(), so renaming an enum member cannot change the file format.</summary>
    public static string VerdictName(SandboxVerdict verdict) => verdict switch
    {
        SandboxVerdict.Exited => "exited",
        SandboxVerdict.Signaled => "signaled",
        SandboxVerdict.TimedOut => "timedout",
        SandboxVerdict.Canceled => "canceled",
        SandboxVerdict.MemoryLimitExceeded => "memorylimitexceeded",
        SandboxVerdict.OutputLimitExceeded => "outputlimitexceeded",
        SandboxVerdict.CpuTimeLimitExceeded => "cputimelimitexceeded",
        _ => verdict.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// The report's "usage": what the sandbox's cgroup accounted for all its processes together.
/// A figure the kernel does not report (memory peak before Linux 5.19 on cgroup v2) is null.
/// </summary>
/// <param name="LimitsHit">Of "memory", "pids", "walltime" and "output", those the run ran into.</param>
internal sealed record UsageReport(
    double? CpuUserMs,
    double? CpuSystemMs,
    double? CpuTotalMs,
    long? MemoryPeakBytes,
    long OomKills,
    IReadOnlyList<string> LimitsHit)
{
    public static UsageReport From(SandboxUsage usage) => new(
        usage.CpuUser?.TotalMilliseconds,
        usage.CpuSystem?.TotalMilliseconds,
        usage.CpuTotal?.TotalMilliseconds,
        usage.MemoryPeakBytes,
        usage.OomKills,
        LimitNames(usage.LimitsHit));

    /// <summary>Spelled out, like the verdicts, in a fixed order.</summary>
    public static IReadOnlyList<string> LimitNames(SandboxLimits limits)
    {
        var names = new List<string>(3);
        if (limits.HasFlag(SandboxLimits.Memory))
            names.Add("memory");
        if (limits.HasFlag(SandboxLimits.Pids))
            names.Add("pids");
        if (limits.HasFlag(SandboxLimits.WallTime))
            names.Add("walltime");
        if (limits.HasFlag(SandboxLimits.Output))
            names.Add("output");
        if (limits.HasFlag(SandboxLimits.CpuTime))
            names.Add("cputime");
        return names;
    }
}

/// <summary>What <c>--report</c> writes when the sandbox could not start.</summary>
/// <param name="Error">The whole message, hint included.</param>
/// <param name="Step">The setup step that failed ("validate" for an invalid setting), when known.</param>
/// <param name="Errno">The errno of the failing system call, or 0.</param>
internal sealed record ErrorReport(string Error, string? Step, int Errno);

/// <summary>
/// Source-generated serialisation: the CLI is AOT-compiled, where reflection-based
/// System.Text.Json is unavailable.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(RunReport))]
[JsonSerializable(typeof(ErrorReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext
{
    public static string Serialize(RunReport report) => JsonSerializer.Serialize(report, Relaxed.Context.RunReport);

    public static string Serialize(ErrorReport report) => JsonSerializer.Serialize(report, Relaxed.Context.ErrorReport);

    /// <summary>
    /// The default encoder escapes HTML-sensitive characters, so a hint's "host's" would read
    /// "host\u0027s"; the report is a file for people and tools, never embedded in HTML. A
    /// nested class, so it is initialised after the generated <see cref="Default"/>.
    /// </summary>
    private static class Relaxed
    {
        public static readonly ReportJsonContext Context = new(new JsonSerializerOptions(Default.Options)
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
    }
}
