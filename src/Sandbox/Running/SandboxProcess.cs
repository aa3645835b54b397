using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Sandboxing.Cgroups;
using Sandboxing.Helper;
using Sandboxing.IO;
using Sandboxing.Interop;
using Sandboxing.Logging;
using static Sandboxing.Helper.HelperProtocol;

namespace Sandboxing;

/// <summary>
/// A command running in a sandbox. Monitored without a thread of its own: the helper's
/// reports, the stdio pipes and the helper's pidfd are all waited on by one shared epoll
/// thread. Disposing it kills the sandbox if it is still running.
/// </summary>
public sealed class SandboxProcess : IAsyncDisposable
{
    private readonly LaunchedHelper _helper;
    private readonly SandboxConfiguration _config;
    private readonly IReadOnlyList<string> _command;
    private long _startTimestamp;
    private DateTimeOffset _startTime;
    private int _pid;
    // Created, then Starting (StartAsync sent the start), then Started; a plain start begins Started.
    private int _startState;
    private const int Created = 0, Starting = 1, Started = 2;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _created;
    private readonly TaskCompletionSource<SandboxResult> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _outputPumps;
    private readonly StdioPumps.Sink? _outputSink, _errorSink;
    private readonly CancellationTokenRegistration _cancellation;
    private readonly ISandboxCgroup? _cgroup;
    private int _killRequested;
    private int _outputLimitHit;
    private int _cpuTimeLimitHit;
    private int _paused;
    private bool _cgroupClosing;
    // Exec'd commands by id, until the helper reports them ended; closed once the sandbox has.
    private readonly Dictionary<int, PendingExec> _execs = [];
    private readonly SandboxEventLog _events = new();
    private int _lastExecId;
    private bool _execsClosed;

    private SandboxProcess(LaunchedHelper helper, ISandboxCgroup? cgroup, SandboxConfiguration config, IReadOnlyList<string> command, string id,
        bool created, Message first, long startTimestamp, DateTimeOffset startTime, CancellationToken cancellationToken)
    {
        _helper = helper;
        _cgroup = cgroup;
        _config = config;
        _command = command;
        Id = id;
        _startTimestamp = startTimestamp;
        _startTime = startTime;
        CreateTime = startTime;
        _created = created;
        Message? earlyExit = first.Type == MsgExited ? first : null;

        var pumps = new List<Task>(2);
        _outputSink = StdioPumps.StartOutput(config.StandardOutput, helper.StandardOutput, pumps, OnOutputOverflow);
        _errorSink = StdioPumps.StartOutput(config.StandardError, helper.StandardError, pumps, OnOutputOverflow);
        _outputPumps = Task.WhenAll(pumps);
        StdioPumps.StartInput(config.StandardInput, helper.StandardInput);

        if (_created)
        {
            // Killed during setup (its token), a created sandbox still begins as Created: it never started.
            InitPid = earlyExit is null ? first.A : 0;
            Publish(SandboxEventKind.Created, pid: InitPid);
        }
        else if (earlyExit is null)
        {
            OnStarted(first);
        }
        else
        {
            // The wall-clock limit struck during setup: nothing ran.
            _startState = Started;
            Publish(SandboxEventKind.Started, pid: 0);
        }
        _ = MonitorAsync(earlyExit);
        if (cancellationToken.CanBeCanceled)
            _cancellation = cancellationToken.Register(static p => ((SandboxProcess)p!).RequestKill(), this);
    }

    /// <summary>Identifier of this sandbox: 12 random hex digits.</summary>
    public string Id { get; }

    /// <summary>
    /// Host pid of the command (pid 2 inside a PID namespace, under the sandbox's init); 0 while
    /// the sandbox is <see cref="SandboxState.Created"/>, and when the wall-clock limit struck
    /// before the command started.
    /// </summary>
    public int Pid => Volatile.Read(ref _pid);

    /// <summary>
    /// Host pid of the sandbox's init, the process that holds its namespaces (pid 1 inside a PID
    /// namespace) and whose end is the sandbox's; 0 when the wall-clock limit struck during setup.
    /// </summary>
    public int InitPid { get; private set; }

    /// <summary>
    /// When the command was started; for a sandbox made by <see cref="Sandbox.CreateAsync"/>, when
    /// it was created until <see cref="StartAsync(CancellationToken)"/> has started it.
    /// </summary>
    public DateTimeOffset StartTime => Volatile.Read(ref _startState) == Started ? _startTime : CreateTime;

    /// <summary>When the sandbox was set up: its <see cref="Sandbox.StartAsync"/> or <see cref="Sandbox.CreateAsync"/> call.</summary>
    public DateTimeOffset CreateTime { get; private init; }

    /// <summary>Whether the command has ended and its result is known.</summary>
    public bool HasExited => _exit.Task.IsCompleted;

    /// <summary>
    /// Whether the sandbox waits for its start (<see cref="Sandbox.CreateAsync"/>), runs, is
    /// paused (<see cref="PauseAsync"/>), or has ended.
    /// </summary>
    public SandboxState State =>
        HasExited ? SandboxState.Exited
        : Volatile.Read(ref _paused) != 0 ? SandboxState.Paused
        : Volatile.Read(ref _startState) != Started ? SandboxState.Created
        : SandboxState.Running;

