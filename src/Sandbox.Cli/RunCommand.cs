using System.Collections.Immutable;
using Sandboxing.Cgroups;

namespace Sandboxing.Cli;

/// <summary>
/// <c>sandbox run</c>: parse, build the sandbox, run the command with the CLI's own stdio,
/// write the report, and turn the outcome into an exit status.
/// </summary>
internal static class RunCommand
{
    public static async Task<int> ExecuteAsync(IReadOnlyList<string> args)
    {
        RunOptions options;
        try
        {
            options = RunOptionsParser.Parse(args, CallerContext.Current);
        }
        catch (CliUsageException e)
        {
            await Console.Error.WriteLineAsync(e.ToErrorLine()).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }
        if (options.ShowHelp)
        {
            await Console.Out.WriteAsync(HelpText.Run).ConfigureAwait(false);
            return 0;
        }

        SandboxBuilder builder;
        try
        {
            builder = CreateBuilder(options);
        }
        catch (CliUsageException e)
        {
            // A --device-* path that is not a block device: the command line is wrong, but only
            // the host could tell, so (unlike a parse error) the report says so too.
            await Console.Error.WriteLineAsync(e.ToErrorLine()).ConfigureAwait(false);
            await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(new ErrorReport(e.Message, "validate", e.ErrorNumber))).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }

