using System.Text;
using Sandboxing.Images;

namespace Sandboxing.Tests.Images;

/// <summary>The store: concurrency, failures mid-layer, integrity checks, choosing an image, listing and pruning.</summary>
public sealed class ImageStoreTests : IDisposable
{
    private readonly Scratch _scratch = new();
    private readonly ImageStore _store;

    public ImageStoreTests() => _store = new ImageStore(_scratch["store"]);

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task The_store_is_created_on_first_use_private_to_its_owner()
    {
        Assert.False(Directory.Exists(_store.RootDirectory));
        Assert.Empty(_store.List());
        Assert.Equal(0x1C0, ImageAssert.Permissions(_store.RootDirectory));
        await _store.ImportAsync(TestImages.RootfsTar);
        Assert.Equal(0x1C0, ImageAssert.Permissions(_store.LayersDirectory));
    }

    [Fact]
    public async Task Parallel_imports_of_one_image_extract_each_layer_once()
    {
        var stores = Enumerable.Range(0, 8).Select(_ => new ImageStore(_store.RootDirectory)).ToList();

        var images = await Task.WhenAll(stores.Select(s => s.ImportAsync(TestImages.OciLayout)));

        Assert.Equal(2, stores.Sum(s => s.ExtractedLayerCount));
        Assert.All(images, i => Assert.Equal(images[0], i));
        ImageAssert.LayeredTestImage(images[0], byRoot: ImageAssert.IsRoot);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_store.TmpDirectory));
    }

    [Fact]
    public async Task Parallel_imports_from_an_archive_and_a_layout_share_layers()
    {
        var images = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            new ImageStore(_store.RootDirectory).ImportAsync(i % 2 == 0 ? TestImages.OciLayout : TestImages.DockerSaveTar)));

        Assert.All(images, i => Assert.Equal(images[0], i));
        Assert.Equal(2, Directory.GetDirectories(_store.LayersDirectory).Length);
    }

    [Fact]
    public async Task A_failure_mid_layer_leaves_nothing_in_layers_and_the_next_import_succeeds()
    {
        var failing = new ImageStore(_store.RootDirectory)
        {
            ExtractionOptions = ExtractionOptions.ForCurrentProcess() with
            {
                OnEntry = name => { if (name == "etc/passwd") throw new InvalidOperationException("failure injected mid-layer"); },
            },
        };

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => failing.ImportAsync(TestImages.OciLayout));
        Assert.Equal("failure injected mid-layer", e.Message);
        ImageAssert.NoLayersNorWork(_store);
        Assert.Empty(_store.List());

        ImageAssert.LayeredTestImage(await _store.ImportAsync(TestImages.OciLayout), byRoot: ImageAssert.IsRoot);
    }

    [Fact]
    public async Task Cancelling_mid_layer_leaves_nothing_in_layers_and_the_next_import_succeeds()
    {
        using var cts = new CancellationTokenSource();
        var cancelling = new ImageStore(_store.RootDirectory)
        {
            ExtractionOptions = ExtractionOptions.ForCurrentProcess() with { OnEntry = name => { if (name == "bin/busybox") cts.Cancel(); } },
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelling.ImportAsync(TestImages.RootfsTar, cancellationToken: cts.Token));
        ImageAssert.NoLayersNorWork(_store);

        var image = await _store.ImportAsync(TestImages.RootfsTar);
        Assert.True(File.Exists(Path.Combine(image.LayerDirectories[0], "bin/busybox")));
    }

    [Fact]
    public async Task A_flipped_byte_in_an_uncompressed_layer_blob_is_caught_naming_the_blob()
    {
        string layout = CopyLayout();
        string blob = TestImages.Digest(TestImages.Layer2Tar);
        FlipByte(Path.Combine(layout, "blobs/sha256", blob["sha256:".Length..]), 700);

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(layout));

        Assert.Contains($"blob {blob}", e.Message);
        Assert.Contains("digest", e.Message);
        Assert.Equal(layout, e.FilePath);
        // Layer 1 is intact and may be kept; the tampered one never appears.
        Assert.False(Directory.Exists(Path.Combine(_store.LayersDirectory, TestImages.Digest(TestImages.Layer2Tar)["sha256:".Length..])));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_store.TmpDirectory));
        Assert.Empty(_store.List());
    }

    [Fact]
    public async Task A_flipped_byte_in_a_gzip_layer_blob_is_reported_as_a_digest_mismatch()
    {
        string layout = CopyLayout();
        string blob = LayerDigestsOf(layout)[0];
        FlipByte(Path.Combine(layout, "blobs/sha256", blob["sha256:".Length..]), 5000);

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(layout));

        Assert.Contains($"blob {blob}", e.Message);
        Assert.Contains("digest", e.Message);
        ImageAssert.NoLayersNorWork(_store);
    }

    [Fact]
    public async Task A_tampered_config_is_caught_before_any_layer_is_read()
    {
        string layout = CopyLayout();
        string config = TestImages.Digest(TestImages.ConfigJson);
        string path = Path.Combine(layout, "blobs/sha256", config["sha256:".Length..]);
        File.WriteAllText(path, File.ReadAllText(path).Replace("echo hello", "echo HELLO"));

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(layout));

        Assert.Contains($"blob {config}", e.Message);
        ImageAssert.NoLayersNorWork(_store);
    }

    [Fact]
    public async Task A_layer_that_does_not_match_the_configs_diff_id_is_refused()
    {
        // A docker save archive has no blob digests for layer.tar: diff_ids are the check.
        string archive = _scratch["tampered-save.tar"];
        byte[] original = File.ReadAllBytes(TestImages.DockerSaveTar);
        byte[] tampered = ReplaceOnce(original, "from layer 2\n"u8.ToArray(), "from layer X\n"u8.ToArray());
        File.WriteAllBytes(archive, tampered);

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(archive));

        Assert.Contains("rootfs.diff_ids", e.Message);
        Assert.Contains("layer 2 of 2", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_store.LayersDirectory, TestImages.Digest(TestImages.Layer2Tar)["sha256:".Length..])));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_store.TmpDirectory));
    }

    [Fact]
    public async Task A_layout_with_several_images_needs_a_reference_and_lists_them()
    {
        string layout = CopyLayout();
        string index = File.ReadAllText(Path.Combine(layout, "index.json"));
        string entry = index[(index.IndexOf('[') + 1)..index.LastIndexOf(']')];
        File.WriteAllText(Path.Combine(layout, "index.json"), index.Replace(entry, entry + "," + entry.Replace("\"latest\"", "\"v2\"")));

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(layout));
        Assert.Contains("latest", e.Message);
        Assert.Contains("v2", e.Message);
        Assert.Equal("index.json", e.Entry);

        var missing = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(layout, "v3"));
        Assert.Contains("'v3'", missing.Message);

        var image = await _store.ImportAsync(layout, "v2");
        ImageAssert.LayeredTestImage(image, byRoot: ImageAssert.IsRoot);
    }

    [Fact]
    public async Task A_docker_save_archive_with_several_images_picks_by_repo_tag()
    {
        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(TestImages.DockerSaveTar, "other:tag"));
        Assert.Contains(TestImages.DockerReference, e.Message);

        var image = await _store.ImportAsync(TestImages.DockerSaveTar, "sandbox-test/busybox");
        Assert.Equal(TestImages.Digest(TestImages.ConfigJson), image.Id);
    }

    [Fact]
    public async Task A_zstd_layer_is_refused_with_a_clear_message()
    {
        string layout = CopyLayout();
        RewriteManifest(layout, m => m.Replace("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd"));

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(layout));
        Assert.Contains("zstd layers aren't supported yet", e.Message);

        string zstdFile = _scratch["rootfs.tar.zst"];
        File.WriteAllBytes(zstdFile, [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
        var fromMagic = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(zstdFile));
        Assert.Contains("zstd", fromMagic.Message);
    }

    [Fact]
    public async Task Metadata_over_4_MiB_is_refused()
    {
        string layout = CopyLayout();
        File.AppendAllText(Path.Combine(layout, "index.json"), new string(' ', 5 << 20));

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(layout));
        Assert.Contains("4 MiB", e.Message);
        Assert.Equal("index.json", e.Entry);
    }

    [Fact]
    public async Task Inputs_that_are_no_image_get_a_clear_error()
    {
        string text = _scratch["notes.txt"];
        File.WriteAllText(text, new string('x', 2000));
        var notTar = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(text));
        Assert.Contains("not a tar archive", notTar.Message);

        var missing = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(_scratch["nothing-here.tar"]));
        Assert.Contains("does not exist", missing.Message);

        Directory.CreateDirectory(_scratch["plain-dir"]);
        var plainDirectory = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(_scratch["plain-dir"]));
        Assert.Contains("oci-layout", plainDirectory.Message);

        var referenceForRootfs = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(TestImages.RootfsTar, "latest"));
        Assert.Contains("plain root filesystem", referenceForRootfs.Message);
    }

    [Fact]
    public async Task Remove_prunes_layers_no_other_image_uses()
    {
        var layered = await _store.ImportAsync(TestImages.OciLayout);
        var sharing = await _store.ImportAsync(SingleLayerArchiveSharingLayer1());
        var rootfs = await _store.ImportAsync(TestImages.RootfsTar);
        Assert.Equal([layered.Id, sharing.Id, rootfs.Id], _store.List().Select(i => i.Id));
        Assert.Equal(layered.LayerDirectories[0], sharing.LayerDirectories[0]);

        _store.Remove(layered);

        Assert.Equal([sharing.Id, rootfs.Id], _store.List().Select(i => i.Id));
        Assert.False(Directory.Exists(layered.LayerDirectories[1]));
        Assert.True(Directory.Exists(layered.LayerDirectories[0]));

        _store.Remove(sharing);
        _store.Remove(rootfs);
        Assert.Empty(_store.List());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_store.LayersDirectory));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_store.TmpDirectory));

        // Removing again only prunes; importing again extracts again.
        _store.Remove(layered);
        ImageAssert.LayeredTestImage(await _store.ImportAsync(TestImages.OciLayout), byRoot: ImageAssert.IsRoot);
    }

    [Fact]
    public async Task Records_are_written_atomically_and_read_back_by_a_new_store()
    {
        var image = await _store.ImportAsync(TestImages.OciLayout);

        string record = Path.Combine(_store.ImagesDirectory, image.Id["sha256:".Length..] + ".json");
        Assert.True(File.Exists(record));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_store.TmpDirectory));
        Assert.Equal(image, Assert.Single(new ImageStore(_store.RootDirectory).List()));

        File.WriteAllText(record, "{ not json");
        var e = Assert.Throws<ImageException>(() => new ImageStore(_store.RootDirectory).List());
        Assert.Equal(record, e.FilePath);
    }

    [Fact]
    public void Opening_a_store_removes_stale_work_older_than_an_hour_and_only_in_tmp()
    {
        _store.List();
        string stale = Path.Combine(_store.TmpDirectory, "layer-stale");
        string fresh = Path.Combine(_store.TmpDirectory, "layer-fresh");
        Directory.CreateDirectory(Path.Combine(stale, "sub"));
        File.WriteAllText(Path.Combine(stale, "sub", "f"), "x");
        Directory.CreateDirectory(fresh);
        Directory.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));
        string unrelated = Path.Combine(_store.RootDirectory, "unrelated");
        Directory.CreateDirectory(unrelated);
        Directory.SetLastWriteTimeUtc(unrelated, DateTime.UtcNow.AddHours(-2));

        new ImageStore(_store.RootDirectory).List();

        Assert.False(Directory.Exists(stale));
        Assert.True(Directory.Exists(fresh));
        Assert.True(Directory.Exists(unrelated));
    }

    [Fact]
    public void The_default_store_follows_SANDBOX_IMAGE_STORE_then_the_caller()
    {
        string? saved = Environment.GetEnvironmentVariable("SANDBOX_IMAGE_STORE");
        try
        {
            Environment.SetEnvironmentVariable("SANDBOX_IMAGE_STORE", "/srv/images");
            Assert.Equal("/srv/images", ImageStore.DefaultRootDirectory);
            Environment.SetEnvironmentVariable("SANDBOX_IMAGE_STORE", null);
            if (ImageAssert.IsRoot)
                Assert.Equal("/var/lib/sandbox/images", ImageStore.DefaultRootDirectory);
            else
                Assert.EndsWith("/sandbox/images", ImageStore.DefaultRootDirectory);
        }
        finally
        {
            Environment.SetEnvironmentVariable("SANDBOX_IMAGE_STORE", saved);
        }
    }

    // ---- helpers --------------------------------------------------------------------------

    private string CopyLayout()
    {
        string copy = _scratch["layout-" + Guid.NewGuid().ToString("N")[..8]];
        TestImages.CopyTree(TestImages.OciLayout, copy);
        return copy;
    }

    private static List<string> LayerDigestsOf(string layout)
    {
        string manifest = ManifestPath(layout);
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(manifest));
        return document.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()!).ToList();
    }

    private static string ManifestPath(string layout)
    {
        using var index = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layout, "index.json")));
        string digest = index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;
        return Path.Combine(layout, "blobs/sha256", digest["sha256:".Length..]);
    }

    /// <summary>Edits the manifest and stores it under its new digest, so only the edit is wrong.</summary>
    private static void RewriteManifest(string layout, Func<string, string> edit)
    {
        string oldPath = ManifestPath(layout);
        byte[] manifest = Encoding.UTF8.GetBytes(edit(File.ReadAllText(oldPath)));
        string digest = TestImages.Digest(manifest);
        File.WriteAllBytes(Path.Combine(layout, "blobs/sha256", digest["sha256:".Length..]), manifest);
        string index = File.ReadAllText(Path.Combine(layout, "index.json"));
        string oldDigest = "sha256:" + Path.GetFileName(oldPath);
        index = index.Replace(oldDigest, digest);
        index = System.Text.RegularExpressions.Regex.Replace(index, "\"size\":\\d+", $"\"size\":{manifest.Length}");
        File.WriteAllText(Path.Combine(layout, "index.json"), index);
    }

    private static void FlipByte(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        int b = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(b ^ 0x01));
    }

    private static byte[] ReplaceOnce(byte[] data, byte[] find, byte[] replacement)
    {
        int at = data.AsSpan().IndexOf(find);
        Assert.True(at >= 0);
        byte[] copy = (byte[])data.Clone();
        replacement.CopyTo(copy, at);
        return copy;
    }

    /// <summary>A docker save archive of another image (another config) whose only layer is the test image's layer 1.</summary>
    private string SingleLayerArchiveSharingLayer1()
    {
        string config = $"{{\"config\":{{\"Cmd\":[\"/bin/sh\"]}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{TestImages.Digest(TestImages.Layer1Tar)}\"]}}}}";
        string configHex = TestImages.Digest(Encoding.UTF8.GetBytes(config))["sha256:".Length..];
        string archive = _scratch["single.tar"];
        File.WriteAllBytes(archive, TestTar.Build(w =>
        {
            w.File("l1/layer.tar", TestImages.Layer1Tar);
            w.File($"{configHex}.json", config);
            w.File("manifest.json", $"[{{\"Config\":\"{configHex}.json\",\"RepoTags\":[\"single:latest\"],\"Layers\":[\"l1/layer.tar\"]}}]");
        }));
        return archive;
    }
}
