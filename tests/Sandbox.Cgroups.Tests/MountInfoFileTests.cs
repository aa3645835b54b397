namespace Sandboxing.Cgroups.Tests;

public class MountInfoFileTests
{
    [Fact]
    public void A_line_without_optional_fields_as_on_this_host()
    {
        var mount = MountInfoFile.ParseLine("40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw");

        Assert.Equal(40, mount.MountId);
        Assert.Equal(30, mount.ParentId);
        Assert.Equal(0, mount.Major);
        Assert.Equal(37, mount.Minor);
        Assert.Equal("/", mount.Root);
        Assert.Equal("/sys/fs/cgroup/unified", mount.MountPoint);
        Assert.Equal(["rw", "relatime"], mount.MountOptions);
        Assert.Empty(mount.OptionalFields);
        Assert.Equal("cgroup2", mount.FileSystemType);
        Assert.Equal("cgroup2", mount.Source);
        Assert.Equal(["rw"], mount.SuperOptions);
        Assert.False(mount.IsReadOnly);
    }

    [Fact]
    public void Any_number_of_optional_fields_before_the_separator()
    {
        var mount = MountInfoFile.ParseLine(
            "608 607 0:31 /docker/4f1e /sys/fs/cgroup/systemd ro,nosuid,nodev,noexec,relatime shared:9 master:11 propagate_from:2 unbindable - cgroup cgroup rw,xattr,name=systemd");

        Assert.Equal(["shared:9", "master:11", "propagate_from:2", "unbindable"], mount.OptionalFields);
        Assert.Equal("/docker/4f1e", mount.Root);
        Assert.Equal("cgroup", mount.FileSystemType);
        Assert.Equal(["rw", "xattr", "name=systemd"], mount.SuperOptions);
        Assert.True(mount.IsReadOnly);
    }

    [Fact]
    public void Octal_escapes_are_decoded_in_paths_source_and_options()
    {
        var mount = MountInfoFile.ParseLine(
            @"79 66 0:81 /a\011tab /mnt/d\040drive\012x\134y rw,noatime shared:38 - 9p D:\134Shared\040Files rw,aname=drvfs;path=D:\134Shared\040Files");

        Assert.Equal("/a\ttab", mount.Root);
        Assert.Equal("/mnt/d drive\nx\\y", mount.MountPoint);
        Assert.Equal(@"D:\Shared Files", mount.Source);
        Assert.Equal(["rw", @"aname=drvfs;path=D:\Shared Files"], mount.SuperOptions);
    }

    [Theory]
    [InlineData(@"plain", "plain")]
    [InlineData(@"a\040b", "a b")]
    [InlineData(@"\134\134", @"\\")]
    [InlineData(@"end\", @"end\")]
    [InlineData(@"short\04", @"short\04")]
    [InlineData(@"notoctal\089", @"notoctal\089")]
    [InlineData(@"\0401", " 1")]
    public void Unescape_only_decodes_three_octal_digits(string field, string expected)
    {
        Assert.Equal(expected, MountInfoFile.Unescape(field));
    }

    [Fact]
    public void An_empty_source_is_kept_as_an_empty_field()
    {
        var mount = MountInfoFile.ParseLine("50 22 0:45 / /mnt/x rw,relatime - tmpfs  rw,size=4k");

        Assert.Equal("tmpfs", mount.FileSystemType);
        Assert.Equal("", mount.Source);
        Assert.Equal(["rw", "size=4k"], mount.SuperOptions);
    }

    [Fact]
    public void Missing_source_and_super_options_are_tolerated()
    {
        var mount = MountInfoFile.ParseLine("50 22 0:45 / /mnt/x rw - weirdfs");

        Assert.Equal("weirdfs", mount.FileSystemType);
        Assert.Equal("", mount.Source);
        Assert.Empty(mount.SuperOptions);
    }

    [Fact]
    public void A_whole_fixture_parses_including_escaped_mount_points()
    {
        var mounts = MountInfoFile.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "pure-v2-systemd", "mountinfo")));

        Assert.Contains(mounts, m => m.MountPoint == "/media/alice/My Backup Disk" && m.FileSystemType == "exfat");
        var cgroup = Assert.Single(mounts, m => m.FileSystemType == "cgroup2");
        Assert.Equal(["rw", "nsdelegate", "memory_recursiveprot"], cgroup.SuperOptions);
        Assert.Equal(["shared:9"], cgroup.OptionalFields);
    }

    [Theory]
    [InlineData("")]
    [InlineData("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw")]
    [InlineData("36 35 98:0 /mnt1 /mnt2 rw,noatime -")]
    [InlineData("x 35 98:0 / / rw - ext4 /dev/root rw")]
    [InlineData("36 35 98 / / rw - ext4 /dev/root rw")]
    [InlineData("36 35 98:y / / rw - ext4 /dev/root rw")]
    public void A_malformed_line_is_a_format_error(string line)
    {
        Assert.Throws<FormatException>(() => MountInfoFile.ParseLine(line));
    }

    [Fact]
    public void A_malformed_file_names_the_line()
    {
        var e = Assert.Throws<FormatException>(() => MountInfoFile.Parse("40 30 0:37 / /x rw - cgroup2 cgroup2 rw\n\nnonsense\n"));

        Assert.Contains("line 3", e.Message, StringComparison.Ordinal);
    }
}
