using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Overlay roots at their limits, and created files over what a hostile image put there.</summary>
public sealed class OverlayEdgeTests : IClassFixture<BusyboxRootfs>, IDisposable
{
    private readonly BusyboxRootfs _rootfs;
    private readonly TempDirectory _dir = new();

    public OverlayEdgeTests(BusyboxRootfs rootfs) => _rootfs = rootfs;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_maximum_number_of_layers_stacks_in_order()
    {
        // 128 layers: far more than one fsconfig string of 256 bytes can name. Layer i holds
        // /layers/i and overrides /top with its number, so the topmost must win.
        var layers = new List<string> { _rootfs.Path };
        for (int i = 1; i < 128; i++)
        {
            string layer = Directory.CreateDirectory(Path.Combine(_dir.Path, $"l{i}", "layers")).Parent!.FullName;
            File.WriteAllText(Path.Combine(layer, "layers", $"{i}"), "");
            File.WriteAllText(Path.Combine(layer, "top"), $"{i}\n");
        }
        for (int i = 1; i < 128; i++)
            layers.Add(Path.Combine(_dir.Path, $"l{i}"));
        string output = await new SandboxBuilder().WithOverlayRoot(layers).Build().OutputOfAsync("cat /top; ls /layers | wc -l");
        Assert.Equal("127\n127", output);

        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithOverlayRoot([.. layers, _rootfs.Path]).Build());
        Assert.Contains("at most 128", e.Message);
    }

    [Fact]
    public async Task A_created_file_replaces_a_fifo_or_a_hard_link_instead_of_writing_through_it()
    {
        string layer = Directory.CreateDirectory(Path.Combine(_dir.Path, "hostile", "etc")).Parent!.FullName;
        await Tools.RunAsync("mkfifo", Path.Combine(layer, "etc", "motd"));
        string root = Path.Combine(_dir.Path, "root");
        Images.TestImages.CopyTree(_rootfs.Path, root);
        File.SetUnixFileMode(root, (UnixFileMode)0x1FF); // a root caller's sandbox is the host's nobody
        string outside = Path.Combine(_dir.Path, "outside");
        File.WriteAllText(outside, "host\n");
        await Tools.RunAsync("ln", outside, Path.Combine(root, "linked"));

        // A FIFO in an image would block a plain open for writing forever.
        var overlay = new SandboxBuilder().WithOverlayRoot([_rootfs.Path, layer]).WithUser(0, 0).WithMounts(m => m.File("/etc/motd", "hello\n")).WithTimeout(TimeSpan.FromSeconds(20)).Build();
        Assert.Equal("hello\nregular file", await overlay.OutputOfAsync("cat /etc/motd; stat -c %F /etc/motd"));

        // A hard link in a directory root must be replaced, not written through to its other name.
        var directory = new SandboxBuilder().WithRootFilesystem(root).WithMounts(m => m.File("/linked", "sandbox\n")).Build();
        Assert.Equal("sandbox", await directory.OutputOfAsync("cat /linked"));
        Assert.Equal("host\n", File.ReadAllText(outside));
    }
}