    /// <summary>
    /// Starts the command of a sandbox made by <see cref="Sandbox.CreateAsync"/> (runc start) and
    /// returns once it has been executed: <see cref="State"/> is then
    /// <see cref="SandboxState.Running"/> and <see cref="Pid"/> the command's host pid. The
    /// wall-clock limit counts from here. Cancelling <paramref name="cancellationToken"/> before
    /// the command runs kills the sandbox.
    /// </summary>
    /// <exception cref="SandboxException">The command could not be executed (a missing program, say; the step,
    /// errno and a hint say why). The sandbox has then ended and left nothing behind; <see cref="WaitForExitAsync"/> throws the same.</exception>
    /// <exception cref="InvalidOperationException">The sandbox was not made by <see cref="Sandbox.CreateAsync"/>, has been
    /// started already, is paused (its init could not start the command until resumed), or has ended.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled: the sandbox was killed (or, cancelled before the call, left as it was).</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_created && Volatile.Read(ref _paused) != 0 && !HasExited && Volatile.Read(ref _startState) == Created)
            throw new InvalidOperationException($"Sandbox {Id} is paused, and its init could not start the command; resume it first.");
        // The wall time counts from here, as the helper's timer does from the START it is sent.
        long startTimestamp = Stopwatch.GetTimestamp();
        var startTime = DateTimeOffset.UtcNow;
        int state = Interlocked.CompareExchange(ref _startState, Starting, Created);
        if (state != Created || HasExited)
        {
            throw new InvalidOperationException(HasExited ? $"Sandbox {Id} has ended; it cannot be started."
                : !_created ? $"Sandbox {Id} was started when it was made; only a sandbox made by Sandbox.CreateAsync waits for StartAsync."
                : state == Started ? $"Sandbox {Id} has been started already; a created sandbox starts once."
                : $"Sandbox {Id} is being started already; a created sandbox starts once.");
        }
        _startTimestamp = startTimestamp;
        _startTime = startTime;
        Send(CmdStart, 0);
        using (cancellationToken.Register(static p => ((SandboxProcess)p!).RequestKill(), this))
        {
            try
            {
                await _started.Task.ConfigureAwait(false);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (SandboxException e)
            {
                // The command could not be executed; the end is not logged again as unreported.
                if (_config.Logger.IsEnabled(LogLevel.Error))
                    SandboxLog.StartFailed(_config.Logger, Id, _command, e.Step, e.ErrorNumber, e);
                throw;
            }
        }
        if (_config.Logger.IsEnabled(LogLevel.Information))
            SandboxLog.Started(_config.Logger, Id, _command, Pid, _config.Namespaces, _config.Root.Kind, SandboxLog.DescribeLimits(_config));
    }

    /// <summary>A created sandbox ended because StartAsync could not execute its command (which StartAsync reports).</summary>
    internal bool CommandNotExecuted { get; private set; }

    /// <summary>A start that can no longer happen; observed here, so nobody has to wait for it.</summary>
    private void FailStart(Exception e)
    {
        if (_started.TrySetException(e))
            _ = _started.Task.Exception;
    }

    /// <summary>The command runs (STARTED came, first or after <see cref="StartAsync(CancellationToken)"/>): it is Running from here.</summary>
    private void OnStarted(in Message started)
    {
        Volatile.Write(ref _pid, started.A);
        InitPid = started.B;
        Volatile.Write(ref _startState, Started);
        Publish(SandboxEventKind.Started, pid: started.A);
        if (_config.CpuTimeLimit is { } cpuTimeLimit && _cgroup is not null)
            _ = WatchCpuTimeAsync(cpuTimeLimit);
        _started.TrySetResult();
    }

    /// <summary>The command's standard input, when configured as <see cref="SandboxInput.Pipe"/>. Dispose it to send end of file.</summary>
    /// <exception cref="InvalidOperationException">Standard input is not a pipe.</exception>
    public Stream StandardInput => _config.StandardInput.Kind == SandboxInput.InputKind.Pipe && _helper.StandardInput is { } s
        ? s : throw NotPiped("input", "WithStandardInput(SandboxInput.Pipe)");

    /// <summary>The command's standard output, when configured as <see cref="SandboxOutput.Pipe"/>.</summary>
    /// <exception cref="InvalidOperationException">Standard output is not a pipe.</exception>
    public Stream StandardOutput => _config.StandardOutput.Kind == SandboxOutput.OutputKind.Pipe && _helper.StandardOutput is { } s
        ? s : throw NotPiped("output", "WithStandardOutput(SandboxOutput.Pipe)");

    /// <summary>The command's standard error, when configured as <see cref="SandboxOutput.Pipe"/>.</summary>
    /// <exception cref="InvalidOperationException">Standard error is not a pipe.</exception>
    public Stream StandardError => _config.StandardError.Kind == SandboxOutput.OutputKind.Pipe && _helper.StandardError is { } s
        ? s : throw NotPiped("error", "WithStandardError(SandboxOutput.Pipe)");

