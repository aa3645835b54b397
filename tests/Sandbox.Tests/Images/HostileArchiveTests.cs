using System.Formats.Tar;
using Sandboxing.Images;

namespace Sandboxing.Tests.Images;

/// <summary>
/// Archives built to escape the layer directory. Each must be refused with an
/// <see cref="ImageException"/> naming the entry, with nothing written outside (a canary
/// directory next to the store stays as it was) and nothing left in the store.
/// </summary>
public sealed class HostileArchiveTests : IDisposable
{
    private readonly Scratch _scratch = new();
    private readonly ImageStore _store;
    private readonly string _canary;

    public HostileArchiveTests()
    {
        _store = new ImageStore(_scratch["store"]);
        _canary = _scratch["canary"];
        Directory.CreateDirectory(_canary);
        File.WriteAllText(Path.Combine(_canary, "keep"), "canary\n");
    }

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public Task An_absolute_entry_name_is_refused() =>
        Refused(w => w.File(Path.Combine(_canary, "pwned"), "x"), "absolute path", Path.Combine(_canary, "pwned"));

    [Fact]
    public Task A_dot_dot_escape_is_refused() =>
        // The layer is extracted in <scratch>/store/tmp/layer-*/, so three levels up is <scratch>.
        Refused(w => w.File("../../../canary/pwned", "x"), "'..'", "../../../canary/pwned");

    [Fact]
    public Task A_dot_dot_in_the_middle_of_a_name_is_refused() =>
        Refused(w => { w.Dir("a"); w.File("a/../../../../canary/pwned", "x"); }, "'..'");

    [Fact]
    public async Task A_hard_link_to_an_absolute_path_is_refused()
    {
        uint links = ImageAssert.Stat("/etc/passwd").Nlink;
        await Refused(w => w.HardLink("passwd", "/etc/passwd"), "absolute path", "passwd");
        Assert.Equal(links, ImageAssert.Stat("/etc/passwd").Nlink);
    }

    [Fact]
    public Task A_hard_link_with_dot_dot_is_refused() =>
        Refused(w => w.HardLink("stolen", "../../../canary/keep"), "'..'", "stolen");

    [Fact]
    public Task A_file_through_a_symlinked_parent_is_refused() =>
        Refused(w => { w.Symlink("evil", _canary); w.File("evil/pwned", "x"); }, "symlinked parent", "evil/pwned");

    [Fact]
    public Task A_file_through_a_relative_symlinked_parent_is_refused() =>
        Refused(w => { w.Symlink("evil", "../../../canary"); w.File("evil/keep", "overwritten"); }, "symlinked parent");

    [Fact]
    public Task A_file_through_a_symlink_deeper_in_the_path_is_refused() =>
        Refused(w => { w.Dir("a"); w.Symlink("a/b", _canary); w.File("a/b/c/pwned", "x"); }, "symlinked parent", "a/b/c/pwned");

    [Fact]
    public Task A_hard_link_created_through_a_symlinked_directory_is_refused() =>
        Refused(w => { w.File("real", "x"); w.Symlink("dirlink", _canary); w.HardLink("dirlink/pwned", "real"); }, "symlinked parent");

    [Fact]
    public Task A_hard_link_to_a_file_behind_a_symlinked_directory_is_refused() =>
        Refused(w => { w.Symlink("dirlink", _canary); w.HardLink("stolen", "dirlink/keep"); }, "not a file extracted earlier");

    [Fact]
    public Task A_hard_link_to_a_symlink_target_outside_is_not_followed() =>
        // The link is to the symlink entry itself (linkat without AT_SYMLINK_FOLLOW), which is harmless.
        Accepted(w => { w.Symlink("link", Path.Combine(_canary, "keep")); w.HardLink("second", "link"); }, layer =>
            Assert.Equal(Path.Combine(_canary, "keep"), new FileInfo(Path.Combine(layer, "second")).LinkTarget));

    [Fact]
    public Task A_whiteout_named_dot_wh_dot_dot_dot_with_a_child_is_refused() =>
        Refused(w => w.File(".wh.../x", ""), "whiteout", ".wh.../x");

    [Fact]
    public Task A_whiteout_of_dot_dot_is_refused() =>
        Refused(w => { w.Dir("d"); w.File("d/.wh...", ""); }, "whiteout");

    [Fact]
    public Task A_whiteout_through_a_symlinked_directory_is_refused() =>
        // Would turn canary/keep into a character device if the symlink were followed.
        Refused(w => { w.Symlink("evil", _canary); w.File("evil/.wh.keep", ""); }, "symlinked parent");

    [Fact]
    public Task An_opaque_marker_in_a_symlinked_directory_is_refused() =>
        Refused(w => { w.Symlink("evil", _canary); w.File("evil/.wh..wh..opq", ""); }, "symlinked parent");

