using Sandboxing.Cgroups;
using Sandboxing.Helper;

namespace Sandboxing;

/// <summary>Creates a run's cgroup and tells the helper how to put the sandbox into it.</summary>
internal static class SandboxCgroups
{
    /// <summary>Prefix of every cgroup this library creates (see <see cref="Sandbox.RemoveStaleCgroups(Cgroups.CgroupPlacement?)"/>).</summary>
    public const string NamePrefix = "sandbox-";

    private const int EPERM = 1, EACCES = 13, EROFS = 30;

    public static ISandboxCgroup Create(SandboxConfiguration config, string id)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("cgroups exist only on Linux.");
        try
        {
            var limits = config.Resources ?? new CgroupLimits();
            // The sandbox's init lives in the cgroup too: the limit is the command's to use.
            if (limits.PidsMax is { } pids)
                limits = limits with { PidsMax = pids + 1 };
            return CgroupFactory.Create(CgroupHost.Current, NamePrefix + id, limits, config.CgroupPlacement);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException)
        {
            int errno = (e as CgroupWriteException ?? e.InnerException as CgroupWriteException)?.ErrorNumber ?? 0;
            // The delegation hint fits permission errors only; other errors explain themselves
            // (and cgroup v2's delegation errors carry their own, longer help).
            string? hint = errno is EPERM or EACCES or EROFS
                ? "Limits need a cgroup the caller may create children in: its own cgroup must be writable (root, or delegated to the user: systemd Delegate=yes, or systemd-run --user --scope -p Delegate=yes), and on cgroup v2 its controllers enabled for children."
                : null;
            throw new SandboxException($"Sandbox could not create its cgroup: {e.Message}{(hint is null ? "" : " Hint: " + hint)}", "create the cgroup", errno, hint, e);
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
