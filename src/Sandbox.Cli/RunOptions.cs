using System.Collections.Immutable;

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
}