    /// <summary>
    /// The command's terminal (<see cref="SandboxBuilder.WithTerminal"/>): read what it writes,
    /// write what it reads. Reads end (return 0) once every process holding the terminal has ended.
    /// </summary>
    /// <exception cref="InvalidOperationException">The sandbox has no terminal.</exception>
    public Stream Terminal => _helper.Terminal ?? throw NoTerminal();

    /// <summary>Resizes the command's terminal; its foreground processes get SIGWINCH.</summary>
    /// <exception cref="InvalidOperationException">The sandbox has no terminal.</exception>
    public void ResizeTerminal(TerminalSize size) =>
        IO.PseudoTerminal.Resize((_helper.Terminal ?? throw NoTerminal()).Descriptor, size);

    private static InvalidOperationException NoTerminal() =>
        new("This sandbox has no terminal; give it one with SandboxBuilder.WithTerminal().");

    private static InvalidOperationException NotPiped(string stream, string how) =>
        new($"Standard {stream} of this sandbox is not a pipe; configure it with {how}.");

    /// <summary>
    /// Waits until the command has ended and every process of the sandbox is gone. Cancelling
    /// <paramref name="cancellationToken"/> stops the wait, not the sandbox.
    /// </summary>
    public Task<SandboxResult> WaitForExitAsync(CancellationToken cancellationToken = default) =>
        _exit.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Sends <paramref name="signal"/> to the command (not to the rest of the sandbox). Allowed:
    /// SIGHUP (1), SIGINT (2), SIGQUIT (3), SIGUSR1 (10), SIGUSR2 (12), SIGALRM (14), SIGTERM (15),
    /// SIGCONT (18), SIGWINCH (28), and SIGKILL (9), which kills the whole sandbox.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Another signal: the sandbox's init forwards only these.</exception>
    /// <exception cref="InvalidOperationException">A signal other than SIGKILL to a sandbox that is <see cref="SandboxState.Created"/>: it has no command yet.</exception>
    public void Signal(int signal)
    {
        if (signal == 9)
        {
            RequestKill();
            return;
        }
        if (Array.IndexOf(ForwardedSignals, signal) < 0)
            throw new ArgumentOutOfRangeException(nameof(signal), signal,
                $"Signal {signal} cannot be sent to a sandboxed command; allowed: {string.Join(", ", ForwardedSignals)} and 9 (kills the sandbox).");
        if (Volatile.Read(ref _startState) == Created && !HasExited)
            throw new InvalidOperationException($"Sandbox {Id} has not been started, so there is no command to signal; start it with StartAsync, or end it with KillAsync.");
        if (!HasExited)
            Send(CmdSignal, signal);
    }

