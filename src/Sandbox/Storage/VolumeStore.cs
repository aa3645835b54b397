using System.Text.RegularExpressions;
using Sandboxing.Images;
using Sandboxing.Interop;

namespace Sandboxing;

/// <summary>
/// Named volumes: directories the library keeps under one root and binds into sandboxes by
/// name (docker's <c>--volume NAME:/path</c>). A volume is created on first use, owned by the
/// user the first sandbox using it runs its command as, and kept until <see cref="Remove"/>.
/// </summary>
/// <remarks>
/// The root directory is private to the caller (mode 0700): a volume belongs to the host user
/// that is root inside its sandboxes, often one shared by other sandboxes or by host services
/// (<c>nobody</c>), so the store's own mode is what keeps other host users out. The helper
/// opens a volume with the caller's identity before the sandbox changes its own, so the
/// sandbox still reaches it.
/// </remarks>
public sealed partial class VolumeStore
{
    /// <summary>Creates a store rooted at <paramref name="rootDirectory"/> (created on first use, mode 0700).</summary>
    /// <param name="rootDirectory">Absolute host path.</param>
    public VolumeStore(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        if (!Path.IsPathRooted(rootDirectory))
            throw new ArgumentException($"'{rootDirectory}' is relative; the volume store needs an absolute path.", nameof(rootDirectory));
        RootDirectory = Path.GetFullPath(rootDirectory);
    }

    /// <summary>
    /// The store used when none is given: <c>$SANDBOX_VOLUME_STORE</c> if set; for root
    /// <c>/var/lib/sandbox/volumes</c>; otherwise <c>$XDG_DATA_HOME/sandbox/volumes</c> (or
    /// <c>~/.local/share/sandbox/volumes</c>).
    /// </summary>
    public static VolumeStore Default { get; } = new(DefaultRootDirectory());

    /// <summary>The directory that holds one subdirectory per volume.</summary>
    public string RootDirectory { get; }

    /// <summary>Host path of volume <paramref name="name"/> (whether or not it exists yet).</summary>
    public string GetPath(string name)
    {
        ValidateName(name);
        return Path.Combine(RootDirectory, name);
    }

    /// <summary>Names of the volumes that exist.</summary>
    public IReadOnlyList<string> List() =>
        Directory.Exists(RootDirectory)
            ? [.. Directory.EnumerateDirectories(RootDirectory).Select(Path.GetFileName).OfType<string>().Where(IsValidName).Order(StringComparer.Ordinal)]
            : [];

    /// <summary>Deletes volume <paramref name="name"/> and everything in it; false when it did not exist.</summary>
    /// <remarks>
    /// The volume is first renamed into a private directory of the store, so that no sandbox
    /// started from now on finds it by name (a new one gets a new, empty volume), and then
    /// deleted without ever following a symlink, even when a sandbox that still has it mounted
    /// keeps swapping its directories for symlinks to host paths.
    /// </remarks>
    /// <exception cref="IOException">The volume cannot be removed (what is left of it stays in a
    /// <c>.remove-*</c> directory of the store, which <see cref="List"/> does not show).</exception>
    public bool Remove(string name)
    {
        string path = GetPath(name);
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Volumes exist only on Linux.");
        using var root = OpenDirectory(RootDirectory, missingIsNull: true);
        if (root is null)
            return false;
        string trashName = $".remove-{name}-{Guid.NewGuid():N}";
        string trashPath = Path.Combine(RootDirectory, trashName);
        if (ImageNative.mkdirat(root.Fd, trashName, 0x1C0 /* 0700 */) != 0)
            throw Error("create", trashPath);
        bool removed;
        using (var trash = OpenDirectory(root.Fd, trashName, trashPath))
        {
            if (ImageNative.renameat2(root.Fd, name, trash.Fd, name, ImageNative.RENAME_NOREPLACE) == 0)
            {
                removed = true;
                SafeTree.Remove(trash.Fd, name, path);
            }
            else if (ImageNative.LastErrno == ImageNative.ENOENT)
            {
                removed = false;
            }
            else
            {
                var error = Error("move away", path);
                ImageNative.unlinkat(root.Fd, trashName, ImageNative.AT_REMOVEDIR);
                throw error;
            }
        }
        if (ImageNative.unlinkat(root.Fd, trashName, ImageNative.AT_REMOVEDIR) != 0)
            throw Error("remove", trashPath);
        return removed;
    }

