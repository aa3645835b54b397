namespace CodeRunner;

/// <summary>The service's own settings: the <c>"CodeRunner"</c> section of appsettings.json.</summary>
public sealed class RunnerOptions
{
    /// <summary>The configuration section: <c>"CodeRunner"</c>.</summary>
    public const string SectionName = "CodeRunner";

    /// <summary>The TCP port on 127.0.0.1 (0: any free port). The service never listens on another address.</summary>
    public int Port { get; set; } = 5080;

    /// <summary>Runs at once; further submissions wait for a slot (their wall clock starts with their run).</summary>
    public int MaxConcurrentRuns { get; set; } = 2;

    /// <summary>The longest source accepted, in UTF-8 bytes (a file in a sandbox holds at most 128 KiB).</summary>
    public int MaxSourceBytes { get; set; } = 64 * 1024;

    /// <summary>The longest standard input accepted, in UTF-8 bytes.</summary>
    public int MaxStdinBytes { get; set; } = 1024 * 1024;

    /// <summary>Processes and threads a run may have at once: a fork bomb stops here.</summary>
    public int PidsLimit { get; set; } = 32;

    /// <summary>Size of the run's private /tmp, where the source is written; its pages count as the run's memory.</summary>
    public int TmpSizeMb { get; set; } = 16;

    /// <summary>
    /// Whether the memory limit includes swap (<c>WithMemoryLimit(m, m)</c>), so that a hog is
    /// OOM-killed instead of swapping. Needs swap accounting; set false on a cgroup v1 host
    /// booted with <c>swapaccount=0</c>.
    /// </summary>
    public bool LimitSwap { get; set; } = true;

    /// <summary>The limits of a submission that names none.</summary>
    public SubmissionLimits Defaults { get; set; } = new() { WallTimeMs = 5_000, CpuTimeMs = 2_000, MemoryMb = 64, OutputBytes = 64 * 1024 };

    /// <summary>The highest limits a submission may ask for; more is a 400 answer.</summary>
    public SubmissionLimits Maximums { get; set; } = new() { WallTimeMs = 30_000, CpuTimeMs = 10_000, MemoryMb = 512, OutputBytes = 4 * 1024 * 1024 };
}
