using System.Runtime.InteropServices;
using System.Text;

namespace Sandboxing.Images;

// The glibc functions and raw system calls the image store needs, kept apart from the shared
// Interop/LibC.cs so the image code can change without touching the launcher's interop.
//
// Everything here is for Linux x86_64 and arm64. Both use the kernel's generic values for the
// open flags, errno numbers, statx and the *at() flags, so one set of constants serves both;
// where the two differ (the raw number of mknodat) the code says so. Unless a comment says
// otherwise, functions return -1 and set errno (read it with LastErrno).
internal static unsafe partial class ImageNative
{
    private const string Lib = "libc";

    // ---- errno ----------------------------------------------------------------------------

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int EAGAIN = 11;
    public const int EWOULDBLOCK = EAGAIN;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ENAMETOOLONG = 36;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int ENODATA = 61;
    public const int EOPNOTSUPP = 95;
    public const int EXDEV = 18;
    public const int EDQUOT = 122;

    /// <summary>errno of the last [LibraryImport(SetLastError = true)] call on this thread.</summary>
    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>strerror() text, for exception messages.</summary>
    public static string ErrnoText(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    // ---- open flags and *at() flags -------------------------------------------------------

    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;

    // openat2(2) resolve flags (Linux 5.6).
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;
    public const ulong RESOLVE_IN_ROOT = 0x10;

    // File type bits of st_mode.
    public const int S_IFMT = 0xF000;
    public const int S_IFIFO = 0x1000;
    public const int S_IFCHR = 0x2000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFBLK = 0x6000;
    public const int S_IFREG = 0x8000;
    public const int S_IFLNK = 0xA000;

    public const uint RENAME_NOREPLACE = 1;
    public const uint RENAME_EXCHANGE = 2;

    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    // ---- raw system calls -----------------------------------------------------------------

    // openat2 was added after the per-architecture syscall tables were unified, so it has one
    // number everywhere. mknodat predates that; it goes through syscall() as well because glibc
    // only exports a mknodat symbol from 2.33 (older versions inline it to __xmknodat).
    private const int SYS_openat2 = 437; // Linux 5.6
    private static readonly int SYS_mknodat =
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 33 : 259;

    // glibc's syscall() is variadic; integer arguments use the ordinary registers on x86_64 and
    // arm64 Linux, so a fixed four-argument declaration is safe. It sets errno itself.
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint syscall4(nint number, nint arg1, nint arg2, nint arg3, nint arg4);

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    /// <summary>openat2(2): open <paramref name="path"/> below <paramref name="dirfd"/> with resolve restrictions.</summary>
    public static int openat2(int dirfd, string path, int flags, ulong resolve)
    {
        OpenHow how = new() { Flags = (ulong)(uint)flags, Mode = 0, Resolve = resolve };
        byte[] utf8 = Utf8Z(path);
        fixed (byte* p = utf8)
            return (int)syscall4(SYS_openat2, dirfd, (nint)p, (nint)(&how), sizeof(OpenHow));
    }

    /// <summary>
    /// mknodat(2). <paramref name="major"/> and <paramref name="minor"/> are encoded the way the
    /// kernel's new_decode_dev() reads the 32-bit argument.
    /// </summary>
    public static int mknodat(int dirfd, string path, int mode, uint major, uint minor)
    {
        uint dev = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffu) << 12);
        byte[] utf8 = Utf8Z(path);
        fixed (byte* p = utf8)
            return (int)syscall4(SYS_mknodat, dirfd, (nint)p, mode, (nint)dev);
    }

    private static byte[] Utf8Z(string s)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    // ---- files and directories ------------------------------------------------------------

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    // openat is variadic in C; a fixed int mode is sound on x86_64 and arm64 (same registers).
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(int dirfd, string path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int symlinkat(string target, int newdirfd, string linkpath);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int linkat(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(int dirfd, string path, int flags);

    // Overloads that take a name as the NUL-terminated bytes readdir returned: a name that is
    // not valid UTF-8 must reach the kernel exactly as it came, not as a decoded string.
    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int unlinkat(int dirfd, byte* path, int flags);

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true)]
    public static partial int openat(int dirfd, byte* path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fchown(int fd, uint owner, uint group);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fchownat(int dirfd, string path, uint owner, uint group, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fchmod(int fd, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, int mode);

    /// <summary>
    /// realpath(3) into a PATH_MAX buffer: the absolute path with every symlink, "." and ".."
    /// resolved; null (errno set) when a component is missing or unreadable.
    /// </summary>
    public static string? RealPath(string path)
    {
        const int PathMax = 4096;
        byte* buffer = stackalloc byte[PathMax];
        return realpath(path, buffer) == 0 ? null : Marshal.PtrToStringUTF8((nint)buffer);
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint realpath(string path, byte* resolved);

    // ---- directory listing ----------------------------------------------------------------

    /// <summary>fdopendir(3): takes ownership of <paramref name="fd"/> (closedir closes it); 0 on failure.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint fdopendir(int fd);

    /// <summary>readdir(3): the next struct dirent, or 0 at the end (errno 0) or on failure (errno set).</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint readdir(nint dir);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int closedir(nint dir);

    // glibc's struct dirent on 64-bit Linux: d_ino (8), d_off (8), d_reclen (2), d_type (1),
    // then d_name, NUL-terminated; the same on x86_64 and arm64.
    public const int DirentNameOffset = 19;

    // Linux's fchmodat ignores AT_SYMLINK_NOFOLLOW (glibc emulates it through O_PATH); callers
    // only use it on entries they have just created and know are not symlinks.
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fchmodat(int dirfd, string path, int mode, int flags);

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int utimensat(int dirfd, string path, Timespec* times, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int futimens(int fd, Timespec* times);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int syncfs(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int flock(int fd, int operation);

    // ---- extended attributes --------------------------------------------------------------

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fsetxattr(int fd, string name, byte* value, nuint size, int flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lsetxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint lgetxattr(string path, string name, byte* value, nuint size);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint fgetxattr(int fd, string name, byte* value, nuint size);

    /// <summary>The value of xattr <paramref name="name"/> of <paramref name="path"/> (not following a final symlink), or null when it has none.</summary>
    public static byte[]? GetXattr(string path, string name)
    {
        byte* buffer = stackalloc byte[4096];
        nint n = lgetxattr(path, name, buffer, 4096);
        return n < 0 ? null : new ReadOnlySpan<byte>(buffer, (int)n).ToArray();
    }

    // ---- statx ----------------------------------------------------------------------------

    public const uint STATX_BASIC_STATS = 0x7ff;

    /// <summary>struct statx (256 bytes, the same on every architecture); only the fields we read.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(120)] public uint MtimeNanoseconds;
        [FieldOffset(128)] public uint RdevMajor;
        [FieldOffset(132)] public uint RdevMinor;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, Statx* buffer);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true)]
    public static partial int statx(int dirfd, byte* path, int flags, uint mask, Statx* buffer);

    /// <summary>fstat-like statx of an open descriptor (O_PATH ones too); null (errno set) on failure.</summary>
    public static Statx? FStat(int fd)
    {
        Statx buffer;
        return statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &buffer) == 0 ? buffer : null;
    }

    /// <summary>lstat-like statx of <paramref name="path"/>; null when it does not exist or cannot be read.</summary>
    public static Statx? LStat(string path)
    {
        Statx buffer;
        return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &buffer) == 0 ? buffer : null;
    }

    // ---- identity -------------------------------------------------------------------------

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint geteuid();
}
