using Sandboxing.Cgroups;

namespace Sandboxing;

/// <summary>
/// One thing a sandbox may need from the host, as <see cref="SandboxHost.Probe"/> found it:
/// whether it is there, what was observed, and what to do when it is not.
/// </summary>
/// <param name="Name">A stable identifier, such as <c>userns.unprivileged</c> or <c>ns.time</c>; the CLI's <c>probe --json</c> prints it.</param>
/// <param name="Supported">Whether a sandbox can use it on this host, for this process.</param>
/// <param name="Reason">What was observed (the sysctl, file or system call that decided), in one sentence.</param>
/// <param name="Hint">What is likely to make it work, when it does not; <see langword="null"/> when supported or when nothing can be done.</param>
public sealed record HostFeature(string Name, bool Supported, string Reason, string? Hint = null)
{
    /// <summary>"name: yes|no (reason)", for logs.</summary>
    /// <returns>The one-line description.</returns>
    public override string ToString() => $"{Name}: {(Supported ? "yes" : "no")} ({Reason}){(Hint is null ? "" : " Hint: " + Hint)}";
}

/// <summary>
/// A cgroup controller as the host offers it to this process: on which cgroup version, and
/// whether a sandbox's cgroup made under this process's own cgroup gets it.
/// </summary>
/// <param name="Name">The kernel's name for it: <c>memory</c>, <c>cpu</c>, <c>pids</c>, <c>blkio</c> (v1) or <c>io</c> (v2), ...</param>
/// <param name="Version">The hierarchy that serves it.</param>
/// <param name="Directory">This process's own cgroup directory in that hierarchy, where sandbox cgroups are made by default.</param>
/// <param name="CanDelegate">
/// Whether this process can create a child cgroup there that has the controller: the
/// directory accepted a real <c>mkdir</c> (removed at once), and on cgroup v2 the controller is
/// or can be enabled for children.
/// </param>
/// <param name="Reason">What was observed.</param>
/// <param name="Hint">What is likely to make it work, when it does not.</param>
public sealed record HostCgroupController(string Name, CgroupVersion Version, string Directory, bool CanDelegate, string Reason, string? Hint = null);
