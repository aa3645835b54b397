using System.Runtime.InteropServices;

namespace Sandboxing.Host;

/// <summary>
/// Refuses, before anything is created, to run where the helper cannot: another operating
/// system, another architecture, or a kernel that lacks a call the configuration needs.
/// </summary>
/// <remarks>
/// <para>
/// The minimum is per configuration, because the helper's calls are. Every sandbox needs
/// <c>clone3</c> and <c>pidfd_open</c> (Linux 5.3) and <c>waitid(P_PIDFD)</c> (5.4): that is
/// <see cref="SandboxHost.MinimumKernel"/>. A mount namespace (the default) adds
/// <c>openat2</c> (5.6) and <c>mount_setattr</c> (5.12), so the default sandbox needs 5.12
/// (<see cref="SandboxHost.MinimumKernelWithMountNamespace"/>); each namespace needs its kernel
/// support (the time namespace: 5.6 and CONFIG_TIME_NS). A cgroup on a host with a cgroup v2
/// hierarchy (pure v2 or hybrid) is joined with <c>clone3(CLONE_INTO_CGROUP)</c>, 5.7.
/// </para>
/// <para>
/// The facts come from <see cref="KernelFacts"/>, found once per process; the check itself is
/// a few comparisons, so it runs on every <see cref="SandboxBuilder.Build"/>.
/// </para>
/// </remarks>
internal static class HostRequirements
{
    /// <summary>Throws <see cref="PlatformNotSupportedException"/> when <paramref name="config"/> cannot run on this host.</summary>
    public static void EnsureSupported(SandboxConfiguration config)
    {
        if (Problem(config) is { } problem)
            throw new PlatformNotSupportedException(problem);
    }

    /// <summary>Why <paramref name="config"/> cannot run here, or <see langword="null"/> when it can.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="facts">The kernel's facts; the running kernel's when <see langword="null"/> (tests pass others).</param>
    public static string? Problem(SandboxConfiguration config, KernelFacts? facts = null)
    {
        if (!OperatingSystem.IsLinux())
            return $"Sandbox runs processes in Linux namespaces and needs Linux {SandboxHost.MinimumKernel} or newer; this is {RuntimeInformation.OSDescription}. "
                + "Hint: run it on Linux (a VM, WSL 2, or a Linux container with the privileges described in docs/host-support.md).";
        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
            return $"Sandbox supports x86-64 and arm64 only (its seccomp tables and helper are built for them); this process is {RuntimeInformation.ProcessArchitecture}.";

        var k = facts ?? KernelFacts.Current;
        const string Upgrade = "Hint: run a newer kernel, or, in a container, allow the call in its seccomp profile (docs/host-support.md).";
        if (!k.HasClone3)
            return $"Sandbox cannot run here: {k.WhyMissing("clone3", 5, 3)}, and the helper creates every sandbox with it. {Upgrade}";
        if (!k.HasPidfdOpen)
            return $"Sandbox cannot run here: {k.WhyMissing("pidfd_open", 5, 3)}, which the library watches its helper with. {Upgrade}";
        if (!k.HasWaitidPidfd)
            return $"Sandbox cannot run here: {k.Describe()} lacks waitid(P_PIDFD) (Linux 5.4+), which reaps the sandbox. {Upgrade}";

        var missing = config.Namespaces & ~k.Namespaces;
        foreach (var (flag, procName, sysctl, kernelConfig, since) in KernelFacts.NamespaceKinds)
        {
            if ((missing & flag) == 0)
                continue;
            string why = (k.NamespacesDisabledBySysctl & flag) != 0
                ? $"the sysctl user.max_{sysctl}_namespaces is 0"
                : $"{k.Describe()} has no /proc/self/ns/{procName} (Linux {since}+, {kernelConfig})";
            string hint = (k.NamespacesDisabledBySysctl & flag) != 0
                ? $"Hint: raise it (sysctl -w user.max_{sysctl}_namespaces=15000), or run without it: WithoutNamespaces(SandboxNamespaces.{flag})."
                : $"Hint: run without it: WithoutNamespaces(SandboxNamespaces.{flag}) (CLI: see sandbox run --help).";
            return $"Sandbox setting 'Namespaces' asks for a {flag} namespace, which this host cannot create: {why}. {hint}";
        }

        if (config.Has(SandboxNamespaces.Mount))
        {
            if (!k.HasOpenat2)
                return $"Sandbox setting 'Namespaces' includes Mount, which needs openat2 (Linux 5.6) to resolve mount targets inside the root: {k.WhyMissing("openat2", 5, 6)}. "
                    + $"Hint: run a kernel of Linux {SandboxHost.MinimumKernelWithMountNamespace} or newer, or run without a mount namespace: WithoutNamespaces(SandboxNamespaces.Mount) and WithoutDefaultMounts().";
            if (!k.HasMountSetattr)
                return $"Sandbox setting 'Namespaces' includes Mount, which needs mount_setattr (Linux 5.12) to make the host's root read-only: {k.WhyMissing("mount_setattr", 5, 12)}. "
                    + $"Hint: run a kernel of Linux {SandboxHost.MinimumKernelWithMountNamespace} or newer, or run without a mount namespace: WithoutNamespaces(SandboxNamespaces.Mount) and WithoutDefaultMounts().";
        }
        if (config.HasCgroup && !k.AtLeast(5, 7) && Cgroups.CgroupHost.Current.Unified is not null)
            return $"Sandbox settings 'Resources'/'UseCgroup' give the sandbox a cgroup, which the helper joins through clone3(CLONE_INTO_CGROUP) (Linux 5.7) on this host's cgroup v2 hierarchy; {k.Describe()} is older. "
                + "Hint: run a newer kernel, or run without limits and WithCgroup().";
        return null;
    }
}
