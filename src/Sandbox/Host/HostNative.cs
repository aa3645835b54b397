using System.Runtime.InteropServices;

namespace Sandboxing.Host;

// The system calls the host probe makes to learn what the kernel offers, kept apart from the
// launcher's Interop/LibC.cs. Each probe passes arguments the kernel rejects before doing
// anything (a NULL pointer with size 0, fd -1), so nothing is created or changed: ENOSYS means
// the call is missing (or a seccomp filter hides it), any other errno means it exists.
//
// Every call here was added after the per-architecture syscall tables were unified (424 and
// up), so x86_64 and arm64 share the numbers.
internal static unsafe partial class HostNative
{
    private const string Lib = "libc";

    public const int EPERM = 1;
    public const int EBADF = 9;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;

    private const int SYS_pidfd_open = 434;              // Linux 5.3
    private const int SYS_clone3 = 435;                  // Linux 5.3
    private const int SYS_openat2 = 437;                 // Linux 5.6
    private const int SYS_mount_setattr = 442;           // Linux 5.12
    private const int SYS_landlock_create_ruleset = 444; // Linux 5.13

    private const int LANDLOCK_CREATE_RULESET_VERSION = 1;
    private const int SECCOMP_GET_ACTION_AVAIL = 2;
    private const uint SECCOMP_RET_ERRNO = 0x00050000;
    private const int P_PIDFD = 3; // Linux 5.4
    private const int WEXITED = 4;

    // glibc's syscall() is variadic; its integer arguments use the ordinary registers on x86_64
    // and arm64 Linux, so a fixed declaration is safe (see Interop/LibC.cs).
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint syscall5(nint number, nint arg1, nint arg2, nint arg3, nint arg4, nint arg5);

    [LibraryImport(Lib, EntryPoint = "waitid", SetLastError = true)]
    private static partial int waitid(int idtype, uint id, byte* infop, int options);

    private static int ErrnoOf(nint result) => result < 0 ? Marshal.GetLastPInvokeError() : 0;

    /// <summary>clone3(NULL, 0): EINVAL (size below the first version) when the call exists.</summary>
    public static int ProbeClone3() => ErrnoOf(syscall5(SYS_clone3, 0, 0, 0, 0, 0));

    /// <summary>pidfd_open(-1, 0): EINVAL when the call exists.</summary>
    public static int ProbePidfdOpen() => ErrnoOf(syscall5(SYS_pidfd_open, -1, 0, 0, 0, 0));

    /// <summary>
    /// waitid(P_PIDFD, INT_MAX): EBADF (no such fd) when P_PIDFD is known (Linux 5.4), EINVAL
    /// before. Not -1: a negative id is EINVAL on every kernel.
    /// </summary>
    public static int ProbeWaitidPidfd()
    {
        byte* info = stackalloc byte[128];
        return waitid(P_PIDFD, int.MaxValue, info, WEXITED) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>openat2(-1, NULL, NULL, 0): EINVAL (size below the first version) when the call exists.</summary>
    public static int ProbeOpenat2() => ErrnoOf(syscall5(SYS_openat2, -1, 0, 0, 0, 0));

    /// <summary>mount_setattr(-1, NULL, 0, NULL, 0): EINVAL (size below the first version) when the call exists.</summary>
    public static int ProbeMountSetattr() => ErrnoOf(syscall5(SYS_mount_setattr, -1, 0, 0, 0, 0));

    /// <summary>The Landlock ABI version (1 and up), or -errno: ENOSYS not built in, EOPNOTSUPP disabled at boot.</summary>
    public static int LandlockAbi()
    {
        nint r = syscall5(SYS_landlock_create_ruleset, 0, 0, LANDLOCK_CREATE_RULESET_VERSION, 0, 0);
        return r >= 0 ? (int)r : -Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &amp;SECCOMP_RET_ERRNO): 0 when filter mode
    /// (CONFIG_SECCOMP_FILTER, Linux 3.5; the operation 4.14) is available, else the errno.
    /// </summary>
    public static int ProbeSeccompFilter()
    {
        uint action = SECCOMP_RET_ERRNO;
        int nr = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 277 : 317;
        return ErrnoOf(syscall5(nr, SECCOMP_GET_ACTION_AVAIL, 0, (nint)(&action), 0, 0));
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint geteuid();

    public static string ErrnoText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
