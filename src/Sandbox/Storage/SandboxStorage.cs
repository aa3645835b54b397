using Sandboxing.Helper;
using Sandboxing.Images;
using Sandboxing.Interop;

namespace Sandboxing;

/// <summary>
/// Host directories a run needs before the helper starts: named volumes and the writable layer
/// of a persistent overlay root. They are created with the caller's identity and handed to the
/// host user that is root inside the sandbox, which is who writes them.
/// </summary>
internal static class SandboxStorage
{
    public static void Prepare(SandboxConfiguration config, HostIdentity caller)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Sandboxes run only on Linux.");
        // Most runs have neither: nothing to compute on their start path.
        if (config.Root.Upper?.DirectoryPath is null && !config.Mounts.Any(m => m is VolumeMount))
            return;
        var (uid, gid) = SpecWriter.HostOwnerOfSandboxRoot(config, caller);
        // A volume belongs to the user the command runs as, who is the one to write it.
        var (commandUid, commandGid) = SpecWriter.HostOwnerOfCommand(config, caller);
        foreach (var mount in config.Mounts)
        {
            if (mount is not VolumeMount volume)
                continue;
            try
            {
                volume.Store.Ensure(volume.Name, commandUid, commandGid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SandboxException($"Sandbox could not prepare volume '{volume.Name}' in {volume.Store.RootDirectory}: {e.Message}",
                    "prepare a volume", 0, "The volume store must be writable by the calling user (set SANDBOX_VOLUME_STORE or pass a VolumeStore).", e);
            }
        }
        if (config.Root.Upper is { DirectoryPath: { } dir })
        {
            try
            {
                PrepareOverlayDirectory(dir, config.Root.Layers, caller, uid, gid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SandboxException($"Sandbox could not prepare the overlay's writable directory {dir} (root.upper): {e.Message}",
                    "prepare the overlay's writable directory", 0, "Choose a directory the calling user can create and write, outside every layer, on a filesystem overlayfs accepts as an upper layer (ext4, xfs, btrfs, tmpfs).", e);
            }
        }
    }

    /// <summary>
    /// Creates <paramref name="dir"/> (0700, the caller's) with <c>upper/</c> and <c>work/</c>
    /// (0755, given to the sandbox's root) in it. The validator compared real paths already;
    /// this runs later, often as root, so it trusts no name twice: each directory
    /// is made with mkdirat relative to its parent's descriptor, opened with O_NOFOLLOW, and
    /// chowned through that descriptor, and the real path of <paramref name="dir"/> is checked
    /// against the layers again once it is open. A symlink swapped in anywhere along the way
    /// makes this fail rather than write into a layer.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void PrepareOverlayDirectory(string dir, IReadOnlyList<string> layers, HostIdentity caller, uint uid, uint gid)
    {
        string path = Path.TrimEndingDirectorySeparator(dir);
        string parent = Path.GetDirectoryName(path) ?? throw new IOException("the root directory cannot be the writable layer.");
        string name = Path.GetFileName(path);
        string[] realLayers = [.. layers.Select(HostPaths.Resolve)];
        // Before anything is created: the missing parents too must not land in a layer.
        CheckOutsideLayers(path, HostPaths.Resolve(path), layers, realLayers);
        // The parents are the caller's own path, symlinks and all.
        Directory.CreateDirectory(parent, (UnixFileMode)0x1C0 /* 0700 */);
        using var parentFd = Open(ImageNative.AT_FDCWD, parent, parent, follow: true);
        CheckOutsideLayers(path, Path.Join(RealPathOf(parentFd, parent), name), layers, realLayers);
        MakeDirectory(parentFd, name, path, 0x1C0 /* 0700: the layer's files are the sandbox's business */);
        using var dirFd = Open(parentFd.Fd, name, path, follow: false);
        CheckOutsideLayers(path, RealPathOf(dirFd, path), layers, realLayers);
        var (upper, work) = SpecWriter.OverlayUpperPaths(path);
        foreach (var sub in new[] { upper, work })
        {
            string subName = Path.GetFileName(sub);
            bool created = MakeDirectory(dirFd, subName, sub, 0x1ED /* 0755: the merged root's own mode */);
            using var subFd = Open(dirFd.Fd, subName, sub, follow: false);
            if (created && caller.IsRoot && ImageNative.fchown(subFd.Fd, uid, gid) != 0)
                throw new IOException($"cannot give {sub} to {uid}:{gid}: {ImageNative.ErrnoText(ImageNative.LastErrno)}");
        }
        // The directory itself stays the caller's, 0700: the helper opens upper/ and work/
        // with the caller's identity, and other host users see nothing inside.
    }

    private static void CheckOutsideLayers(string path, string real, IReadOnlyList<string> layers, string[] realLayers)
    {
        for (int i = 0; i < realLayers.Length; i++)
        {
            if (HostPaths.Overlap(real, realLayers[i]))
                throw new IOException($"{path} is {real}, which overlaps the layer {layers[i]}; a layer must never change.");
        }
    }

    /// <summary>Where an open directory really is: its /proc/self/fd link names the inode, not a path looked up again.</summary>
    private static string RealPathOf(SafeFd fd, string path) =>
        ImageNative.RealPath($"/proc/self/fd/{fd.Fd}") ?? throw new IOException($"cannot resolve {path}: {ImageNative.ErrnoText(ImageNative.LastErrno)}");

    /// <summary>mkdirat; true when it made the directory, false when something was there already (Open then says what).</summary>
    private static bool MakeDirectory(SafeFd parent, string name, string path, int mode)
    {
        if (ImageNative.mkdirat(parent.Fd, name, mode) == 0)
            return true;
        int errno = ImageNative.LastErrno;
        return errno == ImageNative.EEXIST ? false : throw new IOException($"cannot create {path}: {ImageNative.ErrnoText(errno)} (errno {errno})", errno);
    }

    private static SafeFd Open(int parentFd, string name, string path, bool follow)
    {
        int fd = ImageNative.openat(parentFd, name, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC | (follow ? 0 : ImageNative.O_NOFOLLOW), 0);
        if (fd >= 0)
            return SafeFd.Adopt(fd);
        int errno = ImageNative.LastErrno;
        string problem = errno == ImageNative.ELOOP ? "is a symlink, which is never followed here" : errno == ImageNative.ENOTDIR ? "is not a directory" : ImageNative.ErrnoText(errno);
        throw new IOException($"{path} {problem} (errno {errno})", errno);
    }
}
