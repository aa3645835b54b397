using System.Runtime.InteropServices;

namespace Sandboxing.Cli;

/// <summary>
/// Turns a device node such as /dev/sda into the major:minor numbers cgroups throttle by,
/// with statx(2), following symlinks (so /dev/disk/by-id/... works). statx rather than stat:
/// its structure is the same on every architecture.
/// </summary>
internal static unsafe partial class BlockDevices
{
    private const int AT_FDCWD = -100;
    private const uint STATX_TYPE = 0x1;
    private const int ENOENT = 2;
    private const ushort S_IFMT = 0xF000, S_IFBLK = 0x6000;

    // struct statx (linux/stat.h): 256 bytes; stx_mode is a u16 at offset 28, stx_rdev_major
    // and stx_rdev_minor are u32s at offsets 128 and 132.
    private const int StatxSize = 256, ModeOffset = 28, RdevMajorOffset = 128, RdevMinorOffset = 132;

    /// <summary>The device numbers of the block device node <paramref name="path"/>.</summary>
    /// <exception cref="BlockDeviceException">The path does not exist, cannot be examined, or is not a block device.</exception>
    public static (uint Major, uint Minor) Resolve(string path)
    {
        byte* buffer = stackalloc byte[StatxSize];
        new Span<byte>(buffer, StatxSize).Clear();
        if (statx(AT_FDCWD, path, 0, STATX_TYPE, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new BlockDeviceException(
                errno == ENOENT ? $"{path} does not exist" : $"cannot examine {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        ushort mode = *(ushort*)(buffer + ModeOffset);
        if ((mode & S_IFMT) != S_IFBLK)
            throw new BlockDeviceException($"{path} is not a block device (lsblk lists them)", 0);
        return (*(uint*)(buffer + RdevMajorOffset), *(uint*)(buffer + RdevMinorOffset));
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}

/// <summary>A device path that cannot be throttled; <see cref="ErrorNumber"/> is the errno of statx, or 0.</summary>
internal sealed class BlockDeviceException(string message, int errorNumber) : Exception(message)
{
    public int ErrorNumber { get; } = errorNumber;
}
