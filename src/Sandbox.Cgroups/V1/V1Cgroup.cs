using System.Diagnostics;
using System.Text;

namespace Sandboxing.Cgroups;

/// <summary>
/// A sandbox's cgroup on a cgroup v1 host: one directory named <see cref="Name"/> under the
/// caller's own cgroup in each v1 hierarchy serving a controller it uses, with one class per
/// controller; on a hybrid host also one in the unified hierarchy, used for cgroup.kill and
/// cgroup.freeze (the v1 freezer is the fallback).
/// </summary>
/// <remarks>
/// memory, cpu, cpuacct, pids and freezer are always joined when the host has them (for limits
/// set later, statistics, freezing and killing); cpuset and blkio only when the limits given to
/// <see cref="Create"/> use them, since a cpuset cgroup must be filled in before anything joins
/// and a blkio one has nothing to report without throttles. Nothing is made outside the caller's
/// own cgroups, and no process is moved: the caller writes pids into <see cref="ProcsFiles"/>.
/// </remarks>
internal sealed class V1Cgroup : ISandboxCgroup
{
    /// <summary>How long a freeze may take before it is undone and reported (FREEZING is transitional).</summary>
    internal TimeSpan FreezeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long <see cref="DestroyAsync"/> waits for killed processes to leave.</summary>
    internal TimeSpan EmptyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    // rmdir of a cgroup whose last task has just exited can still fail with EBUSY for a moment
    // while the kernel drops its references; a cgroup with live tasks stays busy.
    private const int RemoveAttempts = 20;
    private const int KillRounds = 5;
    // Kill does not wait the whole freeze bound: after this it signals without the freezer.
    private static readonly TimeSpan KillFreezeTimeout = TimeSpan.FromSeconds(2);

    private const int ENOENT = 2;
    private const int EACCES = 13;
    private const int EPERM = 1;
    private const int EEXIST = 17;
    private const int EBUSY = 16;
    private const int EROFS = 30;

    /// <summary>Every controller this backend knows, in the order its directories are made and its limits written.</summary>
    private static readonly string[] ControllerOrder =
    [
        MemoryController.ControllerName, CpuController.ControllerName, CpuacctController.ControllerName, CpusetController.ControllerName,
        PidsController.ControllerName, FreezerController.ControllerName, BlkioController.ControllerName,
    ];

    /// <summary>Joined whenever the host has them, whatever the limits.</summary>
    private static readonly HashSet<string> AlwaysUsed = new(StringComparer.Ordinal)
    {
        MemoryController.ControllerName, CpuController.ControllerName, CpuacctController.ControllerName,
        PidsController.ControllerName, FreezerController.ControllerName,
    };

    private readonly ICgroupFileSystem _fileSystem;
    private readonly List<string> _directories; // not yet removed, in creation order
    private readonly MemoryController? _memory;
    private readonly CpuController? _cpu;
    private readonly CpuacctController? _cpuacct;
    private readonly CpusetController? _cpuset;
    private readonly PidsController? _pids;
    private readonly FreezerController? _freezer;
    private readonly BlkioController? _blkio;
    private readonly UnifiedControl? _unified;
    private readonly SemaphoreSlim _destroyLock = new(1, 1);
    private volatile bool _destroyed;

