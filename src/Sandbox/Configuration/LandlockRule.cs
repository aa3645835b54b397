using System.Collections.Immutable;

namespace Sandboxing;

/// <summary>What a <see cref="LandlockRule"/> grants beneath its path.</summary>
[Flags]
public enum LandlockAccess
{
    /// <summary>Read files and list directories.</summary>
    Read = 1,

    /// <summary>Write files; create, remove, rename, link and truncate entries.</summary>
    Write = 2,

    /// <summary>Execute files.</summary>
    Execute = 4,

    /// <summary>Read and execute: a directory of programs or libraries.</summary>
    ReadExecute = Read | Execute,

    /// <summary>Read and write.</summary>
    ReadWrite = Read | Write,

    /// <summary>Everything.</summary>
    All = Read | Write | Execute,
}

/// <summary>Access granted beneath one path inside the sandbox, under Landlock.</summary>
/// <param name="Path">Absolute path inside the sandbox (a directory covers everything beneath it).</param>
/// <param name="Access">What is granted there.</param>
/// <param name="Optional">Whether a missing path is skipped rather than an error.</param>
public sealed record LandlockRule(string Path, LandlockAccess Access, bool Optional = false);

/// <summary>
/// A Landlock ruleset for the command (Linux 5.13+): an extra layer under the mounts, enforced by
/// the kernel for the command and everything it starts. Every filesystem access the kernel can
/// restrict is denied except what <see cref="Rules"/> grant: the program, its libraries and
/// interpreter (read and execute), and whatever it reads or writes must be covered.
/// </summary>
public sealed record SandboxLandlock
{
    /// <summary>The rules; nothing else is reachable.</summary>
    public ImmutableArray<LandlockRule> Rules { get; init; } = [];

    /// <summary>
    /// Whether to run without Landlock on a kernel that has none (or has it disabled); false by
    /// default, so such a run fails with a clear error instead of running less confined.
    /// </summary>
    public bool BestEffort { get; init; }

    /// <summary>
    /// Rules for running the host's programs read-only: read and execute beneath /usr, /bin, /sbin,
    /// /lib, /lib32, /lib64 (read beneath /etc), read-write beneath /tmp and /dev, read beneath
    /// /proc; each optional, since not every system has all of them.
    /// </summary>
    public static ImmutableArray<LandlockRule> HostProgramRules { get; } =
    [
        new("/usr", LandlockAccess.ReadExecute, true), new("/bin", LandlockAccess.ReadExecute, true), new("/sbin", LandlockAccess.ReadExecute, true),
        new("/lib", LandlockAccess.ReadExecute, true), new("/lib32", LandlockAccess.ReadExecute, true), new("/lib64", LandlockAccess.ReadExecute, true),
        new("/etc", LandlockAccess.Read, true), new("/dev", LandlockAccess.ReadWrite, true), new("/proc", LandlockAccess.Read, true),
        new("/tmp", LandlockAccess.ReadWrite, true),
    ];

    /// <inheritdoc />
    public bool Equals(SandboxLandlock? other) => other is not null && BestEffort == other.BestEffort && Rules.SequenceEqual(other.Rules);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(BestEffort, Rules.Length);
}
