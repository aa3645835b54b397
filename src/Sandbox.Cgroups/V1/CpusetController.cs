using System.Text.RegularExpressions;

namespace Sandboxing.Cgroups;

/// <summary>
/// The v1 cpuset controller (Documentation/admin-guide/cgroup-v1/cpusets.rst): the CPUs and
/// memory nodes a cgroup's processes may use.
/// </summary>
/// <remarks>
/// A new v1 cpuset cgroup starts with empty <c>cpuset.cpus</c> and <c>cpuset.mems</c> (unless
/// the parent has <c>cgroup.clone_children</c> set), and attaching a process to it then fails
/// with ENOSPC. So before anything joins, each value is either set from the limits or copied
/// from the parent (runc's cpuset ensureParent does the same).
/// </remarks>
internal sealed partial class CpusetController(string directory, ICgroupFileSystem fileSystem) : V1Controller(directory, fileSystem)
{
    public const string ControllerName = "cpuset";
    private const string Cpus = "cpuset.cpus";
    private const string Mems = "cpuset.mems";

    public override string Name => ControllerName;

    public static string? Needed(CgroupLimits limits) =>
        limits.CpusetCpus is not null ? nameof(CgroupLimits.CpusetCpus)
        : limits.CpusetMems is not null ? nameof(CgroupLimits.CpusetMems)
        : null;

    public static void Validate(CgroupLimits limits)
    {
        if (limits.CpusetCpus is string cpus && !ListSyntax().IsMatch(cpus))
            throw new ArgumentException($"{nameof(CgroupLimits.CpusetCpus)} `{cpus}` is not a CPU list such as \"0-3,6\".", nameof(limits));
        if (limits.CpusetMems is string mems && !ListSyntax().IsMatch(mems))
            throw new ArgumentException($"{nameof(CgroupLimits.CpusetMems)} `{mems}` is not a memory node list such as \"0\" or \"0-1\".", nameof(limits));
    }

    /// <summary>
    /// Makes the new cgroup usable: copies the parent's <c>cpuset.cpus</c> and <c>cpuset.mems</c>
    /// into whichever of them is empty and not about to be set by <paramref name="limits"/>.
    /// </summary>
    public void InitializeFromParent(string parentDirectory, CgroupLimits limits)
    {
        if (limits.CpusetCpus is null)
            CopyFromParent(parentDirectory, Cpus);
        if (limits.CpusetMems is null)
            CopyFromParent(parentDirectory, Mems);
    }

    public void Apply(CgroupLimits limits)
    {
        // Memory nodes first: with the CPUs already set an empty mems would still block attaching,
        // and the order does not matter to the kernel otherwise.
        if (limits.CpusetMems is string mems)
            Write(Mems, mems);
        if (limits.CpusetCpus is string cpus)
            Write(Cpus, cpus);
    }

    private void CopyFromParent(string parentDirectory, string file)
    {
        if (Read(file).Trim().Length > 0)
            return; // cgroup.clone_children already copied it.
        string parentFile = parentDirectory + "/" + file;
        string value = FileSystem.ReadAllText(parentFile).Trim();
        if (value.Length == 0)
        {
            throw new InvalidOperationException(
                $"{parentFile} is empty, so the new cpuset cgroup cannot inherit it: no process could join. Set the parent's {file}, or pass the value in the limits.");
        }
        Write(file, value);
    }

    // "0", "0-3", "0-3,6,8-9" (the kernel also accepts spaces around items; keep callers to the plain form).
    [GeneratedRegex(@"^\d+(-\d+)?(,\d+(-\d+)?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex ListSyntax();
}
