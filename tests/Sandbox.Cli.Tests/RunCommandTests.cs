namespace Sandboxing.Cli.Tests;

/// <summary>How parsed options become a library configuration (no sandbox is started).</summary>
public class RunCommandTests
{
    private static SandboxConfiguration Configure(params string[] args) =>
        RunCommand.CreateBuilder(RunOptionsParser.Parse(args, new CallerContext("/", _ => null))).Configuration;

    [Fact]
    public void Without_options_the_sandbox_keeps_the_librarys_safe_defaults()
    {
        var defaults = new SandboxConfiguration();

        var config = Configure("true");

        Assert.Equal(defaults.Namespaces, config.Namespaces);
        Assert.Equal(defaults.Root, config.Root);
        Assert.Equal(defaults.Mounts, config.Mounts);
        Assert.Equal(defaults.Environment, config.Environment);
        Assert.Null(config.Hostname);
        Assert.Null(config.Uid);
        Assert.Null(config.Timeout);
    }

    [Fact]
    public void Options_map_onto_the_sandbox_configuration()
    {
        var config = Configure(
            "--rootfs", "/srv/root", "--read-only", "--hostname", "box", "-e", "A=1", "-w", "/work",
            "-u", "1000:100", "--net", "host", "--timeout", "1.5s", "true");

        Assert.Equal(SandboxRoot.FromDirectory("/srv/root", readOnly: true), config.Root);
        Assert.Equal("box", config.Hostname);
        Assert.Equal("1", config.Environment["A"]);
        Assert.Equal("/work", config.WorkingDirectory);
        Assert.Equal(1000u, config.Uid);
        Assert.Equal(100u, config.Gid);
        Assert.False(config.Has(SandboxNamespaces.Network));
        Assert.Equal(TimeSpan.FromSeconds(1.5), config.Timeout);
    }

    [Fact]
    public void Net_none_keeps_the_network_namespace()
    {
        Assert.True(Configure("--net", "none", "true").Has(SandboxNamespaces.Network));
    }

    [Fact]
    public void Mounts_come_after_the_default_proc_dev_and_tmp_in_command_line_order()
    {
        var config = Configure("--tmpfs", "/a:size=1k", "-v", "/h:/a/b:ro", "true");

        Assert.Equal<SandboxMount>(
            [.. SandboxConfiguration.DefaultMounts, new TmpfsMount("/a", 1024), new BindMount("/h", "/a/b", readOnly: true)],
            config.Mounts);
    }
}
