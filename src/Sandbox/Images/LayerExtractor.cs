using System.Buffers;
using System.Formats.Tar;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sandboxing.Images;

/// <summary>How a layer is extracted.</summary>
/// <param name="AsRoot">
/// Whether the caller is root: then owners are set (lchown), device nodes created and
/// <c>trusted.*</c> and <c>security.*</c> xattrs written. Otherwise everything is owned by the
/// caller, device nodes other than whiteouts are skipped (and counted) and only <c>user.*</c>
/// xattrs are attempted.
/// </param>
internal sealed record ExtractionOptions(bool AsRoot)
{
    /// <summary>The options for the current process: root when the effective uid is 0.</summary>
    public static ExtractionOptions ForCurrentProcess() => new(ImageNative.geteuid() == 0);

    /// <summary>Called with each entry's name before it is extracted; tests throw or cancel from it.</summary>
    public Action<string>? OnEntry { get; init; }
}

/// <summary>What an extraction did not reproduce exactly.</summary>
internal readonly record struct LayerStats(int Entries, int SkippedDeviceNodes, int SkippedXattrs, int SkippedOwners);

/// <summary>
/// Extracts one layer tar into an empty directory in overlayfs's on-disk format: an OCI
/// whiteout <c>dir/.wh.NAME</c> becomes a 0/0 character device <c>dir/NAME</c>, an opaque
/// marker <c>dir/.wh..wh..opq</c> becomes the <c>user.overlay.opaque</c> xattr on <c>dir</c>
/// (and <c>trusted.overlay.opaque</c> for root), and everything else is extracted as it is,
/// with modes, owners (root only), times, links, device nodes and xattrs.
///
/// Hostile archives are refused with an <see cref="ImageException"/>, and nothing is written
/// outside the directory: names are checked first (<see cref="EntryPaths"/>), then every parent
/// directory is opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS) below an O_PATH descriptor of the layer root, so a symlink the archive
/// created earlier is never followed; the entry itself is created with O_EXCL and O_NOFOLLOW
/// (or mknodat, symlinkat, linkat, which never follow a final symlink) after removing whatever
/// was there. The directory is private to the store while this runs, so nothing else races it.
/// </summary>
internal sealed class LayerExtractor : IDisposable
{
    private const ulong Resolve = ImageNative.RESOLVE_IN_ROOT | ImageNative.RESOLVE_NO_SYMLINKS | ImageNative.RESOLVE_NO_MAGICLINKS;
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";
    private const int DirectoryModeWhileExtracting = 0x1C0; // 0700: writable for us until the real mode is set at the end

    private readonly string _directory;
    private readonly SafeFileHandle _root;
    private readonly SafeFileHandle _rootForSync;
    private readonly ExtractionOptions _options;
    private readonly string _file;
    private readonly string _layer;

    // Directories whose owner, mode, xattrs and times are applied at the end, deepest first:
    // writing a child changes its parent's mtime, and a read-only mode would stop the writes.
    private readonly Dictionary<string, DirectoryMetadata> _directories = new(StringComparer.Ordinal);
    // Non-directories extracted so far: the only allowed hard link targets.
    private readonly HashSet<string> _files = new(StringComparer.Ordinal);
    private string? _cachedParentPath;
    private SafeFileHandle? _cachedParent;
    private int _entries, _skippedDevices, _skippedXattrs, _skippedOwners;

    private LayerExtractor(string directory, ExtractionOptions options, string file, string layer)
    {
        _directory = directory;
        _options = options;
        _file = file;
        _layer = layer;
        int fd = ImageNative.openat(ImageNative.AT_FDCWD, directory, ImageNative.O_PATH | ImageNative.O_DIRECTORY | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0);
        if (fd < 0)
            throw Fail(null, "open the layer directory", ImageNative.LastErrno);
        _root = new SafeFileHandle(fd, ownsHandle: true);
        // syncfs needs an open file rather than an O_PATH descriptor; opened now, because the
        // root's own mode (applied at the end) might not let its owner read it.
        fd = ImageNative.openat(ImageNative.AT_FDCWD, directory, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = ImageNative.LastErrno;
            _root.Dispose();
            throw Fail(null, "open the layer directory", errno);
        }
        _rootForSync = new SafeFileHandle(fd, ownsHandle: true);
        _directories["."] = DirectoryMetadata.Implicit();
    }

