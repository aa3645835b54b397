namespace Sandboxing.Images;

/// <summary>An OCI image layout (or an unpacked docker save) in a directory.</summary>
internal sealed class DirectorySource : ImageSource
{
    private readonly string _directory;

    public DirectorySource(string directory)
        : base(directory) => _directory = directory;

    public override bool Exists(string path) => File.Exists(Full(path));

    public override byte[] ReadMetadata(string path)
    {
        try
        {
            using var stream = new FileStream(Full(path), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            if (stream.Length > MaxMetadataBytes)
                throw TooLarge(path, stream.Length);
            byte[] content = new byte[stream.Length];
            stream.ReadExactly(content);
            return content;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Missing(path);
        }
    }

    public override void ReadFiles(IReadOnlyCollection<string> paths, Action<string, Stream> onFile, CancellationToken cancellationToken)
    {
        foreach (var path in paths)
        {
            cancellationToken.ThrowIfCancellationRequested();
            FileStream stream;
            try
            {
                stream = new FileStream(Full(path), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw Missing(path);
            }
            using (stream)
                onFile(path, stream);
        }
    }

    private string Full(string path)
    {
        EntryPaths.Split(path, out string? problem);
        if (problem is not null)
            throw new ImageException(FilePath, path, $"refused: {problem}.", "The manifest is corrupt or hostile.");
        return Path.Combine(_directory, path);
    }
}