    /// <summary>
    /// Runs <paramref name="command"/> inside this running sandbox and waits for it to end, like
    /// docker exec: it joins the sandbox's namespaces and cgroup and runs under its user,
    /// capabilities, seccomp policy and Landlock rules. Its output is captured by default.
    /// Cancelling <paramref name="cancellationToken"/> kills the command (verdict
    /// <see cref="SandboxVerdict.Canceled"/>), not the sandbox.
    /// </summary>
    /// <param name="command">The program (looked up in the sandbox's PATH unless it contains a '/') and its arguments.</param>
    /// <param name="options">Stdio, environment, working directory, user and timeout; <see cref="SandboxExecOptions.Default"/> when null.</param>
    /// <param name="cancellationToken">Kills the command when cancelled.</param>
    /// <exception cref="SandboxConfigurationException">The command or an option is invalid.</exception>
    /// <exception cref="SandboxException">The command could not be started (the step, errno and a hint say why); the sandbox goes on.</exception>
    /// <exception cref="InvalidOperationException">The sandbox has ended.</exception>
    public async Task<SandboxResult> ExecAsync(IReadOnlyList<string> command, SandboxExecOptions? options = null, CancellationToken cancellationToken = default)
    {
        await using var exec = await StartExecAsync(command, options, cancellationToken).ConfigureAwait(false);
        return await exec.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts <paramref name="command"/> inside this running sandbox (see <see cref="ExecAsync"/>)
    /// and returns once it has been executed.
    /// </summary>
    /// <exception cref="SandboxConfigurationException">The command or an option is invalid.</exception>
    /// <exception cref="SandboxException">The command could not be started; the sandbox goes on.</exception>
    /// <exception cref="InvalidOperationException">The sandbox has ended.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled before anything was started.</exception>
    public async Task<SandboxExecProcess> StartExecAsync(IReadOnlyList<string> command, SandboxExecOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ConfigurationValidator.ValidateCommand(command);
        options ??= SandboxExecOptions.Default;
        var config = options.ApplyTo(_config);
        byte[] spec = SpecWriter.Write(config, command, HostIdentity.Current, _cgroup is null ? null : SandboxCgroups.JoinFor(_cgroup));

        var pending = new PendingExec(config);
        int execId;
        lock (_execs)
        {
            if (_execsClosed)
                throw Ended();
            execId = ++_lastExecId;
            _execs[execId] = pending;
        }
        var startTime = DateTimeOffset.UtcNow;
        long startTimestamp = Stopwatch.GetTimestamp();
        FdStream? stdin = null, stdout = null, stderr = null, terminal = null;
        try
        {
            using (var specFd = HelperLauncher.CreateSpecMemfd(spec))
            using (var childTerminal = config.Terminal is { } size ? HelperLauncher.OpenTerminal(size, out terminal) : null)
            using (var childIn = childTerminal is null ? HelperLauncher.OpenInput(config.StandardInput, out stdin) : null)
            using (var childOut = childTerminal is null ? HelperLauncher.OpenOutput(config.StandardOutput, "standardOutput", out stdout) : null)
            using (var childErr = childTerminal is null ? HelperLauncher.OpenOutput(config.StandardError, "standardError", out stderr) : null)
            {
                Span<byte> msg = stackalloc byte[MsgHeaderSize];
                msg.Clear();
                BinaryPrimitives.WriteInt32LittleEndian(msg, CmdExec);
                BinaryPrimitives.WriteInt32LittleEndian(msg[4..], execId);
                // Inherited stdio is this process's own 0, 1 and 2; the message carries copies.
                ReadOnlySpan<int> fds = [specFd.Fd, (childTerminal ?? childIn)?.Fd ?? 0, (childTerminal ?? childOut)?.Fd ?? 1, (childTerminal ?? childErr)?.Fd ?? 2];
                bool sent;
                try
                {
                    sent = _helper.Control.TrySend(msg, fds);
                }
                catch (ObjectDisposedException)
                {
                    sent = false;
                }
                if (!sent)
                    throw Ended();
            }
            int pid;
            // Cancelled while it starts: killed as soon as it runs, so it ends as Canceled.
            using (cancellationToken.Register(() => SendExecSignal(execId, 9)))
                pid = await pending.Started.Task.ConfigureAwait(false);
            Publish(SandboxEventKind.ExecStarted, pid: pid);
            return new SandboxExecProcess(this, execId, pid, pending, config, stdin, stdout, stderr, terminal, startTime, startTimestamp, options.Timeout, cancellationToken);
        }
        catch (Exception e)
        {
            lock (_execs)
                _execs.Remove(execId);
            terminal?.Dispose();
            stdin?.Dispose();
            stdout?.Dispose();
            stderr?.Dispose();
            if (e is SandboxException se)
                se.SandboxId = Id;
            throw;
        }
    }

    private InvalidOperationException Ended() =>
        new($"Sandbox {Id} has ended; commands can be exec'd into a sandbox only while it runs.");

    internal void SendExecSignal(int execId, int signal)
    {
        Span<byte> msg = stackalloc byte[MsgHeaderSize];
        msg.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(msg, CmdExecSignal);
        BinaryPrimitives.WriteInt32LittleEndian(msg[4..], execId);
        BinaryPrimitives.WriteInt32LittleEndian(msg[8..], signal);
        try
        {
            _helper.Control.TrySend(msg);
        }
        catch (ObjectDisposedException)
        {
            // The sandbox has ended, and every exec'd command with it.
        }
    }

    /// <summary>Routes the helper's reports about exec'd commands to the commands' waiters.</summary>
    private void OnExecMessage(in Message msg)
    {
        PendingExec? pending;
        lock (_execs)
        {
            if (!_execs.TryGetValue(msg.A, out pending))
                return;
            if (msg.Type != MsgExecStarted)
                _execs.Remove(msg.A);
        }
        switch (msg.Type)
        {
            case MsgExecStarted:
                pending.Started.TrySetResult(msg.B);
                break;
            case MsgExecError:
                pending.Started.TrySetException(HelperErrors.ToException(msg.B, msg.C, msg.Detail, pending.Config));
                break;
            case MsgExecExited:
                pending.Exited.TrySetResult((msg.B, msg.C));
                break;
        }
    }

    /// <summary>
    /// The sandbox has ended: no command can be exec'd any more, and any the helper did not
    /// report on (it was killed) died with the sandbox.
    /// </summary>
    private void CloseExecs()
    {
        PendingExec[] left;
        lock (_execs)
        {
            _execsClosed = true;
            left = [.. _execs.Values];
            _execs.Clear();
        }
        foreach (var pending in left)
        {
            pending.Started.TrySetException(Ended());
            pending.Exited.TrySetResult((ExitSignal, 9));
        }
    }

    /// <summary>
    /// The sandbox's events, from its start (a late watcher gets the earlier ones first, except
    /// those of exec'd commands, which are delivered only as they happen) to
    /// <see cref="SandboxEventKind.Exited"/>, where the sequence ends: exec'd commands starting
    /// and ending, pause and resume, limits reached as they are (output, CPU time) or as the
    /// end shows (memory, pids, wall time, OOM kills). No thread watches; events cost nothing
    /// while nobody enumerates. Cancelling <paramref name="cancellationToken"/> ends the enumeration.
    /// </summary>
    public IAsyncEnumerable<SandboxEvent> WatchEventsAsync(CancellationToken cancellationToken = default) => _events.WatchAsync(cancellationToken);

    internal void Publish(SandboxEventKind kind, int? pid = null, SandboxLimits limits = 0, SandboxResult? result = null)
    {
        if (_events.Publish(new SandboxEvent { Kind = kind, SandboxId = Id, Time = DateTimeOffset.UtcNow, Pid = pid, Limits = limits, Result = result }))
            SandboxLog.Event(_config.Logger, Id, kind, pid, limits);
    }

    /// <summary>What the sandbox has consumed so far; <see langword="null"/> when it has no cgroup.</summary>
    public CgroupStats? GetStats()
    {
        if (_cgroup is null || Volatile.Read(ref _cgroupClosing))
            return null;
        try
        {
            return _cgroup.GetStats();
        }
        catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && Volatile.Read(ref _cgroupClosing))
        {
            return null; // the sandbox ended while we read
        }
    }

