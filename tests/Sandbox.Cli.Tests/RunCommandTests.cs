using Sandboxing.Cgroups;

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
        Assert.Null(config.Resources);
        Assert.False(config.UseCgroup);
        Assert.False(config.HasCgroup);
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

    // ---- resource limits ----

    /// <summary>Stands in for stat(2): /dev/vda is 254:0, /dev/disk/by-id/root links to it, /dev/vdb is 254:16.</summary>
    private static (uint Major, uint Minor) FakeDevices(string path) => path switch
    {
        "/dev/vda" or "/dev/disk/by-id/root" => (254, 0),
        "/dev/vdb" => (254, 16),
        "/dev/null" => throw new BlockDeviceException("/dev/null is not a block device", 0),
        _ => throw new BlockDeviceException($"{path} does not exist", 2),
    };

    private static SandboxConfiguration ConfigureWithDevices(params string[] args) =>
        RunCommand.CreateBuilder(RunOptionsParser.Parse(args, new CallerContext("/", _ => null)), FakeDevices).Configuration;

    [Fact]
    public void Limits_map_onto_the_sandboxs_resources_and_give_it_a_cgroup()
    {
        var config = Configure(
            "-m", "64m", "--memory-swap", "-1", "--memory-reservation", "32m", "--cpus", "0.5", "-c", "512",
            "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "20", "true");

        Assert.Equal(
            new CgroupLimits
            {
                MemoryBytes = 64L << 20, MemorySwapBytes = -1, MemoryReservationBytes = 32L << 20, Cpus = 0.5, CpuShares = 512,
                CpusetCpus = "0", CpusetMems = "0", PidsMax = 20,
            },
            config.Resources);
        Assert.True(config.HasCgroup);
        Assert.False(config.UseCgroup);
    }

    [Fact]
    public void Cgroup_placement_reaches_the_configuration()
    {
        var config = Configure("--memory", "64m", "--cgroup-parent", "/sys/fs/cgroup/sandboxes", "--cgroup-move-to-leaf", "true");

        Assert.Equal("/sys/fs/cgroup/sandboxes", config.CgroupPlacement?.ParentDirectory);
        Assert.True(config.CgroupPlacement?.MoveCallerToLeaf);
        Assert.Null(Configure("--memory", "64m", "true").CgroupPlacement);
    }

    [Fact]
    public void Cgroup_alone_gives_a_cgroup_without_limits()
    {
        var config = Configure("--cgroup", "true");

        Assert.True(config.UseCgroup);
        Assert.True(config.HasCgroup);
        Assert.Null(config.Resources);
    }

    [Fact]
    public void Pids_limit_minus_1_alone_needs_no_cgroup()
    {
        Assert.False(Configure("--pids-limit", "-1", "true").HasCgroup);
    }

    [Fact]
    public void Device_throttles_are_resolved_to_major_and_minor_numbers()
    {
        var config = ConfigureWithDevices(
            "--device-read-bps", "/dev/vda:10m", "--device-write-bps", "/dev/vda:1m",
            "--device-read-iops", "/dev/vdb:100", "--device-write-iops", "/dev/vdb:50", "true");

        Assert.NotNull(config.Resources);
        Assert.Equal<IoThrottle>(
            [
                new(254, 0, IoThrottleKind.ReadBytesPerSecond, 10UL << 20),
                new(254, 0, IoThrottleKind.WriteBytesPerSecond, 1UL << 20),
                new(254, 16, IoThrottleKind.ReadOperationsPerSecond, 100),
                new(254, 16, IoThrottleKind.WriteOperationsPerSecond, 50),
            ],
            config.Resources.IoThrottles);
        Assert.True(config.HasCgroup);
    }

    [Fact]
    public void A_later_throttle_of_the_same_device_and_kind_replaces_the_earlier_even_under_another_name()
    {
        var config = ConfigureWithDevices(
            "--device-read-bps", "/dev/vda:10m", "--device-write-bps", "/dev/vda:1m", "--device-read-bps", "/dev/disk/by-id/root:2m", "true");

        Assert.Equal<IoThrottle>(
            [new(254, 0, IoThrottleKind.WriteBytesPerSecond, 1UL << 20), new(254, 0, IoThrottleKind.ReadBytesPerSecond, 2UL << 20)],
            config.Resources?.IoThrottles ?? []);
    }

    [Fact]
    public void Throttles_and_other_limits_go_together()
    {
        var config = ConfigureWithDevices("--memory", "1g", "--device-write-iops", "/dev/vdb:5", "true");

        Assert.Equal(1L << 30, config.Resources?.MemoryBytes);
        Assert.Equal(new IoThrottle(254, 16, IoThrottleKind.WriteOperationsPerSecond, 5), Assert.Single(config.Resources?.IoThrottles ?? []));
    }

    [Theory]
    [InlineData("--device-read-bps", "/dev/null:1m", "/dev/null is not a block device", 0)]
    [InlineData("--device-write-iops", "/dev/sdz:10", "/dev/sdz does not exist", 2)]
    public void A_throttled_device_that_is_no_block_device_is_a_usage_error_naming_the_option(string option, string value, string why, int errno)
    {
        var error = Assert.Throws<CliUsageException>(() => ConfigureWithDevices(option, value, "true"));

        Assert.Equal($"invalid value '{value}' for {option}: {why}", error.Message);
        Assert.Equal(errno, error.ErrorNumber);
    }

    // ---- the real lookup, with stat ----

    [Fact]
    public void A_block_device_node_resolves_to_its_major_and_minor()
    {
        // Any block device this host has a node for, with the numbers sysfs gives it.
        var device = Directory.EnumerateDirectories("/sys/class/block")
            .Select(dir => (Node: "/dev/" + Path.GetFileName(dir), Numbers: File.ReadAllText(Path.Combine(dir, "dev")).Trim()))
            .FirstOrDefault(d => File.Exists(d.Node));
        Assert.False(device.Node is null, "this host has no block device node under /dev");

        var (major, minor) = BlockDevices.Resolve(device.Node);

        Assert.Equal(device.Numbers, $"{major}:{minor}");
    }

    [Theory]
    [InlineData("/dev/null", "/dev/null is not a block device", 0)]
    [InlineData("/tmp", "/tmp is not a block device", 0)]
    [InlineData("/dev/no-such-device", "/dev/no-such-device does not exist", 2)]
    public void A_path_that_is_not_a_block_device_does_not_resolve(string path, string why, int errno)
    {
        var error = Assert.Throws<BlockDeviceException>(() => BlockDevices.Resolve(path));

        Assert.StartsWith(why, error.Message);
        Assert.Equal(errno, error.ErrorNumber);
    }
}
