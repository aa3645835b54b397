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

    /// <summary>The program and its arguments.</summary>
    public ImmutableArray<string> Command { get; init; } = [];

    /// <summary><c>--rootfs</c>: absolute host path of the root filesystem; null for the host's, read-only.</summary>
    public string? RootFilesystem { get; init; }

    /// <summary><c>--read-only</c>: mount <see cref="RootFilesystem"/> read-only (the host root always is).</summary>
    public bool ReadOnlyRoot { get; init; }

    /// <summary><c>--bind</c> and <c>--tmpfs</c>, in command-line order: a later mount covers an earlier one.</summary>
    public ImmutableArray<SandboxMount> Mounts { get; init; } = [];

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
