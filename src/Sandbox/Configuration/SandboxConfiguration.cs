using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sandboxing.Cgroups;

namespace Sandboxing;

/// <summary>
/// Everything that describes a sandbox, as plain immutable data. <see cref="SandboxBuilder"/>
/// produces it; <see cref="Sandbox.Configuration"/> exposes it. The shape follows the OCI
/// runtime specification's config.json (process, root, mounts, namespaces, id mappings).
/// </summary>
public sealed record SandboxConfiguration
{
    /// <summary>The PATH a sandbox gets unless its environment sets one.</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// The host uid and gid (65534, "nobody") a root caller's sandbox user is mapped to when
    /// no mappings are given. Map 0 to 0 explicitly to make root inside real root outside.
    /// </summary>
    public const uint UnprivilegedHostId = 65534;

    /// <summary>Size cap of the default /tmp tmpfs: 128 MiB.</summary>
    public const long DefaultTmpSizeBytes = 128L * 1024 * 1024;

    /// <summary>The mounts every sandbox gets unless removed: a fresh /proc, a read-only /sys, a minimal /dev and a private /tmp.</summary>
    public static ImmutableArray<SandboxMount> DefaultMounts { get; } =
        [new ProcMount("/proc"), new SysfsMount("/sys"), new DevMount("/dev"), new TmpfsMount("/tmp", DefaultTmpSizeBytes)];

