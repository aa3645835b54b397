using System.Runtime.InteropServices;
using System.Text;
using Sandboxing.Images;
using Sandboxing.Interop;

namespace Sandboxing;

/// <summary>
/// Removal of a directory tree that someone else may be changing while it goes: a volume that a
/// running sandbox still has mounted, whose files belong to the sandbox's user. Path-based
/// removal (<see cref="Directory.Delete(string, bool)"/>) looks at <c>dir/sub</c>, sees a
/// directory, and then opens <c>dir/sub</c> again by name; a sandbox that swaps <c>sub</c> for
/// a symlink to a host directory in between (renameat2 RENAME_EXCHANGE) makes root delete that
/// host directory's files. Here every step works on descriptors: a directory is opened with
/// O_NOFOLLOW relative to its parent's descriptor, listed through that descriptor, and its
/// entries are removed relative to it, so a swapped entry is at worst unlinked as the symlink
/// it now is. No name is ever resolved through a symlink.
/// </summary>
internal static unsafe class SafeTree
{
    // How often one entry may change under us before we give up. A sandbox that keeps swapping
    // could otherwise keep the remover busy forever; each attempt that loses a race costs a
    // few system calls.
    private const int MaxAttempts = 1000;

    /// <summary>
    /// Removes <paramref name="name"/> below the directory open as <paramref name="parentFd"/>,
    /// and, if it is a directory, everything in it. A symlink is removed, never followed.
    /// Nothing there is fine.
    /// </summary>
    /// <param name="parentFd">An open directory; the caller makes sure it is the directory it means.</param>
    /// <param name="name">One path component.</param>
    /// <param name="displayPath">The entry's path, for error messages only.</param>
    /// <exception cref="IOException">An entry cannot be removed, or keeps changing while it is.</exception>
    public static void Remove(int parentFd, string name, string displayPath) =>
        Remove(parentFd, Utf8Z(name), displayPath);

