using Sandboxing.Helper;

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
    public Task<SandboxProcess> StartAsync(IReadOnlyList<string> command, CancellationToken cancellationToken = default)
    {
        var argv = Configuration.ResolveCommand(command);
        ConfigurationValidator.ValidateCommand(argv);
        return SandboxProcess.StartAsync(HelperLocator.Path, Configuration, argv, cancellationToken);
    }
}
