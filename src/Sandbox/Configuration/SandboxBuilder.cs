using System.Collections.Immutable;
using System.Diagnostics.Contracts;
using Sandboxing.Cgroups;

namespace Sandboxing;

/// <summary>
/// Composes a <see cref="Sandbox"/>. Immutable: every <c>With</c> method returns a new builder
/// and leaves this one unchanged, so a builder can be shared and specialised freely.
/// <c>new SandboxBuilder().Build()</c> alone gives the safe default: every namespace, the host
/// filesystem read-only, a fresh /proc, a minimal /dev and a private /tmp.
/// </summary>
public sealed class SandboxBuilder
{
    /// <summary>Starts from the default configuration.</summary>
    public SandboxBuilder() : this(new SandboxConfiguration())
    {
    }

    /// <summary>Starts from an existing configuration.</summary>
    public SandboxBuilder(SandboxConfiguration configuration) =>
        Configuration = configuration ?? throw new ArgumentNullException(nameof(configuration));

    /// <summary>The configuration built so far (not yet validated).</summary>
    public SandboxConfiguration Configuration { get; }

    private SandboxBuilder With(SandboxConfiguration configuration) => new(configuration);

    /// <summary>Sets exactly which namespaces the sandbox gets.</summary>
    [Pure]
    public SandboxBuilder WithNamespaces(SandboxNamespaces namespaces) =>
        With(Configuration with { Namespaces = namespaces });

    /// <summary>Removes <paramref name="namespaces"/> from the sandbox's namespaces.</summary>
    [Pure]
    public SandboxBuilder WithoutNamespaces(SandboxNamespaces namespaces) =>
        With(Configuration with { Namespaces = Configuration.Namespaces & ~namespaces });

    /// <summary>
    /// Chooses the network: <see cref="SandboxNetwork.None"/> (a private network namespace
    /// with only loopback, the default) or <see cref="SandboxNetwork.Host"/>.
    /// </summary>
    [Pure]
    public SandboxBuilder WithNetwork(SandboxNetwork network) => network switch
    {
        SandboxNetwork.None => With(Configuration with { Namespaces = Configuration.Namespaces | SandboxNamespaces.Network }),
        SandboxNetwork.Host => WithoutNamespaces(SandboxNamespaces.Network),
        _ => throw new ArgumentOutOfRangeException(nameof(network), network, "Unknown network mode."),
    };

    /// <summary>Sets the hostname inside the sandbox.</summary>
    [Pure]
    public SandboxBuilder WithHostname(string hostname) => With(Configuration with { Hostname = hostname });

    /// <summary>Runs the command as <paramref name="uid"/>:<paramref name="gid"/> inside the sandbox.</summary>
    /// <remarks>
    /// The default is 65534:65534 (nobody) inside. Without explicit mappings this uid and gid are
    /// mapped to the calling user when it is unprivileged (the command's files on writable binds
    /// then belong to the caller), and to the host's nobody (65534) when the caller is root.
    /// <c>WithUser(0, 0)</c> gives a root inside that is still powerless outside.
    /// </remarks>
    [Pure]
    public SandboxBuilder WithUser(uint uid, uint gid) => With(Configuration with { Uid = uid, Gid = gid });

    /// <summary>Sets the uid_map lines (full ranges need a privileged caller).</summary>
    [Pure]
    public SandboxBuilder WithUidMappings(params IEnumerable<IdMapping> mappings) =>
        With(Configuration with { UidMappings = [.. mappings] });

    /// <summary>Sets the gid_map lines (full ranges need a privileged caller).</summary>
    [Pure]
    public SandboxBuilder WithGidMappings(params IEnumerable<IdMapping> mappings) =>
        With(Configuration with { GidMappings = [.. mappings] });

    /// <summary>Uses the host's filesystem, read-only, as the root (the default).</summary>
    [Pure]
    public SandboxBuilder WithHostRootFilesystem() => With(Configuration with { Root = SandboxRoot.HostReadOnly });

