using System.Formats.Tar;

namespace Sandboxing.Images;

/// <summary>
/// A tar (plain or gzip-compressed) holding a docker save archive, an OCI layout, or a root
/// filesystem. Nothing is unpacked to disk and no layer is held in memory: a first pass
/// indexes the members, keeps the small metadata files (manifests, indexes, configs: JSON of at
/// most 4 MiB each) and hashes the whole uncompressed stream; a second pass streams the layers
/// the import still needs, in archive order (docker writes manifest.json last, so the first
/// pass is what makes one sequential read per layer possible).
/// </summary>
internal sealed class ArchiveSource : ImageSource
{
    // Metadata kept from the first pass, all files together; far above any real image's.
    private const long MaxBufferedBytes = 64L << 20;

    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _metadata = new(StringComparer.Ordinal);

    private ArchiveSource(string file)
        : base(file)
    {
    }

    /// <summary>
    /// <c>sha256:&lt;hex&gt;</c> of the whole uncompressed tar: the id and the layer digest
    /// when the archive is a plain root filesystem.
    /// </summary>
    public string UncompressedDigest { get; private set; } = "";

    /// <summary>Reads the archive once (the first pass).</summary>
    public static ArchiveSource Open(string file, CancellationToken cancellationToken)
    {
        var source = new ArchiveSource(file);
        using var raw = OpenFile(file);
        using var uncompressed = Compression.Decompress(raw, null, file, null);
        using var hashing = new HashingStream(uncompressed, leaveOpen: true);
        long buffered = 0;
        int entries = 0;
        try
        {
            using var reader = new TarReader(hashing, leaveOpen: true);
            while (reader.GetNextEntry() is { } entry)
            {
                cancellationToken.ThrowIfCancellationRequested();
                entries++;
                string[] parts = EntryPaths.Split(entry.Name, out string? problem);
                // A bad name is no concern of the index: a docker save or OCI layout never needs
                // it, and a root filesystem's extraction refuses it with the details.
                if (problem is not null || parts.Length == 0)
                    continue;
                string name = EntryPaths.Join(parts);
                switch (entry.EntryType)
                {
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        source._members[name] = new Member(MemberKind.File, null, entry.Length);
                        if (IsMetadataCandidate(parts) && entry.Length <= MaxMetadataBytes && entry.DataStream is { } data
                            && buffered + entry.Length <= MaxBufferedBytes)
                        {
                            byte[] content = new byte[entry.Length];
                            data.ReadExactly(content);
                            if (LooksLikeJson(content) || name == "oci-layout")
                            {
                                source._metadata[name] = content;
                                buffered += content.Length;
                            }
                        }
                        break;
                    case TarEntryType.SymbolicLink:
                        source._members[name] = new Member(MemberKind.Symlink, entry.LinkName, 0);
                        break;
                    case TarEntryType.HardLink:
                        source._members[name] = new Member(MemberKind.HardLink, entry.LinkName, 0);
                        break;
                    default:
                        source._members.Remove(name);
                        break;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw new ImageException(file, null, $"the file is not a tar archive (or gzip-compressed tar): {e.Message}",
                "Import an OCI image layout directory, a docker save archive, an OCI layout as a tar, or a root filesystem tar (docker export).", e);
        }
        if (entries == 0)
        {
            throw new ImageException(file, null, "the file is empty or is not a tar archive.",
                "Import an OCI image layout directory, a docker save archive, an OCI layout as a tar, or a root filesystem tar (docker export).");
        }
        source.UncompressedDigest = hashing.Finish(cancellationToken);
        return source;
    }

    /// <summary>Whether the archive is a docker save: a <c>manifest.json</c> that is a JSON array.</summary>
    public bool IsDockerArchive =>
        _metadata.TryGetValue("manifest.json", out var manifest) && manifest.AsSpan().TrimStart(" \t\r\n"u8) is [(byte)'[', ..];

    public override bool Exists(string path) =>
        Canonical(path) is var canonical && _members.TryGetValue(canonical, out var member) && member.Kind == MemberKind.File;

    public override byte[] ReadMetadata(string path)
    {
        string canonical = Canonical(path);
        if (_metadata.TryGetValue(canonical, out var content))
            return content;
        if (!_members.TryGetValue(canonical, out var member) || member.Kind != MemberKind.File)
            throw Missing(path);
        if (member.Size > MaxMetadataBytes)
            throw TooLarge(path, member.Size);
        throw new ImageException(FilePath, path, "the file is not JSON, or the archive holds more metadata than the 64 MiB the importer keeps.",
            "The archive is corrupt or not an image archive.");
    }

    /// <summary>Follows symlinks and hard links between members (at most 16), never out of the archive.</summary>
    public override string Canonical(string path)
    {
        string current = path;
        for (int hops = 0; hops < 16; hops++)
        {
            if (!_members.TryGetValue(current, out var member) || member.Kind == MemberKind.File)
                return current;
            string? next = EntryPaths.ResolveWithinArchive(current, member.LinkTarget!, relativeToRoot: member.Kind == MemberKind.HardLink);
            if (next is null)
                throw new ImageException(FilePath, path, $"refused: the member links to '{member.LinkTarget}', outside the archive.", "The archive is corrupt or hostile.");
            current = next;
        }
        throw new ImageException(FilePath, path, "refused: the member is part of a loop of links.", "The archive is corrupt or hostile.");
    }

    public override void ReadFiles(IReadOnlyCollection<string> paths, Action<string, Stream> onFile, CancellationToken cancellationToken)
    {
        var wanted = new HashSet<string>(paths, StringComparer.Ordinal);
        if (wanted.Count == 0)
            return;
        foreach (var path in wanted)
        {
            if (!Exists(path))
                throw Missing(path);
        }
        using var raw = OpenFile(FilePath);
        using var uncompressed = Compression.Decompress(raw, null, FilePath, null);
        try
        {
            using var reader = new TarReader(uncompressed, leaveOpen: true);
            while (wanted.Count > 0 && reader.GetNextEntry() is { } entry)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string[] parts = EntryPaths.Split(entry.Name, out string? problem);
                if (problem is not null || parts.Length == 0 || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile))
                    continue;
                string name = EntryPaths.Join(parts);
                if (wanted.Remove(name))
                    onFile(name, entry.DataStream ?? Stream.Null);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new ImageException(FilePath, null, $"the archive cannot be read: {e.Message}", "The file may be truncated or corrupt, or changed during the import.", e);
        }
        if (wanted.Count > 0)
            throw new ImageException(FilePath, wanted.First(), "the member disappeared between two reads of the archive.", "Do not change the archive while it is imported.");
    }

    /// <summary>Opens the archive file itself (for a root filesystem tar, which is the layer).</summary>
    public static FileStream OpenFile(string file)
    {
        try
        {
            return new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageException(file, null, "the file does not exist.", null, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ImageException(file, null, "the file cannot be read.", "The caller needs read permission on the archive.", e);
        }
    }

    // Where docker save and OCI layouts keep metadata: top-level files and blobs. A root
    // filesystem's own JSON files deeper down are never kept.
    private static bool IsMetadataCandidate(string[] parts) =>
        parts.Length == 1 || (parts.Length == 3 && parts[0] == "blobs");

    private static bool LooksLikeJson(ReadOnlySpan<byte> content) =>
        content.TrimStart(" \t\r\n"u8) is [(byte)'{' or (byte)'[', ..];

    private enum MemberKind
    {
        File,
        Symlink,
        HardLink,
    }

    private sealed record Member(MemberKind Kind, string? LinkTarget, long Size);
}
