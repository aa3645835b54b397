using System.Runtime.InteropServices;

namespace Sandboxing.Cli;

/// <summary>
/// Turns SIGINT (Ctrl-C), SIGQUIT (Ctrl-\), SIGTERM and SIGHUP into one cancellation: the first
/// signal cancels the run, which kills the whole sandbox, and is remembered so the CLI can exit
/// with 128+N like a shell. A second signal is not intercepted, so its default action ends the
/// CLI at once if the kill ever hangs; the helper then sees its control channel close and kills
/// whatever is left in the sandbox.
/// </summary>
internal sealed class Interrupts : IDisposable
{
    private const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGTERM = 15;

    private readonly CancellationTokenSource _cancellation = new();
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _hangUp;
    private int _signal;

    public Interrupts()
    {
        Console.CancelKeyPress += OnCancelKeyPress;
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => c.Cancel = Interrupt(SIGTERM));
        // A closed terminal should stop the sandbox the same way, not leave it to the helper's cleanup.
        _hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => c.Cancel = Interrupt(SIGHUP));
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _cancellation.Token;

    /// <summary>The first signal received, or <see langword="null"/>.</summary>
    public int? Signal => Volatile.Read(ref _signal) is var s and not 0 ? s : null;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e) =>
        e.Cancel = Interrupt(e.SpecialKey == ConsoleSpecialKey.ControlBreak ? SIGQUIT : SIGINT);

    /// <summary>Returns whether this signal was handled (true only for the first one).</summary>
    private bool Interrupt(int signal)
    {
        if (Interlocked.CompareExchange(ref _signal, signal, 0) != 0)
            return false;
        _cancellation.Cancel();
        return true;
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _term.Dispose();
        _hangUp.Dispose();
        _cancellation.Dispose();
    }
}
