namespace Sandboxing.Cgroups.Tests;

public class ProcCgroupFileTests
{
    [Fact]
    public void The_cgroup_v2_line_has_hierarchy_0_and_no_controllers()
    {
        var line = ProcCgroupFile.ParseLine("0::/user.slice/user-1000.slice/session-2.scope");

        Assert.Equal(0, line.HierarchyId);
        Assert.Empty(line.Controllers);
        Assert.Null(line.Name);
        Assert.True(line.IsUnified);
        Assert.False(line.IsDeleted);
        Assert.Equal("/user.slice/user-1000.slice/session-2.scope", line.Path);
    }

    [Fact]
    public void A_v1_line_lists_its_controllers_in_kernel_order()
    {
        var line = ProcCgroupFile.ParseLine("3:cpuacct,cpu:/user.slice");

        Assert.Equal(3, line.HierarchyId);
        Assert.Equal(["cpuacct", "cpu"], line.Controllers);
        Assert.False(line.IsUnified);
        Assert.Equal("/user.slice", line.Path);
    }

    [Fact]
    public void A_named_hierarchy_has_a_name_and_no_controllers()
    {
        var line = ProcCgroupFile.ParseLine("1:name=systemd:/user.slice/user-1000.slice/session-1.scope");

        Assert.Equal("systemd", line.Name);
        Assert.Empty(line.Controllers);
        Assert.False(line.IsUnified);
        Assert.Equal("1:name=systemd:/user.slice/user-1000.slice/session-1.scope", line.ToString());
    }

    [Fact]
    public void A_hierarchy_can_have_both_a_name_and_controllers()
    {
        var line = ProcCgroupFile.ParseLine("5:cpu,name=mine:/x");

        Assert.Equal(["cpu"], line.Controllers);
        Assert.Equal("mine", line.Name);
    }

    [Theory]
    [InlineData("0::/user.slice/app with spaces.scope", "/user.slice/app with spaces.scope")]
    [InlineData("0::/a:b:c", "/a:b:c")]
    [InlineData("4:memory:/docker/x (y)", "/docker/x (y)")]
    [InlineData("0::/../../system.slice/other.scope", "/../../system.slice/other.scope")]
    public void The_path_is_everything_after_the_second_colon(string text, string path)
    {
        Assert.Equal(path, ProcCgroupFile.ParseLine(text).Path);
    }

    [Fact]
    public void A_deleted_cgroup_loses_the_suffix_and_is_flagged()
    {
        var line = ProcCgroupFile.ParseLine("0::/system.slice/gone.scope (deleted)");

        Assert.True(line.IsDeleted);
        Assert.Equal("/system.slice/gone.scope", line.Path);
        Assert.Equal("0::/system.slice/gone.scope (deleted)", line.ToString());
    }

    [Fact]
    public void The_whole_file_keeps_line_order_and_skips_the_trailing_newline()
    {
        var lines = ProcCgroupFile.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "pure-v1-centos7", "cgroup")));

        Assert.Equal(11, lines.Count);
        Assert.Equal("hugetlb", Assert.Single(lines[0].Controllers));
        Assert.Equal("systemd", lines[^1].Name);
        Assert.DoesNotContain(lines, l => l.IsUnified);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("0:memory")]
    [InlineData("x::/")]
    [InlineData("-1::/")]
    [InlineData("4:memory:")]
    public void A_malformed_line_is_a_format_error(string text)
    {
        Assert.Throws<FormatException>(() => ProcCgroupFile.ParseLine(text));
    }

    [Fact]
    public void A_malformed_file_names_the_line()
    {
        var e = Assert.Throws<FormatException>(() => ProcCgroupFile.Parse("0::/\nbroken\n"));

        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
    }
}
