using System.Diagnostics;
using Sandboxing.IO;
using static Sandboxing.Helper.HelperProtocol;

namespace Sandboxing;

/// <summary>
/// A command exec'd into a running sandbox (<see cref="SandboxProcess.StartExecAsync"/>), like
/// docker exec: it joins the sandbox's namespaces and cgroup and runs under its user,
/// capabilities, seccomp policy and Landlock rules, with stdio, an exit status and
/// cancellation of its own. It ends when it exits, when it is killed, or when the sandbox ends.
/// Disposing it kills it if it still runs; the sandbox goes on.
/// </summary>
public sealed class SandboxExecProcess : IAsyncDisposable
{
    private readonly SandboxProcess _sandbox;
    private readonly int _execId;
    private readonly SandboxConfiguration _config;
    private readonly PendingExec _pending;
    private readonly FdStream? _stdin, _stdout, _stderr, _terminal;
    private readonly StdioPumps.Sink? _outputSink, _errorSink;
    private readonly Task _outputPumps;
    private readonly long _startTimestamp;
    private readonly TaskCompletionSource<SandboxResult> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration _cancellation;
    private readonly CancellationTokenSource? _timeout;
    private int _endReason; // 0, or the verdict that our own kill stands for

    internal SandboxExecProcess(SandboxProcess sandbox, int execId, int pid, PendingExec pending, SandboxConfiguration config,
        FdStream? stdin, FdStream? stdout, FdStream? stderr, FdStream? terminal, DateTimeOffset startTime, long startTimestamp, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        _sandbox = sandbox;
        _execId = execId;
        _pending = pending;
        _config = config;
        _stdin = stdin;
        _stdout = stdout;
        _stderr = stderr;
        _terminal = terminal;
        Pid = pid;
        StartTime = startTime;
        _startTimestamp = startTimestamp;

        var pumps = new List<Task>(2);
        _outputSink = StdioPumps.StartOutput(config.StandardOutput, stdout, pumps, () => End(SandboxVerdict.OutputLimitExceeded));
        _errorSink = StdioPumps.StartOutput(config.StandardError, stderr, pumps, () => End(SandboxVerdict.OutputLimitExceeded));
        _outputPumps = Task.WhenAll(pumps);
        StdioPumps.StartInput(config.StandardInput, stdin);
        if (timeout is { } t)
        {
            _timeout = new CancellationTokenSource(t);
            _timeout.Token.Register(static p => ((SandboxExecProcess)p!).End(SandboxVerdict.TimedOut), this);
        }
        if (cancellationToken.CanBeCanceled)
            _cancellation = cancellationToken.Register(static p => ((SandboxExecProcess)p!).End(SandboxVerdict.Canceled), this);
        _ = CompleteAsync();
    }

    /// <summary>Host pid of the exec'd command.</summary>
    public int Pid { get; }

    /// <summary>Identifier of the sandbox the command runs in.</summary>
    public string SandboxId => _sandbox.Id;

    /// <summary>When the command was started.</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>Whether the command has ended and its result is known.</summary>
    public bool HasExited => _exit.Task.IsCompleted;

    /// <summary>The command's standard input, when configured as <see cref="SandboxInput.Pipe"/>. Dispose it to send end of file.</summary>
    /// <exception cref="InvalidOperationException">Standard input is not a pipe.</exception>
    public Stream StandardInput => _config.StandardInput.Kind == SandboxInput.InputKind.Pipe && _stdin is { } s
        ? s : throw NotPiped("input", "StandardInput = SandboxInput.Pipe");

    /// <summary>The command's standard output, when configured as <see cref="SandboxOutput.Pipe"/>.</summary>
    /// <exception cref="InvalidOperationException">Standard output is not a pipe.</exception>
    public Stream StandardOutput => _config.StandardOutput.Kind == SandboxOutput.OutputKind.Pipe && _stdout is { } s
        ? s : throw NotPiped("output", "StandardOutput = SandboxOutput.Pipe");

    /// <summary>The command's standard error, when configured as <see cref="SandboxOutput.Pipe"/>.</summary>
    /// <exception cref="InvalidOperationException">Standard error is not a pipe.</exception>
    public Stream StandardError => _config.StandardError.Kind == SandboxOutput.OutputKind.Pipe && _stderr is { } s
        ? s : throw NotPiped("error", "StandardError = SandboxOutput.Pipe");

    /// <summary>The command's terminal (<see cref="SandboxExecOptions.Terminal"/>): read what it writes, write what it reads.</summary>
    /// <exception cref="InvalidOperationException">The command has no terminal.</exception>
    public Stream Terminal => _terminal ?? throw NoTerminal();

    /// <summary>Resizes the command's terminal; its foreground processes get SIGWINCH.</summary>
    /// <exception cref="InvalidOperationException">The command has no terminal.</exception>
    public void ResizeTerminal(TerminalSize size) => IO.PseudoTerminal.Resize((_terminal ?? throw NoTerminal()).Descriptor, size);

