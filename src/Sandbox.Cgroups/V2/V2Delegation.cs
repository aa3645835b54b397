using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>
/// Makes controllers available to a new child of a cgroup v2 directory: enables them in
/// <c>cgroup.subtree_control</c> of that directory and, when needed, of each ancestor up to the
/// caller's own cgroup (the top of what was delegated to it). Handles the no-internal-processes
/// rule (a non-root cgroup with processes cannot enable domain controllers for children: EBUSY),
/// optionally by moving the calling process, and only it, into a leaf.
/// </summary>
internal static class V2Delegation
{
    /// <summary>The leaf the caller moves itself into when <c>moveCallerToLeaf</c> is set.</summary>
    public const string CallerLeafName = "sandbox-host";

    private const int EBUSY = 16;
    private const int EEXIST = 17;
    private const int EACCES = 13;
    private const int EPERM = 1;
    private const int EROFS = 30;

    /// <summary>The kernel's order of the v2 controllers (as cgroup.controllers lists them).</summary>
    private static readonly string[] KernelOrder = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"];

    /// <summary>Controllers worth enabling without a limit: memory and pids give the stats and the OOM / pids events.</summary>
    private static readonly string[] WantedForStats = ["memory", "pids"];

    /// <summary>
    /// Enables <paramref name="required"/> (controller → the docker option that needs it) and, where
    /// available, memory and pids, for children of <paramref name="parent"/>.
    /// </summary>
    /// <exception cref="CgroupDelegationException">A required controller is not offered, or cannot be enabled.</exception>
    public static void EnableControllers(
        UnifiedCgroupHierarchy hierarchy, string parent, IReadOnlyDictionary<string, string> required, bool moveCallerToLeaf, ICgroupFileSystem fs)
    {
        // The caller may manage its own cgroup and below (its delegation root). A parent elsewhere
        // in the hierarchy is taken as prepared by whoever chose it: only it is touched.
        string top = CgroupPaths.IsAncestorOrSelf(hierarchy.Directory, parent) ? hierarchy.Directory : parent;
        var optional = new HashSet<string>(WantedForStats, StringComparer.Ordinal);
        foreach (string level in LevelsFrom(top, parent))
        {
            var available = ReadWords(fs, level + "/cgroup.controllers");
            var missing = required.Keys.Where(c => !available.Contains(c)).ToArray();
            if (missing.Length > 0)
                throw ControllerMissing(level, missing, required, available);
            optional.IntersectWith(available);

            var enabled = ReadWords(fs, level + "/cgroup.subtree_control");
            var wanted = Ordered(required.Keys.Concat(optional)).Where(c => !enabled.Contains(c)).ToArray();
            if (wanted.Length == 0)
                continue;
            if (!TryEnable(level, wanted, wanted.Any(required.ContainsKey), moveCallerToLeaf, fs))
                optional.Clear(); // Only nice-to-have controllers were refused: go on without them.
        }
    }

    /// <summary>Controllers in the kernel's order (unknown ones last, alphabetically).</summary>
    public static IEnumerable<string> Ordered(IEnumerable<string> controllers) =>
        controllers.Distinct(StringComparer.Ordinal)
            .OrderBy(c => Array.IndexOf(KernelOrder, c) is int i and >= 0 ? i : int.MaxValue)
            .ThenBy(c => c, StringComparer.Ordinal);

