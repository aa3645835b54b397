using Sandboxing.Images;
using Sandboxing.Tests.Images;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Images run in real sandboxes: what the command sees inside, for every import format.</summary>
public sealed class ImageSandboxTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ImageStore _store;

    public ImageSandboxTests() => _store = new ImageStore(Path.Combine(_dir.Path, "store"));

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> LayeredImages => ["oci", "docker-save", "skopeo", "umoci"];

    private static string PathOf(string name) => name switch
    {
        "oci" => TestImages.OciLayout,
        "docker-save" => TestImages.DockerSaveTar,
        "skopeo" => TestImages.SkopeoOciLayout,
        "umoci" => TestImages.UmociOciLayout,
        "rootfs-tar" => TestImages.RootfsTar,
        "rootfs-tar-gz" => TestImages.RootfsTarGz,
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(LayeredImages))]
    public async Task An_image_runs_like_docker_run_with_its_config_and_layers_applied(string name)
    {
        var image = await _store.ImportAsync(PathOf(name));
        var sandbox = new SandboxBuilder().WithImage(image).Build();

        // No command: the entrypoint (sh -c) runs the image's CMD.
        var r = await sandbox.RunAsync([]);
        Assert.True(r.IsSuccess, r.StandardError);
        Assert.Equal("hello\n", r.StandardOutput);

        // A command replaces CMD and goes through the entrypoint (sh -c); the image's env and workdir apply.
        r = await sandbox.RunAsync(["pwd; echo $GREETING; echo $PATH; cat /layer2.txt; test -e /etc/removed-file && echo removed-file-visible || echo removed-file-hidden; id -u"]);
        Assert.True(r.IsSuccess, r.StandardError);
        var lines = r.StandardOutput.Split('\n');
        Assert.Equal("/work", lines[0]);
        Assert.Equal("hi", lines[1]);
        Assert.Equal("/bin", lines[2]);
        Assert.Equal("removed-file-hidden", lines[4]);
        Assert.Equal("0", lines[5]);
    }

    [Theory]
    [InlineData("oci")]
    [InlineData("docker-save")]
    [InlineData("skopeo")]
    public async Task An_opaque_directory_hides_everything_below_it(string name)
    {
        var image = await _store.ImportAsync(PathOf(name));
        Assert.Equal("new", await new SandboxBuilder().WithImage(image).WithEntrypoint().Build().OutputOfAsync("ls /opaque-dir"));
    }

    [Theory]
    [InlineData("rootfs-tar")]
    [InlineData("rootfs-tar-gz")]
    public async Task A_docker_export_tarball_runs_without_a_daemon(string name)
    {
        var image = await _store.ImportAsync(PathOf(name));
        Assert.Empty(image.Config.Entrypoint);
        var sandbox = new SandboxBuilder().WithImage(image).Build();
        Assert.Equal("busybox-root\n/", await sandbox.OutputOfAsync("ls /bin/busybox >/dev/null && echo busybox-root; pwd"));
        Assert.False(Directory.Exists("/work/nonexistent-marker"));
    }

    [Fact]
    public async Task Root_inside_owns_the_image_and_its_changes_stay_in_the_sandbox()
    {
        var image = await _store.ImportAsync(TestImages.OciLayout);
        var sandbox = new SandboxBuilder().WithImage(image).WithEntrypoint().Build();
        string output = await sandbox.OutputOfAsync(
            "stat -c %u:%g /etc/passwd; echo 'judge:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd && tail -n1 /etc/passwd | cut -d: -f1; rm /bin/cat && echo cat-removed");
        Assert.Equal("0:0\njudge\ncat-removed", output);
        // The layers are untouched, so the next sandbox sees the image as imported.
        Assert.Equal("0\ncat-present", await sandbox.OutputOfAsync("grep -c '^judge:' /etc/passwd || true; test -e /bin/cat && echo cat-present"));
        Assert.All(image.LayerDirectories.Where(l => File.Exists(Path.Combine(l, "etc", "passwd"))),
            layer => Assert.DoesNotContain("judge", File.ReadAllText(Path.Combine(layer, "etc", "passwd"))));
    }

    [Fact]
    public async Task Many_sandboxes_run_one_image_at_once()
    {
        var image = await _store.ImportAsync(TestImages.OciLayout);
        var sandbox = new SandboxBuilder().WithImage(image).WithEntrypoint().Build();
        var outputs = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => sandbox.OutputOfAsync($"echo {i} > /work/mine; cat /work/mine")));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"{i}"), outputs);
    }

    [Fact]
    public async Task A_read_only_image_refuses_writes()
    {
        var image = await _store.ImportAsync(TestImages.OciLayout);
        var r = await new SandboxBuilder().WithImage(image, OverlayUpper.None).WithEntrypoint().Build().ShAsync("touch /etc/x; touch /tmp/ok && echo tmp-ok");
        Assert.Contains("Read-only file system", r.StandardError);
        Assert.Equal("tmp-ok\n", r.StandardOutput);
    }

    [Fact]
    public async Task Settings_after_WithImage_override_the_images()
    {
        var image = await _store.ImportAsync(TestImages.OciLayout);
        var sandbox = new SandboxBuilder().WithImage(image)
            .WithEnvironmentVariable("GREETING", "override").WithWorkingDirectory("/tmp").WithEntrypoint().WithUser(1000, 1000)
            .WithUidMappings(new IdMapping(0, 100000, 65536)).WithGidMappings(new IdMapping(0, 100000, 65536)).Build();
        Assert.Equal("override /tmp 1000", await sandbox.OutputOfAsync("echo $GREETING $(pwd) $(id -u)"));
    }

    [Fact]
    public void An_image_user_missing_from_its_passwd_is_a_clear_error()
    {
        var image = new SandboxImage
        {
            Id = "sha256:00",
            LayerDirectories = [TestImages.BusyboxRootfs],
            Config = ImageConfig.Empty with { User = "postgres" },
        };
        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithImage(image));
        Assert.Contains("image.user", e.Message);
        Assert.Contains("postgres", e.Message);
        var named = image with { Config = ImageConfig.Empty with { User = "nobody" } };
        var config = new SandboxBuilder().WithImage(named).Configuration;
        Assert.Equal((65534u, 65534u), (config.Uid!.Value, config.Gid!.Value));
    }

    [Fact]
    public async Task An_image_a_running_sandbox_uses_cannot_be_removed_until_the_sandbox_ends()
    {
        var image = await _store.ImportAsync(TestImages.OciLayout);
        var sandbox = new SandboxBuilder().WithImage(image).WithEntrypoint().Build();
        await using var running = await sandbox.StartAsync(["/bin/sleep", "30"]);
        try
        {
            var e = Assert.Throws<ImageException>(() => _store.Remove(image));
            Assert.Contains("in use by a running sandbox", e.Message);
            Assert.NotNull(e.Hint);
            // Nothing changed: the record, every layer, and the image still runs.
            Assert.Equal([image.Id], _store.List().Select(i => i.Id));
            Assert.All(image.LayerDirectories, layer => Assert.True(Directory.Exists(layer), layer));
            Assert.Equal("still-runs hi", await sandbox.OutputOfAsync("echo still-runs $(cat /layer2.txt >/dev/null && echo $GREETING)"));
        }
        finally
        {
            await running.KillAsync();
            await running.WaitForExitAsync();
        }

        _store.Remove(image);
        Assert.Empty(_store.List());
        Assert.All(image.LayerDirectories, layer => Assert.False(Directory.Exists(layer), layer));
    }

    [Fact]
    public async Task An_unprivileged_caller_imports_and_runs_an_image_as_root_inside()
    {
        string store = Path.Combine(_dir.Path, "nobody-store");
        var (code, output, error) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "image", store, TestImages.OciLayout,
            "id -u; stat -c %u /etc/passwd; echo x >> /etc/passwd && echo passwd-writable; cat /layer2.txt >/dev/null && ls /opaque-dir");
        Assert.True(code == 0, error);
        Assert.Equal("0\n0\npasswd-writable\nnew\nskipped-devices=0 verdict=Exited code=0", output.Trim());
    }

    [Fact]
    public async Task A_debootstrapped_debian_runs_from_its_tarball()
    {
        var image = await _store.ImportAsync(await DebianImage.GetTarAsync());
        var sandbox = new SandboxBuilder().WithImage(image).Build();
        string output = await sandbox.OutputOfAsync(
            "cat /etc/debian_version | cut -d. -f1; dpkg-query -W -f='${Status}\\n' coreutils; perl -e 'print qq(perl-ok\\n)'; " +
            "echo 'judge:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd && id -u judge; stat -c %U /root");
        var lines = output.Split('\n');
        Assert.Equal("12", lines[0]);
        Assert.Equal("install ok installed", lines[1]);
        Assert.Equal("perl-ok", lines[2]);
        Assert.Equal("1000", lines[3]);
        Assert.Equal("root", lines[4]);
    }
}