    /// <summary>Uses a host directory as the root filesystem, entered with pivot_root.</summary>
    /// <param name="path">Absolute path of the root filesystem directory.</param>
    /// <param name="readOnly">Mount it read-only.</param>
    [Pure]
    public SandboxBuilder WithRootFilesystem(string path, bool readOnly = false) =>
        With(Configuration with { Root = SandboxRoot.FromDirectory(path, readOnly) });

    /// <summary>
    /// Uses an overlay as the root: read-only layer directories (an image's) with a writable
    /// layer on top, so many sandboxes can share one image and none changes it.
    /// </summary>
    /// <param name="layers">Absolute host paths of the layers, bottom layer first.</param>
    /// <param name="upper">Where writes go; an ephemeral tmpfs (256 MiB) by default.</param>
    [Pure]
    public SandboxBuilder WithOverlayRoot(IEnumerable<string> layers, OverlayUpper? upper = null) =>
        With(Configuration with { Root = SandboxRoot.Overlay(layers, upper) });

    /// <summary>
    /// Runs an image as <c>docker run IMAGE</c> does: its layers become an overlay root, and its
    /// environment, working directory (created when missing), user, entrypoint and default
    /// command become the sandbox's. Settings made after this call override the image's.
    /// </summary>
    /// <param name="image">An image from <see cref="Images.ImageStore.ImportAsync"/>.</param>
    /// <param name="upper">Where writes go; an ephemeral tmpfs (256 MiB) by default, <see cref="OverlayUpper.None"/> for a read-only root.</param>
    /// <exception cref="SandboxConfigurationException">The image's user is not in its /etc/passwd.</exception>
    [Pure]
    public SandboxBuilder WithImage(Images.SandboxImage image, OverlayUpper? upper = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var c = image.Config;
        var env = Configuration.Environment;
        foreach (var variable in c.Env)
        {
            int eq = variable.IndexOf('=');
            if (eq > 0)
                env = env.SetItem(variable[..eq], variable[(eq + 1)..]);
        }
        string workdir = string.IsNullOrEmpty(c.WorkingDir) ? "/" : c.WorkingDir;
        var config = Configuration with
        {
            Root = SandboxRoot.Overlay(image.LayerDirectories, upper),
            Environment = env,
            WorkingDirectory = workdir,
            Entrypoint = c.Entrypoint,
            DefaultCommand = c.Cmd,
            Mounts = workdir == "/" ? Configuration.Mounts : Configuration.Mounts.Add(new DirectoryEntry(workdir)),
        };
        // Root inside unless the image names a user: docker's rule, and what images expect.
        var (uid, gid) = string.IsNullOrEmpty(c.User) ? (0u, 0u) : ImageUser.Resolve(image, c.User);
        config = config with { Uid = uid, Gid = gid };
        return With(config);
    }

    /// <summary>Sets the capabilities the command keeps (inside its user namespace), replacing the current set.</summary>
    [Pure]
    public SandboxBuilder WithCapabilities(params IEnumerable<Capability> capabilities) =>
        With(Configuration with { Capabilities = [.. capabilities] });

    /// <summary>Adds capabilities to the set the command keeps (docker's <c>--cap-add</c>).</summary>
    [Pure]
    public SandboxBuilder WithCapabilitiesAdded(params IEnumerable<Capability> capabilities) =>
        With(Configuration with { Capabilities = Configuration.Capabilities.Union(capabilities) });

    /// <summary>Removes capabilities from the set the command keeps (docker's <c>--cap-drop</c>).</summary>
    [Pure]
    public SandboxBuilder WithCapabilitiesDropped(params IEnumerable<Capability> capabilities) =>
        With(Configuration with { Capabilities = Configuration.Capabilities.Except(capabilities) });

    /// <summary>Lets setuid binaries and file capabilities work (no <c>no_new_privs</c>).</summary>
    [Pure]
    public SandboxBuilder WithNewPrivileges(bool allow = true) => With(Configuration with { AllowNewPrivileges = allow });

    /// <summary>
    /// Sets the seccomp policy, for example <c>SeccompPolicy.Default.Without("ptrace")</c> or
    /// <c>SeccompPolicy.Default.Deny("socket")</c>; <see langword="null"/> installs no filter.
    /// </summary>
    [Pure]
    public SandboxBuilder WithSeccomp(Seccomp.SeccompPolicy? policy) => With(Configuration with { Seccomp = policy });

