using System.Collections.Immutable;
using Sandboxing.Cgroups;

namespace Sandboxing.Cli;

/// <summary>
/// What <c>sandbox run</c> was asked to do, as plain data: the parser's output and the only
/// input of <see cref="RunCommand"/>. <see langword="null"/> means "not given: the library's default".
/// </summary>
internal sealed record RunOptions
{
    /// <summary><c>--help</c> was given: print the help and run nothing.</summary>
    public bool ShowHelp { get; init; }

    /// <summary>-i: keep our stdin attached to the command (with -t, copied into its terminal).</summary>
    public bool Interactive { get; init; }

    /// <summary>-t: give the command a terminal of its own.</summary>
    public bool Tty { get; init; }

    /// <summary>-d: run in the background, print the sandbox's id, and return.</summary>
    public bool Detach { get; init; }


    /// <summary>The program and its arguments.</summary>
    public ImmutableArray<string> Command { get; init; } = [];

    /// <summary><c>--rootfs</c>: absolute host path of the root filesystem; null for the host's, read-only.</summary>
    public string? RootFilesystem { get; init; }

    /// <summary>
    /// <c>--read-only</c>: mount <see cref="RootFilesystem"/> read-only, or give an overlay root
    /// (<see cref="Overlay"/>, <see cref="ImagePath"/>) no writable layer. The host root always is read-only.
    /// </summary>
    public bool ReadOnlyRoot { get; init; }

    /// <summary>
    /// <c>--overlay</c> (or <c>--overlay-dir</c>): <see cref="RootFilesystem"/> is the read-only lower
    /// layer of an overlay root instead of the root itself, so writes never reach it.
    /// </summary>
    public bool Overlay { get; init; }

    /// <summary><c>--overlay-size</c>: size cap of the ephemeral writable layer; null for the library's default (256 MiB).</summary>
    public long? OverlaySizeBytes { get; init; }

    /// <summary><c>--overlay-dir</c>: absolute host directory that keeps the writable layer across runs.</summary>
    public string? OverlayDirectory { get; init; }

    /// <summary><c>--image</c>: absolute host path of the image to import and run (a tar, gzipped or not, or an OCI layout).</summary>
    public string? ImagePath { get; init; }

    /// <summary><c>--image-ref</c>: which image of a layout or archive that holds several.</summary>
    public string? ImageReference { get; init; }

    /// <summary><c>--image-store</c>: absolute host directory of the image store; null for the library's default.</summary>
    public string? ImageStoreDirectory { get; init; }

    /// <summary>
    /// <c>--entrypoint</c>: the program that replaces the image's entrypoint, "" to clear it;
    /// null when not given. Either way the image's default command is dropped, as docker does.
    /// </summary>
    public string? Entrypoint { get; init; }

    /// <summary>
    /// <c>--bind</c>, <c>-v</c>, <c>--mount</c>, <c>--tmpfs</c> and <c>--mqueue</c>, in command-line
    /// order: a later mount covers an earlier one. Named volumes carry <see cref="VolumeStore.Default"/>;
    /// <see cref="RunCommand.CreateBuilder"/> moves them to <see cref="VolumeStoreDirectory"/> when one is given.
    /// </summary>
    public ImmutableArray<SandboxMount> Mounts { get; init; } = [];

    /// <summary>For each of <see cref="Mounts"/>, the option and value as typed ("-v data:/data"), for error messages.</summary>
    public ImmutableArray<string> MountOptions { get; init; } = [];

    /// <summary><c>--volume-store</c>: absolute host directory of the named volumes; null for the library's default.</summary>
    public string? VolumeStoreDirectory { get; init; }

    /// <summary><c>--hostname</c>.</summary>
    public string? Hostname { get; init; }

