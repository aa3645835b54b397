namespace Sandboxing.Cgroups;

/// <summary>
/// One cgroup made for one sandbox: a directory in each hierarchy that serves a controller it
/// uses (v1), or one directory (v2), or both (hybrid: v1 controllers, unified for kill and
/// freeze). The two backends (<c>V1Cgroup</c>, <c>V2Cgroup</c>) implement it, one file per
/// concern; <see cref="CgroupFactory"/> picks and composes them for the host.
/// </summary>
public interface ISandboxCgroup
{
    /// <summary>The cgroup's name: the last path component in every hierarchy.</summary>
    string Name { get; }

    /// <summary>
    /// The cgroup.procs files a process must be written into to join this cgroup in every
    /// hierarchy (writing "0" moves the writer itself). Before the sandbox's first process runs.
    /// </summary>
    IReadOnlyList<string> ProcsFiles { get; }

    /// <summary>The cgroup's directory in the unified (v2) hierarchy, for clone3(CLONE_INTO_CGROUP); <see langword="null"/> without one.</summary>
    string? UnifiedDirectory { get; }

    /// <summary>Writes every limit (validated: a controller the host lacks is an error naming it).</summary>
    void Apply(CgroupLimits limits);

    /// <summary>What the cgroup has consumed so far.</summary>
    CgroupStats GetStats();

    /// <summary>Limit events so far (OOM kills, memory and pids limit hits).</summary>
    CgroupEvents GetEvents();

    /// <summary>Host pids of every process in the cgroup.</summary>
    IReadOnlyList<int> GetProcessIds();

    /// <summary>Stops every process in the cgroup and returns once all are frozen.</summary>
    Task FreezeAsync(CancellationToken cancellationToken = default);

    /// <summary>Lets every frozen process run again.</summary>
    Task ThawAsync(CancellationToken cancellationToken = default);

    /// <summary>SIGKILLs every process in the cgroup (cgroup.kill; or freeze, kill, thaw on v1).</summary>
    void Kill();

    /// <summary>
    /// Kills whatever is left, waits until the cgroup is empty, and removes its directories.
    /// Retries while the kernel still reports it busy; nothing is left behind.
    /// </summary>
    Task DestroyAsync(CancellationToken cancellationToken = default);
}
