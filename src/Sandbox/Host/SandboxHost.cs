using System.Diagnostics;
using Sandboxing.Host;

namespace Sandboxing;

/// <summary>
/// What the host supports: <see cref="Probe"/> reports every feature a sandbox may need, each
/// with the reason and a hint, without changing anything on the host.
/// </summary>
public static class SandboxHost
{
    /// <summary>
    /// The oldest kernel any sandbox runs on: Linux 5.4 (clone3 and pidfd_open, 5.3;
    /// waitid(P_PIDFD), 5.4). Only a sandbox without a mount namespace gets by with it.
    /// </summary>
    public static Version MinimumKernel { get; } = new(5, 4);

    /// <summary>
    /// The oldest kernel a sandbox with a mount namespace (the default) runs on: Linux 5.12, for
    /// mount_setattr (the host's root is made read-only on a detached copy) and openat2 (5.6).
    /// </summary>
    public static Version MinimumKernelWithMountNamespace { get; } = new(5, 12);

    /// <summary>
    /// Reports what this host supports, from procfs, sysfs and system calls that change nothing,
    /// plus one <c>mkdir</c> and <c>rmdir</c> of a child cgroup per hierarchy under this process's
    /// own cgroup (the only faithful delegation test). Spawns nothing; takes a few milliseconds.
    /// </summary>
    /// <returns>The report.</returns>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static HostReport Probe()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException(HostRequirements.Problem(new SandboxConfiguration()));
        return HostProbe.Run();
    }

    /// <summary>
    /// <see cref="Probe"/>, then one real attempt where only an attempt tells: a tiny sandbox
    /// with a user namespace runs <c>true</c>, which shows whether this process may create user
    /// namespaces despite what the sysctls say (a container runtime's seccomp filter, an LSM). Its
    /// outcome replaces the user-namespace feature for this caller: privileged for root,
    /// unprivileged otherwise.
    /// </summary>
    /// <param name="cancellationToken">Abandons the attempt (the sandbox is killed).</param>
    /// <returns>The report.</returns>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static async Task<HostReport> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var report = Probe();
        string name = report.EffectiveUid == 0 ? "userns.privileged" : "userns.unprivileged";
        var before = report.EffectiveUid == 0 ? report.PrivilegedUserNamespaces : report.UnprivilegedUserNamespaces;
        if (!before.Supported || !report.Helper.Supported)
            return report;
        var clock = Stopwatch.StartNew();
        try
        {
            var sandbox = new SandboxBuilder()
                .WithNamespaces(SandboxNamespaces.User)
                .WithoutDefaultMounts()
                .WithTimeout(TimeSpan.FromSeconds(10))
                .Build();
            var result = await sandbox.RunAsync(["true"], cancellationToken).ConfigureAwait(false);
            return report.WithUserNamespaceTrial(before with
            {
                Reason = $"{before.Reason} Confirmed: a sandbox with a user namespace ran in {clock.ElapsedMilliseconds} ms ({result.Verdict}).",
            });
        }
        catch (SandboxException e) when (e.Step is "find the command" or "execute the command")
        {
            // The namespace existed: only the command was missing.
            return report.WithUserNamespaceTrial(before with { Reason = $"{before.Reason} Confirmed: a sandbox with a user namespace was created." });
        }
        catch (Exception e) when (e is SandboxException or PlatformNotSupportedException)
        {
            return report.WithUserNamespaceTrial(new HostFeature(name, false,
                $"The sysctls allow it, but a real attempt failed: {e.Message.Split(" Hint:")[0]}",
                (e as SandboxException)?.Hint ?? "See docs/host-support.md."));
        }
    }
}