    /// <summary>
    /// Removes <paramref name="path"/> (and everything below it) whose parent directory the
    /// caller trusts (the image store's own directories); the last component and everything
    /// below it are handled as in <see cref="Remove(int, string, string)"/>.
    /// </summary>
    public static void Remove(string path)
    {
        string full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(path));
        string parent = System.IO.Path.GetDirectoryName(full) ?? "/";
        int fd = ImageNative.openat(ImageNative.AT_FDCWD, parent, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = ImageNative.LastErrno;
            if (errno == ImageNative.ENOENT)
                return; // nothing there is fine
            throw new IOException($"Cannot remove {full}: {ImageNative.ErrnoText(errno)} (errno {errno}).", errno);
        }
        try
        {
            Remove(fd, System.IO.Path.GetFileName(full), full);
        }
        finally
        {
            ImageNative.close(fd);
        }
    }

    private static void Remove(int parentFd, byte[] name, string displayPath)
    {
        for (int attempt = 0; !TryRemove(parentFd, name, displayPath); attempt++)
        {
            if (attempt == MaxAttempts)
                throw new IOException($"Cannot remove {displayPath}: it keeps changing while it is removed. Stop the sandboxes that use it and try again.");
        }
    }

    /// <summary>One attempt: true when the entry is gone, false when it changed under us and must be looked at again.</summary>
    private static bool TryRemove(int parentFd, byte[] name, string path)
    {
        fixed (byte* n = name)
        {
            ImageNative.Statx st;
            if (ImageNative.statx(parentFd, n, ImageNative.AT_SYMLINK_NOFOLLOW, ImageNative.STATX_BASIC_STATS, &st) != 0)
                return Gone(ImageNative.LastErrno, "look at", path);
            if ((st.Mode & ImageNative.S_IFMT) != ImageNative.S_IFDIR)
            {
                if (ImageNative.unlinkat(parentFd, n, 0) == 0)
                    return true;
                int errno = ImageNative.LastErrno;
                // EISDIR: it has just become a directory (swapped back); start again.
                return errno == ImageNative.EISDIR ? false : Gone(errno, "remove", path);
            }

            // The lstat above is only a hint: this open is what decides. O_NOFOLLOW refuses a
            // symlink that has replaced the directory since (ELOOP), O_DIRECTORY anything else.
            int fd = ImageNative.openat(parentFd, n, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0);
            if (fd < 0)
            {
                int errno = ImageNative.LastErrno;
                if (errno is ImageNative.ELOOP or ImageNative.ENOTDIR)
                    return false; // swapped for a symlink or a file: the next attempt unlinks it as one
                if (errno == ImageNative.EACCES && MakeOwnerAccessible(parentFd, n))
                    return false;
                return Gone(errno, "open", path);
            }
            using (var directory = SafeFd.Adopt(fd))
            {
                // An unprivileged caller's tree may hold directories without write permission
                // (0555), in which nothing could be unlinked; root needs no permission. This
                // descriptor is the directory itself, so the chmod cannot land anywhere else.
                if (ImageNative.geteuid() != 0)
                    ImageNative.fchmod(directory.Fd, 0x1C0 /* 0700 */);
                RemoveContents(directory.Fd, path);
            }
            if (ImageNative.unlinkat(parentFd, n, ImageNative.AT_REMOVEDIR) == 0)
                return true;
            int rmdirErrno = ImageNative.LastErrno;
            // ENOTDIR: swapped after we emptied it; ENOTEMPTY/EEXIST: something new appeared in it.
            if (rmdirErrno is ImageNative.ENOTDIR or ImageNative.ENOTEMPTY or ImageNative.EEXIST)
                return false;
            return Gone(rmdirErrno, "remove", path);
        }
    }

    /// <summary>Removes everything in the directory open as <paramref name="directoryFd"/>, which stays.</summary>
    public static void RemoveContents(int directoryFd, string displayPath)
    {
        // Names first, then removal: readdir while entries come and go may skip or repeat
        // names. What appears after the listing makes the parent's rmdir fail with ENOTEMPTY,
        // and the caller's next attempt lists again.
        foreach (var name in ReadNames(directoryFd, displayPath))
            Remove(directoryFd, name, displayPath + "/" + Encoding.UTF8.GetString(name, 0, name.Length - 1));
    }

    /// <summary>The names in a directory, as NUL-terminated bytes, without "." and "..".</summary>
    private static List<byte[]> ReadNames(int directoryFd, string path)
    {
        // A descriptor of our own, so the listing has its own offset and the caller's
        // descriptor stays where it is. "." is never a symlink.
        int fd = ImageNative.openat(directoryFd, ".", ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC, 0);
        if (fd < 0)
            throw Error(ImageNative.LastErrno, "list", path);
        nint dir = ImageNative.fdopendir(fd);
        if (dir == 0)
        {
            int errno = ImageNative.LastErrno;
            ImageNative.close(fd);
            throw Error(errno, "list", path);
        }
        try
        {
            var names = new List<byte[]>();
            while (true)
            {
                nint entry = ImageNative.readdir(dir);
                if (entry == 0)
                {
                    int errno = ImageNative.LastErrno;
                    if (errno != 0)
                        throw Error(errno, "list", path);
                    return names;
                }
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)(entry + ImageNative.DirentNameOffset));
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                    continue;
                var copy = new byte[name.Length + 1];
                name.CopyTo(copy);
                names.Add(copy);
            }
        }
        finally
        {
            ImageNative.closedir(dir);
        }
    }

    /// <summary>
    /// Gives the owner rwx on a directory it cannot open (an unprivileged caller's 0000
    /// directory). The chmod goes through an O_PATH descriptor checked to be a directory, via
    /// its /proc/self/fd link, which names that inode and nothing a symlink points to.
    /// </summary>
    private static bool MakeOwnerAccessible(int parentFd, byte* name)
    {
        int fd = ImageNative.openat(parentFd, name, ImageNative.O_PATH | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0);
        if (fd < 0)
            return false;
        using var handle = SafeFd.Adopt(fd);
        return ImageNative.FStat(fd) is { } st && (st.Mode & ImageNative.S_IFMT) == ImageNative.S_IFDIR
            && ImageNative.chmod($"/proc/self/fd/{fd}", 0x1C0 /* 0700 */) == 0;
    }

    /// <summary>ENOENT means someone else removed it first, which is as good as done; anything else is an error.</summary>
    private static bool Gone(int errno, string what, string path) =>
        errno == ImageNative.ENOENT ? true : throw Error(errno, what, path);

    private static IOException Error(int errno, string what, string path) =>
        new($"Cannot {what} {path}: {ImageNative.ErrnoText(errno)} (errno {errno}).", errno);

    private static byte[] Utf8Z(string s)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
