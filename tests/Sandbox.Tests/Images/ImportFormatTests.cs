using System.Formats.Tar;
using System.Text;
using Sandboxing.Images;

namespace Sandboxing.Tests.Images;

/// <summary>Importing each kind of input, written by our code and by skopeo and umoci.</summary>
public sealed class ImportFormatTests : IDisposable
{
    private readonly Scratch _scratch = new();
    private readonly ImageStore _store;

    public ImportFormatTests() => _store = new ImageStore(_scratch["store"]);

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task An_OCI_layout_imports_into_overlay_format_layers_with_its_config()
    {
        var image = await _store.ImportAsync(TestImages.OciLayout);

        Assert.Equal(TestImages.Digest(TestImages.ConfigJson), image.Id);
        Assert.Equal([TestImages.Digest(TestImages.Layer1Tar), TestImages.Digest(TestImages.Layer2Tar)], image.LayerDigests.ToArray());
        ImageAssert.LayeredTestImage(image, byRoot: ImageAssert.IsRoot);
        Assert.Equal(0, image.SkippedDeviceNodes);
        Assert.Equal(["/bin/sh", "-c", "echo hello"], image.Config.DefaultCommand.ToArray());
    }

    [Fact]
    public async Task Importing_twice_reuses_the_layer_directories()
    {
        var first = await _store.ImportAsync(TestImages.OciLayout);
        ulong inode = ImageAssert.Stat(first.LayerDirectories[0]).Ino;
        var second = await new ImageStore(_store.RootDirectory).ImportAsync(TestImages.OciLayout, "latest");

        Assert.Equal(first, second);
        Assert.Equal(inode, ImageAssert.Stat(second.LayerDirectories[0]).Ino);
        Assert.Equal(2, _store.ExtractedLayerCount);
        Assert.Single(_store.List());
    }

    [Fact]
    public async Task A_docker_save_archive_gives_the_same_image_and_layers_as_the_OCI_layout()
    {
        var oci = await _store.ImportAsync(TestImages.OciLayout);
        var docker = await _store.ImportAsync(TestImages.DockerSaveTar, TestImages.DockerReference);

        Assert.Equal(oci, docker);
        Assert.Equal(2, _store.ExtractedLayerCount);
        ImageAssert.LayeredTestImage(docker, byRoot: ImageAssert.IsRoot);
    }

    [Fact]
    public async Task A_gzip_compressed_docker_save_archive_imports_without_a_reference_when_it_holds_one_image()
    {
        string gz = _scratch["save.tar.gz"];
        File.WriteAllBytes(gz, TestTar.Gzip(File.ReadAllBytes(TestImages.DockerSaveTar)));

        var image = await _store.ImportAsync(gz);

        ImageAssert.LayeredTestImage(image, byRoot: ImageAssert.IsRoot);
    }

