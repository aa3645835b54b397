using System.Formats.Tar;
using Sandboxing.Images;

namespace Sandboxing.Tests.Images;

/// <summary>What a layer tar becomes on disk: overlay whiteouts, opaque directories, and everything else as it was.</summary>
public sealed class LayerExtractorTests : IDisposable
{
    private static readonly DateTimeOffset Earlier = new(2001, 2, 3, 4, 5, 6, TimeSpan.Zero);
    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void Whiteouts_become_0_0_character_devices_and_opaque_markers_become_xattrs()
    {
        var (layer, _) = Extract(w =>
        {
            w.Dir("etc");
            w.File("etc/.wh.hidden", "", mode: 0);
            w.File(".wh.top-level", "");
            w.Dir("o");
            w.File("o/.wh..wh..opq", "");
            w.File("o/kept", "k");
            w.File("implicit/.wh..wh..opq", "");
            w.File("o/.wh..wh.plnk", "");
        });

        ImageAssert.Whiteout(Path.Combine(layer, "etc/hidden"));
        ImageAssert.Whiteout(Path.Combine(layer, "top-level"));
        ImageAssert.Opaque(Path.Combine(layer, "o"), byRoot: ImageAssert.IsRoot);
        ImageAssert.Opaque(Path.Combine(layer, "implicit"), byRoot: ImageAssert.IsRoot);
        Assert.Equal(0x1ED, ImageAssert.Permissions(Path.Combine(layer, "implicit")));
        Assert.Equal(["etc", "etc/hidden", "implicit", "o", "o/kept", "top-level"], ImageAssert.Tree(layer));
    }

    [Fact]
    public void Modes_with_setuid_setgid_and_sticky_bits_are_kept()
    {
        var (layer, _) = Extract(w =>
        {
            w.File("suid", "x", mode: 0x9ED);   // 04755
            w.File("sgid", "x", mode: 0x5ED);   // 02755
            w.Dir("sticky", mode: 0x3FF);       // 01777
            w.Dir("readonly", mode: 0x16D);     // 0555, with a child written before its mode is set
            w.File("readonly/child", "c", mode: 0x100); // 0400
            w.File("none", "x", mode: 0);
        });

        Assert.Equal(0x9ED, ImageAssert.Permissions(Path.Combine(layer, "suid")));
        Assert.Equal(0x5ED, ImageAssert.Permissions(Path.Combine(layer, "sgid")));
        Assert.Equal(0x3FF, ImageAssert.Permissions(Path.Combine(layer, "sticky")));
        Assert.Equal(0x16D, ImageAssert.Permissions(Path.Combine(layer, "readonly")));
        Assert.Equal(0x100, ImageAssert.Permissions(Path.Combine(layer, "readonly/child")));
        Assert.Equal(0, ImageAssert.Permissions(Path.Combine(layer, "none")));
    }

    [Fact]
    public void Owners_are_set_for_root_and_collapse_to_the_caller_otherwise()
    {
        var (owned, _) = Extract(w => Owned(w), root: ImageAssert.IsRoot);
        var (collapsed, _) = Extract(w => Owned(w), root: false);

        foreach (var name in new[] { "file", "dir", "link" })
        {
            if (ImageAssert.IsRoot)
            {
                var stat = ImageAssert.Stat(Path.Combine(owned, name));
                Assert.Equal((1234u, 5678u), (stat.Uid, stat.Gid));
            }
            Assert.Equal(ImageNative.geteuid(), ImageAssert.Stat(Path.Combine(collapsed, name)).Uid);
        }
        // chown clears setuid: it is set after the owner.
        Assert.Equal(0x9ED, ImageAssert.Permissions(Path.Combine(owned, "file")));

        static void Owned(TarWriter w)
        {
            w.File("file", "x", mode: 0x9ED, uid: 1234, gid: 5678);
            w.Dir("dir", uid: 1234, gid: 5678);
            var link = new PaxTarEntry(TarEntryType.SymbolicLink, "link") { LinkName = "file", Uid = 1234, Gid = 5678, ModificationTime = TestTar.Time };
            w.WriteEntry(link);
        }
    }

