namespace Sandboxing.Images;

/// <summary>Removal of whole trees in the store, which never follows a symlink.</summary>
internal static class FileTree
{
    /// <summary>
    /// Removes <paramref name="path"/>: a file, a symlink (not what it points to), a device
    /// node, or a directory with everything below it. Directories are made writable by their
    /// owner first, because an unprivileged caller's layers may hold read-only (0555) ones.
    /// Nothing there is fine.
    /// </summary>
    public static void Remove(string path)
    {
        var stat = ImageNative.LStat(path);
        if (stat is null)
            return;
        if ((stat.Value.Mode & ImageNative.S_IFMT) == ImageNative.S_IFDIR)
        {
            // chmod follows symlinks, but this is a directory (lstat above) in a tree only the
            // store writes. A failure (not ours: root needs no permission) is for rmdir to report.
            ImageNative.fchmodat(ImageNative.AT_FDCWD, path, 0x1C0 /* 0700 */, 0);
            foreach (var child in Directory.EnumerateFileSystemEntries(path))
                Remove(child);
            Check(ImageNative.unlinkat(ImageNative.AT_FDCWD, path, ImageNative.AT_REMOVEDIR), path);
        }
        else
        {
            Check(ImageNative.unlinkat(ImageNative.AT_FDCWD, path, 0), path);
        }
    }

    private static void Check(int result, string path)
    {
        if (result != 0 && ImageNative.LastErrno is int errno && errno != ImageNative.ENOENT)
            throw new IOException($"Cannot remove {path}: {ImageNative.ErrnoText(errno)} (errno {errno}).", errno);
    }
}
