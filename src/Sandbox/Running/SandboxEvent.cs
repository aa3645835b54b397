using System.Threading.Channels;

namespace Sandboxing;

/// <summary>What happened to a sandbox (<see cref="SandboxProcess.WatchEventsAsync"/>).</summary>
public enum SandboxEventKind
{
    /// <summary>The command was executed; <see cref="SandboxEvent.Pid"/> is its host pid.</summary>
    Started,

    /// <summary>A command was exec'd into the sandbox; <see cref="SandboxEvent.Pid"/> is its host pid.</summary>
    ExecStarted,

    /// <summary>An exec'd command ended; <see cref="SandboxEvent.Result"/> says how.</summary>
    ExecExited,

    /// <summary>Every process was frozen.</summary>
    Paused,

    /// <summary>The processes run again.</summary>
    Resumed,

    /// <summary>A limit was reached; <see cref="SandboxEvent.Limits"/> says which.</summary>
    LimitHit,

    /// <summary>The kernel's OOM killer killed a process for the sandbox's memory limit.</summary>
    OomKilled,

    /// <summary>The sandbox ended; <see cref="SandboxEvent.Result"/> says how. Always the last event.</summary>
    Exited,

    /// <summary>
    /// The sandbox was set up by <see cref="Sandbox.CreateAsync"/> and waits for its start; the
    /// first event of a created sandbox, Started follows. <see cref="SandboxEvent.Pid"/> is the host pid of its init.
    /// </summary>
    Created,
}

/// <summary>One event of a sandbox's life.</summary>
public sealed record SandboxEvent
{
    /// <summary>What happened.</summary>
    public required SandboxEventKind Kind { get; init; }

    /// <summary>The sandbox it happened to.</summary>
    public required string SandboxId { get; init; }

    /// <summary>When the library learned of it.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The host pid of the command concerned (Started, ExecStarted, ExecExited), or of the sandbox's init (Created).</summary>
    public int? Pid { get; init; }

    /// <summary>The limits reached (LimitHit).</summary>
    public SandboxLimits Limits { get; init; }

    /// <summary>How the sandbox or the exec'd command ended (Exited, ExecExited).</summary>
    public SandboxResult? Result { get; init; }
}

/// <summary>
/// Every event so far plus a channel per watcher: a late watcher still sees the whole story,
/// and an event costs nothing while nobody watches.
/// </summary>
internal sealed class SandboxEventLog
{
    private readonly List<SandboxEvent> _history = [];
    private readonly List<Channel<SandboxEvent>> _watchers = [];
    private bool _completed;

    /// <summary>Records and delivers the event; false once the log has ended (after Exited).</summary>
    public bool Publish(SandboxEvent e)
    {
        lock (_history)
        {
            if (_completed)
                return false;
            // Exec'd commands come and go for as long as the sandbox lives: kept, their results
            // (with all they printed) would grow the history without bound.
            if (e.Kind is not (SandboxEventKind.ExecStarted or SandboxEventKind.ExecExited))
                _history.Add(e);
            foreach (var watcher in _watchers)
                watcher.Writer.TryWrite(e);
            if (e.Kind != SandboxEventKind.Exited)
                return true;
            _completed = true;
            foreach (var watcher in _watchers)
                watcher.Writer.TryComplete();
            _watchers.Clear();
            return true;
        }
    }

    public async IAsyncEnumerable<SandboxEvent> WatchAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<SandboxEvent>(new UnboundedChannelOptions { SingleReader = true });
        lock (_history)
        {
            foreach (var e in _history)
                channel.Writer.TryWrite(e);
            if (_completed)
                channel.Writer.TryComplete();
            else
                _watchers.Add(channel);
        }
        try
        {
            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return e;
        }
        finally
        {
            lock (_history)
                _watchers.Remove(channel);
        }
    }
}
