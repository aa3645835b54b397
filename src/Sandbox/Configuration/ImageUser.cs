using System.Text;
using Sandboxing.Images;
using Sandboxing.Interop;

namespace Sandboxing;

/// <summary>
/// Resolves an image's USER (<c>name</c>, <c>uid</c>, <c>uid:gid</c>, <c>name:group</c>) to ids
/// the way docker does: names through the image's own /etc/passwd and /etc/group, read from the
/// topmost layer that has them; a numeric uid that has no passwd entry runs with gid 0.
/// </summary>
/// <remarks>
/// The layers are read on the host, from an image that may be hostile, so nothing in them is
/// followed: an image whose etc/ or etc/passwd is a symlink (which would resolve inside the
/// sandbox, but here on the host) has no database as far as this class is concerned, and a
/// named USER then fails with a <see cref="SandboxConfigurationException"/> that says so; set
/// the ids with <c>WithUser(uid, gid)</c> for such an image. FIFOs and devices are never
/// opened, and at most 4 MiB of a file is read.
/// </remarks>
internal static class ImageUser
{
    public static (uint Uid, uint Gid) Resolve(SandboxImage image, string user)
    {
        string userPart = user, groupPart = "";
        int colon = user.IndexOf(':');
        if (colon >= 0)
        {
            userPart = user[..colon];
            groupPart = user[(colon + 1)..];
        }
        var (passwd, noPasswd) = ReadDatabase(image, "etc", "passwd");
        uint uid, gid = 0;
        if (uint.TryParse(userPart, out uid))
        {
            if (passwd.FirstOrDefault(e => e.Length > 3 && e[2] == userPart) is { } entry && uint.TryParse(entry[3], out uint primary))
                gid = primary;
        }
        else
        {
            var entry = passwd.FirstOrDefault(e => e.Length > 3 && e[0] == userPart)
                ?? throw new SandboxConfigurationException("image.user", $"the image runs as user '{userPart}', which its /etc/passwd does not list{Why(noPasswd)}.",
                    "Set the user with WithUser(uid, gid) after WithImage, or use an image whose /etc/passwd names it.");
            if (!uint.TryParse(entry[2], out uid) || !uint.TryParse(entry[3], out gid))
                throw new SandboxConfigurationException("image.user", $"the image's /etc/passwd entry for '{userPart}' has no numeric ids.");
        }
        if (groupPart.Length > 0 && !uint.TryParse(groupPart, out gid))
        {
            var (groups, noGroup) = ReadDatabase(image, "etc", "group");
            var group = groups.FirstOrDefault(e => e.Length > 2 && e[0] == groupPart)
                ?? throw new SandboxConfigurationException("image.user", $"the image runs as group '{groupPart}', which its /etc/group does not list{Why(noGroup)}.",
                    "Set the user with WithUser(uid, gid) after WithImage.");
            if (!uint.TryParse(group[2], out gid))
                throw new SandboxConfigurationException("image.user", $"the image's /etc/group entry for '{groupPart}' has no numeric id.");
        }
        return (uid, gid);

        static string Why(string? noDatabase) => noDatabase is null ? "" : $" ({noDatabase})";
    }

    private const int MaxDatabaseBytes = 4 * 1024 * 1024;

    // Everything below a layer is looked up inside it: no symlink is followed (not even one
    // that stays inside), no magic link, no "..". The image's own symlinks mean something only
    // inside the sandbox, where / is the merged image; followed here, "etc -> /etc" would read
    // the host's passwd.
    private const ulong InLayer = ImageNative.RESOLVE_IN_ROOT | ImageNative.RESOLVE_NO_SYMLINKS | ImageNative.RESOLVE_NO_MAGICLINKS;

    /// <summary>
    /// Lines of a colon-separated database (etc/passwd or etc/group) from the topmost layer that
    /// has it, the way overlayfs would show it inside the sandbox: a layer without the file or
    /// its directory passes the question down; a whiteout of the file or of etc/, an opaque
    /// etc/, or an etc/ that is not a directory hides the lower layers, so there is no
    /// database. A file that is not a regular one (a symlink, a FIFO, a device, a directory)
    /// counts as no database too: the image's symlinks resolve inside the sandbox, not here,
    /// and anything else could block or never end. Only regular files of at most 4 MiB are read.
    /// </summary>
    /// <returns>The entries, and when there is no database, why (null when no layer has one at all).</returns>
    private static (List<string[]> Entries, string? NoDatabase) ReadDatabase(SandboxImage image, string directory, string file)
    {
        string relativePath = directory + "/" + file;
        for (int i = image.LayerDirectories.Length - 1; i >= 0; i--)
        {
            string layer = image.LayerDirectories[i];
            using var layerFd = SafeFd.Adopt(ImageNative.openat(ImageNative.AT_FDCWD, layer, ImageNative.O_PATH | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC, 0));
            if (layerFd.IsInvalid)
                continue; // the layer itself is missing: Build() names it

            switch (Lookup(layerFd.Fd, directory, layer))
            {
                case Kind.Missing:
                    continue;
                case Kind.Directory:
                    break;
                default:
                    // A whiteout, a symlink or a file: it hides every lower etc/.
                    return ([], $"/{directory} in layer {layer} is not a directory, and a symlink would resolve only inside the sandbox");
            }
            switch (Lookup(layerFd.Fd, relativePath, layer))
            {
                case Kind.Missing:
                    if (IsOpaque(layerFd.Fd, directory, layer))
                        return ([], $"/{directory} in layer {layer} is opaque and has no {file}");
                    continue;
                case Kind.Regular:
                    return (Read(layerFd.Fd, relativePath, layer), null);
                default:
                    return ([], $"/{relativePath} in layer {layer} is not a regular file (a symlink would resolve only inside the sandbox; a whiteout removes it)");
            }
        }
        return ([], null);
    }