    /// <summary>Whether <paramref name="name"/> can name a volume.</summary>
    public static bool IsValidName(string name) => name is not null && NamePattern().IsMatch(name);

    internal static void ValidateName(string name)
    {
        if (!IsValidName(name))
            throw new ArgumentException($"'{name}' is not a volume name: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128 characters).", nameof(name));
    }

    /// <summary>
    /// Creates the volume when missing, owned by host <paramref name="ownerUid"/>:<paramref name="ownerGid"/>
    /// (the sandbox command's user), and returns its path.
    /// </summary>
    internal string Ensure(string name, uint ownerUid, uint ownerGid)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Volumes exist only on Linux.");
        string path = GetPath(name);
        EnsurePrivateRoot();
        if (Directory.Exists(path))
            return path;
        string temp = Path.Combine(RootDirectory, $".new-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp, (UnixFileMode)0x1ED /* 0755 */);
        try
        {
            if (LibC.geteuid() == 0 && LibC.lchown(temp, ownerUid, ownerGid) != 0)
                throw new IOException($"cannot give volume {name} to {ownerUid}:{ownerGid}: {LibC.ErrnoText(LibC.LastErrno)}");
            // Two sandboxes may create the same volume at once: whoever renames first wins, and
            // the other must not replace a directory a sandbox may already use.
            if (ImageNative.renameat2(ImageNative.AT_FDCWD, temp, ImageNative.AT_FDCWD, path, ImageNative.RENAME_NOREPLACE) != 0 && !Directory.Exists(path))
                throw new IOException($"cannot create volume {name} at {path}: {LibC.ErrnoText(LibC.LastErrno)}");
        }
        finally
        {
            if (Directory.Exists(temp))
                Directory.Delete(temp);
        }
        return path;
    }

    /// <summary>
    /// Creates the root directory, mode 0700, or narrows an existing one of the caller's to
    /// 0700 (stores made by earlier versions were 0711, and a volume inside, 0755 and owned by
    /// the sandbox's root, was then readable by every host user). A root directory that belongs
    /// to someone else is left as it is: its owner decides who may look inside.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private void EnsurePrivateRoot()
    {
        Directory.CreateDirectory(RootDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var root = OpenDirectory(RootDirectory, missingIsNull: false)!;
        if (ImageNative.FStat(root.Fd) is not { } st)
            throw Error("look at", RootDirectory);
        if ((st.Mode & 0x3F /* group and other bits */) != 0 && st.Uid == ImageNative.geteuid() && ImageNative.fchmod(root.Fd, 0x1C0 /* 0700 */) != 0)
            throw Error("make private (chmod 0700)", RootDirectory);
    }

    private static SafeFd? OpenDirectory(string path, bool missingIsNull)
    {
        var fd = SafeFd.Adopt(ImageNative.openat(ImageNative.AT_FDCWD, path, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC, 0));
        if (!fd.IsInvalid)
            return fd;
        int errno = ImageNative.LastErrno;
        fd.Dispose();
        if (missingIsNull && errno == ImageNative.ENOENT)
            return null;
        throw new IOException($"Cannot open {path}: {ImageNative.ErrnoText(errno)} (errno {errno}).", errno);
    }

    /// <summary>A directory of the store, never a symlink put in its place.</summary>
    private static SafeFd OpenDirectory(int parentFd, string name, string path)
    {
        var fd = SafeFd.Adopt(ImageNative.openat(parentFd, name, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0));
        if (!fd.IsInvalid)
            return fd;
        var error = Error("open", path);
        fd.Dispose();
        throw error;
    }

    /// <summary>An IOException for the errno of the call just made.</summary>
    private static IOException Error(string what, string path)
    {
        int errno = ImageNative.LastErrno;
        return new IOException($"Cannot {what} {path}: {ImageNative.ErrnoText(errno)} (errno {errno}).", errno);
    }

    private static string DefaultRootDirectory()
    {
        if (Environment.GetEnvironmentVariable("SANDBOX_VOLUME_STORE") is { Length: > 0 } explicitRoot)
            return explicitRoot;
        if (LibC.geteuid() == 0)
            return "/var/lib/sandbox/volumes";
        string data = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(data, "sandbox", "volumes");
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex NamePattern();
}