    /// <summary><c>--env</c>, with <c>-e NAME</c> already resolved from the caller's environment.</summary>
    public ImmutableSortedDictionary<string, string> Environment { get; init; } =
        ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal);

    /// <summary><c>--workdir</c>.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary><c>--user</c>: uid inside the sandbox.</summary>
    public uint? Uid { get; init; }

    /// <summary><c>--user</c>: gid inside the sandbox.</summary>
    public uint? Gid { get; init; }

    /// <summary><c>--net</c>.</summary>
    public SandboxNetwork? Network { get; init; }

    /// <summary><c>--timeout</c>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary><c>--cpu-time</c>: CPU time of the whole sandbox.</summary>
    public TimeSpan? CpuTimeLimit { get; init; }

    /// <summary><c>--output-limit</c>: bytes each of stdout and stderr may carry before the sandbox is killed.</summary>
    public long? OutputLimitBytes { get; init; }

    /// <summary><c>--report</c>: where to write the JSON result.</summary>
    public string? ReportPath { get; init; }

    /// <summary>
    /// <c>--memory</c>, <c>--cpus</c>, <c>--pids-limit</c> and the other limits, except the block
    /// I/O throttles (see <see cref="DeviceThrottles"/>); null when no limit was given.
    /// </summary>
    public CgroupLimits? Resources { get; init; }

    /// <summary>
    /// <c>--device-read-bps</c> and friends, in command-line order, with the device still a path:
    /// its major:minor is looked up when the sandbox is built, which keeps the parser pure.
    /// </summary>
    public ImmutableArray<DeviceThrottle> DeviceThrottles { get; init; } = [];

    /// <summary>
    /// <c>--cap-add</c> and <c>--cap-drop</c>, in command-line order: the capabilities the command
    /// keeps, starting from none (the library's default) or docker's set (<c>--cap-add DEFAULT</c>).
    /// Null when neither was given.
    /// </summary>
    public ImmutableSortedSet<Capability>? Capabilities { get; init; }

    /// <summary><c>--ulimit NAME=SOFT[:HARD]</c>, the last one per name.</summary>
    public ImmutableSortedDictionary<ResourceLimit, ResourceLimitValue> ResourceLimits { get; init; } =
        ImmutableSortedDictionary<ResourceLimit, ResourceLimitValue>.Empty;

    /// <summary><c>--group-add GID</c>: supplementary groups inside the sandbox.</summary>
    public ImmutableArray<uint> SupplementaryGroups { get; init; } = [];

    /// <summary><c>--umask OCTAL</c>.</summary>
    public int? Umask { get; init; }

    /// <summary><c>--security-opt no-new-privileges[=true|false]</c>: null for the library's default (true).</summary>
    public bool? NoNewPrivileges { get; init; }

    /// <summary><c>--security-opt seccomp=default|unconfined</c>: null for the library's default.</summary>
    public bool? Seccomp { get; init; }

    /// <summary>
    /// <c>--landlock PATH:MODE</c> and <c>--landlock-programs</c>, in order: the Landlock rules; null
    /// when neither was given (no Landlock).
    /// </summary>
    public ImmutableArray<LandlockRule>? LandlockRules { get; init; }

    /// <summary><c>--cgroup</c>: give the sandbox a cgroup (for the report's usage) even without limits.</summary>
    public bool UseCgroup { get; init; }

    /// <summary><c>--cgroup-parent DIR</c>: a cgroup v2 directory to create sandbox cgroups under.</summary>
    public string? CgroupParent { get; init; }

    /// <summary><c>--cgroup-move-to-leaf</c>: on cgroup v2, move this process into a leaf first so controllers can be enabled.</summary>
    public bool CgroupMoveToLeaf { get; init; }
}

/// <summary>One <c>--device-*-bps</c> or <c>--device-*-iops</c> option, before its device is resolved.</summary>
/// <param name="Option">The option as it was typed, for error messages.</param>
/// <param name="Value">The whole value as it was typed, for error messages.</param>
/// <param name="DevicePath">The device node, an absolute path under /dev.</param>
/// <param name="Kind">What is limited.</param>
/// <param name="Limit">Bytes or operations per second.</param>
internal sealed record DeviceThrottle(string Option, string Value, string DevicePath, IoThrottleKind Kind, ulong Limit);