    /// <summary>Installs no seccomp filter: every system call reaches the kernel (docker's <c>seccomp=unconfined</c>).</summary>
    [Pure]
    public SandboxBuilder WithoutSeccomp() => WithSeccomp(null);

    /// <summary>
    /// Confines the command with Landlock: only <paramref name="rules"/> grant filesystem access
    /// (start from <see cref="SandboxLandlock.HostProgramRules"/> for the host's programs).
    /// </summary>
    /// <param name="rules">What is reachable, and how.</param>
    /// <param name="bestEffort">Run without Landlock where the kernel has none, instead of failing.</param>
    [Pure]
    public SandboxBuilder WithLandlock(IEnumerable<LandlockRule> rules, bool bestEffort = false) =>
        With(Configuration with { Landlock = new SandboxLandlock { Rules = [.. rules], BestEffort = bestEffort } });

    /// <summary>
    /// Limits the CPU time of the whole sandbox (all its processes together, from its cgroup's
    /// accounting); past it the sandbox is killed with the verdict
    /// <see cref="SandboxVerdict.CpuTimeLimitExceeded"/>. Combine it with a wall-clock
    /// <see cref="WithTimeout"/> for a command that sleeps or waits.
    /// </summary>
    [Pure]
    public SandboxBuilder WithCpuTimeLimit(TimeSpan limit) => With(Configuration with { CpuTimeLimit = limit });

    /// <summary>Sets one per-process resource limit (docker's <c>--ulimit NAME=SOFT:HARD</c>).</summary>
    /// <param name="limit">Which limit.</param>
    /// <param name="soft">The soft limit (<see cref="ResourceLimitValue.Unlimited"/> for none).</param>
    /// <param name="hard">The hard limit; the soft one when <see langword="null"/>.</param>
    [Pure]
    public SandboxBuilder WithResourceLimit(ResourceLimit limit, ulong soft, ulong? hard = null) =>
        With(Configuration with { ResourceLimits = Configuration.ResourceLimits.SetItem(limit, new ResourceLimitValue(soft, hard ?? soft)) });

    /// <summary>Sets the command's supplementary groups (gids inside the sandbox; they must be mapped).</summary>
    [Pure]
    public SandboxBuilder WithSupplementaryGroups(params IEnumerable<uint> gids) => With(Configuration with { SupplementaryGroups = [.. gids] });

    /// <summary>Sets the command's umask (for example 0x3F for octal 077).</summary>
    [Pure]
    public SandboxBuilder WithUmask(int umask) => With(Configuration with { Umask = umask });

    /// <summary>Uses <paramref name="root"/> as the root filesystem.</summary>
    [Pure]
    public SandboxBuilder WithRoot(SandboxRoot root) => With(Configuration with { Root = root ?? throw new ArgumentNullException(nameof(root)) });

    /// <summary>
    /// Sets the program every command runs through, as docker's ENTRYPOINT: a run executes
    /// entrypoint + its command, or entrypoint + <see cref="WithDefaultCommand"/> when the command
    /// is empty.
    /// </summary>
    [Pure]
    public SandboxBuilder WithEntrypoint(params IEnumerable<string> entrypoint) => With(Configuration with { Entrypoint = [.. entrypoint] });

    /// <summary>Sets the command a run without arguments executes, as docker's CMD.</summary>
    [Pure]
    public SandboxBuilder WithDefaultCommand(params IEnumerable<string> command) => With(Configuration with { DefaultCommand = [.. command] });

    /// <summary>Mounts named volume <paramref name="name"/> (created on first use) at <paramref name="target"/>.</summary>
    /// <param name="name">Volume name.</param>
    /// <param name="target">Absolute path inside the sandbox.</param>
    /// <param name="readOnly">Whether the sandbox can only read it.</param>
    /// <param name="store">Where volumes live; <see cref="VolumeStore.Default"/> when <see langword="null"/>.</param>
    [Pure]
    public SandboxBuilder WithVolume(string name, string target, bool readOnly = false, VolumeStore? store = null) =>
        WithMount(new VolumeMount(name, target, readOnly, store));

