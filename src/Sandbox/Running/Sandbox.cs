using Microsoft.Extensions.Logging;
using Sandboxing.Helper;
using Sandboxing.Logging;

namespace Sandboxing;

/// <summary>
/// A validated sandbox configuration that runs commands. Reusable and thread-safe: every
/// <see cref="RunAsync"/> or <see cref="StartAsync"/> call gets a fresh sandbox, and many can
/// run concurrently. Create one with <see cref="SandboxBuilder"/>.
/// </summary>
public sealed class Sandbox
{
    internal Sandbox(SandboxConfiguration configuration) => Configuration = configuration;

    /// <summary>
    /// Removes cgroups that sandboxes of an earlier process left behind when it crashed
    /// (killing what still runs in them). Call it at startup of a service that uses limits.
    /// </summary>
    /// <returns>How many cgroups were removed.</returns>
    public static int RemoveStaleCgroups(Cgroups.CgroupPlacement? placement = null) =>
        OperatingSystem.IsLinux()
            ? Cgroups.CgroupFactory.RemoveStale(Cgroups.CgroupHost.Current, SandboxCgroups.NamePrefix, placement)
            : throw new PlatformNotSupportedException("cgroups exist only on Linux.");

    /// <summary>
    /// <see cref="RemoveStaleCgroups(Cgroups.CgroupPlacement?)"/>, logging each leftover that
    /// could not be removed to <paramref name="logger"/> (event SandboxCleanupFailed) before throwing.
    /// </summary>
    /// <returns>How many cgroups were removed.</returns>
    /// <exception cref="AggregateException">Some leftovers could not be removed (the others were).</exception>
    public static int RemoveStaleCgroups(Cgroups.CgroupPlacement? placement, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        try
        {
            return RemoveStaleCgroups(placement);
        }
        catch (AggregateException e)
        {
            foreach (var inner in e.InnerExceptions)
                SandboxLog.CleanupFailed(logger, null, "remove a stale cgroup", inner);
            throw;
        }
    }

    /// <summary>The configuration this sandbox runs with.</summary>
    public SandboxConfiguration Configuration { get; }