    private V1Cgroup(string name, ICgroupFileSystem fileSystem, List<string> directories, IReadOnlyList<V1Controller> controllers, UnifiedControl? unified)
    {
        Name = name;
        _fileSystem = fileSystem;
        _directories = directories;
        _memory = controllers.OfType<MemoryController>().SingleOrDefault();
        _cpu = controllers.OfType<CpuController>().SingleOrDefault();
        _cpuacct = controllers.OfType<CpuacctController>().SingleOrDefault();
        _cpuset = controllers.OfType<CpusetController>().SingleOrDefault();
        _pids = controllers.OfType<PidsController>().SingleOrDefault();
        _freezer = controllers.OfType<FreezerController>().SingleOrDefault();
        _blkio = controllers.OfType<BlkioController>().SingleOrDefault();
        _unified = unified;
        ProcsFiles = directories.Select(d => d + "/cgroup.procs").ToArray().AsReadOnly();
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ProcsFiles { get; }

    /// <inheritdoc/>
    public string? UnifiedDirectory => _unified?.Directory;

    /// <summary>
    /// Makes <c>&lt;caller's cgroup&gt;/<paramref name="name"/></c> in each v1 hierarchy it uses
    /// (and in <paramref name="unified"/> when given), fills in cpuset, and writes
    /// <paramref name="limits"/>. On any failure everything made so far is removed again.
    /// </summary>
    /// <exception cref="ArgumentException">The name or a limit is invalid.</exception>
    /// <exception cref="InvalidOperationException">A limit needs a controller the host lacks, or a parent directory is not a cgroup.</exception>
    /// <exception cref="CgroupWriteException">mkdir or a control file write failed.</exception>
    public static V1Cgroup Create(CgroupHost host, string name, CgroupLimits limits, UnifiedCgroupHierarchy? unified, ICgroupFileSystem fs)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(fs);
        ValidateName(name, nameof(name));
        Validate(limits);
        foreach (var (controller, limit) in Needed(limits))
        {
            if (FindV1(host, controller) is null)
                throw MissingController(host, controller, limit);
        }

        var used = ControllerOrder
            .Where(c => (AlwaysUsed.Contains(c) && FindV1(host, c) is not null) || Needed(limits).Any(n => n.Controller == c))
            .ToArray();

        var created = new List<string>();
        try
        {
            // One directory per hierarchy: controllers mounted together (cpu,cpuacct) share it.
            var directories = new Dictionary<CgroupHierarchy, string>();
            foreach (string controller in used)
            {
                var hierarchy = FindV1(host, controller)!;
                if (!directories.ContainsKey(hierarchy))
                    directories[hierarchy] = MakeCgroup(fs, hierarchy, name, CgroupFilesystem.CgroupV1Magic, created);
            }

            var controllers = used.Select(c => NewController(c, directories[FindV1(host, c)!], fs)).ToArray();
            // Before anything can join: an empty cpuset admits no process.
            controllers.OfType<CpusetController>().SingleOrDefault()?.InitializeFromParent(FindV1(host, CpusetController.ControllerName)!.Directory, limits);

            UnifiedControl? unifiedControl = unified is null
                ? null
                : new UnifiedControl(MakeCgroup(fs, unified, name, CgroupFilesystem.CgroupV2Magic, created), fs);

            var cgroup = new V1Cgroup(name, fs, [.. created], controllers, unifiedControl);
            cgroup.ApplyValidated(limits);
            return cgroup;
        }
        catch (Exception e) when (created.Count > 0)
        {
            var failures = new List<string>();
            for (int i = created.Count - 1; i >= 0; i--)
            {
                if (RemoveTreeAsync(fs, created[i], RemoveAttempts, CancellationToken.None).GetAwaiter().GetResult() is string failure)
                    failures.Add(failure);
            }
            if (failures.Count > 0)
                throw new IOException($"{e.Message} And removing the cgroups made so far failed: {string.Join("; ", failures)}", e);
            throw;
        }
    }

    /// <summary>
    /// Removes leftover cgroups whose name starts with <paramref name="prefix"/> under the
    /// caller's own cgroup in every v1 hierarchy with controllers (and the unified one on a hybrid
    /// host), such as those of a crashed process. Only EMPTY leftovers are removed: a cgroup with
    /// any process in it may be another process's live sandbox (on v1 most hierarchies are shared
    /// at their root), and its processes are never killed here.
    /// </summary>
    /// <returns>How many leftover cgroups (names, each removed from every hierarchy) were removed.</returns>
    /// <exception cref="AggregateException">Some leftovers could not be removed (the others were).</exception>
    public static int RemoveStale(CgroupHost host, string prefix, ICgroupFileSystem fs)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(fs);
        ValidateName(prefix, nameof(prefix));

        var places = host.Hierarchies
            .Where(h => h.Version == CgroupVersion.V1 && h.Controllers.Count > 0)
            .Select(h => (Hierarchy: h, Magic: CgroupFilesystem.CgroupV1Magic))
            .ToList();
        if (host.Mode == CgroupMode.Hybrid && host.Unified is not null)
            places.Add((host.Unified, CgroupFilesystem.CgroupV2Magic));