    /// <summary>Appends a mount; mounts are applied in order after the defaults.</summary>
    [Pure]
    public SandboxBuilder WithMount(SandboxMount mount) =>
        With(Configuration with { Mounts = Configuration.Mounts.Add(mount ?? throw new ArgumentNullException(nameof(mount))) });

    /// <summary>Appends mounts through a small list builder.</summary>
    [Pure]
    public SandboxBuilder WithMounts(Action<MountListBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var list = new MountListBuilder();
        configure(list);
        return With(Configuration with { Mounts = Configuration.Mounts.AddRange(list.Build()) });
    }

    /// <summary>Binds a host path into the sandbox, read-only unless <paramref name="readOnly"/> is false.</summary>
    [Pure]
    public SandboxBuilder WithBindMount(string source, string target, bool readOnly = true) =>
        WithMount(new BindMount(source, target, readOnly));

    /// <summary>Mounts a private tmpfs at <paramref name="target"/>.</summary>
    [Pure]
    public SandboxBuilder WithTmpfs(string target, long? sizeBytes = null) => WithMount(new TmpfsMount(target, sizeBytes));

    /// <summary>Removes the default /proc, /sys, /dev and /tmp mounts; mounts added with other methods stay.</summary>
    [Pure]
    public SandboxBuilder WithoutDefaultMounts() =>
        With(Configuration with { Mounts = Configuration.Mounts.RemoveAll(m => SandboxConfiguration.DefaultMounts.Contains(m)) });

    /// <summary>Sets the paths hidden inside the sandbox, replacing docker's default list.</summary>
    [Pure]
    public SandboxBuilder WithMaskedPaths(params IEnumerable<string> paths) => With(Configuration with { MaskedPaths = [.. paths] });

    /// <summary>Sets the paths made read-only inside the sandbox, replacing docker's default list.</summary>
    [Pure]
    public SandboxBuilder WithReadOnlyPaths(params IEnumerable<string> paths) => With(Configuration with { ReadOnlyPaths = [.. paths] });

    /// <summary>
    /// Keeps the host's /run, /var/run and /var/tmp visible with the host root and a private
    /// network (they are masked by default, because their unix sockets stay connectable through
    /// a read-only mount).
    /// </summary>
    [Pure]
    public SandboxBuilder WithHostSockets() => With(Configuration with { MaskHostSockets = false });

    /// <summary>Sets one environment variable.</summary>
    [Pure]
    public SandboxBuilder WithEnvironmentVariable(string name, string value) =>
        With(Configuration with { Environment = Configuration.Environment.SetItem(name, value) });

    /// <summary>Sets several environment variables.</summary>
    [Pure]
    public SandboxBuilder WithEnvironment(IEnumerable<KeyValuePair<string, string>> variables) =>
        With(Configuration with { Environment = Configuration.Environment.SetItems(variables) });

    /// <summary>Sets the working directory inside the sandbox.</summary>
    [Pure]
    public SandboxBuilder WithWorkingDirectory(string path) => With(Configuration with { WorkingDirectory = path });

    /// <summary>Sets where standard input comes from.</summary>
    [Pure]
    public SandboxBuilder WithStandardInput(SandboxInput input) =>
        With(Configuration with { StandardInput = input ?? throw new ArgumentNullException(nameof(input)) });

    /// <summary>Sets where standard output goes.</summary>
    [Pure]
    public SandboxBuilder WithStandardOutput(SandboxOutput output) =>
        With(Configuration with { StandardOutput = output ?? throw new ArgumentNullException(nameof(output)) });

    /// <summary>Sets where standard error goes.</summary>
    [Pure]
    public SandboxBuilder WithStandardError(SandboxOutput output) =>
        With(Configuration with { StandardError = output ?? throw new ArgumentNullException(nameof(output)) });

    /// <summary>Kills the whole sandbox when it has run for <paramref name="timeout"/> (verdict TimedOut).</summary>
    [Pure]
    public SandboxBuilder WithTimeout(TimeSpan timeout) => With(Configuration with { Timeout = timeout });

