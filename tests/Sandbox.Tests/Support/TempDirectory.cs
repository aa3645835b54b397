namespace Sandboxing.Tests.Support;

internal sealed class TempDirectory : IDisposable
{
    /// <summary>World-writable: a root caller's sandbox runs as the host's nobody.</summary>
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("sandbox-test-").FullName;
        File.SetUnixFileMode(Path, (UnixFileMode)0x1FF); // 0777
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