    private static InvalidOperationException NoTerminal() =>
        new("This exec'd command has no terminal; set SandboxExecOptions.Terminal.");

    private static InvalidOperationException NotPiped(string stream, string how) =>
        new($"Standard {stream} of this exec'd command is not a pipe; set SandboxExecOptions.{how}.");

    /// <summary>
    /// Waits until the command has ended and its output streams are closed (a background
    /// process it left holding them keeps them open until it ends, at the latest with the
    /// sandbox). The result's <see cref="SandboxResult.Usage"/> is null: accounting is the
    /// sandbox's. Cancelling <paramref name="cancellationToken"/> stops the wait, not the command.
    /// </summary>
    public Task<SandboxResult> WaitForExitAsync(CancellationToken cancellationToken = default) =>
        _exit.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Sends <paramref name="signal"/> to the command: SIGHUP (1), SIGINT (2), SIGQUIT (3),
    /// SIGKILL (9), SIGUSR1 (10), SIGUSR2 (12), SIGALRM (14), SIGTERM (15), SIGCONT (18) or SIGWINCH (28).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Another signal.</exception>
    public void Signal(int signal)
    {
        if (signal != 9 && Array.IndexOf(ForwardedSignals, signal) < 0)
            throw new ArgumentOutOfRangeException(nameof(signal), signal,
                $"Signal {signal} cannot be sent to an exec'd command; allowed: {string.Join(", ", ForwardedSignals)} and 9.");
        if (!HasExited)
            _sandbox.SendExecSignal(_execId, signal);
    }

    /// <summary>Kills the command (not the sandbox) and waits for its result.</summary>
    public Task<SandboxResult> KillAsync()
    {
        End(SandboxVerdict.Canceled);
        return _exit.Task;
    }

    /// <summary>Kills the command if it still runs, waits for it, and releases its pipes.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!HasExited)
                End(SandboxVerdict.Canceled);
            await _exit.Task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // WaitForExitAsync reports how it failed; disposing must still release all.
        }
        finally
        {
            await _cancellation.DisposeAsync().ConfigureAwait(false);
            _timeout?.Dispose();
            _stdin?.Dispose();
            _stdout?.Dispose();
            _stderr?.Dispose();
            _terminal?.Dispose();
        }
    }

    /// <summary>Kills the command, remembering why for the verdict (the first reason wins).</summary>
    private void End(SandboxVerdict reason)
    {
        Interlocked.CompareExchange(ref _endReason, (int)reason, 0);
        _sandbox.SendExecSignal(_execId, 9);
    }

    private async Task CompleteAsync()
    {
        try
        {
            var (kind, value) = await _pending.Exited.Task.ConfigureAwait(false);
            long exitTimestamp = Stopwatch.GetTimestamp();
            var exitTime = DateTimeOffset.UtcNow;
            // Why we killed it, as of its end: a timer firing later (while a background process
            // still holds its output) is not why it ended.
            var ownKill = (SandboxVerdict)Volatile.Read(ref _endReason);
            _timeout?.Dispose();
            await _outputPumps.ConfigureAwait(false);
            _stdin?.Dispose();
            var verdict = ownKill switch
            {
                // Past the output limit is the verdict even when it exited before the kill reached it.
                SandboxVerdict.OutputLimitExceeded => ownKill,
                SandboxVerdict.TimedOut or SandboxVerdict.Canceled when kind == ExitSignal => ownKill,
                _ when kind == ExitSignal => SandboxVerdict.Signaled,
                _ => SandboxVerdict.Exited,
            };
            var result = new SandboxResult(
                _sandbox.Id,
                exitCode: kind == ExitCode ? value : null,
                signal: kind == ExitSignal ? value : null,
                verdict,
                StartTime,
                exitTime,
                Stopwatch.GetElapsedTime(_startTimestamp, exitTimestamp),
                StdioPumps.Decode(_outputSink),
                StdioPumps.Decode(_errorSink))
            {
                StandardOutputTruncated = _outputSink?.Truncated ?? false,
                StandardErrorTruncated = _errorSink?.Truncated ?? false,
            };
            _sandbox.Publish(SandboxEventKind.ExecExited, pid: Pid, result: result);
            _exit.TrySetResult(result);
        }
        catch (Exception e)
        {
            _exit.TrySetException(e);
        }
    }
}

/// <summary>An exec'd command the helper has been asked to start, until it reports it ended.</summary>
internal sealed class PendingExec(SandboxConfiguration config)
{
    public SandboxConfiguration Config { get; } = config;

    /// <summary>The command's host pid once it runs, or the reason it could not start.</summary>
    public TaskCompletionSource<int> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>(SBX_EXIT_*, exit code or signal) once it has ended.</summary>
    public TaskCompletionSource<(int Kind, int Value)> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