    /// <summary>The whitespace-separated words of a file; empty when it is missing.</summary>
    public static HashSet<string> ReadWords(ICgroupFileSystem fs, string path)
    {
        try
        {
            return new HashSet<string>(fs.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }
    }

    /// <summary>The pids listed in a cgroup.procs file; empty when it is missing.</summary>
    public static IReadOnlyList<int> ReadPids(ICgroupFileSystem fs, string procsFile)
    {
        string text;
        try
        {
            text = fs.ReadAllText(procsFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
        var pids = new List<int>();
        foreach (string word in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                pids.Add(pid);
        }
        return pids;
    }

    /// <summary>
    /// The help every delegation error ends with: what delegation is, the three usual ways to get
    /// it, and the opt-in.
    /// </summary>
    public static string Help(string cgroup) =>
        "Limits need a delegated cgroup: a cgroup subtree this process may manage by itself, whose cgroup has no "
        + "processes of its own while it gives controllers to child cgroups. Ways to get one: run the application as a "
        + "systemd service with `Delegate=yes` in its unit; or start it with `systemd-run --user --scope -p Delegate=yes <app>` "
        + "(as root, without --user); or run it in a container with its own cgroup namespace (docker/podman "
        + "`--cgroupns=private`, the default on cgroup v2) where it is the only process in its cgroup. "
        + $"Alternatively opt in with CgroupPlacement.MoveCallerToLeaf (moveCallerToLeaf): Sandbox then moves this process (pid {Environment.ProcessId}), and only "
        + $"it, into {cgroup}/{CallerLeafName} before enabling the controllers; it never moves processes it did not start.";

    private static IEnumerable<string> LevelsFrom(string top, string parent)
    {
        yield return top;
        string rest = CgroupPaths.RelativeTo(parent, top)!;
        string current = top;
        foreach (string part in rest.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = CgroupPaths.Join(current, part);
            yield return current;
        }
    }

    /// <summary>
    /// Writes "+a +b" to the level's subtree_control in one write. <see langword="false"/> when
    /// the kernel refused only because of the no-internal-processes rule and nothing required
    /// was asked for.
    /// </summary>
    private static bool TryEnable(string level, string[] controllers, bool anyRequired, bool moveCallerToLeaf, ICgroupFileSystem fs)
    {
        string file = level + "/cgroup.subtree_control";
        string content = string.Join(' ', controllers.Select(c => "+" + c));
        try
        {
            fs.WriteControlFile(file, content);
            return true;
        }
        catch (CgroupWriteException e) when (e.ErrorNumber == EBUSY)
        {
            var pids = ReadPids(fs, level + "/cgroup.procs");
            if (!moveCallerToLeaf)
            {
                if (!anyRequired)
                    return false;
                throw InternalProcesses(level, controllers, pids, e);
            }
            int self = Environment.ProcessId;
            var others = pids.Where(p => p != self).ToArray();
            if (others.Length > 0)
                throw OthersPresent(level, controllers, others, e);
            if (pids.Count == 0)
                throw InternalProcesses(level, controllers, pids, e); // EBUSY for another reason (threads, a threaded child).
            MoveCallerToLeaf(level, controllers, fs);
        }
        catch (CgroupWriteException e) when (e.ErrorNumber is EACCES or EPERM or EROFS)
        {
            if (!anyRequired)
                return false;
            throw NotDelegated(level, controllers, e);
        }

        try
        {
            fs.WriteControlFile(file, content);
            return true;
        }
        catch (CgroupWriteException e)
        {
            throw new CgroupDelegationException(
                $"Cannot enable the {Names(controllers)} controller(s) for child cgroups of {level} even after moving this process "
                + $"(pid {Environment.ProcessId}) into {level}/{CallerLeafName}: {e.Message}. " + Help(level),
                level, controllers, e);
        }
    }

    /// <summary>Moves the calling process (its pid only, never another) into <c>level/sandbox-host</c>, made if needed.</summary>
    private static void MoveCallerToLeaf(string level, string[] controllers, ICgroupFileSystem fs)
    {
        string leaf = level + "/" + CallerLeafName;
        try
        {
            if (!fs.DirectoryExists(leaf))
                fs.CreateDirectory(leaf);
        }
        catch (CgroupWriteException e) when (e.ErrorNumber == EEXIST)
        {
            // Made by someone else in between (another thread of ours): reuse it.
        }
        catch (CgroupWriteException e)
        {
            throw new CgroupDelegationException(
                $"moveCallerToLeaf: cannot create {leaf} to move this process into: {e.Message}. " + Help(level), level, controllers, e);
        }
        try
        {
            fs.WriteControlFile(leaf + "/cgroup.procs", Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        }
        catch (CgroupWriteException e)
        {
            throw new CgroupDelegationException(
                $"moveCallerToLeaf: cannot move this process (pid {Environment.ProcessId}) into {leaf}: {e.Message}. " + Help(level),
                level, controllers, e);
        }
    }

    private static CgroupDelegationException ControllerMissing(
        string level, string[] missing, IReadOnlyDictionary<string, string> required, HashSet<string> available)
    {
        string needs = string.Join("; ", missing.Select(c => $"{c} for {required[c]}"));
        string offered = available.Count == 0 ? "nothing" : string.Join(' ', Ordered(available));
        return new CgroupDelegationException(
            $"The {Names(missing)} controller(s) ({needs}) are not available in cgroup {level}: its cgroup.controllers lists {offered}. "
            + "A controller reaches a cgroup only when its parent enables it in cgroup.subtree_control, so whoever manages the "
            + "cgroup above must enable (delegate) it: on systemd, name it in the unit's `Delegate=` (`Delegate=yes` delegates all); "
            + "on a hybrid host, a controller mounted on cgroup v1 is never available on v2; and the kernel may lack it. "
            + "Leave the limit out to run without it. " + Help(level),
            level, missing);
    }

    private static CgroupDelegationException InternalProcesses(string level, string[] controllers, IReadOnlyList<int> pids, CgroupWriteException e) =>
        new($"Cannot enable the {Names(controllers)} controller(s) for child cgroups of {level}: the kernel refused (EBUSY) because "
            + $"that cgroup has processes of its own ({Describe(pids)}), and cgroup v2's no-internal-processes rule lets a cgroup "
            + "either hold processes or enable controllers for its children, not both. " + Help(level),
            level, controllers, e);

    private static CgroupDelegationException OthersPresent(string level, string[] controllers, int[] others, CgroupWriteException e) =>
        new($"Cannot enable the {Names(controllers)} controller(s) for child cgroups of {level}: that cgroup has processes of its own "
            + $"(no-internal-processes rule, EBUSY), and besides this process (pid {Environment.ProcessId}) they include processes this "
            + $"application did not start ({Describe(others)}). MoveCallerToLeaf moves only this process, never others, so it cannot "
            + "empty that cgroup. " + Help(level),
            level, controllers, e);

    private static CgroupDelegationException NotDelegated(string level, string[] controllers, CgroupWriteException e) =>
        new($"Cannot enable the {Names(controllers)} controller(s) for child cgroups of {level}: {e.Message}. The cgroup is not "
            + "delegated to this user, or the cgroup filesystem is mounted read-only (as container runtimes do without their own "
            + "cgroup namespace). " + Help(level),
            level, controllers, e);

    private static string Names(IEnumerable<string> controllers) => string.Join(", ", controllers);

    private static string Describe(IReadOnlyList<int> pids) =>
        pids.Count == 0 ? "none listed in cgroup.procs; threads or a threaded child may hold it"
        : pids.Count <= 10 ? $"pids {string.Join(", ", pids)}"
        : $"{pids.Count} processes: pids {string.Join(", ", pids.Take(10))}, ...";
}
