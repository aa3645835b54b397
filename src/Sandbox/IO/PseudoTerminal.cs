using Sandboxing.Interop;

namespace Sandboxing.IO;

/// <summary>
/// A pseudo-terminal for one sandboxed command: the library keeps the master side (a stream
/// that reads what the command writes and writes what it reads), the command gets the other
/// side as its stdio and controlling terminal. A fresh one per command, so the command never
/// holds the caller's own terminal (into which it could push input with TIOCSTI).
/// </summary>
internal sealed unsafe class PseudoTerminal : IDisposable
{
    private PseudoTerminal(SafeFd master, SafeFd secondary)
    {
        Master = master;
        Secondary = secondary;
    }

    /// <summary>The master side; becomes the <see cref="FdStream"/> the caller uses.</summary>
    public SafeFd Master { get; }

    /// <summary>The command's side: passed as its stdin, stdout and stderr, then closed here.</summary>
    public SafeFd Secondary { get; }

    public static PseudoTerminal Open(TerminalSize size)
    {
        var master = SafeFd.Adopt(LibC.posix_openpt(LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC));
        if (master.IsInvalid)
            throw Failure("open /dev/ptmx", LibC.LastErrno);
        try
        {
            if (LibC.unlockpt(master.Fd) != 0)
                throw Failure("unlockpt", LibC.LastErrno);
            // TIOCGPTPEER (Linux 4.13) opens the other side through the master, never by a path
            // someone else could have replaced.
            var secondary = SafeFd.Adopt(LibC.ioctl_int(master.Fd, LibC.TIOCGPTPEER, LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC));
            if (secondary.IsInvalid)
                throw Failure("open the terminal's other side (TIOCGPTPEER)", LibC.LastErrno);
            try
            {
                Resize(master, size);
            }
            catch
            {
                secondary.Dispose();
                throw;
            }
            return new PseudoTerminal(master, secondary);
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    public void Resize(TerminalSize size) => Resize(Master, size);

    /// <summary>Sets the window size; the kernel sends SIGWINCH to the terminal's foreground process group.</summary>
    public static void Resize(SafeFd master, TerminalSize size)
    {
        size.Validate("terminal");
        var ws = new LibC.WinSize { Columns = (ushort)size.Columns, Rows = (ushort)size.Rows };
        if (LibC.ioctl_winsize(master.Fd, LibC.TIOCSWINSZ, &ws) != 0)
            throw Failure("resize the terminal (TIOCSWINSZ)", LibC.LastErrno);
    }

    private static SandboxException Failure(string what, int errno) =>
        new($"Sandbox could not {what}: {LibC.ErrnoText(errno)}.", "allocate a terminal", errno,
            errno is LibC.ENOENT or 19 /* ENODEV */ ? "This host has no /dev/ptmx (devpts); run without a terminal." : null);

    public void Dispose()
    {
        Master.Dispose();
        Secondary.Dispose();
    }
}
