using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Sandboxing.Logging;

/// <summary>
/// The library's log events, source-generated (<see cref="LoggerMessageAttribute"/>): each
/// checks <see cref="ILogger.IsEnabled"/> before it formats anything, and their fields are
/// structured (a sink sees <c>SandboxId</c>, <c>Verdict</c>, <c>WallTimeMs</c> as values, not
/// text). One event per sandbox start, end and failure; never one per byte or line of output.
/// </summary>
/// <remarks>The event ids are stable: alerting may key on them. docs/logging-and-di.md lists them.</remarks>
internal static partial class SandboxLog
{
    /// <summary>The logger category the dependency-injection factory uses: the type that logs.</summary>
    public const string Category = "Sandboxing.Sandbox";

    [LoggerMessage(EventId = 1, EventName = "SandboxStarted", Level = LogLevel.Information,
        Message = "Sandbox {SandboxId} started {Command} as pid {Pid}: namespaces {Namespaces}, root {RootKind}, limits {Limits}")]
    public static partial void Started(ILogger logger, string sandboxId, IReadOnlyList<string> command, int pid, SandboxNamespaces namespaces, SandboxRootKind rootKind, string limits);

    [LoggerMessage(EventId = 2, EventName = "SandboxExited", Level = LogLevel.Information,
        Message = "Sandbox {SandboxId} ended: {Verdict}, exit code {ExitCode}, signal {Signal}, wall time {WallTimeMs} ms, CPU time {CpuTimeMs} ms")]
    public static partial void Exited(ILogger logger, string sandboxId, SandboxVerdict verdict, int? exitCode, int? signal, double wallTimeMs, double? cpuTimeMs);

    [LoggerMessage(EventId = 3, EventName = "SandboxLimitHit", Level = LogLevel.Warning,
        Message = "Sandbox {SandboxId} ran into its limits {LimitsHit} (verdict {Verdict})")]
    public static partial void LimitHit(ILogger logger, string sandboxId, SandboxLimits limitsHit, SandboxVerdict verdict);

    [LoggerMessage(EventId = 4, EventName = "SandboxStartFailed", Level = LogLevel.Error,
        Message = "Sandbox {SandboxId} could not start {Command}: step {Step}, errno {Errno}")]
    public static partial void StartFailed(ILogger logger, string? sandboxId, IReadOnlyList<string> command, string? step, int errno, Exception exception);

    [LoggerMessage(EventId = 5, EventName = "SandboxCleanupFailed", Level = LogLevel.Warning,
        Message = "Sandbox {SandboxId}: could not {Cleanup}")]
    public static partial void CleanupFailed(ILogger logger, string? sandboxId, string cleanup, Exception exception);

    [LoggerMessage(EventId = 6, EventName = "SandboxExitUnreported", Level = LogLevel.Error,
        Message = "Sandbox {SandboxId} ended without an exit report: step {Step}, errno {Errno}")]
    public static partial void ExitUnreported(ILogger logger, string sandboxId, string? step, int errno, Exception exception);

    [LoggerMessage(EventId = 8, EventName = "SandboxCreated", Level = LogLevel.Information,
        Message = "Sandbox {SandboxId} created for {Command}, init pid {InitPid}: namespaces {Namespaces}, root {RootKind}, limits {Limits}")]
    public static partial void Created(ILogger logger, string sandboxId, IReadOnlyList<string> command, int initPid, SandboxNamespaces namespaces, SandboxRootKind rootKind, string limits);

    [LoggerMessage(EventId = 7, EventName = "SandboxEvent", Level = LogLevel.Debug,
        Message = "Sandbox {SandboxId}: {Event} (pid {Pid}, limits {Limits})")]
    public static partial void Event(ILogger logger, string sandboxId, SandboxEventKind @event, int? pid, SandboxLimits limits);

    /// <summary>The limits of a configuration in docker's words ("memory=64m pids=64 timeout=2s"), or "none"; only built when the event is enabled.</summary>
    public static string DescribeLimits(SandboxConfiguration config)
    {
        var text = new StringBuilder();
        void Add(string name, string value) => (text.Length > 0 ? text.Append(' ') : text).Append(name).Append('=').Append(value);
        static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);
        if (config.Resources is { } r)
        {
            if (r.MemoryBytes is { } m) Add("memory", Int(m));
            if (r.MemorySwapBytes is { } s) Add("memory-swap", Int(s));
            if (r.PidsMax is { } p) Add("pids", Int(p));
            if (r.Cpus is { } c) Add("cpus", c.ToString(CultureInfo.InvariantCulture));
            if (r.CpuShares is { } sh) Add("cpu-shares", Int(sh));
            if (r.CpusetCpus is { } set) Add("cpuset-cpus", set);
            if (!r.IoThrottles.IsDefaultOrEmpty) Add("io-throttles", Int(r.IoThrottles.Length));
        }
        if (config.CpuTimeLimit is { } cpu) Add("cpu-time", cpu.TotalSeconds.ToString(CultureInfo.InvariantCulture) + "s");
        if (config.Timeout is { } t) Add("timeout", t.TotalSeconds.ToString(CultureInfo.InvariantCulture) + "s");
        return text.Length > 0 ? text.ToString() : "none";
    }
}