    /// <summary>
    /// Paths hidden by default, as docker hides them: kernel memory, keys, timers, firmware and
    /// hardware details. A directory is covered by an empty read-only tmpfs, a file by /dev/null.
    /// </summary>
    public static ImmutableArray<string> DefaultMaskedPaths { get; } =
    [
        "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ];

    /// <summary>Paths made read-only by default, as docker does: kernel tunables and triggers.</summary>
    public static ImmutableArray<string> DefaultReadOnlyPaths { get; } =
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>
    /// Where the host keeps unix sockets (D-Bus, docker.sock, session buses, ssh agents). With the
    /// host's root and a private network they are masked too: a read-only mount does not stop
    /// connect(2) to a socket file.
    /// </summary>
    public static ImmutableArray<string> HostSocketDirectories { get; } = ["/run", "/var/run", "/var/tmp"];

    /// <summary>Paths hidden inside the sandbox (skipped when missing). Docker's list by default.</summary>
    public ImmutableArray<string> MaskedPaths { get; init; } = DefaultMaskedPaths;

    /// <summary>Paths made read-only inside the sandbox (skipped when missing). Docker's list by default.</summary>
    public ImmutableArray<string> ReadOnlyPaths { get; init; } = DefaultReadOnlyPaths;

    /// <summary>
    /// Whether <see cref="HostSocketDirectories"/> are masked when the root is the host's and the
    /// network is private. On by default; turn off for a sandbox that must reach a host socket.
    /// </summary>
    public bool MaskHostSockets { get; init; } = true;

    /// <summary>The namespaces the sandbox gets. All of them by default.</summary>
    public SandboxNamespaces Namespaces { get; init; } = SandboxNamespaces.All;

    /// <summary>The hostname a sandbox gets when <see cref="Hostname"/> is not set.</summary>
    public const string DefaultHostname = "sandbox";

    /// <summary>
    /// Hostname inside the sandbox (needs the UTS namespace). <see langword="null"/>: "sandbox"
    /// when the UTS namespace is on.
    /// </summary>
    public string? Hostname { get; init; }

    /// <summary>
    /// uid_map lines. Empty: <see cref="Uid"/> (nobody by default) is mapped to the calling user
    /// when the caller is unprivileged, and to <see cref="UnprivilegedHostId"/> when the caller
    /// is root, so root inside is never root outside unless asked.
    /// </summary>
    public ImmutableArray<IdMapping> UidMappings { get; init; } = [];

    /// <summary>gid_map lines. Empty: the calling user's group is mapped to <see cref="Gid"/>.</summary>
    public ImmutableArray<IdMapping> GidMappings { get; init; } = [];

    /// <summary>
    /// The uid and gid a command runs as inside a user namespace unless <see cref="Uid"/> and
    /// <see cref="Gid"/> say otherwise: 65534, "nobody". A code runner's command needs no root,
    /// not even a powerless one; ask for root inside with <c>WithUser(0, 0)</c> (images run as
    /// root unless their USER says otherwise, as with docker).
    /// </summary>
    public const uint DefaultCommandId = 65534;

    /// <summary>
    /// The uid the command runs as, inside the sandbox. <see langword="null"/>:
    /// <see cref="DefaultCommandId"/> (nobody) with a user namespace, the caller's own uid without one.
    /// </summary>
    public uint? Uid { get; init; }

    /// <summary>
    /// The gid the command runs as, inside the sandbox. <see langword="null"/>:
    /// <see cref="DefaultCommandId"/> with a user namespace, the caller's own gid without one.
    /// </summary>
    public uint? Gid { get; init; }

    /// <summary>The uid the command runs as inside a user namespace: <see cref="Uid"/> or the default.</summary>
    internal uint CommandUid => Uid ?? DefaultCommandId;

    /// <summary>The gid the command runs as inside a user namespace: <see cref="Gid"/> or the default.</summary>
    internal uint CommandGid => Gid ?? DefaultCommandId;

    /// <summary>The root filesystem. The host's, read-only, by default.</summary>
    public SandboxRoot Root { get; init; } = SandboxRoot.HostReadOnly;

    /// <summary>
    /// The program every command runs through (docker's ENTRYPOINT): a run executes entrypoint +
    /// command. Empty by default: the command runs as given.
    /// </summary>
    public ImmutableArray<string> Entrypoint { get; init; } = [];

    /// <summary>What a run with an empty command executes, after <see cref="Entrypoint"/> (docker's CMD).</summary>
    public ImmutableArray<string> DefaultCommand { get; init; } = [];

    /// <summary>
    /// The argv a run executes for <paramref name="command"/>: <see cref="Entrypoint"/> followed by
    /// the command, or by <see cref="DefaultCommand"/> when the command is empty.
    /// </summary>
    public IReadOnlyList<string> ResolveCommand(IReadOnlyList<string> command)
    {
        var args = command is { Count: > 0 } ? command : (IReadOnlyList<string>)DefaultCommand;
        return Entrypoint.IsDefaultOrEmpty ? args : [.. Entrypoint, .. args];
    }

    /// <summary>
    /// Capabilities the command keeps, inside its user namespace (bounding, permitted, effective,
    /// inheritable and ambient sets). None by default: root inside can then do no more than any
    /// user. <see cref="Capabilities.DockerDefault"/> is docker's set.
    /// </summary>
    public ImmutableSortedSet<Capability> Capabilities { get; init; } = [];

    /// <summary>
    /// Whether the command may gain privileges through setuid binaries or file capabilities. Off
    /// by default (no_new_privs): a setuid binary runs with the caller's ids.
    /// </summary>
    public bool AllowNewPrivileges { get; init; }

    /// <summary>
    /// The seccomp filter installed as the command's last step before exec: close to docker's
    /// default profile (<see cref="Seccomp.SeccompPolicy.Default"/>) unless replaced;
    /// <see langword="null"/> for none.
    /// </summary>
    public Seccomp.SeccompPolicy? Seccomp { get; init; } = Sandboxing.Seccomp.SeccompPolicy.Default;

    /// <summary>A Landlock ruleset for the command; <see langword="null"/> (the default) for none.</summary>
    public SandboxLandlock? Landlock { get; init; }

    /// <summary>The limits every sandbox gets unless replaced: no core dumps.</summary>
    public static ImmutableSortedDictionary<ResourceLimit, ResourceLimitValue> DefaultResourceLimits { get; } =
        ImmutableSortedDictionary<ResourceLimit, ResourceLimitValue>.Empty.Add(ResourceLimit.Core, ResourceLimitValue.Of(0));

    /// <summary>
    /// Per-process limits (setrlimit) the command starts with; others are inherited from the
    /// caller. By default only <see cref="ResourceLimit.Core"/> is set, to 0.
    /// </summary>
    public ImmutableSortedDictionary<ResourceLimit, ResourceLimitValue> ResourceLimits { get; init; } = DefaultResourceLimits;

    /// <summary>Supplementary groups of the command, as gids inside the sandbox. None by default.</summary>
    public ImmutableArray<uint> SupplementaryGroups { get; init; } = [];

    /// <summary>The command's umask (octal 022 by default).</summary>
    public int Umask { get; init; } = 0x12; // 022

    /// <summary>Mounts applied in order after the root.</summary>
    public ImmutableArray<SandboxMount> Mounts { get; init; } = DefaultMounts;

    /// <summary>
    /// The command's environment. Nothing from the calling process leaks in: the sandbox gets
    /// these variables, plus PATH and HOME when they are not set here.
    /// </summary>
    public ImmutableSortedDictionary<string, string> Environment { get; init; } =
        ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal);

