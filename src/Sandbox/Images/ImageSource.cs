namespace Sandboxing.Images;

/// <summary>
/// The files of an OCI image layout or a docker save archive, whether unpacked in a directory
/// (<see cref="DirectorySource"/>) or packed in a tar (<see cref="ArchiveSource"/>). Paths are
/// relative, '/'-separated and checked by <see cref="EntryPaths"/>.
/// </summary>
internal abstract class ImageSource : IDisposable
{
    /// <summary>The most a manifest, index, config or other metadata file may hold.</summary>
    public const int MaxMetadataBytes = 4 << 20;

    protected ImageSource(string filePath) => FilePath = filePath;

    /// <summary>The directory or archive, for messages.</summary>
    public string FilePath { get; }

    /// <summary>Whether a regular file (after following links inside an archive) exists at <paramref name="path"/>.</summary>
    public abstract bool Exists(string path);

    /// <summary>
    /// The content of a metadata file of at most <see cref="MaxMetadataBytes"/>; an
    /// <see cref="ImageException"/> when it is missing or larger.
    /// </summary>
    public abstract byte[] ReadMetadata(string path);

    /// <summary>The path a file is stored under: links inside an archive are followed.</summary>
    public virtual string Canonical(string path) => path;

    /// <summary>
    /// Streams each file in <paramref name="paths"/> (canonical, each once) to
    /// <paramref name="onFile"/>, in the order the source reads best: for an archive, the order
    /// of its members, in one pass. <paramref name="onFile"/> may leave a stream unread.
    /// </summary>
    public abstract void ReadFiles(IReadOnlyCollection<string> paths, Action<string, Stream> onFile, CancellationToken cancellationToken);

    /// <summary>An <see cref="ImageException"/> for a missing file.</summary>
    protected ImageException Missing(string path) =>
        new(FilePath, path, "the file is missing.", "The image layout or archive is incomplete; export it again.");

    /// <summary>An <see cref="ImageException"/> for a metadata file over the limit.</summary>
    protected ImageException TooLarge(string path, long size) =>
        new(FilePath, path, $"the file has {size} bytes, more than the {MaxMetadataBytes >> 20} MiB allowed for a manifest, index or config.",
            "A real manifest or config is a few KiB; the archive is corrupt or hostile.");

    public virtual void Dispose()
    {
    }
}
