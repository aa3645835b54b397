using System.Text;
using Microsoft.Extensions.Options;
using Sandboxing;

namespace CodeRunner;

/// <summary>Runs submissions, each in a fresh sandbox of its own. A singleton; thread-safe.</summary>
public sealed class SubmissionRunner(ISandboxFactory sandboxes, IOptionsMonitor<RunnerOptions> options) : IDisposable
{
    /// <summary>How each language is run: the file the source goes into, and the command.</summary>
    private static readonly Dictionary<string, (string File, string[] Command)> Languages = new(StringComparer.Ordinal)
    {
        // -I: isolated mode (no PYTHON* variables, no user site-packages, no script directory on sys.path).
        ["python"] = ("/tmp/main.py", ["python3", "-I", "/tmp/main.py"]),
        ["sh"] = ("/tmp/main.sh", ["/bin/sh", "/tmp/main.sh"]),
    };

    // Sized once: a change of MaxConcurrentRuns needs a restart.
    private readonly SemaphoreSlim _slots = new(Math.Max(1, options.CurrentValue.MaxConcurrentRuns));

    /// <summary>The languages a submission may name.</summary>
    public static IReadOnlyCollection<string> LanguageNames => Languages.Keys;

    /// <summary>
    /// Checks a submission and fills in its limits, or says what is wrong with it (keyed by the
    /// JSON field, as ASP.NET Core's validation problems are).
    /// </summary>
    public (SubmissionLimits Limits, Dictionary<string, string[]> Errors) Check(Submission submission)
    {
        var o = options.CurrentValue;
        var errors = new Dictionary<string, string[]>();
        if (submission.Language is null || !Languages.ContainsKey(submission.Language))
            errors["language"] = [$"'{submission.Language}' is not one of: {string.Join(", ", Languages.Keys)}."];
        if (string.IsNullOrEmpty(submission.Source))
            errors["source"] = ["The source is empty."];
        else if (Encoding.UTF8.GetByteCount(submission.Source) > o.MaxSourceBytes)
            errors["source"] = [$"The source is longer than {o.MaxSourceBytes} bytes."];
        else if (submission.Source.Contains('\0'))
            errors["source"] = ["The source contains a NUL character."];
        if (submission.Stdin is { } stdin && Encoding.UTF8.GetByteCount(stdin) > o.MaxStdinBytes)
            errors["stdin"] = [$"The input is longer than {o.MaxStdinBytes} bytes."];

        var asked = submission.Limits ?? new SubmissionLimits();
        int Pick(string name, int? value, int? fallback, int? max)
        {
            int v = value ?? fallback ?? max ?? 0;
            if (v <= 0)
                errors[$"limits.{name}"] = [$"{v} is not a positive number."];
            else if (max is { } m && v > m)
                errors[$"limits.{name}"] = [$"{v} is more than this service allows ({m})."];
            return v;
        }
        var limits = new SubmissionLimits
        {
            WallTimeMs = Pick("wallTimeMs", asked.WallTimeMs, o.Defaults.WallTimeMs, o.Maximums.WallTimeMs),
            CpuTimeMs = Pick("cpuTimeMs", asked.CpuTimeMs, o.Defaults.CpuTimeMs, o.Maximums.CpuTimeMs),
            MemoryMb = Pick("memoryMb", asked.MemoryMb, o.Defaults.MemoryMb, o.Maximums.MemoryMb),
            OutputBytes = Pick("outputBytes", asked.OutputBytes, o.Defaults.OutputBytes, o.Maximums.OutputBytes),
        };
        if (limits.MemoryMb is < 8)
            errors["limits.memoryMb"] = ["At least 8 MiB: the kernel refuses less, and python3 needs more."];
        return (limits, errors);
    }

    /// <summary>Runs a submission that <see cref="Check"/> accepted, with the limits it returned.</summary>
    /// <param name="submission">The submission.</param>
    /// <param name="limits">Its limits, complete.</param>
    /// <param name="cancellationToken">Kills the run (verdict <c>canceled</c>), for example when the client goes away.</param>
    public async Task<RunReport> RunAsync(Submission submission, SubmissionLimits limits, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var (file, command) = Languages[submission.Language!];
        long memory = (long)limits.MemoryMb!.Value << 20;
        var output = SandboxOutput.CaptureUpTo(limits.OutputBytes!.Value, killOnOverflow: true);

        // The factory's builder carries appsettings.json's "Sandbox" section (helper path, cgroup
        // placement, the CPU share) and the application's logger. The rest of the defaults are
        // what a code runner wants already: every namespace, so no network but loopback; the
        // host's root read-only; no capabilities; docker's seccomp policy; a clean environment.
        Sandbox sandbox = sandboxes.CreateBuilder()
            .WithHostname("runner")
            .WithNetwork(SandboxNetwork.None)
            .WithHostRootFilesystem()
            .WithTimeout(TimeSpan.FromMilliseconds(limits.WallTimeMs!.Value))
            .WithCpuTimeLimit(TimeSpan.FromMilliseconds(limits.CpuTimeMs!.Value))
            .WithMemoryLimit(memory, o.LimitSwap ? memory : null)
            .WithPidsLimit(o.PidsLimit)
            .WithMounts(m => m
                .Tmpfs("/tmp", (long)o.TmpSizeMb << 20)     // over the default /tmp: smaller, empty
                .File(file, submission.Source!))             // written inside, by the sandbox's own user
            .WithWorkingDirectory("/tmp")
            .WithStandardInput(string.IsNullOrEmpty(submission.Stdin) ? SandboxInput.Null : SandboxInput.FromString(submission.Stdin))
            .WithStandardOutput(output)
            .WithStandardError(output)
            .Build();

        await _slots.WaitAsync(cancellationToken);
        SandboxResult result;
        try
        {
            result = await sandbox.RunAsync(command, cancellationToken);
        }
        finally
        {
            _slots.Release();
        }
        return Report(result, limits);
    }

    private static RunReport Report(SandboxResult r, SubmissionLimits limits) => new()
    {
        // Verdict names as isolate-style judges spell them: "timedout", "memorylimitexceeded", ...
        Verdict = r.Verdict.ToString().ToLowerInvariant(),
        ExitCode = r.ExitCode,
        Signal = r.Signal,
        Stdout = r.StandardOutput,
        Stderr = r.StandardError,
        WallTimeMs = Math.Round(r.WallTime.TotalMilliseconds, 1),
        CpuTimeMs = r.Usage?.CpuTotal is { } cpu ? Math.Round(cpu.TotalMilliseconds, 1) : null,
        MemoryPeakBytes = r.Usage?.MemoryPeakBytes,
        LimitsHit = r.Usage is { LimitsHit: not SandboxLimits.None } u
            ? [.. Enum.GetValues<SandboxLimits>().Where(l => l != SandboxLimits.None && u.LimitsHit.HasFlag(l)).Select(l => l.ToString().ToLowerInvariant())]
            : [],
        Limits = limits,
    };

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();
}
