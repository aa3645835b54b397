using System.Text.RegularExpressions;
using Sandboxing.Interop;

namespace Sandboxing;

/// <summary>
/// Named volumes: directories the library keeps under one root and binds into sandboxes by
/// name (docker's <c>--volume NAME:/path</c>). A volume is created on first use, owned by the
/// user that is root inside the sandbox using it, and kept until <see cref="Remove"/>.
/// </summary>
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
    public bool Remove(string name)
    {
        string path = GetPath(name);
        if (!Directory.Exists(path))
            return false;
        Directory.Delete(path, recursive: true);
        return true;
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
    /// (the sandbox's root), and returns its path.
    /// </summary>
    internal string Ensure(string name, uint ownerUid, uint ownerGid)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Volumes exist only on Linux.");
        string path = GetPath(name);
        if (Directory.Exists(path))
            return path;
        Directory.CreateDirectory(RootDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        string temp = Path.Combine(RootDirectory, $".new-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp, (UnixFileMode)0x1ED /* 0755 */);
        try
        {
            if (LibC.geteuid() == 0 && LibC.lchown(temp, ownerUid, ownerGid) != 0)
                throw new IOException($"cannot give volume {name} to {ownerUid}:{ownerGid}: {LibC.ErrnoText(LibC.LastErrno)}");
            // Two sandboxes may create the same volume at once: whoever renames first wins, and
            // the other must not replace a directory a sandbox may already use.
            if (LibC.renameat2(LibC.AT_FDCWD, temp, LibC.AT_FDCWD, path, LibC.RENAME_NOREPLACE) != 0 && !Directory.Exists(path))
                throw new IOException($"cannot create volume {name} at {path}: {LibC.ErrnoText(LibC.LastErrno)}");
        }
        finally
        {
            if (Directory.Exists(temp))
                Directory.Delete(temp);
        }
        return path;
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
