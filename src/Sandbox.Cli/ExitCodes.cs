namespace Sandboxing.Cli;

/// <summary>
/// The CLI's exit status, following docker run and the shell: the command's own code, 128+N for
/// signal N, and 125 when the sandbox itself failed. 124 (timeout(1)'s "timed out") is not used:
/// a timeout kills the sandbox with SIGKILL, so it reads as 137, and --report tells them apart.
/// </summary>
internal static class ExitCodes
{
    /// <summary>Options were invalid or the sandbox could not start (docker's 125).</summary>
    public const int CannotStart = 125;

    private const int SIGKILL = 9;

    /// <summary>The status for a finished run; <paramref name="interruptSignal"/> is the signal that made the CLI cancel it.</summary>
    public static int FromResult(SandboxResult result, int? interruptSignal) => result.Verdict switch
    {
        SandboxVerdict.TimedOut => 128 + SIGKILL,
        // Report why the CLI stopped (130 for Ctrl-C), not how the sandbox was killed.
        SandboxVerdict.Canceled => 128 + (interruptSignal ?? SIGKILL),
        // The command's own status, as docker's: usually 137, the OOM killer's SIGKILL, but a
        // shell whose child was killed may carry on and exit as it likes. The report tells.
        SandboxVerdict.MemoryLimitExceeded => result.ShellExitStatus,
        _ => result.ShellExitStatus,
    };
}
