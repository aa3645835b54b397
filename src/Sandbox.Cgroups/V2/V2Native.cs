using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Sandboxing.Cgroups;

/// <summary>
/// The few syscalls the v2 backend needs beyond <see cref="ICgroupFileSystem"/>: poll(2) on
/// cgroup.events, an eventfd to interrupt that poll on cancellation, and kill(2) for kernels
/// without cgroup.kill. Every call retries EINTR itself.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class V2Native
{
    public const int EINTR = 4;
    public const int ESRCH = 3;
    public const int ENOENT = 2;
    public const int SIGKILL = 9;

    public const short POLLIN = 0x1;
    public const short POLLPRI = 0x2;

    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;
    private const int EFD_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    /// <summary>open(path, O_RDONLY | O_CLOEXEC); -1 with errno on failure.</summary>
    public static int OpenRead(string path, out int errno)
    {
        int fd;
        do
            fd = open(path, O_RDONLY | O_CLOEXEC);
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>
    /// Reads the whole (small) file from offset 0 with pread(2). On kernfs, reading also re-arms the
    /// descriptor's notification, so a change after this read makes the next poll return.
    /// </summary>
    public static string ReadFromStart(int fd)
    {
        byte* buffer = stackalloc byte[4096];
        nint n;
        do
            n = pread(fd, buffer, 4096, 0);
        while (n < 0 && Marshal.GetLastPInvokeError() == EINTR);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"pread: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        return System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>poll(2) on <paramref name="fds"/>; returns the ready count, 0 on timeout or EINTR.</summary>
    public static int Poll(Span<PollFd> fds, int timeoutMilliseconds)
    {
        fixed (PollFd* p = fds)
        {
            int n = poll(p, (nuint)fds.Length, timeoutMilliseconds);
            if (n >= 0)
                return n;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
                return 0;
            throw new IOException($"poll: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }

    /// <summary>A non-blocking, close-on-exec eventfd, or -1.</summary>
    public static int CreateEventFd() => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    /// <summary>Adds 1 to an eventfd, making it readable (POLLIN).</summary>
    public static void Signal(int eventFd)
    {
        ulong one = 1;
        _ = write(eventFd, &one, sizeof(ulong));
    }

    public static void Close(int fd) => _ = close(fd);

    /// <summary>kill(pid, SIGKILL); <see langword="false"/> when the process no longer exists (ESRCH).</summary>
    /// <exception cref="IOException">Another error, such as EPERM.</exception>
    public static bool KillProcess(int pid)
    {
        if (kill(pid, SIGKILL) == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ESRCH)
            return false;
        throw new IOException($"kill({pid}, SIGKILL): {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static partial nint pread(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
