using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>
/// A sandbox's cgroup on the unified (v2) hierarchy: one directory, limits written one control
/// file at a time (see V2Cgroup.Limits.cs), statistics (V2Cgroup.Stats.cs), freeze, kill and
/// removal. Every cgroupfs access goes through <see cref="ICgroupFileSystem"/>.
/// </summary>
internal sealed partial class V2Cgroup : ISandboxCgroup
{
    private const int EBUSY = 16;
    private const int EEXIST = 17;
    private const int ENOENT = 2;
    private const int EACCES = 13;
    private const int EPERM = 1;
    private const int EROFS = 30;

    /// <summary>rmdir attempts while the kernel still reports the cgroup busy (a task in its last exit steps).</summary>
    private const int RemoveAttempts = 12;

    private readonly ICgroupFileSystem _fs;

    private V2Cgroup(string directory, ICgroupFileSystem fileSystem)
    {
        Directory = directory;
        Name = directory[(directory.LastIndexOf('/') + 1)..];
        _fs = fileSystem;
        ProcsFiles = [directory + "/cgroup.procs"];
        SignalKill = fileSystem is LinuxCgroupFileSystem && OperatingSystem.IsLinux()
            ? V2Native.KillProcess
            : pid => throw new InvalidOperationException($"no way to signal pid {pid} through {fileSystem.GetType().Name}: set {nameof(SignalKill)}");
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The cgroup's directory, such as <c>/sys/fs/cgroup/app.service/sandbox-1</c>.</summary>
    public string Directory { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ProcsFiles { get; }

    /// <inheritdoc/>
    public string? UnifiedDirectory => Directory;

    /// <summary>How long freeze, thaw and destroy wait for cgroup.events to confirm (a few seconds by default).</summary>
    internal TimeSpan EventTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Sends SIGKILL to one pid (the fallback <see cref="Kill"/> without cgroup.kill); returns
    /// <see langword="false"/> when it no longer exists. kill(2) on the real file system; tests
    /// replace it so that a fake tree's pids never reach real processes.
    /// </summary>
    internal Func<int, bool> SignalKill { get; set; }

    /// <summary>
    /// Creates cgroup <paramref name="name"/> under <paramref name="parentDirectory"/> with
    /// <paramref name="limits"/> applied, first enabling the controllers the limits need (and
    /// memory and pids, when offered, for statistics and events).
    /// </summary>
    /// <param name="hierarchy">The unified hierarchy (<see cref="CgroupHost.Unified"/>).</param>
    /// <param name="parentDirectory">An existing cgroup directory inside <paramref name="hierarchy"/>, usually <see cref="CgroupHierarchy.Directory"/>.</param>
    /// <param name="name">The new cgroup's name (one path component).</param>
    /// <param name="limits">The limits; validated before anything is touched.</param>
    /// <param name="moveCallerToLeaf">
    /// When the parent holds processes (so cannot enable controllers for children), move this
    /// process, and only it, into <c>parent/sandbox-host</c> first. Fails when other processes are there.
    /// </param>
    /// <param name="fs">Where cgroupfs is read and written.</param>
    /// <returns>The cgroup. Nothing is left behind when this throws.</returns>
    /// <exception cref="ArgumentException">A limit or the name is invalid, or the parent is outside the hierarchy.</exception>
    /// <exception cref="CgroupDelegationException">The parent cannot give the new cgroup the controllers it needs.</exception>
    /// <exception cref="InvalidOperationException">The parent is not on cgroup2, or the cgroup exists already.</exception>
    /// <exception cref="IOException">A limit could not be written (the inner <see cref="CgroupWriteException"/> has the errno).</exception>
    public static V2Cgroup Create(
        UnifiedCgroupHierarchy hierarchy, string parentDirectory, string name, CgroupLimits limits, bool moveCallerToLeaf, ICgroupFileSystem fs)
    {
        ArgumentNullException.ThrowIfNull(hierarchy);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(fs);
        ValidateName(name);
        var required = RequiredControllers(limits); // Validates every limit before anything is written.
        string parent = CheckParent(hierarchy, parentDirectory, fs, allowMissing: false)!;

        V2Delegation.EnableControllers(hierarchy, parent, required, moveCallerToLeaf, fs);

        string directory = parent + "/" + name;
        try
        {
            fs.CreateDirectory(directory);
        }
        catch (CgroupWriteException e) when (e.ErrorNumber == EEXIST)
        {
            throw new InvalidOperationException(
                $"cgroup {directory} already exists: another sandbox uses the name, or a crashed process left it (remove leftovers with RemoveStale).", e);
        }
        catch (CgroupWriteException e) when (e.ErrorNumber is EACCES or EPERM or EROFS)
        {
            throw new CgroupDelegationException(
                $"Cannot create cgroup {directory}: {e.Message}. {parent} is not delegated to this user, or cgroupfs is mounted read-only. "
                + V2Delegation.Help(parent),
                parent, V2Delegation.Ordered(required.Keys).ToArray(), e);
        }

        var cgroup = new V2Cgroup(directory, fs);
        try
        {
            cgroup.Apply(limits);
            return cgroup;
        }
        catch
        {
            // A cgroup without its limits must not stay behind (nor be mistaken for a configured one).
            try
            {
                fs.RemoveDirectory(directory);
            }
            catch (CgroupWriteException)
            {
                // Report the first error; the directory has no processes, so RemoveStale will take it.
            }
            throw;
        }
    }

    /// <summary>
    /// Removes leftover cgroups named <paramref name="prefix"/>* directly under
    /// <paramref name="parentDirectory"/>, such as those of a process that crashed before
    /// destroying its sandboxes. Only EMPTY leftovers (and their empty children) are removed: a
    /// cgroup with any process in it may be another process's live sandbox, and its processes
    /// are never killed here. Never touches <c>sandbox-host</c> (where moveCallerToLeaf put this
    /// process).
    /// </summary>
    /// <returns>How many cgroups were removed.</returns>
    /// <exception cref="AggregateException">Some matching cgroups could not be removed (the others were).</exception>
    public static int RemoveStale(UnifiedCgroupHierarchy hierarchy, string parentDirectory, string prefix, ICgroupFileSystem fs)
    {
        ArgumentNullException.ThrowIfNull(hierarchy);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        ArgumentNullException.ThrowIfNull(fs);
        if (CheckParent(hierarchy, parentDirectory, fs, allowMissing: true) is not string parent)
            return 0; // No parent, no leftovers.

        int removed = 0;
        var errors = new List<Exception>();
        foreach (string child in fs.GetDirectories(parent).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            if (child == V2Delegation.CallerLeafName)
                continue;
            var cgroup = new V2Cgroup(parent + "/" + child, fs);
            if (cgroup.GetProcessIds().Count > 0)
                continue; // alive: someone's running sandbox, not a leftover
            try
            {
                cgroup.Destroy(CancellationToken.None);
                removed++;
            }
            catch (Exception e) when (e is IOException or TimeoutException or UnauthorizedAccessException or InvalidOperationException)
            {
                errors.Add(new IOException($"stale cgroup {cgroup.Directory}: {e.Message}", e));
            }
        }
        if (errors.Count > 0)
            throw new AggregateException($"Removed {removed} stale cgroup(s) under {parent}; {errors.Count} could not be removed.", errors);
        return removed;
    }

    /// <summary>Host pids of every process in this cgroup and its child cgroups.</summary>
    public IReadOnlyList<int> GetProcessIds()
    {
        var pids = new List<int>();
        foreach (string directory in SubtreeDepthFirst(Directory))
            pids.AddRange(V2Delegation.ReadPids(_fs, directory + "/cgroup.procs"));
        return pids;
    }

    /// <inheritdoc/>
    public Task FreezeAsync(CancellationToken cancellationToken = default) =>
        RunBlocking(() => SetFrozen(true, cancellationToken), cancellationToken);

    /// <inheritdoc/>
    public Task ThawAsync(CancellationToken cancellationToken = default) =>
        RunBlocking(() => SetFrozen(false, cancellationToken), cancellationToken);

    /// <summary>
    /// SIGKILLs every process in the cgroup and its children: one write of 1 to cgroup.kill
    /// (Linux 5.14). Without it: freeze (so nothing forks meanwhile), kill each listed pid, thaw.
    /// Does not wait for them to be gone (<see cref="DestroyAsync"/> does).
    /// </summary>
    public void Kill()
    {
        if (!_fs.DirectoryExists(Directory))
            return;
        // cgroup.kill: Linux 5.14.
        if (_fs.FileExists(Directory + "/cgroup.kill"))
        {
            _fs.WriteControlFile(Directory + "/cgroup.kill", "1");
            return;
        }
        KillEachProcess();
    }

    /// <inheritdoc/>
    public Task DestroyAsync(CancellationToken cancellationToken = default) =>
        // Gone already, or empty and without children (the usual end of a sandbox: everything in
        // it has exited and been reaped) and removed here: no thread for a wait not needed.
        !_fs.DirectoryExists(Directory) || TryRemoveEmpty() ? Task.CompletedTask : RunBlocking(() => Destroy(cancellationToken), cancellationToken);

    /// <summary>
    /// Removes the cgroup if the kernel lets it go as it is: it refuses one with a process or a
    /// child cgroup (EBUSY), which then must be killed and waited for; false in that case.
    /// </summary>
    private bool TryRemoveEmpty()
    {
        try
        {
            _fs.RemoveDirectory(Directory);
            return true;
        }
        catch (CgroupWriteException e) when (e.ErrorNumber == ENOENT)
        {
            return true; // removed meanwhile
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // the full path retries and reports whatever this is
        }
    }

    /// <summary>An existing cgroup directory, for tests and for stale cleanup.</summary>
    internal static V2Cgroup Open(string directory, ICgroupFileSystem fs) => new(directory, fs);

    private static Task RunBlocking(Action action, CancellationToken cancellationToken) =>
        // A dedicated thread: the wait blocks in poll() for up to EventTimeout.
        Task.Factory.StartNew(action, cancellationToken, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);

    /// <summary>Kill, wait until nothing runs in the subtree, remove the child cgroups depth-first, then this one.</summary>
    private void Destroy(CancellationToken cancellationToken)
    {
        if (!_fs.DirectoryExists(Directory))
            return; // Idempotent: destroyed already.
        Kill();
        try
        {
            // "populated" covers the whole subtree (cgroup.events: Linux 4.5).
            if (_fs.FileExists(Directory + "/cgroup.events"))
                CgroupEventsWaiter.Wait(_fs, Directory + "/cgroup.events", "populated", "0", EventTimeout, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return; // Removed meanwhile.
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"cgroup {Directory} still has processes after being killed: {e.Message}", e);
        }
        foreach (string directory in SubtreeDepthFirst(Directory).Reverse())
            RemoveWithRetries(directory, cancellationToken);
    }

    private void RemoveWithRetries(string directory, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                _fs.RemoveDirectory(directory);
                return;
            }
            catch (CgroupWriteException e) when (e.ErrorNumber == ENOENT)
            {
                return;
            }
            catch (CgroupWriteException e) when (e.ErrorNumber == EBUSY && attempt < RemoveAttempts)
            {
                // populated went to 0, but the last task's exit may still hold the cgroup for a moment.
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Min(5 << attempt, 200)));
                cancellationToken.ThrowIfCancellationRequested();
            }
            catch (CgroupWriteException e) when (e.ErrorNumber == EBUSY)
            {
                throw new IOException($"cgroup {directory} stays busy after {RemoveAttempts} attempts to remove it: {e.Message}", e);
            }
        }
    }

    /// <summary>Writes cgroup.freeze and waits until cgroup.events confirms.</summary>
    private void SetFrozen(bool frozen, CancellationToken cancellationToken)
    {
        // cgroup.freeze and the "frozen" key of cgroup.events: Linux 5.2.
        string file = Directory + "/cgroup.freeze";
        if (!_fs.FileExists(file))
            throw new NotSupportedException($"cgroup {Directory} has no cgroup.freeze: freezing a cgroup v2 needs Linux 5.2 or later.");
        string value = frozen ? "1" : "0";
        _fs.WriteControlFile(file, value);
        try
        {
            CgroupEventsWaiter.Wait(_fs, Directory + "/cgroup.events", "frozen", value, EventTimeout, cancellationToken);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"cgroup {Directory} did not {(frozen ? "freeze" : "thaw")} in time: {e.Message}", e);
        }
    }

    /// <summary>Kill without cgroup.kill (before Linux 5.14): freeze, SIGKILL every listed pid, thaw.</summary>
    private void KillEachProcess()
    {
        bool canFreeze = _fs.FileExists(Directory + "/cgroup.freeze");
        if (canFreeze)
        {
            try
            {
                SetFrozen(true, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                // Kill anyway; SIGKILL reaches frozen and freezing tasks alike.
            }
        }
        var errors = new List<Exception>();
        try
        {
            // Frozen, nothing can fork, so one pass is enough; without a freezer, a few passes
            // catch children forked while the previous pass ran.
            for (int pass = 0; pass < (canFreeze ? 1 : 3); pass++)
            {
                var pids = GetProcessIds().Where(p => p != Environment.ProcessId).Distinct().ToArray();
                if (pids.Length == 0)
                    break;
                foreach (int pid in pids)
                {
                    try
                    {
                        SignalKill(pid);
                    }
                    catch (IOException e)
                    {
                        errors.Add(e);
                    }
                }
            }
        }
        finally
        {
            if (canFreeze)
                _fs.WriteControlFile(Directory + "/cgroup.freeze", "0");
        }
        if (errors.Count > 0)
            throw new IOException($"could not kill every process of cgroup {Directory}: {errors[0].Message}", errors[0]);
    }

    /// <summary>This cgroup and every descendant, parents before children; missing directories are skipped.</summary>
    private IEnumerable<string> SubtreeDepthFirst(string directory)
    {
        var result = new List<string>();
        Walk(directory, 0);
        return result;

        void Walk(string current, int depth)
        {
            IReadOnlyList<string> children;
            try
            {
                children = _fs.GetDirectories(current);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return;
            }
            result.Add(current);
            if (depth >= 64)
                return; // Deeper than any sandbox makes; cgroup.max.depth stops the kernel long before.
            foreach (string child in children)
                Walk(current + "/" + child, depth + 1);
        }
    }

    private static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name is "." or ".." || name.Length > 255 || name.IndexOfAny(['/', '\0', '\n']) >= 0)
            throw new ArgumentException($"`{name}` is not a cgroup name: one path component without '/', at most 255 characters.", nameof(name));
        if (name == V2Delegation.CallerLeafName)
            throw new ArgumentException($"`{name}` is reserved for the leaf moveCallerToLeaf moves this process into.", nameof(name));
    }

    /// <summary>
    /// The parent directory without a trailing slash, after checking it is a cgroup2 directory
    /// inside the hierarchy; <see langword="null"/> when it does not exist and <paramref name="allowMissing"/>.
    /// </summary>
    private static string? CheckParent(UnifiedCgroupHierarchy hierarchy, string parentDirectory, ICgroupFileSystem fs, bool allowMissing)
    {
        ArgumentException.ThrowIfNullOrEmpty(parentDirectory);
        string parent = parentDirectory.Length > 1 ? parentDirectory.TrimEnd('/') : parentDirectory;
        if (!parent.StartsWith('/') || CgroupPaths.HasParentReference(parent) || !CgroupPaths.IsAncestorOrSelf(hierarchy.MountPoint, parent))
        {
            throw new ArgumentException(
                $"{parentDirectory} is not inside the cgroup v2 hierarchy mounted at {hierarchy.MountPoint}.", nameof(parentDirectory));
        }
        if (!fs.DirectoryExists(parent))
            return allowMissing ? null : throw new ArgumentException($"cgroup {parent} does not exist.", nameof(parentDirectory));
        long type = fs.GetFileSystemType(parent);
        if (type != CgroupFilesystem.CgroupV2Magic)
        {
            throw new InvalidOperationException(
                $"{parent} is on {CgroupFilesystem.Describe(type)}, not {CgroupFilesystem.Describe(CgroupFilesystem.CgroupV2Magic)}: "
                + "it is not a cgroup v2 directory, and cgroups made there would not be cgroups (over-mounted, or a stale detection).");
        }
        return parent;
    }

    private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
