using System.Runtime.InteropServices;

namespace Sandboxing.Interop;

/// <summary>
/// Owns one file descriptor and closes it exactly once. Derives from SafeHandle directly because
/// SafeHandleZeroOrMinusOneIsInvalid would treat descriptor 0 as invalid. Code that passes the
/// number to a system call while another thread may dispose the handle should bracket the call
/// with DangerousAddRef/DangerousRelease, so the number cannot be closed and reused mid-call.
/// </summary>
internal sealed class SafeFd : SafeHandle
{
    private SafeFd(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle == -1;

    /// <summary>The descriptor number; throws once the handle is closed so a stale number is never used.</summary>
    public int Fd
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (int)handle;
        }
    }

    /// <summary>Takes ownership of a descriptor returned by a system call (-1 gives an invalid handle).</summary>
    public static SafeFd Adopt(int fd) => new(fd);

    /// <summary>Sets O_NONBLOCK, which the reactor-driven streams rely on.</summary>
    public void SetNonBlocking()
    {
        int fd = Fd;
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        if (flags < 0 || ((flags & LibC.O_NONBLOCK) == 0 && LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK) < 0))
        {
            int errno = LibC.LastErrno;
            throw new IOException($"Cannot make file descriptor {fd} non-blocking: {LibC.ErrnoText(errno)}", errno);
        }
    }

    // Not retried on EINTR: Linux has released the number by then (see LibC.close).
    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;

    /// <summary>
    /// Blocks in poll() until the fd is ready for <paramref name="events"/>; only for the
    /// rarely used synchronous stream paths (the async ones go through the reactor).
    /// </summary>
    public unsafe void PollBlocking(short events)
    {
        bool addedRef = false;
        try
        {
            DangerousAddRef(ref addedRef);
            LibC.PollFd pollFd = new() { Fd = (int)DangerousGetHandle(), Events = events };
            while (LibC.poll(&pollFd, 1, -1) < 0)
            {
                int errno = LibC.LastErrno;
                if (errno != LibC.EINTR)
                    throw new IOException($"poll on file descriptor {pollFd.Fd} failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
            }
        }
        finally
        {
            if (addedRef)
                DangerousRelease();
        }
    }
}
