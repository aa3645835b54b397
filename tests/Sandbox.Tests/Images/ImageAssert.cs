using System.Diagnostics;
using System.Text;
using Sandboxing.Images;

namespace Sandboxing.Tests.Images;

/// <summary>A temporary directory removed with everything in it, read-only directories included.</summary>
internal sealed class Scratch : IDisposable
{
    public Scratch()
    {
        Path = Directory.CreateTempSubdirectory("sandbox-images-test-").FullName;
        // Traversable by anyone: overlay mounts and processes as nobody look inside.
        File.SetUnixFileMode(Path, (UnixFileMode)0x1ED);
    }

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose() => SafeTree.Remove(Path);
}

/// <summary>Checks on extracted layers: file types, device numbers, xattrs, and the store's own directories.</summary>
internal static class ImageAssert
{
    public static bool IsRoot => ImageNative.geteuid() == 0;

    public static ImageNative.Statx Stat(string path) =>
        ImageNative.LStat(path) ?? throw new Xunit.Sdk.XunitException($"{path} does not exist");

    public static int FileType(string path) => Stat(path).Mode & ImageNative.S_IFMT;

    public static int Permissions(string path) => Stat(path).Mode & 0xFFF;

    /// <summary>Whether nothing at all (not even a dangling symlink) is at <paramref name="path"/>.</summary>
    public static bool Absent(string path) => ImageNative.LStat(path) is null;

    /// <summary>Asserts an overlay whiteout: a character device 0/0.</summary>
    public static void Whiteout(string path)
    {
        var stat = Stat(path);
        Assert.True((stat.Mode & ImageNative.S_IFMT) == ImageNative.S_IFCHR, $"{path} is not a character device (mode {stat.Mode:x})");
        Assert.Equal((0u, 0u), (stat.RdevMajor, stat.RdevMinor));
    }

    public static string? Xattr(string path, string name) =>
        ImageNative.GetXattr(path, name) is { } value ? Encoding.UTF8.GetString(value) : null;

    /// <summary>Asserts an opaque directory: user.overlay.opaque=y, and trusted.overlay.opaque=y when extracted by root.</summary>
    public static void Opaque(string path, bool byRoot)
    {
        Assert.Equal("y", Xattr(path, "user.overlay.opaque"));
        if (byRoot)
            Assert.Equal("y", Xattr(path, "trusted.overlay.opaque"));
        else if (IsRoot)
            Assert.Null(Xattr(path, "trusted.overlay.opaque"));
    }

    /// <summary>Every name below <paramref name="root"/>, relative, sorted; no whiteout or marker names should ever appear.</summary>
    public static List<string> Tree(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false })
            .Select(p => Path.GetRelativePath(root, p)).Order(StringComparer.Ordinal).ToList();

    /// <summary>Asserts the store holds no layer and no work in progress.</summary>
    public static void NoLayersNorWork(ImageStore store)
    {
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.LayersDirectory));
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.TmpDirectory));
    }

    /// <summary>
    /// Asserts the two-layer test image (<see cref="TestImages.OciLayout"/> and the formats
    /// derived from it): layer 1 the busybox rootfs and the files layer 2 changes, layer 2 in
    /// overlay format, and the config.
    /// </summary>
    public static void LayeredTestImage(SandboxImage image, bool byRoot, bool checkOpaque = true)
    {
        Assert.Equal(2, image.LayerDirectories.Length);
        Assert.All(image.LayerDirectories, d => Assert.True(Path.IsPathRooted(d)));
        Assert.Equal(image.LayerDirectories.Select(Path.GetFileName), image.LayerDigests.Select(d => d["sha256:".Length..]));
        string bottom = image.LayerDirectories[0], top = image.LayerDirectories[1];

        Assert.Equal(new FileInfo("/bin/busybox").Length, new FileInfo(Path.Combine(bottom, "bin/busybox")).Length);
        Assert.Equal(0x1ED, Permissions(Path.Combine(bottom, "bin/busybox")));
        foreach (var applet in TestImages.Applets)
            Assert.Equal("busybox", new FileInfo(Path.Combine(bottom, "bin", applet)).LinkTarget);
        Assert.Contains("nobody:x:65534", File.ReadAllText(Path.Combine(bottom, "etc/passwd")));
        Assert.Equal("removed by layer 2\n", File.ReadAllText(Path.Combine(bottom, "etc/removed-file")));
        Assert.Equal("old\n", File.ReadAllText(Path.Combine(bottom, "opaque-dir/old")));
        Assert.Equal(0x3FF, Permissions(Path.Combine(bottom, "tmp")));
        foreach (var dir in new[] { "proc", "dev", "sys", "work" })
            Assert.Equal(ImageNative.S_IFDIR, FileType(Path.Combine(bottom, dir)));

        Whiteout(Path.Combine(top, "etc/removed-file"));
        Assert.Equal("from layer 2\n", File.ReadAllText(Path.Combine(top, "layer2.txt")));
        if (checkOpaque)
        {
            Opaque(Path.Combine(top, "opaque-dir"), byRoot);
            Assert.Equal("new\n", File.ReadAllText(Path.Combine(top, "opaque-dir/new")));
        }
        Assert.DoesNotContain(Tree(top).Concat(Tree(bottom)), p => Path.GetFileName(p).StartsWith(".wh.", StringComparison.Ordinal));
        Assert.Equal(TestImages.Config, image.Config);
    }

    /// <summary>Runs a command; returns its exit code and combined output.</summary>
    public static (int ExitCode, string Output) Run(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command.Skip(1))
            psi.ArgumentList.Add(argument);
        using var process = Process.Start(psi)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    /// <summary>
    /// Mounts the image's layers as an overlay (top layer leftmost in lowerdir) in a new mount
    /// namespace and runs <paramref name="script"/> with $M the mount point; returns its output.
    /// <paramref name="userNamespace"/> mounts inside a new user namespace with <c>userxattr</c>,
    /// as a rootless sandbox does.
    /// </summary>
    public static string InOverlay(SandboxImage image, string mountPoint, bool userNamespace, string script)
    {
        string lower = string.Join(':', image.LayerDirectories.Reverse());
        string options = (userNamespace ? "userxattr," : "") + "lowerdir=" + lower;
        string[] unshare = userNamespace ? ["unshare", "-Urm"] : ["unshare", "-m"];
        var (code, output) = Run([.. unshare, "sh", "-c", $"mount -t overlay overlay -o '{options}' '{mountPoint}' && M='{mountPoint}' && {script}"]);
        Assert.True(code == 0, $"overlay script failed ({code}): {output}");
        return output;
    }
}
