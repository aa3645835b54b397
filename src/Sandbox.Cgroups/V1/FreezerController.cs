namespace Sandboxing.Cgroups;

/// <summary>
/// The v1 freezer controller (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst):
/// <c>freezer.state</c> is THAWED, FREEZING or FROZEN.
/// </summary>
/// <remarks>
/// Writing FROZEN only starts freezing: the state reads FREEZING until every task has stopped,
/// which a task in uninterruptible sleep (a hung NFS or FUSE request) can delay forever. So the
/// wait is bounded, and a freeze that does not finish is undone before reporting the timeout.
/// </remarks>
internal sealed class FreezerController(string directory, ICgroupFileSystem fileSystem) : V1Controller(directory, fileSystem)
{
    public const string ControllerName = "freezer";
    private const string State = "freezer.state";
    private const string Frozen = "FROZEN";
    private const string Thawed = "THAWED";

    public override string Name => ControllerName;

    public bool IsFrozen => ReadState() == Frozen;

    public bool IsThawed => ReadState() == Thawed;

    public Task FreezeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Write(State, Frozen);
        return Polling.WaitFrozenOrThawAsync(() => IsFrozen, Thaw, timeout, () => TimedOut(timeout), cancellationToken);
    }

    public void Freeze(TimeSpan timeout)
    {
        Write(State, Frozen);
        if (!Polling.Until(() => IsFrozen, timeout))
            throw TimedOut(timeout);
    }

    public void Thaw() => Write(State, Thawed);

    private TimeoutException TimedOut(TimeSpan timeout)
    {
        string state = ReadState();
        Thaw();
        return new TimeoutException(
            $"{PathOf(State)} still read {state} {timeout.TotalSeconds:0.#} s after writing {Frozen}, so the cgroup was thawed again: "
            + "a task in uninterruptible sleep (D state in /proc/<pid>/stat, such as a hung NFS or FUSE request) cannot be frozen.");
    }

    private string ReadState() => Read(State).Trim();
}