    [Fact]
    public Task A_directory_replaced_by_a_symlink_cannot_be_written_through() =>
        Refused(w => { w.Dir("d"); w.File("d/a", "x"); w.Symlink("d", _canary); w.File("d/pwned", "x"); }, "symlinked parent");

    [Fact]
    public Task A_symlink_as_the_layer_root_is_refused() =>
        Refused(w => w.Symlink("./", _canary), "layer root");

    [Fact]
    public Task A_file_over_an_earlier_symlink_replaces_the_symlink_and_does_not_write_through_it() =>
        Accepted(w => { w.Symlink("f", Path.Combine(_canary, "keep")); w.File("f", "replaced\n"); }, layer =>
        {
            Assert.Equal(ImageNative.S_IFREG, ImageAssert.FileType(Path.Combine(layer, "f")));
            Assert.Equal("replaced\n", File.ReadAllText(Path.Combine(layer, "f")));
        });

    [Fact]
    public async Task A_device_node_is_skipped_and_counted_when_not_root()
    {
        var asUser = new ImageStore(_store.RootDirectory) { ExtractionOptions = new ExtractionOptions(AsRoot: false) };
        string archive = Write(w =>
        {
            w.Dir("dev");
            w.Device("dev/sda", TarEntryType.BlockDevice, 8, 0);
            w.Device("dev/null", TarEntryType.CharacterDevice, 1, 3);
            w.File("dev/.wh.gone", "");
            w.Fifo("dev/fifo");
        });

        var image = await asUser.ImportAsync(archive);

        Assert.Equal(2, image.SkippedDeviceNodes);
        string layer = image.LayerDirectories[0];
        Assert.True(ImageAssert.Absent(Path.Combine(layer, "dev/sda")));
        Assert.True(ImageAssert.Absent(Path.Combine(layer, "dev/null")));
        ImageAssert.Whiteout(Path.Combine(layer, "dev/gone"));
        Assert.Equal(ImageNative.S_IFIFO, ImageAssert.FileType(Path.Combine(layer, "dev/fifo")));
        AssertCanaryIntact();
        // The count is the layer's: a later import of an image with this layer reports it too.
        Assert.Equal(2, Assert.Single(new ImageStore(_store.RootDirectory).List()).SkippedDeviceNodes);
    }

    [Fact]
    public async Task Outer_archive_paths_that_escape_are_refused()
    {
        string configJson = "{\"config\":{}}";
        string escapingLayer = Write(w =>
        {
            w.File("c.json", configJson);
            w.File("manifest.json", "[{\"Config\":\"c.json\",\"Layers\":[\"../../etc/passwd\"]}]");
        });
        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(escapingLayer));
        Assert.Contains("'..'", e.Message);

        string escapingSymlink = Write(w =>
        {
            w.File("c.json", configJson);
            w.Dir("x");
            w.Symlink("x/layer.tar", "../../../../etc/passwd");
            w.File("manifest.json", "[{\"Config\":\"c.json\",\"Layers\":[\"x/layer.tar\"]}]");
        });
        e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(escapingSymlink));
        Assert.Contains("outside the archive", e.Message);

        string absoluteConfig = Write(w => w.File("manifest.json", "[{\"Config\":\"/etc/passwd\",\"Layers\":[]}]"));
        e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(absoluteConfig));
        Assert.Contains("absolute", e.Message);
        ImageAssert.NoLayersNorWork(_store);
    }

    // ---- helpers --------------------------------------------------------------------------

    private string Write(Action<TarWriter> build)
    {
        string path = _scratch["archive-" + Guid.NewGuid().ToString("N")[..8] + ".tar"];
        File.WriteAllBytes(path, TestTar.Build(build));
        return path;
    }

    private async Task Refused(Action<TarWriter> build, string reason, string? entry = null)
    {
        string archive = Write(build);

        var e = await Assert.ThrowsAsync<ImageException>(() => _store.ImportAsync(archive));

        Assert.Contains(reason, e.Message);
        Assert.Contains("refused", e.Message);
        Assert.Equal(archive, e.FilePath);
        if (entry is not null)
            Assert.EndsWith($"entry {entry}", e.Entry);
        AssertCanaryIntact();
        ImageAssert.NoLayersNorWork(_store);
        Assert.Empty(_store.List());
    }

    private async Task Accepted(Action<TarWriter> build, Action<string> check)
    {
        var image = await _store.ImportAsync(Write(build));
        check(Assert.Single(image.LayerDirectories));
        AssertCanaryIntact();
    }

    private void AssertCanaryIntact()
    {
        Assert.Equal(["keep"], Directory.EnumerateFileSystemEntries(_canary).Select(Path.GetFileName));
        Assert.Equal(ImageNative.S_IFREG, ImageAssert.FileType(Path.Combine(_canary, "keep")));
        Assert.Equal("canary\n", File.ReadAllText(Path.Combine(_canary, "keep")));
        // Nothing appeared next to the canary or the store either.
        Assert.Equal(["canary", "store"], Directory.EnumerateDirectories(_scratch.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
