using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Sandboxing.Cgroups;

/// <summary>
/// <see cref="ICgroupFileSystem"/> on the real machine: plain file reads and statfs(2).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class LinuxCgroupFileSystem : ICgroupFileSystem
{
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int EACCES = 13;

    // struct statfs is 120 bytes on x86_64 and arm64 (glibc and musl), with f_type first as a
    // 64-bit __fsword_t. The buffer is generous so a larger layout elsewhere cannot overflow it.
    private const int StatfsBufferSize = 256;

    private LinuxCgroupFileSystem()
    {
    }

    /// <summary>The one instance.</summary>
    public static LinuxCgroupFileSystem Instance { get; } = new();

    /// <inheritdoc/>
    public string ReadAllText(string path) => File.ReadAllText(path);

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

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statfs(string path, byte* buffer);
}
