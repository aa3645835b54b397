namespace CodeRunner;

/// <summary>One program to run: POST /run's body.</summary>
/// <param name="Language"><c>python</c> or <c>sh</c>.</param>
/// <param name="Source">The program's text (UTF-8, no NUL bytes).</param>
/// <param name="Stdin">What the program reads on standard input; none when null.</param>
/// <param name="Limits">Limits for this run; the service's defaults fill in what is missing.</param>
public sealed record Submission(string? Language, string? Source, string? Stdin = null, SubmissionLimits? Limits = null);

/// <summary>
/// A run's limits. Every one is optional in a submission (the service's default applies) and
/// capped by the service's maximum.
/// </summary>
public sealed record SubmissionLimits
{
    /// <summary>Wall-clock time, in milliseconds: past it the verdict is <c>timedout</c>.</summary>
    public int? WallTimeMs { get; init; }

    /// <summary>CPU time of all the run's processes together, in milliseconds: <c>cputimelimitexceeded</c>.</summary>
    public int? CpuTimeMs { get; init; }

    /// <summary>Memory, in MiB, swap included: an OOM kill is <c>memorylimitexceeded</c>.</summary>
    public int? MemoryMb { get; init; }

    /// <summary>Bytes of standard output, and separately of standard error: one more is <c>outputlimitexceeded</c>.</summary>
    public int? OutputBytes { get; init; }
}

/// <summary>How a run ended: POST /run's answer.</summary>
public sealed record RunReport
{
    /// <summary>
    /// <c>exited</c>, <c>signaled</c>, <c>timedout</c>, <c>cputimelimitexceeded</c>,
    /// <c>memorylimitexceeded</c>, <c>outputlimitexceeded</c> or <c>canceled</c>.
    /// </summary>
    public required string Verdict { get; init; }

    /// <summary>The exit code when the program exited, else null.</summary>
    public int? ExitCode { get; init; }

    /// <summary>The signal that killed the program, else null.</summary>
    public int? Signal { get; init; }

    /// <summary>Standard output, up to the output limit.</summary>
    public required string Stdout { get; init; }

    /// <summary>Standard error, up to the output limit.</summary>
    public required string Stderr { get; init; }

    /// <summary>Wall-clock time from the sandbox's start to its end.</summary>
    public required double WallTimeMs { get; init; }

    /// <summary>CPU time, user and system, of every process of the run.</summary>
    public double? CpuTimeMs { get; init; }

    /// <summary>The highest memory use of the run's cgroup, where the kernel reports it.</summary>
    public long? MemoryPeakBytes { get; init; }

    /// <summary>The limits the run ran into (<c>memory</c>, <c>pids</c>, <c>walltime</c>, <c>output</c>, <c>cputime</c>).</summary>
    public required IReadOnlyList<string> LimitsHit { get; init; }

    /// <summary>The limits the run had, after defaults and maxima.</summary>
    public required SubmissionLimits Limits { get; init; }
}
