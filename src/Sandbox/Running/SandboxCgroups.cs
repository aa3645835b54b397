using Sandboxing.Cgroups;
using Sandboxing.Helper;

namespace Sandboxing;

/// <summary>Creates a run's cgroup and tells the helper how to put the sandbox into it.</summary>
internal static class SandboxCgroups
{
    /// <summary>Prefix of every cgroup this library creates (see <see cref="Sandbox.RemoveStaleCgroups"/>).</summary>
    public const string NamePrefix = "sandbox-";

    public static ISandboxCgroup Create(SandboxConfiguration config, string id)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("cgroups exist only on Linux.");
        try
        {
            return CgroupFactory.Create(CgroupHost.Current, NamePrefix + id, config.Resources ?? new CgroupLimits(), config.CgroupPlacement);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException)
        {
            int errno = (e as CgroupWriteException ?? e.InnerException as CgroupWriteException)?.ErrorNumber ?? 0;
            const string hint = "Limits need a cgroup the caller may create children in: its own cgroup must be writable (root, or delegated to the user: systemd Delegate=yes, or systemd-run --user --scope -p Delegate=yes), and on cgroup v2 its controllers enabled for children.";
            throw new SandboxException($"Sandbox could not create its cgroup: {e.Message} Hint: {hint}", "create the cgroup", errno, hint, e);
        }
    }

    /// <summary>
    /// v1 cgroups are joined by the helper itself before it clones (then it returns to its own
    /// cgroup, the parent directory); the v2 one through clone3(CLONE_INTO_CGROUP).
    /// </summary>
    public static SpecWriter.CgroupJoin JoinFor(ISandboxCgroup cgroup)
    {
        string? unifiedProcs = cgroup.UnifiedDirectory is { } u ? Path.Combine(u, "cgroup.procs") : null;
        var join = cgroup.ProcsFiles.Where(p => p != unifiedProcs).ToList();
        var back = join.Select(p => Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(p))!, "cgroup.procs")).ToList();
        return new SpecWriter.CgroupJoin(join, back, cgroup.UnifiedDirectory);
    }
}
