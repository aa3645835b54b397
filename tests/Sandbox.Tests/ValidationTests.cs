namespace Sandboxing.Tests;

/// <summary>Every bad configuration is refused by Build(), before anything exists on the host.</summary>
public class ValidationTests
{
    public static TheoryData<string, Func<SandboxBuilder, SandboxBuilder>> BadConfigurations => new()
    {
        { "mounts[4].target", b => b.WithTmpfs("relative/path") },
        { "mounts[4].target", b => b.WithTmpfs("/a/../etc") },
        { "mounts[4].target", b => b.WithTmpfs("/a//b") },
        { "mounts[4].target", b => b.WithTmpfs("/") },
        { "mounts[4].source", b => b.WithBindMount("/no/such/source", "/x") },
        { "mounts[4].source", b => b.WithBindMount("relative", "/x") },
        { "mounts[4].size", b => b.WithTmpfs("/x", 0) },
        { "mounts[4].mode", b => b.WithMount(new TmpfsMount("/x", null, 0x10000)) },
        { "root", b => b.WithRootFilesystem("/no/such/rootfs") },
        { "root", b => b.WithRootFilesystem("relative/rootfs") },
        { "hostname", b => b.WithHostname("bad host") },
        { "hostname", b => b.WithHostname(new string('a', 65)) },
        { "hostname", b => b.WithHostname("-leading") },
        { "hostname", b => b.WithHostname("box").WithoutNamespaces(SandboxNamespaces.Uts) },
        { "uid", b => b.WithUidMappings(new IdMapping(0, 100000, 10)).WithUser(50, 0).WithGidMappings(new IdMapping(0, 100000, 65536)) },
        { "gid", b => b.WithGidMappings(new IdMapping(0, 100000, 10)).WithUser(0, 50).WithUidMappings(new IdMapping(0, 100000, 65536)) },
        { "uidMappings[0]", b => b.WithUidMappings(new IdMapping(0, 100000, 0)) },
        { "uidMappings[1]", b => b.WithUidMappings(new IdMapping(0, 100000, 100), new IdMapping(50, 300000, 100)) },
        { "uidMappings[1]", b => b.WithUidMappings(new IdMapping(0, 100000, 100), new IdMapping(500, 100050, 100)) },
        { "uidMappings[0]", b => b.WithUidMappings(new IdMapping(0, uint.MaxValue - 1, 10)) },
        { "uidMappings", b => b.WithUidMappings(new IdMapping(0, 0, 1)).WithoutNamespaces(SandboxNamespaces.User) },
        { "environment", b => b.WithEnvironmentVariable("A=B", "x") },
        { "environment", b => b.WithEnvironmentVariable("", "x") },
        { "environment.A", b => b.WithEnvironmentVariable("A", "nul\0inside") },
        { "workingDirectory", b => b.WithWorkingDirectory("relative") },
        { "timeout", b => b.WithTimeout(TimeSpan.Zero) },
        { "timeout", b => b.WithTimeout(TimeSpan.FromSeconds(-1)) },
        { "clockOffsets", b => b.WithClockOffsets(TimeSpan.FromDays(1), TimeSpan.Zero).WithoutNamespaces(SandboxNamespaces.Time) },
        { "namespaces", b => b.WithNamespaces((SandboxNamespaces)0x100) },
        { "namespaces", b => b.WithoutNamespaces(SandboxNamespaces.Mount) },
    };

    [Theory]
    [MemberData(nameof(BadConfigurations))]
    public void A_bad_setting_is_refused_by_Build_with_its_name(string setting, Func<SandboxBuilder, SandboxBuilder> configure)
    {
        var builder = configure(new SandboxBuilder());
        var e = Assert.Throws<SandboxConfigurationException>(() => builder.Build());
        Assert.Equal(setting, e.Setting);
        Assert.Contains(setting, e.Message);
        Assert.Equal("validate", e.Step);
    }

    [Fact]
    public async Task A_bad_command_is_refused_before_anything_starts()
    {
        var sandbox = new SandboxBuilder().Build();
        Assert.Equal("command", (await Assert.ThrowsAsync<SandboxConfigurationException>(() => sandbox.RunAsync([]))).Setting);
        Assert.Equal("command[0]", (await Assert.ThrowsAsync<SandboxConfigurationException>(() => sandbox.RunAsync([""]))).Setting);
        Assert.Equal("command[1]", (await Assert.ThrowsAsync<SandboxConfigurationException>(() => sandbox.RunAsync(["/bin/echo", "a\0b"]))).Setting);
    }

    [Fact]
    public void The_builder_is_immutable()
    {
        var a = new SandboxBuilder();
        var b = a.WithHostname("b").WithTmpfs("/x").WithEnvironmentVariable("K", "V");
        Assert.Null(a.Configuration.Hostname);
        Assert.Equal(SandboxConfiguration.DefaultMounts.Length, a.Configuration.Mounts.Length);
        Assert.Empty(a.Configuration.Environment);
        Assert.Equal("b", b.Configuration.Hostname);
        Assert.Equal(SandboxConfiguration.DefaultMounts.Length + 1, b.Configuration.Mounts.Length);
    }

    [Fact]
    public void The_default_is_every_namespace_and_the_host_read_only()
    {
        var config = new SandboxBuilder().Build().Configuration;
        Assert.Equal(SandboxNamespaces.All, config.Namespaces);
        Assert.True(config.Root.IsHost);
        Assert.True(config.Root.ReadOnly);
        Assert.Collection(config.Mounts,
            m => Assert.Equal("/proc", Assert.IsType<ProcMount>(m).Target),
            m => Assert.Equal("/sys", Assert.IsType<SysfsMount>(m).Target),
            m => Assert.Equal("/dev", Assert.IsType<DevMount>(m).Target),
            m => Assert.Equal("/tmp", Assert.IsType<TmpfsMount>(m).Target));
    }
}
