namespace Sandboxing.Cgroups;

/// <summary>
/// The sandbox's cgroup in the unified hierarchy of a hybrid host. It has no controllers there,
/// but v2's core files work in any non-root cgroup: <c>cgroup.kill</c> (Linux 5.14) kills every
/// process at once with no fork race, and <c>cgroup.freeze</c> (Linux 5.2) with its
/// <c>frozen</c> key in <c>cgroup.events</c> freezes without the v1 freezer.
/// </summary>
internal sealed class UnifiedControl(string directory, ICgroupFileSystem fileSystem)
{
    private const string KillFile = "cgroup.kill";
    private const string FreezeFile = "cgroup.freeze";
    private const string EventsFile = "cgroup.events";

    public string Directory { get; } = directory;

    public bool HasKill => fileSystem.FileExists(PathOf(KillFile));

    public bool HasFreeze => fileSystem.FileExists(PathOf(FreezeFile)) && fileSystem.FileExists(PathOf(EventsFile));

    public bool IsFrozen => V1Files.ParseFlatKeyed(fileSystem.ReadAllText(PathOf(EventsFile))).GetValueOrDefault("frozen") == 1;

    public bool IsFreezeRequested => fileSystem.FileExists(PathOf(FreezeFile)) && fileSystem.ReadAllText(PathOf(FreezeFile)).Trim() == "1";

    public void Kill() => fileSystem.WriteControlFile(PathOf(KillFile), "1");

    public Task FreezeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        fileSystem.WriteControlFile(PathOf(FreezeFile), "1");
        return Polling.WaitFrozenOrThawAsync(() => IsFrozen, Thaw, timeout, () =>
        {
            Thaw();
            return new TimeoutException(
                $"{PathOf(EventsFile)} did not report frozen 1 within {timeout.TotalSeconds:0.#} s after writing 1 to {FreezeFile}, so the cgroup was thawed again: "
                + "a task in uninterruptible sleep (D state, such as a hung NFS or FUSE request) cannot be frozen.");
        }, cancellationToken);
    }

    public void Thaw() => fileSystem.WriteControlFile(PathOf(FreezeFile), "0");

    private string PathOf(string file) => Directory + "/" + file;
}