    [Fact]
    public async Task Docker_25_archives_with_an_OCI_layout_inside_and_layer_symlinks_import()
    {
        // docker save since 25: blobs/sha256/*, index.json, oci-layout, and manifest.json whose
        // Layers point into blobs/ or at <id>/layer.tar symlinks to them.
        byte[] layer1 = TestImages.Layer1Tar, layer2 = TestImages.Layer2Tar, config = TestImages.ConfigJson;
        string Hex(byte[] b) => TestImages.Digest(b)["sha256:".Length..];
        string archive = _scratch["docker25.tar"];
        File.WriteAllBytes(archive, TestTar.Build(w =>
        {
            w.Dir("blobs");
            w.Dir("blobs/sha256");
            w.File($"blobs/sha256/{Hex(layer1)}", layer1);
            w.File($"blobs/sha256/{Hex(layer2)}", layer2);
            w.File($"blobs/sha256/{Hex(config)}", config);
            w.Dir("abc");
            w.Symlink("abc/layer.tar", $"../blobs/sha256/{Hex(layer2)}");
            w.File("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
            w.File("index.json", "{\"schemaVersion\":2,\"manifests\":[]}");
            w.File("manifest.json", $"[{{\"Config\":\"blobs/sha256/{Hex(config)}\",\"RepoTags\":[\"busybox:latest\"],\"Layers\":[\"blobs/sha256/{Hex(layer1)}\",\"abc/layer.tar\"]}}]");
        }));

        var image = await _store.ImportAsync(archive, "docker.io/library/busybox");

        ImageAssert.LayeredTestImage(image, byRoot: ImageAssert.IsRoot);
        Assert.Equal(TestImages.Digest(config), image.Id);
    }

    [Fact]
    public async Task An_OCI_layout_packed_in_a_tar_imports()
    {
        string archive = _scratch["oci.tar"];
        await TarFile.CreateFromDirectoryAsync(TestImages.OciLayout, archive, includeBaseDirectory: false);

        var image = await _store.ImportAsync(archive);

        ImageAssert.LayeredTestImage(image, byRoot: ImageAssert.IsRoot);
    }

    [Fact]
    public async Task A_layout_converted_by_skopeo_imports()
    {
        var image = await _store.ImportAsync(TestImages.SkopeoOciLayout, "latest");

        ImageAssert.LayeredTestImage(image, byRoot: ImageAssert.IsRoot);
        // skopeo keeps the layers' content, so the layers are the ones our own layout has.
        Assert.Equal([TestImages.Digest(TestImages.Layer1Tar), TestImages.Digest(TestImages.Layer2Tar)], image.LayerDigests.ToArray());
    }

    [Fact]
    public async Task A_layout_built_by_umoci_imports_with_its_whiteout()
    {
        var image = await _store.ImportAsync(TestImages.UmociOciLayout);

        Assert.Equal(2, image.LayerDirectories.Length);
        string bottom = image.LayerDirectories[0], top = image.LayerDirectories[1];
        Assert.Equal("busybox", new FileInfo(Path.Combine(bottom, "bin/sh")).LinkTarget);
        Assert.Equal("removed by layer 2\n", File.ReadAllText(Path.Combine(bottom, "etc/removed-file")));
        ImageAssert.Whiteout(Path.Combine(top, "etc/removed-file"));
        Assert.Equal("from layer 2\n", File.ReadAllText(Path.Combine(top, "layer2.txt")));
        Assert.True(ImageAssert.Absent(Path.Combine(top, "etc/.wh.removed-file")));
        Assert.Equal(TestImages.Config, image.Config);
    }

    [Fact]
    public async Task A_plain_rootfs_tar_is_one_layer_with_an_empty_config_and_its_digest_as_id()
    {
        var image = await _store.ImportAsync(TestImages.RootfsTar);
        var fromGzip = await _store.ImportAsync(TestImages.RootfsTarGz);

        Assert.Equal(TestImages.Digest(File.ReadAllBytes(TestImages.RootfsTar)), image.Id);
        Assert.Equal(image, fromGzip);
        Assert.Equal(1, _store.ExtractedLayerCount);
        Assert.Equal(ImageConfig.Empty, image.Config);
        string layer = Assert.Single(image.LayerDirectories);
        Assert.Equal(ImageAssert.Tree(TestImages.BusyboxRootfs), ImageAssert.Tree(layer));
        Assert.Equal("busybox", new FileInfo(Path.Combine(layer, "bin/test")).LinkTarget);
    }

    [Fact]
    public async Task The_layers_mount_as_an_overlay_with_whiteouts_and_opaque_directories_in_effect()
    {
        // Mounting in the initial user namespace needs root; UnprivilegedImportTests mounts with userxattr as nobody.
        if (!ImageAssert.IsRoot)
            return;
        var image = await _store.ImportAsync(TestImages.OciLayout);
        Directory.CreateDirectory(_scratch["mnt"]);

        foreach (bool userNamespace in new[] { false, true })
        {
            string output = ImageAssert.InOverlay(image, _scratch["mnt"], userNamespace,
                "ls $M/opaque-dir; test -e $M/etc/removed-file && echo removed-file-visible; cat $M/layer2.txt; $M/bin/busybox echo runs");
            Assert.Equal("new\nfrom layer 2\nruns\n", output);
        }
    }

    [Fact]
    public async Task Layers_a_config_lists_twice_appear_once_at_the_top()
    {
        byte[] empty = TestTar.Build(_ => { });
        byte[] layer = TestImages.Layer2Tar;
        string emptyId = TestImages.Digest(empty), layerId = TestImages.Digest(layer);
        string config = $"{{\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{emptyId}\",\"{layerId}\",\"{emptyId}\"]}}}}";
        string configHex = TestImages.Digest(Encoding.UTF8.GetBytes(config))["sha256:".Length..];
        string archive = _scratch["twice.tar"];
        File.WriteAllBytes(archive, TestTar.Build(w =>
        {
            w.File("a/layer.tar", empty);
            w.File("b/layer.tar", layer);
            w.File($"{configHex}.json", config);
            w.File("manifest.json", $"[{{\"Config\":\"{configHex}.json\",\"Layers\":[\"a/layer.tar\",\"b/layer.tar\",\"a/layer.tar\"]}}]");
        }));

        var image = await _store.ImportAsync(archive);

        Assert.Equal([layerId, emptyId], image.LayerDigests.ToArray());
        Assert.Equal(2, _store.ExtractedLayerCount);
    }
}
