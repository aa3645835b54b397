using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandboxing.Cli;

/// <summary>
/// The CLI's side of <c>-t</c>: copies the sandboxed command's terminal to our stdout and (with
/// <c>-i</c>) our stdin to it, puts our own terminal into raw mode meanwhile (so Ctrl-C, Ctrl-Z
/// and line editing reach the command's terminal as bytes) and passes our window size on when
/// it changes. Our terminal's settings are restored however the session ends.
/// </summary>
internal sealed partial class TerminalSession : IDisposable
{
    private const int StdIn = 0, StdOut = 1;
    private const int TCSANOW = 0;
    private const nuint TIOCGWINSZ = 0x5413;

    private readonly byte[]? _savedSettings;
    private readonly PosixSignalRegistration? _windowChanges;

    private TerminalSession(byte[]? savedSettings, PosixSignalRegistration? windowChanges)
    {
        _savedSettings = savedSettings;
        _windowChanges = windowChanges;
    }

    /// <summary>Our window size when stdout is a terminal, else the default.</summary>
    public static unsafe TerminalSize CurrentSize()
    {
        WinSize ws = default;
        return ioctl(StdOut, TIOCGWINSZ, &ws) == 0 && ws.Columns > 0 && ws.Rows > 0
            ? new TerminalSize(ws.Columns, ws.Rows)
            : TerminalSize.Default;
    }

    /// <summary>
    /// Starts a session: raw mode when <paramref name="interactive"/> and our stdin is a
    /// terminal, and <paramref name="resize"/> called with our new size on every SIGWINCH.
    /// </summary>
    public static TerminalSession Start(bool interactive, Action<TerminalSize> resize)
    {
        byte[]? saved = interactive && isatty(StdIn) == 1 ? EnterRawMode() : null;
        var windowChanges = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context =>
        {
            context.Cancel = true;
            try
            {
                resize(CurrentSize());
            }
            catch (Exception e) when (e is InvalidOperationException or SandboxException or ObjectDisposedException)
            {
                // The command has ended; its terminal is gone.
            }
        });
        return new TerminalSession(saved, windowChanges);
    }

    /// <summary>Raw mode on our stdin; returns the settings to restore, or null when there are none.</summary>
    private static unsafe byte[]? EnterRawMode()
    {
        byte[]? saved = null;
        saved = new byte[Termios.Size];
        var raw = new byte[Termios.Size];
        fixed (byte* s = saved, r = raw)
        {
            if (tcgetattr(StdIn, s) != 0)
                return null;
            Buffer.MemoryCopy(s, r, Termios.Size, Termios.Size);
            cfmakeraw(r);
            tcsetattr(StdIn, TCSANOW, r);
        }
        return saved;
    }

    /// <summary>
    /// Copies the command's terminal to our stdout until it ends, and our stdin into it when
    /// <paramref name="interactive"/> (until our stdin ends or the terminal does).
    /// </summary>
    public static async Task PumpAsync(Stream terminal, bool interactive)
    {
        using var stdout = new FileStream(new SafeFileHandle(StdOut, ownsHandle: false), FileAccess.Write, 1);
        if (interactive)
            _ = Task.Run(() => CopyInputAsync(terminal));
        await terminal.CopyToAsync(stdout).ConfigureAwait(false);
        await stdout.FlushAsync().ConfigureAwait(false);
    }

    private static async Task CopyInputAsync(Stream terminal)
    {
        var buffer = new byte[4096];
        using var stdin = new FileStream(new SafeFileHandle(StdIn, ownsHandle: false), FileAccess.Read, 1);
        try
        {
            int n;
            while ((n = await stdin.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                await terminal.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
            // End of our input: what a terminal's user signals with Ctrl-D (EOF at a line start).
            await terminal.WriteAsync(new byte[] { 4 }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The command's terminal is gone.
        }
    }

    public unsafe void Dispose()
    {
        _windowChanges?.Dispose();
        if (_savedSettings is { } saved)
            fixed (byte* s = saved)
                tcsetattr(StdIn, TCSANOW, s);
    }

    /// <summary>struct termios is 60 bytes on Linux (glibc and musl alike); room to spare.</summary>
    private static class Termios
    {
        public const int Size = 64;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows, Columns, XPixels, YPixels;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcsetattr(int fd, int action, byte* termios);

    [LibraryImport("libc")]
    private static unsafe partial void cfmakeraw(byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ioctl(int fd, nuint request, WinSize* size);
}