    /// <summary>
    /// Statistics every <paramref name="interval"/> until the sandbox ends (or the token is
    /// cancelled), like docker stats. Empty when the sandbox has no cgroup.
    /// </summary>
    public async IAsyncEnumerable<CgroupStats> StreamStatsAsync(TimeSpan interval, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        if (_cgroup is null)
            yield break;
        using var timer = new PeriodicTimer(interval);
        while (!HasExited)
        {
            CgroupStats? stats = null;
            try
            {
                stats = _cgroup.GetStats();
            }
            catch (IOException) when (HasExited)
            {
                // the cgroup went away with the sandbox
            }
            if (stats is null || HasExited)
                yield break;
            yield return stats;
            var tick = timer.WaitForNextTickAsync(cancellationToken).AsTask();
            if (await Task.WhenAny(tick, _exit.Task).ConfigureAwait(false) != tick)
                yield break;
            await tick.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The sandbox's processes, exec'd ones included, with their pids inside and on the host,
    /// user, state, CPU time, resident memory and command line (docker top); empty once it has
    /// ended. Read from the host's /proc; needs no cgroup.
    /// </summary>
    public IReadOnlyList<SandboxProcessInfo> GetProcesses()
    {
        if (HasExited)
            return [];
        HashSet<int> execPids;
        lock (_execs)
            execPids = [.. _execs.Values.Where(p => p.Started.Task.IsCompletedSuccessfully).Select(p => p.Started.Task.Result)];
        // With a cgroup, its member list is exact: a process that a dying parent's exit is
        // handing to a new one at this moment is in no parent's children file, but in the cgroup.
        var members = GetProcessIds();
        return SandboxTop.List(_helper.Pid, execPids, members.Count > 0 ? members : null);
    }

    /// <summary>Host pids of every process in the sandbox; empty when it has no cgroup or has ended.</summary>
    public IReadOnlyList<int> GetProcessIds()
    {
        if (_cgroup is null || Volatile.Read(ref _cgroupClosing))
            return [];
        try
        {
            return _cgroup.GetProcessIds();
        }
        catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && Volatile.Read(ref _cgroupClosing))
        {
            return [];
        }
    }

    /// <summary>Freezes every process of the sandbox (cgroup freezer); they keep their state.</summary>
    /// <exception cref="InvalidOperationException">The sandbox has no cgroup (set a limit or call WithCgroup()).</exception>
    public async Task PauseAsync(CancellationToken cancellationToken = default)
    {
        await Live(_cgroup ?? throw NoCgroup("paused"), "paused").FreezeAsync(cancellationToken).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _paused, 1) == 0)
            Publish(SandboxEventKind.Paused);
    }

    /// <summary>Lets a paused sandbox run again.</summary>
    /// <exception cref="InvalidOperationException">The sandbox has no cgroup.</exception>
    public async Task ResumeAsync(CancellationToken cancellationToken = default)
    {
        await Live(_cgroup ?? throw NoCgroup("resumed"), "resumed").ThawAsync(cancellationToken).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _paused, 0) == 1)
            Publish(SandboxEventKind.Resumed);
    }

    private ISandboxCgroup Live(ISandboxCgroup cgroup, string what) =>
        Volatile.Read(ref _cgroupClosing) ? throw new InvalidOperationException($"Sandbox {Id} has exited and cannot be {what}.") : cgroup;

    /// <summary>Removes the cgroup; a failure is logged and must not cost the caller the run's result.</summary>
    private static async Task DestroyCgroupQuietlyAsync(ISandboxCgroup cgroup, SandboxConfiguration config, string id)
    {
        try
        {
            await cgroup.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or TimeoutException or UnauthorizedAccessException or InvalidOperationException)
        {
            // Sandbox.RemoveStaleCgroups takes whatever is left.
            SandboxLog.CleanupFailed(config.Logger, id, "remove the sandbox's cgroup", e);
        }
    }

    private static InvalidOperationException NoCgroup(string what) =>
        new($"This sandbox cannot be {what}: it has no cgroup. Give it one with SandboxBuilder.WithCgroup() or a resource limit.");

    /// <summary>Kills every process of the sandbox and waits until they are gone.</summary>
    public async Task<SandboxResult> KillAsync()
    {
        RequestKill();
        return await _exit.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Asks the command to stop with SIGTERM; kills the whole sandbox if it is still running
    /// after <paramref name="gracePeriod"/>.
    /// </summary>
    public async Task<SandboxResult> StopAsync(TimeSpan gracePeriod, CancellationToken cancellationToken = default)
    {
        // A created sandbox has no command to ask: it is killed at once.
        if (!HasExited && Volatile.Read(ref _startState) != Created)
        {
            Send(CmdSignal, 15);
            try
            {
                return await _exit.Task.WaitAsync(gracePeriod, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
        return await KillAsync().ConfigureAwait(false);
    }

    /// <summary>Kills the sandbox if it still runs, waits for it, and releases its pipes.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!HasExited)
                RequestKill();
            await _exit.Task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The run failed; WaitForExitAsync reports how. Disposing must still release all.
        }
        finally
        {
            await _cancellation.DisposeAsync().ConfigureAwait(false);
            _helper.Dispose();
        }
    }

    /// <summary>
    /// Kills the sandbox once its cgroup has used <paramref name="limit"/> of CPU time. No thread
    /// and no fixed tick: it sleeps until the earliest moment the limit could be reached (the time
    /// left divided by the CPUs the sandbox may use), so a long limit costs a handful of wake-ups.
    /// </summary>
    private async Task WatchCpuTimeAsync(TimeSpan limit)
    {
        double cpus = _config.Resources?.Cpus ?? Environment.ProcessorCount;
        try
        {
            while (!HasExited)
            {
                var used = GetStats()?.CpuTotal;
                if (used is null)
                    return; // the sandbox is ending, or its cgroup keeps no CPU accounting
                if (used >= limit)
                {
                    if (Interlocked.Exchange(ref _cpuTimeLimitHit, 1) == 0)
                    {
                        Publish(SandboxEventKind.LimitHit, limits: SandboxLimits.CpuTime);
                        RequestKill();
                    }
                    return;
                }
                var wait = TimeSpan.FromTicks((long)((limit - used.Value).Ticks / Math.Max(cpus, 0.01)));
                await Task.WhenAny(_exit.Task, Task.Delay(wait < MinCpuTimeCheck ? MinCpuTimeCheck : wait)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // The sandbox ended while we read its accounting: the final check decides.
        }
    }

    /// <summary>The shortest sleep between CPU-time checks: the most a sandbox overshoots, per CPU.</summary>
    private static readonly TimeSpan MinCpuTimeCheck = TimeSpan.FromMilliseconds(5);

    /// <summary>A capture with killOnOverflow passed its limit: the verdict is decided here, then the sandbox dies.</summary>
    private void OnOutputOverflow()
    {
        if (Interlocked.Exchange(ref _outputLimitHit, 1) == 0)
        {
            Publish(SandboxEventKind.LimitHit, limits: SandboxLimits.Output);
            RequestKill();
        }
    }

    private void RequestKill()
    {
        if (Interlocked.Exchange(ref _killRequested, 1) != 0 || HasExited)
            return;
        Send(CmdKill, 0);
        // A paused sandbox on the v1 freezer ignores SIGKILL until thawed: the cgroup's kill
        // freezes, kills and thaws. It also catches anything the helper's kill could miss.
        if (_cgroup is not null && !Volatile.Read(ref _cgroupClosing))
        {
            try
            {
                _cgroup.Kill();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or TimeoutException)
            {
                // The sandbox is ending anyway; the helper's kill still applies.
            }
        }
    }

    private void Send(int type, int a) => SendCommand(_helper.Control, type, a);

    private static void SendCommand(SeqPacketChannel control, int type, int a)
    {
        Span<byte> msg = stackalloc byte[MsgHeaderSize];
        msg.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(msg, type);
        BinaryPrimitives.WriteInt32LittleEndian(msg[4..], a);
        try
        {
            control.TrySend(msg); // false when the helper is already gone
        }
        catch (ObjectDisposedException)
        {
            // The run has ended and its channel is closed: nothing left to signal.
        }
    }

    internal static async Task<SandboxProcess> LaunchAsync(string helperPath, SandboxConfiguration config, IReadOnlyList<string> command, bool create, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var startTime = DateTimeOffset.UtcNow;
        long startTimestamp = Stopwatch.GetTimestamp();
        ISandboxCgroup? cgroup;
        try
        {
            cgroup = config.HasCgroup ? SandboxCgroups.Create(config, id) : null;
        }
        catch (SandboxException e)
        {
            e.SandboxId = id;
            throw;
        }
        LaunchedHelper helper;
        try
        {
            var caller = HostIdentity.Current;
            SandboxStorage.Prepare(config, caller);
            byte[] spec = SpecWriter.Write(config, command, caller, cgroup is null ? null : SandboxCgroups.JoinFor(cgroup), waitForStart: create);
            helper = HelperLauncher.Launch(helperPath, spec, config);
        }
        catch (Exception e)
        {
            if (e is SandboxException se)
                se.SandboxId = id;
            if (cgroup is not null)
                await DestroyCgroupQuietlyAsync(cgroup, config, id).ConfigureAwait(false);
            throw;
        }
        try
        {
            var buffer = new byte[MsgHeaderSize + MsgMaxDetail];
            // Once the helper runs, cancelling kills the sandbox (the helper reads the command
            // when setup is done) and the run ends as Canceled, the same as a moment later.
            int n;
            using (cancellationToken.Register(static h => SendCommand(((LaunchedHelper)h!).Control, CmdKill, 0), helper))
                n = await helper.Control.ReceiveAsync(buffer).ConfigureAwait(false);
            var msg = Message.Parse(buffer.AsSpan(0, n));
            // Exited first: killed (cancelled), or the timeout struck, during setup.
            if (msg.Type == (create ? MsgCreated : MsgStarted) || msg.Type == MsgExited)
                return new SandboxProcess(helper, cgroup, config, command, id, create, msg, startTimestamp, startTime, cancellationToken);
            throw msg.Type == MsgError
                ? HelperErrors.ToException(msg.A, msg.B, msg.Detail, config)
                : new SandboxException($"sandbox-helper (pid {helper.Pid}) ended before the sandbox was {(create ? "set up" : "started")}{await DescribeHelperExitAsync(helper).ConfigureAwait(false)}.", "start sandbox-helper");
        }
        catch (Exception e)
        {
            if (e is SandboxException se)
                se.SandboxId = id;
            await ShutDownHelperAsync(helper).ConfigureAwait(false);
            helper.Dispose();
            if (cgroup is not null)
                await DestroyCgroupQuietlyAsync(cgroup, config, id).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closing the control channel makes the helper kill whatever is left and exit; then reap it.</summary>
    private static async Task ShutDownHelperAsync(LaunchedHelper helper)
    {
        helper.Control.Shutdown();
        await ReapHelperAsync(helper).ConfigureAwait(false);
    }

    /// <summary>Waits (on the reactor, not a thread) for the helper to exit, then reaps it.</summary>
    private static async Task<int?> ReapHelperAsync(LaunchedHelper helper)
    {
        await Reactor.Shared.WaitReadableAsync(helper.PidFd).ConfigureAwait(false);
        return Reap(helper.PidFd);
    }

    private static unsafe int? Reap(SafeFd pidfd)
    {
        LibC.SigInfo info = default;
        // ECHILD is fine: .NET reaps every child itself when it runs as pid 1 or with
        // SIGCHLD ignored; that is why the exit status comes over the control channel.
        int rc = LibC.waitid(LibC.P_PIDFD, pidfd.Fd, &info, LibC.WEXITED | LibC.WNOHANG);
        return rc == 0 && info.Pid != 0 ? info.Status | (info.Code << 16) : null;
    }

    private static async Task<string> DescribeHelperExitAsync(LaunchedHelper helper)
    {
        helper.Control.Shutdown();
        int? status = await ReapHelperAsync(helper).ConfigureAwait(false);
        if (status is not { } s)
            return "";
        int code = s >> 16, value = s & 0xffff;
        return code == 1 /* CLD_EXITED */ ? $" (exit status {value})" : $" (killed by signal {value})";
    }

    private async Task MonitorAsync(Message? earlyExit)
    {
        try
        {
            var buffer = new byte[MsgHeaderSize + MsgMaxDetail];
            Message? exited = earlyExit, error = null;
            long exitTimestamp = earlyExit is null ? 0 : Stopwatch.GetTimestamp();
            DateTimeOffset exitTime = earlyExit is null ? default : DateTimeOffset.UtcNow;
            if (earlyExit is not null)
                SendCommand(_helper.Control, CmdDone, 0);
            while (exited is null)
            {
                int n = await _helper.Control.ReceiveAsync(buffer).ConfigureAwait(false);
                if (n == 0)
                    break;
                var msg = Message.Parse(buffer.AsSpan(0, n));
                if (msg.Type == MsgExited)
                {
                    exitTimestamp = Stopwatch.GetTimestamp();
                    exitTime = DateTimeOffset.UtcNow;
                    exited = msg;
                    // At once: the helper exits on it, while we read the accounting and remove
                    // the cgroups below; reaping it comes last.
                    SendCommand(_helper.Control, CmdDone, 0);
                    break;
                }
                if (msg.Type == MsgError)
                    error = msg;
                else if (msg.Type == MsgStarted && _created)
                    OnStarted(msg);
                else if (msg.Type is MsgExecStarted or MsgExecError or MsgExecExited)
                    OnExecMessage(msg);
            }
            CloseExecs();
            // Accounting first; then the cgroups go, whatever happened reading them.
            CgroupEvents? events = null;
            CgroupStats? stats = null;
            try
            {
                if (_cgroup is not null && exited is not null)
                {
                    events = _cgroup.GetEvents();
                    stats = _cgroup.GetStats();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Accounting is best effort; the verdict then rests on the exit status alone.
            }
            finally
            {
                Volatile.Write(ref _cgroupClosing, true);
                try
                {
                    if (_cgroup is not null)
                        await DestroyCgroupQuietlyAsync(_cgroup, _config, Id).ConfigureAwait(false);
                }
                finally
                {
                    await ShutDownHelperAsync(_helper).ConfigureAwait(false);
                }
            }
            if (exited is not { } e)
            {
                // The command of a created sandbox could not be executed (the error), or the
                // helper died without a report (killed from outside): processes it could not
                // kill may still hold the output pipes, so do not wait for their end.
                var failure = error is { } err
                    ? HelperErrors.ToException(err.A, err.B, err.Detail, _config)
                    : new SandboxException($"sandbox-helper of sandbox {Id} ended without reporting how the command ended; something outside killed it.", "supervise the sandbox");
                failure.SandboxId = Id;
                // StartAsync logs this one as the start's failure.
                CommandNotExecuted = _created && error is not null && Volatile.Read(ref _startState) == Starting;
                _exit.TrySetException(failure);
                FailStart(failure); // after the exit: a failed start finds the sandbox Exited
                _helper.StandardOutput?.Dispose();
                _helper.StandardError?.Dispose();
                return;
            }
            // The whole sandbox is gone, so every write end of the output pipes is closed.
            await _outputPumps.ConfigureAwait(false);
            _helper.StandardInput?.Dispose();

            // The OOM killer's count includes kills for a parent's limit or host-wide shortage;
            // without a memory limit of its own a sandbox cannot have exceeded one.
            bool oomKilled = events is { OomKills: > 0 } && _config.Resources is { MemoryBytes: not null } or { MemorySwapBytes: not null };
            // Past the CPU-time limit is the verdict even when the command ended before the kill
            // reached it, as a judge counts it.
            bool cpuTimeExceeded = Volatile.Read(ref _cpuTimeLimitHit) != 0
                || (_config.CpuTimeLimit is { } cpuLimit && stats?.CpuTotal is { } cpuUsed && cpuUsed > cpuLimit);
            var verdict = (e.C, e.A) switch
            {
                (ReasonTimeout, _) => SandboxVerdict.TimedOut,
                // Past the output limit is the verdict even when the command exited before the
                // kill reached it: what it printed is not what it was allowed to.
                _ when Volatile.Read(ref _outputLimitHit) != 0 => SandboxVerdict.OutputLimitExceeded,
                _ when cpuTimeExceeded => SandboxVerdict.CpuTimeLimitExceeded,
                (ReasonKilled, _) => SandboxVerdict.Canceled,
                _ when oomKilled => SandboxVerdict.MemoryLimitExceeded,
                (_, ExitSignal) => SandboxVerdict.Signaled,
                _ => SandboxVerdict.Exited,
            };
            SandboxUsage? usage = _cgroup is null ? null : new SandboxUsage
            {
                CpuUser = stats?.CpuUser,
                CpuSystem = stats?.CpuSystem,
                CpuTotal = stats?.CpuTotal,
                MemoryPeakBytes = stats?.MemoryPeakBytes,
                OomKills = events?.OomKills ?? 0,
                LimitsHit = (oomKilled || events is { MemoryLimitHits: > 0 } ? SandboxLimits.Memory : 0)
                    | (events is { PidsLimitHits: > 0 } ? SandboxLimits.Pids : 0)
                    | (e.C == ReasonTimeout ? SandboxLimits.WallTime : 0)
                    | (Volatile.Read(ref _outputLimitHit) != 0 ? SandboxLimits.Output : 0)
                    | (cpuTimeExceeded ? SandboxLimits.CpuTime : 0),
            };
            var result = new SandboxResult(
                Id,
                exitCode: e.A == ExitCode ? e.B : null,
                signal: e.A == ExitSignal ? e.B : null,
                verdict,
                StartTime,
                exitTime,
                Stopwatch.GetElapsedTime(_startTimestamp, exitTimestamp),
                StdioPumps.Decode(_outputSink),
                StdioPumps.Decode(_errorSink),
                usage)
            {
                StandardOutputTruncated = _outputSink?.Truncated ?? false,
                StandardErrorTruncated = _errorSink?.Truncated ?? false,
            };
            // Limits the end revealed (the live ones were published as they happened).
            var live = (Volatile.Read(ref _outputLimitHit) != 0 ? SandboxLimits.Output : 0) | (Volatile.Read(ref _cpuTimeLimitHit) != 0 ? SandboxLimits.CpuTime : 0);
            var revealed = (usage?.LimitsHit ?? 0) & ~live;
            if (revealed != 0)
                Publish(SandboxEventKind.LimitHit, limits: revealed);
            if (oomKilled)
                Publish(SandboxEventKind.OomKilled);
            Publish(SandboxEventKind.Exited, pid: Pid, result: result);
            _exit.TrySetResult(result);
            FailStart(new InvalidOperationException($"Sandbox {Id} ended ({verdict}) before its command was started."));
        }
        catch (Exception ex)
        {
            CloseExecs();
            _exit.TrySetException(ex);
            FailStart(ex);
        }
        finally
        {
            // Without a result when the run failed; watchers must see the end either way.
            Publish(SandboxEventKind.Exited, pid: Pid);
        }
    }

    private readonly record struct Message(int Type, int A, int B, int C, string Detail)
    {
        public static Message Parse(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length < MsgHeaderSize)
                return new Message(0, 0, 0, 0, "");
            return new Message(
                BinaryPrimitives.ReadInt32LittleEndian(bytes),
                BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]),
                BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]),
                BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]),
                Encoding.UTF8.GetString(bytes[MsgHeaderSize..]));
        }
    }
}
