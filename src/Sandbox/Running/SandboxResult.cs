namespace Sandboxing;

/// <summary>How a sandboxed run ended.</summary>
public enum SandboxVerdict
{
    /// <summary>The command exited on its own; see <see cref="SandboxResult.ExitCode"/>.</summary>
    Exited,

    /// <summary>A signal killed the command; see <see cref="SandboxResult.Signal"/>.</summary>
    Signaled,

    /// <summary>The wall-clock limit passed and the whole sandbox was killed.</summary>
    TimedOut,

    /// <summary>The caller cancelled or killed the run and the whole sandbox was killed.</summary>
    Canceled,

    /// <summary>The kernel's OOM killer killed a process of the sandbox (any, not only the first) at the memory limit.</summary>
    MemoryLimitExceeded,

    /// <summary>
    /// The command wrote more than a <see cref="SandboxOutput.CaptureUpTo(long, bool)"/> limit
    /// with killOnOverflow, and the whole sandbox was killed.
    /// </summary>
    OutputLimitExceeded,

    /// <summary>
    /// The sandbox's processes together used more CPU time than
    /// <see cref="SandboxConfiguration.CpuTimeLimit"/>, and the whole sandbox was killed (or the
    /// command ended past the limit before the kill).
    /// </summary>
    CpuTimeLimitExceeded,
}

/// <summary>Where a running sandbox is in its life (<see cref="SandboxProcess.State"/>).</summary>
public enum SandboxState
{
    /// <summary>The command has been executed and the sandbox runs.</summary>
    Running,

    /// <summary>Every process of the sandbox is frozen (<see cref="SandboxProcess.PauseAsync"/>).</summary>
    Paused,

    /// <summary>The sandbox has ended; <see cref="SandboxProcess.WaitForExitAsync"/> has the result.</summary>
    Exited,

    /// <summary>
    /// The sandbox is set up (<see cref="Sandbox.CreateAsync"/>) and its command waits for
    /// <see cref="SandboxProcess.StartAsync(CancellationToken)"/>.
    /// </summary>
    // Last, though first in a sandbox's life: the others keep the values they had before it came.
    Created,
}

/// <summary>Limits a run ran into.</summary>
[Flags]
public enum SandboxLimits
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>The memory limit (a process was OOM-killed, or allocations hit the limit).</summary>
    Memory = 1,

    /// <summary>The pids limit refused a fork.</summary>
    Pids = 2,

    /// <summary>The wall-clock limit.</summary>
    WallTime = 4,

    /// <summary>An output limit (captured output past its cap).</summary>
    Output = 8,

    /// <summary>The CPU-time limit of the whole sandbox.</summary>
    CpuTime = 16,
}

/// <summary>What a run consumed, from its cgroup's accounting (all its processes together).</summary>
public sealed record SandboxUsage
{
    /// <summary>CPU time in user mode.</summary>
    public TimeSpan? CpuUser { get; init; }

    /// <summary>CPU time in kernel mode.</summary>
    public TimeSpan? CpuSystem { get; init; }

    /// <summary>Total CPU time.</summary>
    public TimeSpan? CpuTotal { get; init; }

    /// <summary>Highest memory use, in bytes, where the kernel reports it.</summary>
    public long? MemoryPeakBytes { get; init; }

    /// <summary>Processes the OOM killer killed.</summary>
    public long OomKills { get; init; }

    /// <summary>The limits that were hit.</summary>
    public SandboxLimits LimitsHit { get; init; }
}

/// <summary>The outcome of one sandboxed run.</summary>
public sealed class SandboxResult
{
    internal SandboxResult(
        string sandboxId, int? exitCode, int? signal, SandboxVerdict verdict,
        DateTimeOffset startTime, DateTimeOffset exitTime, TimeSpan wallTime,
        string standardOutput, string standardError, SandboxUsage? usage = null)
    {
        Usage = usage;
        SandboxId = sandboxId;
        ExitCode = exitCode;
        Signal = signal;
        Verdict = verdict;
        StartTime = startTime;
        ExitTime = exitTime;
        WallTime = wallTime;
        StandardOutput = standardOutput;
        StandardError = standardError;
    }

    /// <summary>Identifier of the sandbox the command ran in.</summary>
    public string SandboxId { get; }

    /// <summary>The command's exit code, or <see langword="null"/> when a signal killed it.</summary>
    public int? ExitCode { get; }

    /// <summary>The signal that killed the command, or <see langword="null"/> when it exited.</summary>
    public int? Signal { get; }

    /// <summary>How the run ended.</summary>
    public SandboxVerdict Verdict { get; }

    /// <summary>When the sandbox was started.</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>When its first process ended.</summary>
    public DateTimeOffset ExitTime { get; }

    /// <summary>Elapsed wall-clock time from start to exit (monotonic clock).</summary>
    public TimeSpan WallTime { get; }

    /// <summary>Captured standard output (UTF-8), or empty when it was not captured.</summary>
    public string StandardOutput { get; }

    /// <summary>Captured standard error (UTF-8), or empty when it was not captured.</summary>
    public string StandardError { get; }

    /// <summary>Whether captured standard output passed its capture limit and was cut there.</summary>
    public bool StandardOutputTruncated { get; init; }

    /// <summary>Whether captured standard error passed its capture limit and was cut there.</summary>
    public bool StandardErrorTruncated { get; init; }

    /// <summary>What the run consumed; <see langword="null"/> when the sandbox had no cgroup.</summary>
    public SandboxUsage? Usage { get; }

    /// <summary>Whether the command exited with code 0.</summary>
    public bool IsSuccess => Verdict == SandboxVerdict.Exited && ExitCode == 0;

    /// <summary>
    /// The status a shell would report: the exit code, or 128 + the signal number when a
    /// signal ended the command.
    /// </summary>
    public int ShellExitStatus => ExitCode ?? 128 + (Signal ?? 0);

    /// <inheritdoc />
    public override string ToString() => Verdict switch
    {
        SandboxVerdict.Exited => $"exited with code {ExitCode} after {WallTime.TotalMilliseconds:0.#} ms",
        SandboxVerdict.Signaled => $"killed by signal {Signal} after {WallTime.TotalMilliseconds:0.#} ms",
        _ => $"{Verdict} after {WallTime.TotalMilliseconds:0.#} ms",
    };
}
