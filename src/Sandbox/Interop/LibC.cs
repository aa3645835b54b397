using System.Runtime.InteropServices;

namespace Sandboxing.Interop;

// The few glibc functions the library calls, for Linux x86_64 and arm64 only.
//
// Why hand-written P/Invoke instead of System.IO.Pipes or Process: .NET's pipe streams block a
// thread-pool thread per pending read on Linux, and Process cannot hand the child real pipes,
// pidfds or a seqpacket socket at chosen descriptor numbers. Everything goes through
// [LibraryImport] (source-generated, AOT-safe); the runtime maps "libc" to libc.so.6.
//
// Unless a comment says otherwise, functions return -1 and set errno (read it with LastErrno).
// The constants below have the same values on x86_64 and arm64; where the two differ (epoll_event
// layout, raw syscall numbers) the code says so.
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    // ---- errno ----------------------------------------------------------------------------

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EIO = 5;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int ECHILD = 10;
    public const int EAGAIN = 11;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int EPIPE = 32;
    public const int ENOSYS = 38;
    public const int ECONNRESET = 104;
    public const int ENOTCONN = 107;

    /// <summary>errno of the last [LibraryImport(SetLastError = true)] call on this thread.</summary>
    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>strerror() text, for exception messages.</summary>
    public static string ErrnoText(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    // ---- signals --------------------------------------------------------------------------

    public const int SIGKILL = 9;
    public const int SIGPIPE = 13;
    public const int SIGTERM = 15;
    public const int SIGCHLD = 17;

    // ---- files and descriptors ------------------------------------------------------------

    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_TRUNC = 0x200;
    public const int O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int FD_CLOEXEC = 1;

    public const int MFD_CLOEXEC = 0x1;
    public const int MFD_ALLOW_SEALING = 0x2;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    // close() is not retried on EINTR: Linux has released the descriptor by then, and a retry
    // could close a number another thread has just been given.
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);

    // fcntl and open are variadic in C; declaring the optional argument as a fixed int is sound on
    // x86_64 and arm64 Linux, where variadic integer arguments travel in the same registers.
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup(int fd);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lchown(string path, uint owner, uint group);

    // ---- poll (only for the rare synchronous Stream.Read/Write paths) ---------------------

    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeout);

    // ---- sockets --------------------------------------------------------------------------

    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_SEQPACKET = 5;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SHUT_RDWR = 2;

    // MSG_TRUNC makes recv() on a datagram socket return the real message length even when the
    // buffer was shorter, so a truncated message is detected instead of silently cut.
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    // Belt and braces: .NET ignores SIGPIPE already, but a send must never kill the process.
    public const int MSG_NOSIGNAL = 0x4000;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* sv);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nint len, int flags);

    public const int SOL_SOCKET = 1, SCM_RIGHTS = 1;

    public const int SC_CLK_TCK = 2;

    [LibraryImport(Lib)]
    public static partial long sysconf(int name);

    // ---- terminals ------------------------------------------------------------------------

    public const int O_NOCTTY = 0x100;
    public const uint TIOCSWINSZ = 0x5414, TIOCGWINSZ = 0x5413, TIOCGPTPEER = 0x5441;

    /// <summary>struct winsize.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct WinSize
    {
        public ushort Rows, Columns, XPixels, YPixels;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_openpt(int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int unlockpt(int fd);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl_winsize(int fd, nuint request, WinSize* size);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl_int(int fd, nuint request, nint arg);

    /// <summary>struct msghdr (LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    public const int MSG_CMSG_CLOEXEC = 0x40000000, MSG_CTRUNC = 0x8;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(int fd, byte* address, int length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int listen(int fd, int backlog);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int accept4(int fd, byte* address, int* length, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int connect(int fd, byte* address, int length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    // ---- processes and identity -----------------------------------------------------------

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getpid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint getuid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint getgid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint geteuid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint getegid();

    // ---- pidfds and waitid ----------------------------------------------------------------
    // A pidfd names one process for good (a pid can be reused once reaped), becomes readable when
    // the process exits (so the reactor can watch it), and works with waitid(P_PIDFD).

    public const int P_PID = 1;
    public const int P_PIDFD = 3; // Linux 5.4
    public const int WNOHANG = 0x1;
    public const int WEXITED = 0x4;
    public const int WNOWAIT = 0x01000000;
    public const uint PIDFD_NONBLOCK = O_NONBLOCK; // Linux 5.10

    // si_code values for SIGCHLD.
    public const int CLD_EXITED = 1;
    public const int CLD_KILLED = 2;
    public const int CLD_DUMPED = 3;

    // Raw syscall numbers. pidfd_open and pidfd_send_signal were added after the per-architecture
    // tables were unified, so they share one number; waitid predates that.
    private const int SYS_pidfd_send_signal = 424; // Linux 5.1
    private const int SYS_pidfd_open = 434;        // Linux 5.3
    private static readonly int SYS_waitid =
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 95 : 247;

    // glibc's syscall() is variadic; its integer arguments use the ordinary registers on x86_64
    // and arm64 Linux, so a fixed three-argument declaration is safe. It sets errno itself.
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint syscall3(nint number, nint arg1, nint arg2, nint arg3);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint syscall5(nint number, nint arg1, nint arg2, nint arg3, nint arg4, nint arg5);

    /// <summary>pidfd_open(2): glibc only wraps it from 2.36, so it goes through syscall().</summary>
    public static int pidfd_open(int pid, uint flags) => (int)syscall3(SYS_pidfd_open, pid, (nint)flags, 0);

    /// <summary>pidfd_send_signal(2): kill() without the risk of hitting a reused pid.</summary>
    public static int pidfd_send_signal(int pidfd, int sig) => (int)syscall5(SYS_pidfd_send_signal, pidfd, sig, 0, 0, 0);

    [LibraryImport(Lib, EntryPoint = "waitid", SetLastError = true)]
    private static partial int waitid_libc(int idtype, uint id, SigInfo* infop, int options);

    /// <summary>
    /// waitid(2). glibc's waitid has no rusage argument, so when one is wanted the raw syscall
    /// (which has always had it) is used instead. Returns 0, or -1 with errno.
    /// </summary>
    public static int waitid(int idtype, int id, SigInfo* infop, int options, void* rusage = null) =>
        rusage is null
            ? waitid_libc(idtype, (uint)id, infop, options)
            : (int)syscall5(SYS_waitid, idtype, id, (nint)infop, options, (nint)rusage);

    /// <summary>
    /// siginfo_t as filled by waitid for a child: 128 bytes, with the fields at the same offsets
    /// on x86_64 and arm64 (the int-sized si_code is followed by padding to align the union).
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct SigInfo
    {
        [FieldOffset(0)] public int Signo;
        [FieldOffset(4)] public int Errno;
        [FieldOffset(8)] public int Code;
        [FieldOffset(16)] public int Pid;
        [FieldOffset(20)] public uint Uid;
        // Pid is 0 after a WNOHANG waitid that found the child still running; Status is the exit
        // code for CLD_EXITED and the signal number for CLD_KILLED and CLD_DUMPED.
        [FieldOffset(24)] public int Status;
    }

    // ---- posix_spawn ----------------------------------------------------------------------
    // posix_spawn starts the helper without fork(): glibc clones with CLONE_VM|CLONE_VFORK, which
    // is safe in the multithreaded .NET process. Unlike the rest of this file, these functions
    // return the error number as their result and leave errno alone (sigemptyset/sigfillset are
    // the exception: -1 and errno).
    //
    // posix_spawn_file_actions_t, posix_spawnattr_t and sigset_t are opaque. They are allocated as
    // OpaqueSize zeroed native bytes, well above glibc's 80, 336 and 128 bytes, so a libc whose
    // structs grow (or another libc) cannot write past the end; the libc only ever sees pointers.

    public const int OpaqueSize = 1024;

    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int posix_spawn(int* pid, string path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawn_file_actions_destroy(void* fileActions);

    // POSIX.1-2024 says adddup2(fd, fd) clears FD_CLOEXEC, but older glibc versions leave it set:
    // callers must never pass a descriptor that is already at its target number.
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newfd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawn_file_actions_addclose(void* fileActions, int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawnattr_init(void* attr);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawnattr_setflags(void* attr, short flags);

    // The child inherits the spawning thread's signal mask and every *ignored* signal (.NET
    // ignores SIGPIPE), so spawns set an empty mask and reset all signals to their defaults.
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawnattr_setsigmask(void* attr, void* sigmask);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawnattr_setsigdefault(void* attr, void* sigdefault);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sigemptyset(void* set);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sigfillset(void* set);

    // ---- epoll and eventfd ----------------------------------------------------------------

    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;

    // Event bits are uint because they live in EpollEvent.Events (and EPOLLET is bit 31).
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLONESHOT = 1u << 30;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    /// <summary>
    /// struct epoll_event with natural alignment: 16 bytes, which is the kernel's layout on arm64.
    /// On x86_64 the kernel declares it packed (12 bytes); epoll_ctl and epoll_wait below convert.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct PackedEpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    // Only x86_64 packs it (the kernel's EPOLL_PACKED is defined for __x86_64__ alone).
    private static readonly bool EpollEventIsPacked = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int epoll_ctl_native(int epfd, int op, int fd, void* ev);

    [LibraryImport(Lib, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int epoll_wait_native(int epfd, void* events, int maxevents, int timeout);

    public static int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev)
    {
        if (!EpollEventIsPacked || ev is null)
            return epoll_ctl_native(epfd, op, fd, ev);
        PackedEpollEvent packed = new() { Events = ev->Events, Data = ev->Data };
        return epoll_ctl_native(epfd, op, fd, &packed);
    }

    public static int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout)
    {
        int n = epoll_wait_native(epfd, events, maxevents, timeout);
        if (n > 0 && EpollEventIsPacked)
        {
            // The kernel wrote n 12-byte records into the 16-byte-stride array; spread them out
            // in place, last first, so no record is overwritten before it is read.
            PackedEpollEvent* packed = (PackedEpollEvent*)events;
            for (int i = n - 1; i >= 0; i--)
            {
                PackedEpollEvent e = packed[i];
                events[i] = new EpollEvent { Events = e.Events, Data = e.Data };
            }
        }
        return n;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);
}