    /// <summary>
    /// Runs <paramref name="command"/> in a fresh sandbox and waits for it to end. Cancelling
    /// <paramref name="cancellationToken"/> kills the whole sandbox and returns a result with
    /// <see cref="SandboxVerdict.Canceled"/> and whatever output was captured.
    /// </summary>
    /// <param name="command">The program (looked up in the sandbox's PATH unless it contains a '/') and its arguments;
    /// with an entrypoint, its arguments (empty: the default command).</param>
    /// <param name="cancellationToken">Kills the sandbox when cancelled.</param>
    /// <exception cref="SandboxConfigurationException">The command is empty or invalid.</exception>
    /// <exception cref="SandboxException">The sandbox could not be set up; nothing is left behind.</exception>
    /// <exception cref="OperationCanceledException">The token was already cancelled when RunAsync was called: nothing was started.</exception>
    public async Task<SandboxResult> RunAsync(IReadOnlyList<string> command, CancellationToken cancellationToken = default)
    {
        await using var process = await StartAsync(command, cancellationToken).ConfigureAwait(false);
        return await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts <paramref name="command"/> in a fresh sandbox and returns once it has been
    /// executed. Cancelling <paramref name="cancellationToken"/> kills the whole sandbox (the
    /// result's verdict is then <see cref="SandboxVerdict.Canceled"/>).
    /// </summary>
    /// <exception cref="SandboxConfigurationException">The command is empty or invalid.</exception>
    /// <exception cref="SandboxException">The sandbox could not be set up; nothing is left behind.</exception>
    public Task<SandboxProcess> StartAsync(IReadOnlyList<string> command, CancellationToken cancellationToken = default) =>
        LaunchAsync(command, create: false, cancellationToken);

    /// <summary>
    /// Creates a fresh sandbox for <paramref name="command"/> without starting the command, like
    /// runc create: its namespaces, mounts, id maps, cgroup and limits are set up, and its init
    /// waits. The returned process is <see cref="SandboxState.Created"/> until
    /// <see cref="SandboxProcess.StartAsync(CancellationToken)"/> executes the command; meanwhile
    /// commands can be exec'd into it, its cgroup read, and killing or disposing it ends it
    /// (verdict <see cref="SandboxVerdict.Canceled"/>). The wall-clock limit and the CPU-time
    /// limit's watch begin at the start. The command is looked up only then, so a missing
    /// program fails the start, not the creation. Cancelling <paramref name="cancellationToken"/>
    /// kills the whole sandbox, before or after its start.
    /// </summary>
    /// <exception cref="SandboxConfigurationException">The command is empty or invalid.</exception>
    /// <exception cref="SandboxException">The sandbox could not be set up; nothing is left behind.</exception>
    /// <exception cref="OperationCanceledException">The token was already cancelled: nothing was created.</exception>
    public Task<SandboxProcess> CreateAsync(IReadOnlyList<string> command, CancellationToken cancellationToken = default) =>
        LaunchAsync(command, create: true, cancellationToken);

    private Task<SandboxProcess> LaunchAsync(IReadOnlyList<string> command, bool create, CancellationToken cancellationToken)
    {
        var argv = Configuration.ResolveCommand(command);
        ConfigurationValidator.ValidateCommand(argv);
        // The platform was checked by SandboxBuilder.Build, the only way to get a Sandbox.
        var logger = Configuration.Logger;
        // Error is the most severe level the library logs: a logger that ignores it ignores
        // everything, and a run then costs no more than without logging.
        if (!logger.IsEnabled(LogLevel.Error))
            return SandboxProcess.LaunchAsync(Configuration.HelperPath ?? HelperLocator.Path, Configuration, argv, create, cancellationToken);
        return LaunchLoggedAsync(argv, create, logger, cancellationToken);
    }

    private async Task<SandboxProcess> LaunchLoggedAsync(IReadOnlyList<string> argv, bool create, ILogger logger, CancellationToken cancellationToken)
    {
        SandboxProcess process;
        try
        {
            process = await SandboxProcess.LaunchAsync(Configuration.HelperPath ?? HelperLocator.Path, Configuration, argv, create, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw; // asked for, not a failure
        }
        catch (Exception e)
        {
            var se = e as SandboxException;
            SandboxLog.StartFailed(logger, se?.SandboxId, argv, se?.Step, se?.ErrorNumber ?? 0, e);
            throw;
        }
        if (create && logger.IsEnabled(LogLevel.Information))
            SandboxLog.Created(logger, process.Id, argv, process.InitPid, Configuration.Namespaces, Configuration.Root.Kind, SandboxLog.DescribeLimits(Configuration));
        else if (logger.IsEnabled(LogLevel.Information))
            SandboxLog.Started(logger, process.Id, argv, process.Pid, Configuration.Namespaces, Configuration.Root.Kind, SandboxLog.DescribeLimits(Configuration));
        // A continuation, not a wrapper: the caller's SandboxProcess stays the library's own,
        // and the exit is logged whether the caller ever waits for it or not.
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            static (exit, state) => LogExit(exit, ((ILogger Logger, SandboxProcess Process))state!),
            (logger, process), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return process;
    }

    private static void LogExit(Task<SandboxResult> exit, (ILogger Logger, SandboxProcess Process) state)
    {
        var (logger, process) = state;
        string id = process.Id;
        if (exit.IsFaulted && process.CommandNotExecuted)
            return; // SandboxProcess.StartAsync logged it as SandboxStartFailed
        if (exit.IsFaulted)
        {
            var e = exit.Exception!.InnerException ?? exit.Exception;
            var se = e as SandboxException;
            SandboxLog.ExitUnreported(logger, id, se?.Step, se?.ErrorNumber ?? 0, e);
            return;
        }
        if (!exit.IsCompletedSuccessfully)
            return;
        var r = exit.Result;
        SandboxLog.Exited(logger, r.SandboxId, r.Verdict, r.ExitCode, r.Signal, r.WallTime.TotalMilliseconds, r.Usage?.CpuTotal?.TotalMilliseconds);
        if (r.Usage is { LimitsHit: not 0 and var hit })
            SandboxLog.LimitHit(logger, r.SandboxId, hit, r.Verdict);
        else if (r.Verdict is SandboxVerdict.TimedOut or SandboxVerdict.OutputLimitExceeded or SandboxVerdict.CpuTimeLimitExceeded or SandboxVerdict.MemoryLimitExceeded)
            SandboxLog.LimitHit(logger, r.SandboxId, LimitOf(r.Verdict), r.Verdict); // no cgroup, so no usage: the verdict names the limit
    }

    private static SandboxLimits LimitOf(SandboxVerdict verdict) => verdict switch
    {
        SandboxVerdict.TimedOut => SandboxLimits.WallTime,
        SandboxVerdict.OutputLimitExceeded => SandboxLimits.Output,
        SandboxVerdict.CpuTimeLimitExceeded => SandboxLimits.CpuTime,
        SandboxVerdict.MemoryLimitExceeded => SandboxLimits.Memory,
        _ => 0,
    };
}
