using System.Collections.Immutable;
using Sandboxing.Cgroups;
using Sandboxing.Images;

namespace Sandboxing.Cli;

/// <summary>
/// <c>sandbox run</c>: parse, build the sandbox, run the command with the CLI's own stdio,
/// write the report, and turn the outcome into an exit status.
/// </summary>
internal static class RunCommand
{
    /// <param name="args">run's options and command.</param>
    /// <param name="create">'sandbox create': set the sandbox up in the background, started later by 'sandbox start'.</param>
    public static async Task<int> ExecuteAsync(IReadOnlyList<string> args, bool create = false)
    {
        RunOptions options;
        try
        {
            options = RunOptionsParser.Parse(args, CallerContext.Current, create);
        }
        catch (CliUsageException e)
        {
            await Console.Error.WriteLineAsync(e.ToErrorLine()).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }
        if (options.ShowHelp)
        {
            await Console.Out.WriteAsync(create ? HelpText.Create : HelpText.Run).ConfigureAwait(false);
            return 0;
        }
        if (options.Detach)
            return await Lifecycle.Monitor.DetachAsync(args, create).ConfigureAwait(false);

        // Registered before the import and the start, so a Ctrl-C while an image is unpacked or
        // the sandbox is set up is not lost.
        using var interrupts = new Interrupts();
        SandboxBuilder? builder = null;
        try
        {
            SandboxImage? image = options.ImagePath is { } imagePath
                ? await ImportImageAsync(imagePath, options, interrupts.Token).ConfigureAwait(false)
                : null;
            builder = CreateBuilder(options, image: image);
            if (builder.Configuration.ResolveCommand(options.Command).Count == 0)
            {
                // Only an image or --entrypoint lets the command be left out; say which one left nothing to run.
                string message = options.Entrypoint is not null
                    ? "--entrypoint replaces the image's entrypoint and drops its default command, so there is nothing to run; give the command after the options"
                    : $"the image {options.ImagePath} has no default command (no Entrypoint or Cmd); give the command after the options, for example 'sandbox run --image {options.ImagePath} -- /bin/sh'";
                await FailAsync(message).ConfigureAwait(false);
                await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(new ErrorReport(message, "validate", 0))).ConfigureAwait(false);
                return ExitCodes.CannotStart;
            }
            if (options.Tty)
                builder = builder.WithTerminal(TerminalSession.CurrentSize());
            var sandbox = builder.Build();
            var result = options.Tty
                ? await RunInTerminalAsync(sandbox, options, interrupts.Token).ConfigureAwait(false)
                : await sandbox.RunAsync(options.Command, interrupts.Token).ConfigureAwait(false);
            int status = ExitCodes.FromResult(result, interrupts.Signal);
            return await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(RunReport.From(result))).ConfigureAwait(false)
                ? status
                : ExitCodes.CannotStart;
        }
        catch (CliUsageException e)
        {
            // A --device-* path that is not a block device: the command line is wrong, but only
            // the host could tell, so (unlike a parse error) the report says so too.
            await Console.Error.WriteLineAsync(e.ToErrorLine()).ConfigureAwait(false);
            await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(new ErrorReport(e.Message, "validate", e.ErrorNumber))).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }
        catch (ImageException e)
        {
            await FailAsync(e.Message).ConfigureAwait(false);
            await TryWriteReportAsync(options.ReportPath, ReportJsonContext.Serialize(new ErrorReport(e.Message, ImportStep, 0))).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }
        catch (SandboxException e)
        {
            await FailAsync(DescribeSetting(e, options, builder?.Configuration) + e.Message).ConfigureAwait(false);
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

    /// <summary>-t: the command's own terminal, shown on ours and (with -i) typed into from ours.</summary>
    private static async Task<SandboxResult> RunInTerminalAsync(Sandbox sandbox, RunOptions options, CancellationToken cancellationToken)
    {
        await using var process = await sandbox.StartAsync(options.Command, cancellationToken).ConfigureAwait(false);
        using (TerminalSession.Start(options.Interactive, process.ResizeTerminal))
            await TerminalSession.PumpAsync(process.Terminal, options.Interactive).ConfigureAwait(false);
        return await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>The report's step for a failed <c>--image</c> import.</summary>
    private const string ImportStep = "import the image";

    /// <summary>
    /// Imports <c>--image</c> into the store (layers the store already holds are not extracted
    /// again) and returns it. The library reports a bad image as an <see cref="ImageException"/>;
    /// an I/O error that escapes it becomes a <see cref="SandboxException"/> naming the store.
    /// </summary>
    private static async Task<SandboxImage> ImportImageAsync(string path, RunOptions options, CancellationToken cancellationToken)
    {
        var store = OpenImageStore(options.ImageStoreDirectory);
        try
        {
            return await store.ImportAsync(path, options.ImageReference, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SandboxException($"Sandbox could not import {path} into the image store {store.RootDirectory}: {e.Message}", ImportStep, 0,
                "The image store must be writable by the calling user (--image-store DIR chooses another).", e);
        }
    }

    /// <summary>Output copied into <paramref name="stream"/>, killing the sandbox past <c>--output-limit</c> when one is given.</summary>
    internal static SandboxOutput ToStream(Stream stream, bool timestamps, RunOptions options) =>
        options.OutputLimitBytes is { } limit
            ? SandboxOutput.ToStream(stream, timestamps, limit, killOnOverflow: true)
            : SandboxOutput.ToStream(stream, timestamps);

    /// <summary>The store <c>--image-store</c> names, or the library's default one.</summary>
    internal static ImageStore OpenImageStore(string? directory) => new(directory ?? ImageStore.DefaultRootDirectory);

    /// <summary>The store <c>--volume-store</c> names, or the library's default one.</summary>
    internal static VolumeStore OpenVolumeStore(string? directory) => directory is null ? VolumeStore.Default : new VolumeStore(directory);

    /// <summary>Maps the options onto the library's builder. Unset options keep the library's defaults.</summary>
    /// <param name="options">The parsed command line.</param>
    /// <param name="resolveDevice">Finds a device node's major:minor; <see cref="BlockDevices.Resolve"/> unless a test replaces it.</param>
    /// <param name="image">The imported <c>--image</c>; required when the options name one.</param>
    /// <exception cref="CliUsageException">A <c>--device-*</c> path is missing or not a block device.</exception>
    /// <exception cref="SandboxConfigurationException">The image's user is not in its /etc/passwd.</exception>
    internal static SandboxBuilder CreateBuilder(RunOptions options, Func<string, (uint Major, uint Minor)>? resolveDevice = null, SandboxImage? image = null)
    {
        if (options.ImagePath is not null && image is null)
            throw new ArgumentException($"--image {options.ImagePath} must be imported before the sandbox is built.", nameof(image));
        var builder = new SandboxBuilder()
            .WithStandardInput(SandboxInput.Inherit)
            // --output-limit has to count the bytes, so they pass through us; otherwise the
            // command writes straight to our stdout and stderr.
            .WithStandardOutput(options.OutputLimitBytes is null ? SandboxOutput.Inherit : ToStream(Console.OpenStandardOutput(), timestamps: false, options))
            .WithStandardError(options.OutputLimitBytes is null ? SandboxOutput.Inherit : ToStream(Console.OpenStandardError(), timestamps: false, options));
        // The image first: its environment, working directory, user and entrypoint are defaults
        // that the options below override, as docker run's do.
        if (image is not null)
            builder = builder.WithImage(image, OverlayUpperOf(options));
        else if (options.RootFilesystem is { } root)
            builder = options.Overlay
                ? builder.WithOverlayRoot([root], OverlayUpperOf(options))
                : builder.WithRootFilesystem(root, options.ReadOnlyRoot);
        if (options.Entrypoint is { } entrypoint)
            builder = builder.WithEntrypoint(entrypoint.Length == 0 ? [] : [entrypoint]).WithDefaultCommand([]);
        var volumes = options.VolumeStoreDirectory is null ? null : OpenVolumeStore(options.VolumeStoreDirectory);
        foreach (var mount in options.Mounts)
        {
            builder = builder.WithMount(mount is VolumeMount volume && volumes is not null
                ? new VolumeMount(volume.Name, volume.Target, volume.ReadOnly, volumes)
                : mount);
        }
        if (options.Hostname is { } hostname)
            builder = builder.WithHostname(hostname);
        if (options.Capabilities is { } capabilities)
            builder = builder.WithCapabilities(capabilities);
        foreach (var (limit, value) in options.ResourceLimits)
            builder = builder.WithResourceLimit(limit, value.Soft, value.Hard);
        if (!options.SupplementaryGroups.IsEmpty)
            builder = builder.WithSupplementaryGroups(options.SupplementaryGroups);
        if (options.Umask is { } umask)
            builder = builder.WithUmask(umask);
        if (options.NoNewPrivileges is { } noNewPrivileges)
            builder = builder.WithNewPrivileges(!noNewPrivileges);
        if (options.Seccomp is false)
            builder = builder.WithoutSeccomp();
        if (options.LandlockRules is { } landlock)
            builder = builder.WithLandlock(landlock);
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
        if (options.CpuTimeLimit is { } cpuTime)
            builder = builder.WithCpuTimeLimit(cpuTime);
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

    /// <summary>The writable layer of an overlay root: none with --read-only, else --overlay-dir's directory, else a tmpfs of --overlay-size.</summary>
    private static OverlayUpper OverlayUpperOf(RunOptions options) =>
        options.ReadOnlyRoot ? OverlayUpper.None
        : options.OverlayDirectory is { } directory ? OverlayUpper.Directory(directory)
        : OverlayUpper.Ephemeral(options.OverlaySizeBytes);

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
    private static string DescribeSetting(SandboxException e, RunOptions options, SandboxConfiguration? config)
    {
        if (e is not SandboxConfigurationException { Setting: var setting } || config is null)
            return "";
        if (setting.StartsWith("resources.", StringComparison.Ordinal))
            return DescribeResource(setting["resources.".Length..], options) is { } option ? option + ": " : "";
        if (setting == "root.upper" && options.OverlayDirectory is not null)
            return $"--overlay-dir {options.OverlayDirectory}: ";
        if (setting == "root.upper.size" && options.OverlaySizeBytes is not null)
            return "--overlay-size: ";
        if (setting == "root" || setting.StartsWith("root.layers", StringComparison.Ordinal))
            return options.ImagePath is { } image ? $"--image {image}: " : options.RootFilesystem is { } root ? $"--rootfs {root}: " : "";
        if (!setting.StartsWith("mounts[", StringComparison.Ordinal))
            return "";
        int end = setting.IndexOf(']');
        if (end < 0 || !int.TryParse(setting.AsSpan(7, end - 7), out int index) || (uint)index >= (uint)config.Mounts.Length)
            return "";
        // The options' mounts come last, after the defaults and whatever an image adds.
        int own = index - (config.Mounts.Length - options.Mounts.Length);
        return own >= 0 && own < options.MountOptions.Length ? options.MountOptions[own] + ": " : "";
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