    private enum Kind { Missing, Directory, Regular, Other }

    /// <summary>What <paramref name="path"/> is in the layer, like lstat, without following anything.</summary>
    private static Kind Lookup(int layerFd, string path, string layer)
    {
        // O_PATH opens nothing: a FIFO does not block, a device is not touched. With O_NOFOLLOW
        // a final symlink is returned as itself (and is Other); a symlink above it is ELOOP.
        int fd = ImageNative.openat2(layerFd, path, ImageNative.O_PATH | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, InLayer);
        if (fd < 0)
        {
            int errno = ImageNative.LastErrno;
            return errno switch
            {
                ImageNative.ENOENT => Kind.Missing,
                ImageNative.ELOOP or ImageNative.ENOTDIR or ImageNative.EXDEV => Kind.Other,
                _ => throw Unreadable(layer, path, errno),
            };
        }
        using var handle = SafeFd.Adopt(fd);
        var st = ImageNative.FStat(fd) ?? throw Unreadable(layer, path, ImageNative.LastErrno);
        return (st.Mode & ImageNative.S_IFMT) switch
        {
            ImageNative.S_IFDIR => Kind.Directory,
            ImageNative.S_IFREG => Kind.Regular,
            _ => Kind.Other, // a 0/0 character device (a whiteout) included
        };
    }

    /// <summary>Whether the directory carries overlayfs's opaque marker, in either namespace.</summary>
    private static unsafe bool IsOpaque(int layerFd, string directory, string layer)
    {
        // A directory can be opened for reading without side effects, and fgetxattr needs a
        // real descriptor (not O_PATH) before Linux 6.13.
        int fd = ImageNative.openat2(layerFd, directory, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, InLayer);
        if (fd < 0)
            throw Unreadable(layer, directory, ImageNative.LastErrno);
        using var handle = SafeFd.Adopt(fd);
        foreach (var name in new[] { "user.overlay.opaque", "trusted.overlay.opaque" })
        {
            // trusted.* reads as absent (ENODATA) without CAP_SYS_ADMIN; so does a missing xattr.
            byte value;
            if (ImageNative.fgetxattr(fd, name, &value, 1) == 1 && value == (byte)'y')
                return true;
        }
        return false;
    }

    private static List<string[]> Read(int layerFd, string path, string layer)
    {
        int fd = ImageNative.openat2(layerFd, path, ImageNative.O_RDONLY | ImageNative.O_NONBLOCK | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, InLayer);
        if (fd < 0)
            throw Unreadable(layer, path, ImageNative.LastErrno);
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        // Looked up once more on the descriptor that is read: the layer is not supposed to
        // change, but nothing else than a regular file may be read.
        if (ImageNative.FStat(fd) is not { } st || (st.Mode & ImageNative.S_IFMT) != ImageNative.S_IFREG)
            return [];
        var buffer = new byte[MaxDatabaseBytes + 1];
        int length = 0;
        while (length < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(length), length);
            if (n == 0)
                break;
            length += n;
        }
        if (length > MaxDatabaseBytes)
            throw new SandboxConfigurationException("image.user", $"the image's /{path} (in layer {layer}) is larger than {MaxDatabaseBytes / (1024 * 1024)} MiB.",
                "Set the user with WithUser(uid, gid) after WithImage.");
        return [.. Encoding.UTF8.GetString(buffer, 0, length).Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(':'))];
    }

    private static SandboxConfigurationException Unreadable(string layer, string path, int errno) =>
        new("image.user", $"cannot read the image's /{path} in layer {layer}: {ImageNative.ErrnoText(errno)} (errno {errno}).",
            "The layers must be readable by the calling user; or set the user with WithUser(uid, gid) after WithImage.");
}