    /// <summary>
    /// Gives the command a terminal of its own (docker run -t), <see cref="TerminalSize.Default"/>
    /// unless a size is given: a fresh pseudo-terminal whose other side is the command's stdin,
    /// stdout, stderr and controlling terminal, in a session of its own. Read and write it through
    /// <see cref="SandboxProcess.Terminal"/>; resize it with <see cref="SandboxProcess.ResizeTerminal"/>.
    /// The stdio settings are then unused. The caller's own terminal never reaches the command.
    /// </summary>
    [Pure]
    public SandboxBuilder WithTerminal(TerminalSize? size = null) => With(Configuration with { Terminal = size ?? TerminalSize.Default });

    /// <summary>Shifts CLOCK_MONOTONIC and CLOCK_BOOTTIME inside the sandbox (time namespace).</summary>
    [Pure]
    public SandboxBuilder WithClockOffsets(TimeSpan monotonic, TimeSpan boottime) =>
        With(Configuration with { MonotonicClockOffset = monotonic, BoottimeClockOffset = boottime });

    /// <summary>Sets every resource limit at once (docker's names: --memory, --cpus, --pids-limit, ...).</summary>
    [Pure]
    public SandboxBuilder WithResources(CgroupLimits limits) =>
        With(Configuration with { Resources = limits ?? throw new ArgumentNullException(nameof(limits)) });

    /// <summary>Changes the resource limits with <paramref name="configure"/> (for example <c>l => l with { PidsMax = 64 }</c>).</summary>
    [Pure]
    public SandboxBuilder WithResources(Func<CgroupLimits, CgroupLimits> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return With(Configuration with { Resources = configure(Configuration.Resources ?? new CgroupLimits()) });
    }

    /// <summary>Limits memory to <paramref name="bytes"/>; <paramref name="memoryAndSwapBytes"/> also bounds swap (docker --memory, --memory-swap).</summary>
    [Pure]
    public SandboxBuilder WithMemoryLimit(long bytes, long? memoryAndSwapBytes = null) =>
        WithResources(l => l with { MemoryBytes = bytes, MemorySwapBytes = memoryAndSwapBytes ?? l.MemorySwapBytes });

    /// <summary>
    /// Limits the number of processes and threads the command and its descendants may have
    /// (docker --pids-limit): a fork bomb stops there. The sandbox's own init is not counted.
    /// </summary>
    [Pure]
    public SandboxBuilder WithPidsLimit(long maxProcesses) => WithResources(l => l with { PidsMax = maxProcesses });

    /// <summary>Limits CPU time to <paramref name="cpus"/> CPUs' worth (docker --cpus; 0.5 = half of one CPU).</summary>
    [Pure]
    public SandboxBuilder WithCpuLimit(double cpus) => WithResources(l => l with { Cpus = cpus });

    /// <summary>
    /// Gives every sandbox a cgroup of its own even without limits (statistics, pause and
    /// resume, OOM verdicts), optionally under a configured parent.
    /// </summary>
    [Pure]
    public SandboxBuilder WithCgroup(CgroupPlacement? placement = null) =>
        With(Configuration with { UseCgroup = true, CgroupPlacement = placement ?? Configuration.CgroupPlacement });

    /// <summary>
    /// Where sandbox cgroups are made: a cgroup v2 parent directory, and whether this process may
    /// first move itself into a leaf (cgroup v2's no-internal-processes rule). Default: under
    /// this process's own cgroup, never moving anything.
    /// </summary>
    [Pure]
    public SandboxBuilder WithCgroupPlacement(CgroupPlacement placement) =>
        With(Configuration with { CgroupPlacement = placement ?? throw new ArgumentNullException(nameof(placement)) });

    /// <summary>
    /// Logs each sandbox's start, end, limits hit and failures to <paramref name="logger"/>
    /// (structured events, none per output byte); <see langword="null"/> for none, the default.
    /// </summary>
    [Pure]
    public SandboxBuilder WithLogger(Microsoft.Extensions.Logging.ILogger? logger) =>
        With(Configuration with { Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance });

