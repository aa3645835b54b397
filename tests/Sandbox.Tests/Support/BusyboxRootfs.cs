namespace Sandboxing.Tests.Support;

/// <summary>
/// A minimal root filesystem built from Debian's busybox-static: /bin/busybox, applet links,
/// and the usual mount points. Built once per test class, removed afterwards.
/// </summary>
public sealed class BusyboxRootfs : IDisposable
{
    public const string BusyboxPath = "/bin/busybox";
    private static readonly string[] Applets =
        ["sh", "ls", "cat", "echo", "id", "hostname", "readlink", "touch", "sleep", "mkdir", "grep", "wc", "stat", "test", "true", "mount", "ps"];

    public BusyboxRootfs()
    {
        if (!File.Exists(BusyboxPath))
            throw new InvalidOperationException("busybox-static is not installed (apt-get install busybox-static); .ci/run installs it.");
        Path = Directory.CreateTempSubdirectory("sandbox-rootfs-").FullName;
        foreach (var dir in new[] { "bin", "proc", "dev", "tmp", "etc", "data" })
            Directory.CreateDirectory(System.IO.Path.Combine(Path, dir));
        File.Copy(BusyboxPath, System.IO.Path.Combine(Path, "bin", "busybox"));
        foreach (var applet in Applets)
            File.CreateSymbolicLink(System.IO.Path.Combine(Path, "bin", applet), "busybox");
        File.WriteAllText(System.IO.Path.Combine(Path, "etc", "marker"), "inside-rootfs\n");
        // Readable by anyone: rootless tests use it too.
        File.SetUnixFileMode(Path, (UnixFileMode)0x1ED /* 0755 */);
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