        // name -> its directory in each hierarchy where it was found
        var leftovers = new SortedDictionary<string, List<(CgroupHierarchy Hierarchy, string Directory)>>(StringComparer.Ordinal);
        foreach (var (hierarchy, magic) in places)
        {
            string parent = hierarchy.Directory;
            if (!fs.DirectoryExists(parent) || fs.GetFileSystemType(parent) != magic)
                continue;
            foreach (string child in fs.GetDirectories(parent).Where(c => c.StartsWith(prefix, StringComparison.Ordinal)))
            {
                if (!leftovers.TryGetValue(child, out var found))
                    leftovers[child] = found = [];
                found.Add((hierarchy, CgroupPaths.Join(parent, child)));
            }
        }

        int removed = 0;
        var errors = new List<Exception>();
        foreach (var (name, found) in leftovers)
        {
            var cgroup = Open(name, found, fs);
            if (cgroup.GetProcessIds().Count > 0)
                continue; // alive: someone's running sandbox, not a leftover
            try
            {
                cgroup.DestroyAsync().GetAwaiter().GetResult();
                removed++;
            }
            catch (Exception e) when (e is IOException or TimeoutException or UnauthorizedAccessException or InvalidOperationException)
            {
                errors.Add(new IOException($"stale cgroup {name}: {e.Message}", e));
            }
        }
        if (errors.Count > 0)
            throw new AggregateException($"Removed {removed} stale cgroup(s) named {prefix}*; {errors.Count} could not be removed.", errors);
        return removed;
    }

    /// <summary>A cgroup over directories that already exist (leftovers), with the controllers of their hierarchies.</summary>
    private static V1Cgroup Open(string name, IReadOnlyList<(CgroupHierarchy Hierarchy, string Directory)> found, ICgroupFileSystem fs)
    {
        var controllers = new List<V1Controller>();
        UnifiedControl? unified = null;
        foreach (var (hierarchy, directory) in found)
        {
            if (hierarchy.Version == CgroupVersion.V2)
                unified = new UnifiedControl(directory, fs);
            else
                controllers.AddRange(hierarchy.Controllers.Where(ControllerOrder.Contains).Select(c => NewController(c, directory, fs)));
        }
        return new V1Cgroup(name, fs, found.Select(f => f.Directory).ToList(), controllers, unified);
    }

    /// <inheritdoc/>
    public void Apply(CgroupLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ThrowIfDestroyed();
        Validate(limits);
        foreach (var (controller, limit) in Needed(limits))
        {
            if (ControllerOf(controller) is null)
            {
                throw new InvalidOperationException(
                    $"{limit} needs the {controller} controller, which cgroup {Name} was created without: "
                    + (controller is CpusetController.ControllerName or BlkioController.ControllerName
                        ? $"v1 {controller} is only joined when the limits given at creation use it; pass {limit} when creating the cgroup."
                        : "the host has no v1 hierarchy for it."));
            }
        }
        ApplyValidated(limits);
    }

    /// <inheritdoc/>
    public CgroupStats GetStats()
    {
        ThrowIfDestroyed();
        var stats = new CgroupStats();
        if (_cpuacct is not null)
            stats = _cpuacct.AddStats(stats);
        if (_memory is not null)
            stats = _memory.AddStats(stats);
        if (_pids is not null)
            stats = _pids.AddStats(stats);
        if (_blkio is not null)
            stats = _blkio.AddStats(stats);
        return stats;
    }

    /// <inheritdoc/>
    public CgroupEvents GetEvents()
    {
        ThrowIfDestroyed();
        var events = new CgroupEvents();
        if (_memory is not null)
            events = _memory.AddEvents(events);
        if (_pids is not null)
            events = _pids.AddEvents(events);
        return events;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The union over every hierarchy, child cgroups included (a v1 cgroup.procs lists only its
    /// own cgroup's processes).
    /// </remarks>
    public IReadOnlyList<int> GetProcessIds()
    {
        var pids = new SortedSet<int>();
        foreach (string procs in ProcsFiles)
            AddPids(_fileSystem, procs[..^"/cgroup.procs".Length], pids, depth: 0);
        return pids.ToArray();
    }

    /// <inheritdoc/>
    /// <exception cref="TimeoutException">Not every task stopped within the bound (the cgroup is thawed again).</exception>
    public async Task FreezeAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDestroyed();
        if (_unified?.HasFreeze == true)
            await _unified.FreezeAsync(FreezeTimeout, cancellationToken).ConfigureAwait(false);
        else if (_freezer is not null)
            await _freezer.FreezeAsync(FreezeTimeout, cancellationToken).ConfigureAwait(false);
        else
            throw new InvalidOperationException("Freezing needs cgroup.freeze in the unified hierarchy (Linux 5.2) or the v1 freezer controller, and this host has neither.");
    }

    /// <inheritdoc/>
    public Task ThawAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDestroyed();
        if (_unified?.HasFreeze == true)
            _unified.Thaw();
        if (_freezer is not null && !_freezer.IsThawed)
            _freezer.Thaw();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// cgroup.kill of the unified cgroup on a hybrid host; otherwise freeze with the v1 freezer,
    /// SIGKILL every pid (frozen tasks cannot fork or exit, so no pid is missed or reused), thaw.
    /// A frozen cgroup is thawed afterwards: killed tasks in a v1-frozen cgroup only exit once thawed.
    /// </remarks>
    public void Kill()
    {
        if (_destroyed)
            return;
        if (_unified?.HasKill == true)
        {
            _unified.Kill();
            // A process written into the v1 cgroups but not into the unified one escapes cgroup.kill.
            var inUnified = new SortedSet<int>();
            AddPids(_fileSystem, _unified.Directory, inUnified, depth: 0);
            if (GetProcessIds().Any(p => !inUnified.Contains(p)))
                KillWithFreezer();
        }
        else
        {
            KillWithFreezer();
        }

        if (_freezer is { Exists: true, IsThawed: false })
            _freezer.Thaw();
        if (_unified?.IsFreezeRequested == true)
            _unified.Thaw();
    }

    /// <inheritdoc/>
    /// <exception cref="TimeoutException">Processes were still there after the bound; the directories are kept and a later call tries again.</exception>
    /// <exception cref="IOException">A directory could not be removed; a later call tries again.</exception>
    public async Task DestroyAsync(CancellationToken cancellationToken = default)
    {
        await _destroyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_destroyed)
                return;
            // The usual end of a sandbox: everything in it has exited and been reaped, and the
            // kernel lets each directory go at once (it refuses one with a task or a child
            // cgroup). Listing the tasks first would cost a read of every hierarchy's procs.
            if (TryRemoveEmpty())
            {
                _destroyed = true;
                return;
            }

            if (GetProcessIds().Count > 0)
            {
                Kill();
                var clock = Stopwatch.StartNew();
                while (!await Polling.UntilAsync(() => GetProcessIds().Count == 0, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false))
                {
                    if (clock.Elapsed >= EmptyTimeout)
                    {
                        throw new TimeoutException(
                            $"cgroup {Name} still has processes {string.Join(", ", GetProcessIds())} {EmptyTimeout.TotalSeconds:0} s after SIGKILL "
                            + "(a task in uninterruptible sleep, D state, cannot die until its I/O completes); its directories are kept.");
                    }
                    Kill(); // whatever forked or joined in between
                }
            }

            var failures = new List<string>();
            for (int i = _directories.Count - 1; i >= 0; i--)
            {
                if (await RemoveTreeAsync(_fileSystem, _directories[i], RemoveAttempts, cancellationToken).ConfigureAwait(false) is string failure)
                    failures.Add(failure);
                else
                    _directories.RemoveAt(i);
            }
            if (failures.Count > 0)
                throw new IOException($"cgroup {Name} could not be removed completely: {string.Join("; ", failures)}");
            _destroyed = true;
        }
        finally
        {
            _destroyLock.Release();
        }
    }

    /// <summary>Removes each directory the kernel lets go as it is; false at the first it refuses (those left stay for the full path).</summary>
    private bool TryRemoveEmpty()
    {
        for (int i = _directories.Count - 1; i >= 0; i--)
        {
            try
            {
                _fileSystem.RemoveDirectory(_directories[i]);
            }
            catch (CgroupWriteException e) when (e.ErrorNumber == ENOENT)
            {
                // removed meanwhile
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
            _directories.RemoveAt(i);
        }
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => $"v1 cgroup {Name} ({string.Join(", ", ProcsFiles.Select(p => p[..^"/cgroup.procs".Length]))})";

    private void ApplyValidated(CgroupLimits limits)
    {
        _cpuset?.Apply(limits);
        _memory?.Apply(limits);
        _cpu?.Apply(limits);
        _pids?.Apply(limits);
        _blkio?.Apply(limits);
    }

    private void KillWithFreezer()
    {
        for (int round = 0; round < KillRounds; round++)
        {
            if (GetProcessIds().Count == 0)
                return;
            bool frozen = false;
            if (_freezer is { Exists: true })
            {
                try
                {
                    _freezer.Freeze(FreezeTimeout < KillFreezeTimeout ? FreezeTimeout : KillFreezeTimeout);
                    frozen = true;
                }
                catch (TimeoutException)
                {
                    // Kill without the freezer: SIGKILL still reaches every task that can run.
                }
            }
            IOException? refused = null;
            try
            {
                foreach (int pid in GetProcessIds())
                {
                    try
                    {
                        ProcessSignals.Kill(pid);
                    }
                    catch (IOException e)
                    {
                        refused ??= e; // EPERM for one process must not spare the others
                    }
                }
            }
            finally
            {
                if (frozen)
                    _freezer!.Thaw();
            }
            if (refused is not null)
                throw refused;
            if (Polling.Until(() => GetProcessIds().Count == 0, TimeSpan.FromMilliseconds(500)))
                return;
        }
    }

    private V1Controller? ControllerOf(string controller) => controller switch
    {
        MemoryController.ControllerName => _memory,
        CpuController.ControllerName => _cpu,
        CpuacctController.ControllerName => _cpuacct,
        CpusetController.ControllerName => _cpuset,
        PidsController.ControllerName => _pids,
        FreezerController.ControllerName => _freezer,
        BlkioController.ControllerName => _blkio,
        _ => null,
    };

    private void ThrowIfDestroyed() => ObjectDisposedException.ThrowIf(_destroyed, this);

    private static V1Controller NewController(string controller, string directory, ICgroupFileSystem fs) => controller switch
    {
        MemoryController.ControllerName => new MemoryController(directory, fs),
        CpuController.ControllerName => new CpuController(directory, fs),
        CpuacctController.ControllerName => new CpuacctController(directory, fs),
        CpusetController.ControllerName => new CpusetController(directory, fs),
        PidsController.ControllerName => new PidsController(directory, fs),
        FreezerController.ControllerName => new FreezerController(directory, fs),
        BlkioController.ControllerName => new BlkioController(directory, fs),
        _ => throw new ArgumentOutOfRangeException(nameof(controller), controller, "not a v1 controller this backend knows"),
    };

    /// <summary>The controllers the limits need, each with the first limit that needs it.</summary>
    private static IEnumerable<(string Controller, string Limit)> Needed(CgroupLimits limits)
    {
        if (MemoryController.Needed(limits) is string memory)
            yield return (MemoryController.ControllerName, memory);
        if (CpuController.Needed(limits) is string cpu)
            yield return (CpuController.ControllerName, cpu);
        if (CpusetController.Needed(limits) is string cpuset)
            yield return (CpusetController.ControllerName, cpuset);
        if (PidsController.Needed(limits) is string pids)
            yield return (PidsController.ControllerName, pids);
        if (BlkioController.Needed(limits) is string blkio)
            yield return (BlkioController.ControllerName, blkio);
    }

    private static void Validate(CgroupLimits limits)
    {
        MemoryController.Validate(limits);
        CpuController.Validate(limits);
        CpusetController.Validate(limits);
        PidsController.Validate(limits);
        BlkioController.Validate(limits);
    }

    private static CgroupHierarchy? FindV1(CgroupHost host, string controller) =>
        host.FindController(controller) is { Version: CgroupVersion.V1 } hierarchy ? hierarchy : null;

    private static InvalidOperationException MissingController(CgroupHost host, string controller, string limit)
    {
        var message = new StringBuilder();
        if (host.FindController(controller) is { } elsewhere)
        {
            message.Append($"{limit} needs the {controller} controller, which this {host.Mode} host has on the unified hierarchy ({elsewhere.MountPoint}), ")
                .Append("not on a v1 hierarchy where the v1 backend could use it.");
        }
        else
        {
            message.Append($"{limit} needs the cgroup v1 {controller} controller, which this host does not have (mode {host.Mode}; v1 controllers: ")
                .AppendJoin(", ", host.Controllers.Where(c => c.Value.Version == CgroupVersion.V1).Select(c => c.Key).Order(StringComparer.Ordinal))
                .Append($"). Mount it (mount -t cgroup -o {controller} cgroup /sys/fs/cgroup/{controller}) or leave {limit} unset.");
        }
        foreach (string note in host.Notes)
            message.Append(" Note: ").Append(note);
        return new InvalidOperationException(message.ToString());
    }

    /// <summary>mkdir of <c>parent/name</c> after checking with statfs that the parent really is a cgroup.</summary>
    private static string MakeCgroup(ICgroupFileSystem fs, CgroupHierarchy hierarchy, string name, long magic, List<string> created)
    {
        string parent = hierarchy.Directory;
        if (hierarchy.IsReadOnly)
        {
            throw new InvalidOperationException(
                $"{hierarchy.MountPoint} is mounted read-only, so no cgroup can be made in {parent} (in a container: run it privileged, or give it a writable cgroupfs).");
        }
        long type;
        try
        {
            type = fs.GetFileSystemType(parent);
        }
        catch (FileNotFoundException)
        {
            throw new InvalidOperationException($"The caller's cgroup directory {parent} ({hierarchy}) does not exist.");
        }
        if (type != magic)
        {
            throw new InvalidOperationException(
                $"{parent} is on {CgroupFilesystem.Describe(type)}, not {CgroupFilesystem.Describe(magic)}: a directory made there would not be a cgroup "
                + "(the hierarchy was unmounted or over-mounted after detection).");
        }

        string directory = CgroupPaths.Join(parent, name);
        try
        {
            fs.CreateDirectory(directory);
        }
        catch (CgroupWriteException e) when (e.ErrorNumber == EEXIST)
        {
            throw V1Controller.WithHint(e, "a cgroup of that name already exists: another sandbox uses the name, or a crashed process left it (see RemoveStale).");
        }
        catch (CgroupWriteException e) when (e.ErrorNumber is EACCES or EPERM or EROFS)
        {
            throw V1Controller.WithHint(e, $"the caller may not make cgroups in {parent}: that needs root, or the cgroup delegated to the caller's user.");
        }
        created.Add(directory);
        return directory;
    }

    private static void ValidateName(string name, string parameter)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, parameter);
        if (name is "." or ".." || name.AsSpan().IndexOfAny("/\0\n") >= 0 || Encoding.UTF8.GetByteCount(name) > 255)
            throw new ArgumentException($"`{name}` cannot be a cgroup directory name: no '/', NUL or newline, not . or .., at most 255 bytes.", parameter);
    }

    private static bool HasProcesses(ICgroupFileSystem fs, string directory)
    {
        var pids = new SortedSet<int>();
        AddPids(fs, directory, pids, depth: 0);
        return pids.Count > 0;
    }

    /// <summary>Adds the pids of <paramref name="directory"/> and its child cgroups; a cgroup that is gone has none.</summary>
    private static void AddPids(ICgroupFileSystem fs, string directory, SortedSet<int> pids, int depth)
    {
        string procs = directory + "/cgroup.procs";
        if (!fs.DirectoryExists(directory))
            return; // removed (the common case after the sandbox's helper exits): no exception for it
        try
        {
            pids.UnionWith(V1Files.ParsePids(fs.ReadAllText(procs), procs));
            if (depth < 32)
            {
                foreach (string child in fs.GetDirectories(directory))
                    AddPids(fs, directory + "/" + child, pids, depth + 1);
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Removed (or being removed): no processes there.
        }
    }

    /// <summary>rmdir of a cgroup and its child cgroups, children first, retrying EBUSY.</summary>
    /// <returns><see langword="null"/> when the directory is gone, otherwise why not.</returns>
    private static async Task<string?> RemoveTreeAsync(ICgroupFileSystem fs, string directory, int attempts, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> children;
        try
        {
            if (!fs.DirectoryExists(directory))
                return null;
            children = fs.GetDirectories(directory);
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        foreach (string child in children)
        {
            if (await RemoveTreeAsync(fs, directory + "/" + child, attempts, cancellationToken).ConfigureAwait(false) is string failure)
                return failure;
        }
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                fs.RemoveDirectory(directory);
                return null;
            }
            catch (CgroupWriteException e) when (e.ErrorNumber == ENOENT)
            {
                return null;
            }
            catch (CgroupWriteException e) when (e.ErrorNumber == EBUSY && attempt < attempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10 * attempt, 100)), cancellationToken).ConfigureAwait(false);
            }
            catch (CgroupWriteException e)
            {
                return attempt > 1 ? $"{e.Message} after {attempt} attempts" : e.Message;
            }
        }
    }
}