    /// <summary>Working directory of the command, inside the sandbox.</summary>
    public string WorkingDirectory { get; init; } = "/";

    /// <summary>Standard input. <see cref="SandboxInput.Null"/> by default.</summary>
    public SandboxInput StandardInput { get; init; } = SandboxInput.Null;

    /// <summary>Standard output. <see cref="SandboxOutput.Capture"/> by default.</summary>
    public SandboxOutput StandardOutput { get; init; } = SandboxOutput.Capture;

    /// <summary>Standard error. <see cref="SandboxOutput.Capture"/> by default.</summary>
    public SandboxOutput StandardError { get; init; } = SandboxOutput.Capture;

    /// <summary>Wall-clock limit; the whole sandbox is killed when it passes. None by default.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// A terminal of its own for the command (docker run -t), of this size; null: none. It
    /// replaces the stdio settings: the command's stdin, stdout and stderr are the terminal,
    /// read and written through <see cref="SandboxProcess.Terminal"/>.
    /// </summary>
    public TerminalSize? Terminal { get; init; }

    /// <summary>Offset added to CLOCK_MONOTONIC inside the sandbox (needs the time namespace).</summary>
    public TimeSpan MonotonicClockOffset { get; init; }

    /// <summary>Offset added to CLOCK_BOOTTIME inside the sandbox (needs the time namespace).</summary>
    public TimeSpan BoottimeClockOffset { get; init; }

    /// <summary>
    /// Resource limits (memory, CPU, pids, block I/O), enforced through a cgroup of the
    /// sandbox's own. <see langword="null"/>: no limits.
    /// </summary>
    public CgroupLimits? Resources { get; init; }

    /// <summary>
    /// Whether every sandbox gets a cgroup even without limits: for statistics, pause and
    /// resume, and OOM verdicts. Implied by <see cref="Resources"/>.
    /// </summary>
    public bool UseCgroup { get; init; }

    /// <summary>Where sandbox cgroups are created; <see langword="null"/>: under the calling process's own cgroup.</summary>
    public CgroupPlacement? CgroupPlacement { get; init; }

    /// <summary>
    /// CPU time the whole sandbox may use, all its processes together, from its cgroup's
    /// accounting: past it the sandbox is killed with <see cref="SandboxVerdict.CpuTimeLimitExceeded"/>
    /// (distinct from the wall-clock <see cref="Timeout"/>). Implies a cgroup. None by default.
    /// </summary>
    public TimeSpan? CpuTimeLimit { get; init; }

    /// <summary>Whether runs get a cgroup: when asked for, or when there are limits.</summary>
    public bool HasCgroup => UseCgroup || Resources is { IsEmpty: false } || CpuTimeLimit is not null;

    /// <summary>
    /// Where the sandbox's start, end, limits and failures are logged (one event each, never per
    /// output byte; docs/logging-and-di.md lists them). <see cref="NullLogger.Instance"/> by default.
    /// </summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>
    /// The sandbox-helper executable to run; <see langword="null"/> (the default) looks it up next
    /// to the application (or where <c>SANDBOX_HELPER_PATH</c> says).
    /// </summary>
    public string? HelperPath { get; init; }

    /// <summary>Whether <paramref name="ns"/> is among <see cref="Namespaces"/>.</summary>
    public bool Has(SandboxNamespaces ns) => (Namespaces & ns) == ns;
}