    /// <summary>
    /// Extracts the tar in <paramref name="tar"/> (uncompressed) into the existing, empty
    /// <paramref name="directory"/> and flushes it to disk (syncfs). <paramref name="file"/> and
    /// <paramref name="layer"/> name the source in error messages.
    /// </summary>
    public static LayerStats Extract(Stream tar, string directory, ExtractionOptions options, string file, string layer, CancellationToken cancellationToken)
    {
        using var extractor = new LayerExtractor(directory, options, file, layer);
        try
        {
            // A zero-byte layer (some tools write one for an empty layer) lacks even the
            // end-of-archive blocks, which TarReader would call truncated.
            int first = tar.ReadByte();
            if (first >= 0)
            {
                using var reader = new TarReader(new PrefixedStream(new[] { (byte)first }, tar), leaveOpen: true);
                while (reader.GetNextEntry() is { } entry)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    options.OnEntry?.Invoke(entry.Name);
                    extractor.ExtractEntry(entry, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw new ImageException(file, layer, $"the layer is not a valid tar archive: {e.Message}", "The file may be truncated or corrupt.", e);
        }
        extractor.ApplyDirectoryMetadata();
        extractor.Sync();
        return new LayerStats(extractor._entries, extractor._skippedDevices, extractor._skippedXattrs, extractor._skippedOwners);
    }

    public void Dispose()
    {
        _cachedParent?.Dispose();
        _rootForSync.Dispose();
        _root.Dispose();
    }

    private void ExtractEntry(TarEntry entry, CancellationToken cancellationToken)
    {
        if (entry.EntryType == TarEntryType.GlobalExtendedAttributes)
            return;
        _entries++;
        string name = entry.Name;
        string[] parts = EntryPaths.Split(name, out string? problem);
        if (problem is not null)
            throw Refuse(name, problem);

        if (parts.Length > 0)
        {
            for (int i = 0; i < parts.Length - 1; i++)
            {
                if (parts[i].StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
                    throw Refuse(name, $"'{parts[i]}' is a whiteout, which cannot have entries below it");
            }
            string last = parts[^1];
            if (last == OpaqueMarker)
            {
                MarkOpaque(parts[..^1], name);
                return;
            }
            // Other .wh..wh. names are aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs) that docker skips too.
            if (last.StartsWith(WhiteoutPrefix + WhiteoutPrefix, StringComparison.Ordinal))
                return;
            if (last.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            {
                string hidden = last[WhiteoutPrefix.Length..];
                if (hidden is "" or "." or "..")
                    throw Refuse(name, $"the whiteout '{last}' names '{hidden}', which is not a file name");
                Whiteout(parts[..^1], hidden, name);
                return;
            }
        }

        if (entry.EntryType == TarEntryType.Directory)
        {
            MakeDirectory(parts, entry);
            return;
        }
        if (parts.Length == 0)
            throw Refuse(name, $"the entry names the layer root but is a {entry.EntryType}, not a directory");

        switch (entry.EntryType)
        {
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                RegularFile(parts, entry, cancellationToken);
                break;
            case TarEntryType.SymbolicLink:
                Symlink(parts, entry);
                break;
            case TarEntryType.HardLink:
                HardLink(parts, entry);
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                SpecialFile(parts, entry);
                break;
            case TarEntryType.SparseFile:
                throw Refuse(name, "GNU sparse files are not supported", "Recreate the archive without --sparse.");
            default:
                throw Refuse(name, $"entries of type {entry.EntryType} are not supported in a layer");
        }
    }

    // ---- entry kinds ----------------------------------------------------------------------

    private void MakeDirectory(string[] parts, TarEntry entry)
    {
        string path = EntryPaths.Join(parts);
        if (parts.Length > 0)
        {
            int parent = ParentFd(parts, entry.Name);
            string name = parts[^1];
            if (ImageNative.mkdirat(parent, name, DirectoryModeWhileExtracting) != 0)
            {
                int errno = ImageNative.LastErrno;
                if (errno != ImageNative.EEXIST)
                    throw Fail(entry.Name, "create the directory", errno);
                // An existing directory is kept and merged into (tar semantics); anything else is replaced.
                if (!IsDirectory(parent, name))
                {
                    RemoveExisting(parent, name, path, entry.Name);
                    parent = ParentFd(parts, entry.Name);
                    if (ImageNative.mkdirat(parent, name, DirectoryModeWhileExtracting) != 0)
                        throw Fail(entry.Name, "create the directory", ImageNative.LastErrno);
                }
            }
            _files.Remove(path);
        }
        bool opaque = _directories.TryGetValue(path, out var existing) && existing.Opaque;
        _directories[path] = DirectoryMetadata.From(entry, Xattrs(entry)) with { Opaque = opaque };
    }

    private void RegularFile(string[] parts, TarEntry entry, CancellationToken cancellationToken)
    {
        string path = EntryPaths.Join(parts);
        string name = parts[^1];
        int parent = ParentFd(parts, entry.Name);
        int fd = CreateExclusive(parts, entry.Name, p => ImageNative.openat(p, name, ImageNative.O_WRONLY | ImageNative.O_CREAT | ImageNative.O_EXCL | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0x180 /* 0600 */), ref parent, "create the file");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (entry.DataStream is { } data)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 17);
            try
            {
                long offset = 0;
                int n;
                while ((n = data.Read(buffer, 0, buffer.Length)) > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    try
                    {
                        RandomAccess.Write(handle, buffer.AsSpan(0, n), offset);
                    }
                    catch (IOException e)
                    {
                        throw new ImageException(_file, Where(entry.Name), $"cannot write the file: {e.Message}", HintFor(e.HResult), e);
                    }
                    offset += n;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        // Owner before mode (chown clears setuid and setgid), xattrs after both (chown clears
        // security.capability), times last.
        int ifd = (int)handle.DangerousGetHandle();
        if (_options.AsRoot && ImageNative.fchown(ifd, (uint)entry.Uid, (uint)entry.Gid) != 0)
            OwnerFailed(entry.Name, ImageNative.LastErrno);
        if (ImageNative.fchmod(ifd, Mode(entry)) != 0)
            throw Fail(entry.Name, "set the mode", ImageNative.LastErrno);
        foreach (var (xname, value) in Xattrs(entry))
            SetXattr(ifd, null, xname, value, entry.Name, mustSucceed: false);
        SetTimes(ifd, null, Times(entry), entry.Name);
        _files.Add(path);
    }

    private void Symlink(string[] parts, TarEntry entry)
    {
        string target = entry.LinkName;
        // Targets are kept verbatim, absolute ones too: they are resolved inside the sandbox.
        if (target.Length == 0 || target.Contains('\0'))
            throw Refuse(entry.Name, "the symlink target is empty or contains a NUL character");
        string path = EntryPaths.Join(parts);
        string name = parts[^1];
        int parent = ParentFd(parts, entry.Name);
        CreateExclusive(parts, entry.Name, p => ImageNative.symlinkat(target, p, name), ref parent, "create the symlink");
        ApplyMetadataAt(parent, name, entry, chmod: false);
        _files.Add(path);
    }

    private void HardLink(string[] parts, TarEntry entry)
    {
        string[] targetParts = EntryPaths.Split(entry.LinkName, out string? problem);
        if (problem is not null)
            throw Refuse(entry.Name, $"the hard link target '{entry.LinkName}' is not acceptable: {problem}");
        string path = EntryPaths.Join(parts);
        string targetPath = EntryPaths.Join(targetParts);
        if (targetParts.Length == 0 || !_files.Contains(targetPath))
            throw Refuse(entry.Name, $"the hard link target '{entry.LinkName}' is not a file extracted earlier from this layer");
        if (targetPath == path)
            throw Refuse(entry.Name, "the hard link points to itself");

        using var targetParent = OpenDirectory(targetParts[..^1], create: false, ImageNative.O_PATH, entry.Name);
        string targetName = targetParts[^1];
        string name = parts[^1];
        int parent = ParentFd(parts, entry.Name);
        int tfd = (int)targetParent.DangerousGetHandle();
        // Flags 0: linkat never follows a symlink target, so the link is to the entry itself.
        CreateExclusive(parts, entry.Name, p => ImageNative.linkat(tfd, targetName, p, name, 0), ref parent, "create the hard link");
        _files.Add(path);
    }

    private void SpecialFile(string[] parts, TarEntry entry)
    {
        bool fifo = entry.EntryType == TarEntryType.Fifo;
        bool character = entry.EntryType == TarEntryType.CharacterDevice;
        uint major = entry is PosixTarEntry p1 ? (uint)p1.DeviceMajor : 0, minor = entry is PosixTarEntry p2 ? (uint)p2.DeviceMinor : 0;
        // A 0/0 character device is an overlay whiteout, which anyone may create (Linux 5.8).
        bool whiteout = character && major == 0 && minor == 0;
        if (!fifo && !whiteout && !_options.AsRoot)
        {
            _skippedDevices++;
            return;
        }
        string path = EntryPaths.Join(parts);
        string name = parts[^1];
        int type = fifo ? ImageNative.S_IFIFO : character ? ImageNative.S_IFCHR : ImageNative.S_IFBLK;
        int parent = ParentFd(parts, entry.Name);
        int result = CreateExclusive(parts, entry.Name, p => ImageNative.mknodat(p, name, type | 0x180, major, minor), ref parent, "create the device node", tolerateEperm: !fifo);
        if (result < 0)
        {
            // Root in a user namespace may not create device nodes either.
            _skippedDevices++;
            return;
        }
        ApplyMetadataAt(parent, name, entry, chmod: true);
        _files.Add(path);
    }

    private void Whiteout(string[] parentParts, string hidden, string entryName)
    {
        string[] parts = [.. parentParts, hidden];
        int parent = ParentFd(parts, entryName);
        CreateExclusive(parts, entryName, p => ImageNative.mknodat(p, hidden, ImageNative.S_IFCHR, 0, 0), ref parent, "create the whiteout (a 0/0 character device)");
        _files.Remove(EntryPaths.Join(parts));
    }

    private void MarkOpaque(string[] directoryParts, string entryName)
    {
        // The marker itself is not written; its directory is created if the archive has not yet.
        using (OpenDirectory(directoryParts, create: true, ImageNative.O_PATH, entryName))
        {
        }
        string path = EntryPaths.Join(directoryParts);
        _directories[path] = (_directories.TryGetValue(path, out var existing) ? existing : DirectoryMetadata.Implicit()) with { Opaque = true };
    }

    // ---- creating and replacing -----------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="create"/> (an O_EXCL open, mknodat, symlinkat or linkat, none of
    /// which follow a final symlink); if something is already there, removes it and tries once
    /// more. Returns create's result; with <paramref name="tolerateEperm"/> returns -1 on EPERM.
    /// </summary>
    private int CreateExclusive(string[] parts, string entryName, Func<int, int> create, ref int parent, string what, bool tolerateEperm = false)
    {
        for (int attempt = 0; ; attempt++)
        {
            int result = create(parent);
            if (result >= 0)
                return result;
            int errno = ImageNative.LastErrno;
            if (errno == ImageNative.EPERM && tolerateEperm)
                return -1;
            if (errno != ImageNative.EEXIST || attempt > 0)
                throw Fail(entryName, what, errno);
            RemoveExisting(parent, parts[^1], EntryPaths.Join(parts), entryName);
            parent = ParentFd(parts, entryName);
        }
    }

    /// <summary>
    /// Removes what an earlier entry put at <paramref name="path"/>: a later entry for the same
    /// path replaces it (tar semantics). A directory goes with everything below it.
    /// </summary>
    private void RemoveExisting(int parent, string name, string path, string entryName)
    {
        if (ImageNative.unlinkat(parent, name, 0) != 0)
        {
            int errno = ImageNative.LastErrno;
            if (errno == ImageNative.EISDIR)
            {
                // Removed relative to the parent just opened without symlinks, by descriptors all
                // the way down: nothing the archive put there can redirect it. Cached parent
                // descriptors may name what goes (and include this parent): dropped after.
                try
                {
                    SafeTree.Remove(parent, name, Path.Combine(_directory, path));
                    InvalidateParentCache();
                }
                catch (IOException e)
                {
                    throw new ImageException(_file, Where(entryName), $"cannot replace the directory an earlier entry created: {e.Message}", null, e);
                }
            }
            else if (errno != ImageNative.ENOENT)
            {
                throw Fail(entryName, "replace the earlier entry", errno);
            }
        }
        string prefix = path + "/";
        _files.RemoveWhere(p => p == path || p.StartsWith(prefix, StringComparison.Ordinal));
        foreach (var key in _directories.Keys.Where(p => p == path || p.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            _directories.Remove(key);
    }

    private bool IsDirectory(int parent, string name)
    {
        int fd = ImageNative.openat(parent, name, ImageNative.O_PATH | ImageNative.O_DIRECTORY | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0);
        if (fd < 0)
            return false;
        ImageNative.close(fd);
        return true;
    }

    // ---- opening directories without following symlinks -----------------------------------

    /// <summary>
    /// The O_PATH descriptor of the parent directory of <paramref name="parts"/>, created
    /// (mode 0755 at the end) where missing. Valid until the next call: one parent is cached,
    /// because archives list a directory's entries together.
    /// </summary>
    private int ParentFd(string[] parts, string entryName)
    {
        string parentPath = EntryPaths.Join(parts.AsSpan(0, parts.Length - 1));
        if (_cachedParent is not null && _cachedParentPath == parentPath)
            return (int)_cachedParent.DangerousGetHandle();
        InvalidateParentCache();
        _cachedParent = OpenDirectory(parts[..^1], create: true, ImageNative.O_PATH, entryName);
        _cachedParentPath = parentPath;
        return (int)_cachedParent.DangerousGetHandle();
    }

    private void InvalidateParentCache()
    {
        _cachedParent?.Dispose();
        _cachedParent = null;
        _cachedParentPath = null;
    }

    /// <summary>
    /// Opens the directory <paramref name="parts"/> below the layer root with openat2 and
    /// RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, creating missing
    /// directories when <paramref name="create"/>. A symlink anywhere on the way is refused.
    /// </summary>
    private SafeFileHandle OpenDirectory(string[] parts, bool create, int flags, string entryName)
    {
        int fd = OpenAt2((int)_root.DangerousGetHandle(), EntryPaths.Join(parts), flags | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC);
        if (fd >= 0)
            return new SafeFileHandle(fd, ownsHandle: true);
        int errno = ImageNative.LastErrno;
        if (errno == ImageNative.ENOSYS)
            throw new ImageException(_file, Where(entryName), "openat2 is not available.", "Importing images needs Linux 5.6 or newer.");

        // Walk one component at a time to create what is missing, or to name the culprit.
        var current = new SafeFileHandle(OpenAt2((int)_root.DangerousGetHandle(), ".", ImageNative.O_PATH | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC), ownsHandle: true);
        try
        {
            for (int i = 0; i < parts.Length; i++)
            {
                string soFar = EntryPaths.Join(parts.AsSpan(0, i + 1));
                int cfd = (int)current.DangerousGetHandle();
                int next = OpenAt2(cfd, parts[i], ImageNative.O_PATH | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC);
                if (next < 0 && ImageNative.LastErrno == ImageNative.ENOENT && create)
                {
                    if (ImageNative.mkdirat(cfd, parts[i], DirectoryModeWhileExtracting) != 0 && ImageNative.LastErrno != ImageNative.EEXIST)
                        throw Fail(entryName, $"create the missing parent directory '{soFar}'", ImageNative.LastErrno);
                    _directories.TryAdd(soFar, DirectoryMetadata.Implicit());
                    next = OpenAt2(cfd, parts[i], ImageNative.O_PATH | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC);
                }
                if (next < 0)
                {
                    errno = ImageNative.LastErrno;
                    throw errno switch
                    {
                        ImageNative.ELOOP => Refuse(entryName, $"'{soFar}' is a symlink, and the entry would be written through a symlinked parent"),
                        ImageNative.ENOTDIR => Refuse(entryName, $"'{soFar}' is not a directory, so nothing can be extracted below it"),
                        ImageNative.ENOENT => Refuse(entryName, $"'{soFar}' does not exist"),
                        _ => Fail(entryName, $"open the directory '{soFar}'", errno),
                    };
                }
                current.Dispose();
                current = new SafeFileHandle(next, ownsHandle: true);
            }
            if (flags == ImageNative.O_PATH)
                return current;
            int reopened = OpenAt2((int)current.DangerousGetHandle(), ".", flags | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC);
            if (reopened < 0)
                throw Fail(entryName, $"open the directory '{EntryPaths.Join(parts)}'", ImageNative.LastErrno);
            current.Dispose();
            return new SafeFileHandle(reopened, ownsHandle: true);
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    private static int OpenAt2(int dirfd, string path, int flags)
    {
        for (int attempt = 0; ; attempt++)
        {
            int fd = ImageNative.openat2(dirfd, path, flags, Resolve);
            // EAGAIN: RESOLVE_IN_ROOT saw a concurrent rename somewhere and asks for a retry.
            if (fd >= 0 || attempt > 16 || ImageNative.LastErrno is not (ImageNative.EAGAIN or ImageNative.EINTR))
                return fd;
        }
    }

    // ---- metadata -------------------------------------------------------------------------

    /// <summary>Owner, mode, xattrs and times of a just-created symlink or special file, by name in its parent.</summary>
    private void ApplyMetadataAt(int parent, string name, TarEntry entry, bool chmod)
    {
        if (_options.AsRoot && ImageNative.fchownat(parent, name, (uint)entry.Uid, (uint)entry.Gid, ImageNative.AT_SYMLINK_NOFOLLOW) != 0)
            OwnerFailed(entry.Name, ImageNative.LastErrno);
        // fchmodat follows a final symlink, but the entry is a node created a moment ago in a
        // directory only the store writes; symlinks have no mode of their own anyway.
        if (chmod && ImageNative.fchmodat(parent, name, Mode(entry), 0) != 0)
            throw Fail(entry.Name, "set the mode", ImageNative.LastErrno);
        foreach (var (xname, value) in Xattrs(entry))
            SetXattr(-1, $"/proc/self/fd/{parent}/{name}", xname, value, entry.Name, mustSucceed: false);
        SetTimes(parent, name, Times(entry), entry.Name);
    }

    private void ApplyDirectoryMetadata()
    {
        InvalidateParentCache();
        // Deepest first: a parent's mode may take away the access its children need (when not root).
        foreach (var (path, meta) in _directories.OrderByDescending(d => d.Key == "." ? -1 : d.Key.Count(c => c == '/')))
        {
            string[] parts = path == "." ? [] : path.Split('/');
            using var dir = OpenDirectory(parts, create: false, ImageNative.O_RDONLY, path);
            int fd = (int)dir.DangerousGetHandle();
            if (_options.AsRoot && ImageNative.fchown(fd, (uint)meta.Uid, (uint)meta.Gid) != 0)
                OwnerFailed(path, ImageNative.LastErrno);
            int mode = meta.Mode;
            // The layer root is renamed into place afterwards, which needs write permission on it
            // (rename updates its ".." entry); root has that anyway.
            if (path == "." && !_options.AsRoot)
                mode |= 0x80; // u+w
            if (ImageNative.fchmod(fd, mode) != 0)
                throw Fail(path, "set the directory's mode", ImageNative.LastErrno);
            foreach (var (xname, value) in meta.Xattrs)
                SetXattr(fd, null, xname, value, path, mustSucceed: false);
            if (meta.Opaque)
            {
                SetXattr(fd, null, "user.overlay.opaque", "y"u8.ToArray(), path, mustSucceed: true);
                if (_options.AsRoot)
                    SetXattr(fd, null, "trusted.overlay.opaque", "y"u8.ToArray(), path, mustSucceed: false);
            }
            if (meta.Times is { } times)
                SetTimes(fd, null, times, path);
        }
    }

    private void Sync()
    {
        // One syncfs for the whole layer instead of an fsync per file: the layer must be on disk
        // before it is renamed into place, and a crash before that leaves only tmp/ behind.
        if (ImageNative.syncfs((int)_rootForSync.DangerousGetHandle()) != 0)
            throw Fail(null, "flush the layer to disk", ImageNative.LastErrno);
    }

    private void OwnerFailed(string entryName, int errno)
    {
        // Root in a user namespace cannot give files ids outside it (EINVAL) or may lack CAP_CHOWN.
        if (errno is ImageNative.EINVAL or ImageNative.EPERM)
            _skippedOwners++;
        else
            throw Fail(entryName, "set the owner", errno);
    }

    private void SetXattr(int fd, string? path, string name, byte[] value, string entryName, bool mustSucceed)
    {
        int result;
        unsafe
        {
            fixed (byte* v = value)
                result = path is null ? ImageNative.fsetxattr(fd, name, v, (nuint)value.Length, 0) : ImageNative.lsetxattr(path, name, v, (nuint)value.Length, 0);
        }
        if (result == 0)
            return;
        int errno = ImageNative.LastErrno;
        if (mustSucceed || errno is ImageNative.ENOSPC or ImageNative.EDQUOT)
        {
            throw new ImageException(_file, Where(entryName), $"cannot set the xattr {name}: {ImageNative.ErrnoText(errno)} (errno {errno}).",
                errno == ImageNative.EOPNOTSUPP ? "The store's filesystem must support user xattrs (ext4, xfs, btrfs; tmpfs from Linux 6.6)." : HintFor(errno));
        }
        // Best effort: security.* and trusted.* need privileges, user.* is refused on symlinks
        // and device nodes, and the filesystem may not support a namespace at all.
        _skippedXattrs++;
    }

    private void SetTimes(int fd, string? name, (DateTimeOffset Access, DateTimeOffset Modified) times, string entryName)
    {
        int result;
        unsafe
        {
            var ts = stackalloc ImageNative.Timespec[2];
            ts[0] = ToTimespec(times.Access);
            ts[1] = ToTimespec(times.Modified);
            result = name is null ? ImageNative.futimens(fd, ts) : ImageNative.utimensat(fd, name, ts, ImageNative.AT_SYMLINK_NOFOLLOW);
        }
        if (result != 0)
            throw Fail(entryName, "set the times", ImageNative.LastErrno);
    }

    private static ImageNative.Timespec ToTimespec(DateTimeOffset time)
    {
        long ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0)
        {
            seconds--;
            rest += TimeSpan.TicksPerSecond;
        }
        return new ImageNative.Timespec { Seconds = seconds, Nanoseconds = rest * 100 };
    }

    // PAX times are decimal seconds since the epoch, with an optional fraction ("1700000000.5").
    private static DateTimeOffset? ParsePaxTime(string text) =>
        decimal.TryParse(text, System.Globalization.NumberStyles.AllowDecimalPoint | System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out decimal seconds)
        && Math.Abs(seconds) < 100_000_000_000m
            ? DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond))
            : null;

    private static int Mode(TarEntry entry) => (int)entry.Mode & 0xFFF; // permissions with setuid, setgid and sticky

    private static (DateTimeOffset Access, DateTimeOffset Modified) Times(TarEntry entry)
    {
        DateTimeOffset modified = entry.ModificationTime;
        DateTimeOffset access = entry switch
        {
            PaxTarEntry pax when pax.ExtendedAttributes.TryGetValue("atime", out var atime) && ParsePaxTime(atime) is { } parsed => parsed,
            GnuTarEntry gnu when gnu.AccessTime != default && gnu.AccessTime != DateTimeOffset.UnixEpoch => gnu.AccessTime,
            _ => modified,
        };
        return (access, modified);
    }

    /// <summary>
    /// The xattrs of an entry from its PAX records: <c>SCHILY.xattr.NAME</c> (GNU tar, docker)
    /// and <c>LIBARCHIVE.xattr.NAME</c> (bsdtar; base64, so binary values survive).
    /// Overlay's own xattrs are dropped: a layer must not smuggle in redirects or opaque marks
    /// that its whiteouts do not declare.
    /// </summary>
    private List<(string Name, byte[] Value)> Xattrs(TarEntry entry)
    {
        var result = new List<(string, byte[])>();
        if (entry is not PaxTarEntry pax)
            return result;
        foreach (var (key, value) in pax.ExtendedAttributes)
        {
            string name;
            byte[] bytes;
            if (key.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal))
            {
                name = Uri.UnescapeDataString(key["LIBARCHIVE.xattr.".Length..]);
                try
                {
                    bytes = Convert.FromBase64String(value.PadRight((value.Length + 3) / 4 * 4, '='));
                }
                catch (FormatException)
                {
                    _skippedXattrs++;
                    continue;
                }
            }
            else if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
            {
                name = key["SCHILY.xattr.".Length..];
                if (pax.ExtendedAttributes.ContainsKey("LIBARCHIVE.xattr." + Uri.EscapeDataString(name)))
                    continue; // the same xattr, exactly, in base64
                // System.Formats.Tar decodes PAX values as UTF-8; a binary value that is not valid
                // UTF-8 (a file capability, say) comes back with U+FFFD and cannot be restored.
                if (value.Contains('\uFFFD'))
                {
                    _skippedXattrs++;
                    continue;
                }
                bytes = Encoding.UTF8.GetBytes(value);
            }
            else
            {
                continue;
            }
            bool allowed = name.StartsWith("user.", StringComparison.Ordinal)
                ? !name.StartsWith("user.overlay.", StringComparison.Ordinal)
                : _options.AsRoot && (name.StartsWith("security.", StringComparison.Ordinal)
                    || (name.StartsWith("trusted.", StringComparison.Ordinal) && !name.StartsWith("trusted.overlay.", StringComparison.Ordinal))
                    || name.StartsWith("system.posix_acl_", StringComparison.Ordinal));
            if (!allowed)
            {
                _skippedXattrs++;
                continue;
            }
            result.Add((name, bytes));
        }
        return result;
    }

    // ---- errors ---------------------------------------------------------------------------

    private string Where(string? entryName) => entryName is null ? _layer : $"{_layer}, entry {entryName}";

    private ImageException Refuse(string entryName, string problem, string? hint = null) =>
        new(_file, Where(entryName), $"refused: {problem}.",
            hint ?? "The archive is corrupt or hostile; it was not imported and nothing was written outside the image store.");

    private ImageException Fail(string? entryName, string what, int errno) =>
        new(_file, Where(entryName), $"cannot {what}: {ImageNative.ErrnoText(errno)} (errno {errno}).", HintFor(errno));

    private static string? HintFor(int errno) => errno switch
    {
        ImageNative.ENOSPC or ImageNative.EDQUOT => "The image store's filesystem is full (or over quota).",
        ImageNative.ENAMETOOLONG => "A name in the archive is longer than the filesystem allows.",
        ImageNative.EACCES or ImageNative.EPERM => "The image store must be writable by the caller.",
        _ => null,
    };

    /// <summary>The metadata of a directory, applied once its children are written.</summary>
    private sealed record DirectoryMetadata(int Mode, int Uid, int Gid, (DateTimeOffset Access, DateTimeOffset Modified)? Times, List<(string Name, byte[] Value)> Xattrs)
    {
        public bool Opaque { get; init; }

        /// <summary>A directory the archive never listed but has entries in: 0755, root's, times left alone.</summary>
        public static DirectoryMetadata Implicit() => new(0x1ED, 0, 0, null, []);

        public static DirectoryMetadata From(TarEntry entry, List<(string, byte[])> xattrs) =>
            new(LayerExtractor.Mode(entry), entry.Uid, entry.Gid, LayerExtractor.Times(entry), xattrs);
    }
}