    [Fact]
    public void Times_are_set_on_files_symlinks_and_on_directories_after_their_children()
    {
        var (layer, _) = Extract(w =>
        {
            w.Dir("d", time: Earlier);
            w.File("d/f", "x", time: TestTar.Time);
            w.Symlink("d/link", "/nowhere", time: Earlier);
            w.File("d/late", "written after the directory's entry", time: TestTar.Time);
        });

        Assert.Equal(Earlier.ToUnixTimeSeconds(), ImageAssert.Stat(Path.Combine(layer, "d")).MtimeSeconds);
        Assert.Equal(TestTar.Time.ToUnixTimeSeconds(), ImageAssert.Stat(Path.Combine(layer, "d/f")).MtimeSeconds);
        Assert.Equal(Earlier.ToUnixTimeSeconds(), ImageAssert.Stat(Path.Combine(layer, "d/link")).MtimeSeconds);
    }

    [Fact]
    public void Symlinks_keep_their_targets_verbatim_even_absolute_or_dangling()
    {
        var (layer, _) = Extract(w =>
        {
            w.Symlink("abs", "/etc/passwd");
            w.Symlink("rel", "../../outside");
            w.Symlink("dangling", "nothing/here");
        });

        Assert.Equal("/etc/passwd", new FileInfo(Path.Combine(layer, "abs")).LinkTarget);
        Assert.Equal("../../outside", new FileInfo(Path.Combine(layer, "rel")).LinkTarget);
        Assert.Equal("nothing/here", new FileInfo(Path.Combine(layer, "dangling")).LinkTarget);
    }

    [Fact]
    public void Hard_links_share_the_inode_of_an_earlier_entry()
    {
        var (layer, _) = Extract(w =>
        {
            w.Dir("a");
            w.File("a/original", "shared");
            w.HardLink("b", "a/original");
            w.HardLink("./c", "./a/original");
        });

        var original = ImageAssert.Stat(Path.Combine(layer, "a/original"));
        Assert.Equal(3u, original.Nlink);
        Assert.Equal(original.Ino, ImageAssert.Stat(Path.Combine(layer, "b")).Ino);
        Assert.Equal(original.Ino, ImageAssert.Stat(Path.Combine(layer, "c")).Ino);
    }

    [Fact]
    public void A_hard_link_to_a_later_or_missing_entry_is_refused()
    {
        var e = Assert.Throws<ImageException>(() => Extract(w => { w.HardLink("b", "a"); w.File("a", "x"); }));
        Assert.Contains("not a file extracted earlier", e.Message);
        Assert.EndsWith("entry b", e.Entry);
    }

    [Fact]
    public void Fifos_and_device_nodes_are_created_device_nodes_only_by_root()
    {
        var (layer, stats) = Extract(w =>
        {
            w.Fifo("fifo", mode: 0x180);
            w.Device("null", TarEntryType.CharacterDevice, 1, 3);
            w.Device("sda", TarEntryType.BlockDevice, 8, 0, mode: 0x1B0);
        }, root: ImageAssert.IsRoot);

        Assert.Equal(ImageNative.S_IFIFO, ImageAssert.FileType(Path.Combine(layer, "fifo")));
        Assert.Equal(0x180, ImageAssert.Permissions(Path.Combine(layer, "fifo")));
        if (ImageAssert.IsRoot)
        {
            var stat = ImageAssert.Stat(Path.Combine(layer, "null"));
            Assert.Equal((ImageNative.S_IFCHR, 1u, 3u), (stat.Mode & ImageNative.S_IFMT, stat.RdevMajor, stat.RdevMinor));
            stat = ImageAssert.Stat(Path.Combine(layer, "sda"));
            Assert.Equal((ImageNative.S_IFBLK, 8u, 0u, 0x1B0), (stat.Mode & ImageNative.S_IFMT, stat.RdevMajor, stat.RdevMinor, stat.Mode & 0xFFF));
            Assert.Equal(0, stats.SkippedDeviceNodes);
        }
        else
        {
            Assert.Equal(2, stats.SkippedDeviceNodes);
        }
    }

