using Sandboxing.Helper;
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
        var (uid, gid) = SpecWriter.HostOwnerOfSandboxRoot(config, caller);
        foreach (var mount in config.Mounts)
        {
            if (mount is not VolumeMount volume)
                continue;
            try
            {
                volume.Store.Ensure(volume.Name, uid, gid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SandboxException($"Sandbox could not prepare volume '{volume.Name}' in {volume.Store.RootDirectory}: {e.Message}",
                    "prepare a volume", 0, "The volume store must be writable by the calling user (set SANDBOX_VOLUME_STORE or pass a VolumeStore).", e);
            }
        }
        if (config.Root.Upper is { DirectoryPath: { } dir })
        {
            var (upper, work) = SpecWriter.OverlayUpperPaths(dir);
            try
            {
                Directory.CreateDirectory(dir, (UnixFileMode)0x1C0 /* 0700: the layer's files are the sandbox's business */);
                foreach (var path in new[] { upper, work })
                {
                    if (Directory.Exists(path))
                        continue;
                    Directory.CreateDirectory(path, (UnixFileMode)0x1ED /* 0755: the merged root's own mode */);
                    if (caller.IsRoot && LibC.lchown(path, uid, gid) != 0)
                        throw new IOException($"cannot give {path} to {uid}:{gid}: {LibC.ErrnoText(LibC.LastErrno)}");
                }
                // The directory itself stays the caller's, 0700: the helper opens upper/ and
                // work/ with the caller's identity, and other host users see nothing inside.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SandboxException($"Sandbox could not prepare the overlay's writable directory {dir}: {e.Message}",
                    "prepare the overlay's writable directory", 0, "Choose a directory the calling user can create and write, on a filesystem overlayfs accepts as an upper layer (ext4, xfs, btrfs, tmpfs).", e);
            }
        }
    }
}
