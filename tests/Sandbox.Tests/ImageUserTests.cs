using Sandboxing.Images;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>
/// An image's USER resolved through its own /etc/passwd and /etc/group, on layers built by hand
/// the way a hostile image could ship them: symlinks out of the layer, FIFOs, devices,
/// whiteouts and opaque directories. Every case ends quickly, and never with the host's files.
/// </summary>
public sealed class ImageUserTests : IDisposable
{
    private const string Passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345::/home/app:/bin/sh\n";
    private const string Group = "root:x:0:\nstaff:x:50:app\n";
    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Names_resolve_through_the_topmost_layer_that_has_the_database()
    {
        string lower = LayerWithDatabases("lower");
        string middle = Layer("middle");
        Directory.CreateDirectory(Path.Combine(middle, "etc")); // an etc/ without passwd: look further down
        File.WriteAllText(Path.Combine(middle, "etc", "hostname"), "x\n");
        Assert.Equal((1234u, 2345u), await ResolveAsync("app", lower, middle));
        Assert.Equal((1234u, 50u), await ResolveAsync("app:staff", lower, middle));
        Assert.Equal((1234u, 7u), await ResolveAsync("1234:7", lower, middle));

        string top = Layer("top");
        Directory.CreateDirectory(Path.Combine(top, "etc"));
        File.WriteAllText(Path.Combine(top, "etc", "passwd"), "app:x:4321:5432::/:/bin/sh\n");
        Assert.Equal((4321u, 5432u), await ResolveAsync("app", lower, middle, top));
        // /etc/group still comes from the lower layer: each file is looked up on its own.
        Assert.Equal((4321u, 50u), await ResolveAsync("app:staff", lower, middle, top));
    }

    [Fact]
    public async Task A_symlinked_etc_never_reads_the_hosts_passwd()
    {
        string lower = LayerWithDatabases("lower");
        foreach (var (name, target) in new[] { ("absolute", "/etc"), ("relative", "../../../../../../../../etc") })
        {
            string top = Layer("top-" + name);
            File.CreateSymbolicLink(Path.Combine(top, "etc"), target);
            // The host's passwd lists root and nobody; the image's lower layer is hidden by the link.
            await AssertRefusedAsync("nobody", lower, top);
            await AssertRefusedAsync("root", lower, top);
        }
        string linked = Layer("linked-passwd");
        Directory.CreateDirectory(Path.Combine(linked, "etc"));
        File.CreateSymbolicLink(Path.Combine(linked, "etc", "passwd"), "/etc/passwd");
        await AssertRefusedAsync("nobody", linked);
    }

    [Fact]
    public async Task A_fifo_or_a_device_as_passwd_ends_at_once()
    {
        string fifo = Layer("fifo");
        Directory.CreateDirectory(Path.Combine(fifo, "etc"));
        await Tools.RunAsync("mkfifo", Path.Combine(fifo, "etc", "passwd"));
        await AssertRefusedAsync("app", LayerWithDatabases("lower"), fifo);
        // A numeric user needs no database: it resolves, with gid 0.
        Assert.Equal((1234u, 0u), await ResolveAsync("1234", fifo));

        string zero = Layer("zero");
        Directory.CreateDirectory(Path.Combine(zero, "etc"));
        await Tools.RunAsync("mknod", Path.Combine(zero, "etc", "passwd"), "c", "1", "5"); // /dev/zero: endless, no newline
        await AssertRefusedAsync("app", zero);

        string group = Layer("group-fifo");
        Directory.CreateDirectory(Path.Combine(group, "etc"));
        File.WriteAllText(Path.Combine(group, "etc", "passwd"), Passwd);
        await Tools.RunAsync("mkfifo", Path.Combine(group, "etc", "group"));
        await AssertRefusedAsync("app:staff", group);
    }

    [Fact]
    public async Task A_whited_out_passwd_hides_the_lower_layers_one()
    {
        string lower = LayerWithDatabases("lower");

        string file = Layer("whiteout-file");
        Directory.CreateDirectory(Path.Combine(file, "etc"));
        await Tools.RunAsync("mknod", Path.Combine(file, "etc", "passwd"), "c", "0", "0");
        await AssertRefusedAsync("app", lower, file);

        string etc = Layer("whiteout-etc");
        await Tools.RunAsync("mknod", Path.Combine(etc, "etc"), "c", "0", "0");
        await AssertRefusedAsync("app", lower, etc);

        foreach (var xattr in new[] { "user.overlay.opaque", "trusted.overlay.opaque" })
        {
            string opaque = Layer("opaque-" + xattr);
            Directory.CreateDirectory(Path.Combine(opaque, "etc"));
            File.WriteAllText(Path.Combine(opaque, "etc", "group"), Group);
            await Tools.RunAsync("/usr/bin/python3", "-c", $"import os; os.setxattr('{Path.Combine(opaque, "etc")}', '{xattr}', b'y')");
            await AssertRefusedAsync("app", lower, opaque);
        }

        // A regular file named etc hides the lower etc/ too.
        string plain = Layer("file-etc");
        File.WriteAllText(Path.Combine(plain, "etc"), "not a directory\n");
        await AssertRefusedAsync("app", lower, plain);
    }

    private string Layer(string name) => Directory.CreateDirectory(Path.Combine(_dir.Path, name)).FullName;

    private string LayerWithDatabases(string name)
    {
        string layer = Layer(name);
        Directory.CreateDirectory(Path.Combine(layer, "etc"));
        File.WriteAllText(Path.Combine(layer, "etc", "passwd"), Passwd);
        File.WriteAllText(Path.Combine(layer, "etc", "group"), Group);
        return layer;
    }

    private static SandboxImage Image(string user, string[] layers) => new()
    {
        Id = "sha256:00",
        LayerDirectories = [.. layers],
        Config = ImageConfig.Empty with { User = user },
    };

    /// <summary>The uid and gid WithImage picks; on a thread of its own, so that a hang fails the test instead of stalling it.</summary>
    private static async Task<(uint Uid, uint Gid)> ResolveAsync(string user, params string[] layers)
    {
        var config = await Task.Factory.StartNew(() => new SandboxBuilder().WithImage(Image(user, layers)).Configuration,
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).WaitAsync(Quickly);
        return (config.Uid!.Value, config.Gid!.Value);
    }

    private static async Task AssertRefusedAsync(string user, params string[] layers)
    {
        var e = await Assert.ThrowsAsync<SandboxConfigurationException>(() => ResolveAsync(user, layers));
        Assert.Equal("image.user", e.Setting);
    }
}
