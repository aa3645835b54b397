using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Sandboxing.Cgroups;

/// <summary>
/// <see cref="ICgroupFileSystem"/> on the real machine: plain file reads, statfs(2), and
/// open/write/mkdir/rmdir through libc so that a refused write reports the kernel's errno.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class LinuxCgroupFileSystem : ICgroupFileSystem
{
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int EACCES = 13;
    private const int EINTR = 4;
    private const int EPERM = 1;

    // fcntl.h, the same on x86_64 and arm64.
    private const int O_RDONLY = 0x0;
    private const int O_WRONLY = 0x1;
    private const int O_CLOEXEC = 0x80000;

    // struct statfs is 120 bytes on x86_64 and arm64 (glibc and musl), with f_type first as a
    // 64-bit __fsword_t. The buffer is generous so a larger layout elsewhere cannot overflow it.
    private const int StatfsBufferSize = 256;

    private LinuxCgroupFileSystem()
    {
    }

    /// <summary>The one instance.</summary>
    public static LinuxCgroupFileSystem Instance { get; } = new();

    /// <inheritdoc/>
    /// <remarks>
    /// open, read and close with a stack buffer rather than File.ReadAllText, whose stream and
    /// reader buffers made up most of what a sandbox's run allocated: control files are small,
    /// and a run reads a dozen of them.
    /// </remarks>
    public unsafe string ReadAllText(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        int fd;
        do
            fd = open(path, O_RDONLY | O_CLOEXEC);
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        if (fd < 0)
            throw ReadError(path, "open", Marshal.GetLastPInvokeError());
        byte[]? rented = null;
        try
        {
            Span<byte> buffer = stackalloc byte[4096];
            int length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    byte[] larger = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.CopyTo(larger);
                    if (rented is not null)
                        System.Buffers.ArrayPool<byte>.Shared.Return(rented);
                    rented = larger;
                    buffer = larger;
                }
                nint n;
                fixed (byte* data = buffer)
                {
                    do
                        n = read(fd, data + length, (nuint)(buffer.Length - length));
                    while (n < 0 && Marshal.GetLastPInvokeError() == EINTR);
                }
                if (n < 0)
                    throw ReadError(path, "read", Marshal.GetLastPInvokeError());
                if (n == 0)
                    return System.Text.Encoding.UTF8.GetString(buffer[..length]);
                length += (int)n;
            }
        }
        finally
        {
            _ = close(fd);
            if (rented is not null)
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The exceptions File.ReadAllText throws, which callers (and the interface) expect.</summary>
    private static Exception ReadError(string path, string what, int errno)
    {
        string message = $"{what} `{path}`: {Marshal.GetPInvokeErrorMessage(errno)}";
        return errno switch
        {
            ENOENT when Directory.Exists(Path.GetDirectoryName(path)) => new FileNotFoundException(message, path),
            ENOENT or ENOTDIR => new DirectoryNotFoundException(message),
            EACCES or EPERM => new UnauthorizedAccessException(message),
            _ => new IOException(message, errno),
        };
    }

    /// <inheritdoc/>
    public bool FileExists(string path) => File.Exists(path);

    /// <inheritdoc/>
    public bool DirectoryExists(string path) => Directory.Exists(path);

    /// <inheritdoc/>
    public IReadOnlyList<string> GetDirectories(string path) =>
        new DirectoryInfo(path).EnumerateDirectories().Select(d => d.Name).ToArray();

    /// <inheritdoc/>
    public unsafe long GetFileSystemType(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (IntPtr.Size != 8)
            throw new PlatformNotSupportedException("statfs: only the 64-bit struct statfs layout (x86_64, arm64) is supported.");

        byte* buffer = stackalloc byte[StatfsBufferSize];
        if (statfs(path, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string message = $"statfs `{path}`: {Marshal.GetPInvokeErrorMessage(errno)}";
            throw errno switch
            {
                ENOENT or ENOTDIR => new FileNotFoundException(message, path),
                EACCES => new UnauthorizedAccessException(message),
                _ => new IOException(message, errno),
            };
        }
        return *(long*)buffer;
    }

    /// <inheritdoc/>
    public unsafe void WriteControlFile(string path, string content)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(content);
        // No O_CREAT and no O_TRUNC: a missing control file must fail with ENOENT rather than be
        // created (on a tmpfs mistaken for cgroupfs it would be, silently).
        int fd;
        do
            fd = open(path, O_WRONLY | O_CLOEXEC);
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        if (fd < 0)
            throw Error(path, $"open `{content}` for writing");
        try
        {
            // One write(2): cgroupfs parses each write on its own, and a short write of a control
            // file does not happen (the kernel takes all of it or fails).
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(content);
            nint written;
            fixed (byte* data = bytes)
            {
                do
                    written = write(fd, data, (nuint)bytes.Length);
                while (written < 0 && Marshal.GetLastPInvokeError() == EINTR);
            }
            if (written < 0)
                throw Error(path, $"write `{content}`");
            if (written != bytes.Length)
                throw new CgroupWriteException(path, 0, $"write `{content}`: short write ({written} of {bytes.Length} bytes)");
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <inheritdoc/>
    public void CreateDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (mkdir(path, 0x1ed /* 0755 */) != 0)
            throw Error(path, "mkdir");
    }

    /// <inheritdoc/>
    public void RemoveDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (rmdir(path) != 0)
            throw Error(path, "rmdir");
    }

    private static CgroupWriteException Error(string path, string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new CgroupWriteException(path, errno, $"{what}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rmdir(string path);

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statfs(string path, byte* buffer);
}