        // Registered before the start, so a Ctrl-C while the sandbox is being set up is not lost.
        using var interrupts = new Interrupts();
        try
        {
            var sandbox = builder.Build();
            var result = await sandbox.RunAsync(options.Command, interrupts.Token).ConfigureAwait(false);
            int status = ExitCodes.FromResult(result, interrupts.Signal);
            return await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(RunReport.From(result))).ConfigureAwait(false)
                ? status
                : ExitCodes.CannotStart;
        }
        catch (SandboxException e)
        {
            await FailAsync(DescribeSetting(e, options, builder.Configuration) + e.Message).ConfigureAwait(false);
            await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(new ErrorReport(e.Message, e.Step, e.ErrorNumber))).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }
        catch (OperationCanceledException) when (interrupts.Signal is int signal)
        {
            // The signal came before the command started: nothing ran, so there is no result.
            string message = $"interrupted by signal {signal} before the command started";
            await FailAsync(message).ConfigureAwait(false);
            await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(new ErrorReport(message, "start", 0))).ConfigureAwait(false);
            return 128 + signal;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not Linux, or a bug: still one line and docker's status, not a runtime crash dump.
            string message = e is PlatformNotSupportedException ? e.Message : $"unexpected {e.GetType().Name}: {e.Message}";
            await FailAsync(message).ConfigureAwait(false);
            await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(new ErrorReport(message, null, 0))).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }
    }

    /// <summary>Maps the options onto the library's builder. Unset options keep the library's defaults.</summary>
    /// <param name="options">The parsed command line.</param>
    /// <param name="resolveDevice">Finds a device node's major:minor; <see cref="BlockDevices.Resolve"/> unless a test replaces it.</param>
    /// <exception cref="CliUsageException">A <c>--device-*</c> path is missing or not a block device.</exception>
    internal static SandboxBuilder CreateBuilder(RunOptions options, Func<string, (uint Major, uint Minor)>? resolveDevice = null)
    {
        var builder = new SandboxBuilder()
            .WithStandardInput(SandboxInput.Inherit)
            .WithStandardOutput(SandboxOutput.Inherit)
            .WithStandardError(SandboxOutput.Inherit);
        if (options.RootFilesystem is { } root)
            builder = builder.WithRootFilesystem(root, options.ReadOnlyRoot);
        foreach (var mount in options.Mounts)
            builder = builder.WithMount(mount);
        if (options.Hostname is { } hostname)
            builder = builder.WithHostname(hostname);
        if (!options.Environment.IsEmpty)
            builder = builder.WithEnvironment(options.Environment);
        if (options.WorkingDirectory is { } workingDirectory)
            builder = builder.WithWorkingDirectory(workingDirectory);
        if (options.Uid is { } uid)
            builder = builder.WithUser(uid, options.Gid ?? 0);
        if (options.Network is { } network)
            builder = builder.WithNetwork(network);
        if (options.Timeout is { } timeout)
            builder = builder.WithTimeout(timeout);
        if (options.Resources is not null || !options.DeviceThrottles.IsEmpty)
        {
            var limits = options.Resources ?? new CgroupLimits();
            if (!options.DeviceThrottles.IsEmpty)
                limits = limits with { IoThrottles = ResolveThrottles(options.DeviceThrottles, resolveDevice ?? BlockDevices.Resolve) };
            builder = builder.WithResources(limits);
        }
        if (options.UseCgroup)
            builder = builder.WithCgroup();
        if (options.CgroupParent is not null || options.CgroupMoveToLeaf)
            builder = builder.WithCgroupPlacement(new CgroupPlacement { ParentDirectory = options.CgroupParent, MoveCallerToLeaf = options.CgroupMoveToLeaf });
        return builder;
    }

    /// <summary>
    /// Looks up each throttle's device. A later option for the same device and kind replaces an
    /// earlier one, even when the two name the device differently (/dev/sda, /dev/disk/by-id/...).
    /// </summary>
    private static ImmutableArray<IoThrottle> ResolveThrottles(ImmutableArray<DeviceThrottle> throttles, Func<string, (uint Major, uint Minor)> resolve)
    {
        var resolved = new List<IoThrottle>();
        foreach (var throttle in throttles)
        {
            (uint major, uint minor) = ResolveDevice(throttle, resolve);
            resolved.RemoveAll(t => t.Major == major && t.Minor == minor && t.Kind == throttle.Kind);
            resolved.Add(new IoThrottle(major, minor, throttle.Kind, throttle.Limit));
        }
        return [.. resolved];
    }

    private static (uint Major, uint Minor) ResolveDevice(DeviceThrottle throttle, Func<string, (uint Major, uint Minor)> resolve)
    {
        try
        {
            return resolve(throttle.DevicePath);
        }
        catch (BlockDeviceException e)
        {
            throw new CliUsageException($"invalid value '{throttle.Value}' for {throttle.Option}: {e.Message}") { ErrorNumber = e.ErrorNumber };
        }
    }

    /// <summary>
    /// The library names an invalid setting as its configuration does ("mounts[3].source",
    /// "resources.memory"), which means nothing on a command line; say which option it came from instead.
    /// </summary>
    private static string DescribeSetting(SandboxException e, RunOptions options, SandboxConfiguration config)
    {
        if (e is not SandboxConfigurationException { Setting: var setting })
            return "";
        if (setting.StartsWith("resources.", StringComparison.Ordinal))
            return DescribeResource(setting["resources.".Length..], options) is { } option ? option + ": " : "";
        if (!setting.StartsWith("mounts[", StringComparison.Ordinal))
            return "";
        int end = setting.IndexOf(']');
        if (end < 0 || !int.TryParse(setting.AsSpan(7, end - 7), out int index) || (uint)index >= (uint)config.Mounts.Length)
            return "";
        return config.Mounts[index] switch
        {
            BindMount bind => $"--bind {bind.Source}:{bind.Target}{(bind.ReadOnly ? ":ro" : "")}: ",
            TmpfsMount tmpfs => $"--tmpfs {tmpfs.Target}: ",
            _ => "",
        };
    }

    /// <summary>The option behind a "resources." setting of the library's validator.</summary>
    private static string? DescribeResource(string setting, RunOptions options) => setting switch
    {
        "memory" => "--memory",
        "memorySwap" => "--memory-swap",
        "memoryReservation" => "--memory-reservation",
        "cpus" => "--cpus",
        "cpuShares" => "--cpu-shares",
        "cpusetCpus" => "--cpuset-cpus",
        "cpusetMems" => "--cpuset-mems",
        "pidsLimit" => "--pids-limit",
        "ioThrottles" when !options.DeviceThrottles.IsEmpty =>
            string.Join(", ", options.DeviceThrottles.Select(t => $"{t.Option} {t.Value}").Distinct()),
        _ => null,
    };

    /// <summary>One line on stderr, docker style.</summary>
    private static Task FailAsync(string message)
    {
        // The library's messages start "Sandbox could not ..."; after our own "sandbox: " prefix
        // that would stutter.
        if (message.StartsWith("Sandbox ", StringComparison.Ordinal))
            message = message["Sandbox ".Length..];
        return Console.Error.WriteLineAsync("sandbox: " + message.ReplaceLineEndings(" "));
    }

    /// <summary>Writes the report if one was asked for; a report that cannot be written is an error, since callers depend on it.</summary>
    private static async Task<bool> TryWriteReportAsync(string? path, string json)
    {
        if (path is null)
            return true;
        try
        {
            await File.WriteAllTextAsync(path, json + "\n").ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await FailAsync($"cannot write the report to {path}: {e.Message}").ConfigureAwait(false);
            return false;
        }
    }
}