    [Fact]
    public void Xattrs_from_PAX_records_are_set_but_overlay_xattrs_are_not()
    {
        var (layer, stats) = Extract(w =>
        {
            w.File("f", "x", pax: [new("SCHILY.xattr.user.comment", "hello"), new("LIBARCHIVE.xattr.user.binary", "AAEC/w")]);
            w.Dir("d");
            // A layer must not declare opaque directories or redirects through raw xattrs.
            w.File("d/g", "x", pax: [new("SCHILY.xattr.user.overlay.opaque", "y"), new("SCHILY.xattr.trusted.overlay.redirect", "/etc")]);
        });

        Assert.Equal("hello", ImageAssert.Xattr(Path.Combine(layer, "f"), "user.comment"));
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, ImageNative.GetXattr(Path.Combine(layer, "f"), "user.binary"));
        Assert.Null(ImageAssert.Xattr(Path.Combine(layer, "d/g"), "user.overlay.opaque"));
        Assert.Null(ImageAssert.Xattr(Path.Combine(layer, "d/g"), "trusted.overlay.redirect"));
        Assert.Equal(2, stats.SkippedXattrs);
    }

    [Fact]
    public void A_later_entry_for_the_same_path_replaces_the_earlier_one()
    {
        var (layer, _) = Extract(w =>
        {
            w.File("p", "one");
            w.File("p", "two");
            w.Dir("q");
            w.File("q/inner", "x");
            w.File("q", "a file now");
            w.File("r", "a file first");
            w.Dir("r");
            w.File("r/inside", "x");
            w.Symlink("s", "/etc/passwd");
            w.File("s", "not through the link");
            w.Dir("t", mode: 0x1C0);
            w.Dir("t", mode: 0x1ED);
        });

        Assert.Equal("two", File.ReadAllText(Path.Combine(layer, "p")));
        Assert.Equal("a file now", File.ReadAllText(Path.Combine(layer, "q")));
        Assert.Equal(ImageNative.S_IFDIR, ImageAssert.FileType(Path.Combine(layer, "r")));
        Assert.Equal(ImageNative.S_IFREG, ImageAssert.FileType(Path.Combine(layer, "s")));
        Assert.Equal(0x1ED, ImageAssert.Permissions(Path.Combine(layer, "t")));
        Assert.Equal(["p", "q", "r", "r/inside", "s", "t"], ImageAssert.Tree(layer));
    }

    [Fact]
    public void Missing_parents_are_created_and_dot_slash_names_and_the_root_entry_are_understood()
    {
        var (layer, _) = Extract(w =>
        {
            w.Dir("./", mode: 0x1E8); // 0750
            w.File("./a/b/c/deep", "x");
            w.File("x//y", "x");
        });

        Assert.Equal("x", File.ReadAllText(Path.Combine(layer, "a/b/c/deep")));
        Assert.Equal(0x1ED, ImageAssert.Permissions(Path.Combine(layer, "a/b")));
        Assert.True(File.Exists(Path.Combine(layer, "x/y")));
        // Root keeps the archive's mode; anyone else also needs u+w to rename the layer into place.
        Assert.Equal(ImageAssert.IsRoot ? 0x1E8 : 0x1E8 | 0x80, ImageAssert.Permissions(layer));
    }

    [Theory]
    [InlineData("a\0b", "NUL")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("a/../../b", "'..'")]
    [InlineData("..", "'..'")]
    public void Names_are_checked_before_anything_is_opened(string name, string problem)
    {
        EntryPaths.Split(name, out string? reason);
        Assert.Contains(problem, reason);
    }

    [Theory]
    [InlineData("./bin//sh", "bin/sh")]
    [InlineData("./", ".")]
    [InlineData("a/./b/", "a/b")]
    [InlineData("...", "...")]
    public void Names_are_normalised(string name, string expected)
    {
        Assert.Equal(expected, EntryPaths.Join(EntryPaths.Split(name, out string? reason)));
        Assert.Null(reason);
    }

    [Fact]
    public void An_empty_layer_stream_is_an_empty_layer()
    {
        var stats = LayerExtractor.Extract(new MemoryStream(), _scratch.Path, new ExtractionOptions(ImageAssert.IsRoot), "test.tar", "layer", CancellationToken.None);
        Assert.Equal(0, stats.Entries);
    }

    [Fact]
    public void Corrupt_tar_data_is_an_image_exception()
    {
        byte[] tar = TestTar.Build(w => w.File("f", new string('x', 2000)));
        var e = Assert.Throws<ImageException>(() => Extract(tar[..1500]));
        Assert.Contains("layer", e.Entry);
    }

    // ---- helpers --------------------------------------------------------------------------

    private (string Layer, LayerStats Stats) Extract(Action<TarWriter> build, bool? root = null) =>
        Extract(TestTar.Build(build), root);

    private (string Layer, LayerStats Stats) Extract(byte[] tar, bool? root = null)
    {
        string layer = _scratch["layer-" + Guid.NewGuid().ToString("N")[..8]];
        Directory.CreateDirectory(layer);
        var options = new ExtractionOptions(root ?? ImageAssert.IsRoot);
        var stats = LayerExtractor.Extract(new MemoryStream(tar), layer, options, "test.tar", "layer", CancellationToken.None);
        return (layer, stats);
    }
}