    /// <summary>Runs this sandbox-helper executable instead of the one found next to the application.</summary>
    /// <param name="path">Absolute path of the helper; <see langword="null"/> to look it up again.</param>
    [Pure]
    public SandboxBuilder WithHelperPath(string? path) => With(Configuration with { HelperPath = path });

    /// <summary>
    /// Validates the whole configuration and creates the sandbox. Nothing is created on the
    /// host until a command runs.
    /// </summary>
    /// <exception cref="SandboxConfigurationException">A setting is invalid; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException">
    /// Not Linux, not x86-64 or arm64, or the kernel lacks a call this configuration needs
    /// (<see cref="SandboxHost.MinimumKernel"/>, <see cref="SandboxHost.MinimumKernelWithMountNamespace"/>); the message says which and what to do.
    /// </exception>
    public Sandbox Build()
    {
        // The host before the settings: no setting can fix a kernel without clone3. The facts
        // behind this check are found once per process, so it costs a few comparisons.
        Host.HostRequirements.EnsureSupported(Configuration);
        ConfigurationValidator.Validate(Configuration, HostIdentity.Current);
        return new Sandbox(Configuration);
    }
}

/// <summary>Collects mounts for <see cref="SandboxBuilder.WithMounts"/>.</summary>
public sealed class MountListBuilder
{
    private readonly ImmutableArray<SandboxMount>.Builder _mounts = ImmutableArray.CreateBuilder<SandboxMount>();

    /// <summary>Adds a bind mount.</summary>
    public MountListBuilder Bind(string source, string target, bool readOnly = true, bool recursive = true, bool optional = false)
    {
        _mounts.Add(new BindMount(source, target, readOnly, recursive, optional));
        return this;
    }

    /// <summary>Adds a tmpfs.</summary>
    public MountListBuilder Tmpfs(string target, long? sizeBytes = null, int mode = 0x3FF)
    {
        _mounts.Add(new TmpfsMount(target, sizeBytes, mode));
        return this;
    }

    /// <summary>Adds a procfs.</summary>
    public MountListBuilder Proc(string target = "/proc")
    {
        _mounts.Add(new ProcMount(target));
        return this;
    }

    /// <summary>Adds a read-only sysfs.</summary>
    public MountListBuilder Sysfs(string target = "/sys")
    {
        _mounts.Add(new SysfsMount(target));
        return this;
    }

    /// <summary>Adds a minimal /dev.</summary>
    public MountListBuilder Dev(string target = "/dev")
    {
        _mounts.Add(new DevMount(target));
        return this;
    }

    /// <summary>Adds the IPC namespace's POSIX message queues.</summary>
    public MountListBuilder Mqueue(string target = "/dev/mqueue")
    {
        _mounts.Add(new MqueueMount(target));
        return this;
    }

    /// <summary>Adds a named volume.</summary>
    public MountListBuilder Volume(string name, string target, bool readOnly = false, VolumeStore? store = null)
    {
        _mounts.Add(new VolumeMount(name, target, readOnly, store));
        return this;
    }

    /// <summary>Creates a symbolic link inside the sandbox.</summary>
    public MountListBuilder Symlink(string linkText, string target)
    {
        _mounts.Add(new SymlinkEntry(linkText, target));
        return this;
    }

    /// <summary>Creates a directory inside the sandbox.</summary>
    public MountListBuilder Directory(string target, int mode = 0x1ED)
    {
        _mounts.Add(new DirectoryEntry(target, mode));
        return this;
    }

    /// <summary>Creates a file with <paramref name="content"/> inside the sandbox.</summary>
    public MountListBuilder File(string target, string content, int mode = 0x1A4)
    {
        _mounts.Add(new FileEntry(target, content, mode));
        return this;
    }

    /// <summary>Adds any mount.</summary>
    public MountListBuilder Add(SandboxMount mount)
    {
        _mounts.Add(mount ?? throw new ArgumentNullException(nameof(mount)));
        return this;
    }

    internal ImmutableArray<SandboxMount> Build() => _mounts.ToImmutable();
}

/// <summary>The sandbox's network.</summary>
public enum SandboxNetwork
{
    /// <summary>A private network namespace with only loopback, brought up.</summary>
    None,

    /// <summary>The host's network (no network namespace).</summary>
    Host,
}
