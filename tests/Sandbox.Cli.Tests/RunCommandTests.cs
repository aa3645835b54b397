using Sandboxing.Cgroups;
using Sandboxing.Images;

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

    [Fact]
    public void Every_kind_of_mount_reaches_the_configuration_in_command_line_order()
    {
        var config = Configure("--mount", "type=bind,src=/h,dst=/a,ro,bind-recursive=disabled,bind-optional", "--mqueue", "-v", "data:/data", "true");

        Assert.Equal<SandboxMount>(
            [
                .. SandboxConfiguration.DefaultMounts, new BindMount("/h", "/a", readOnly: true, recursive: false, optional: true),
                new MqueueMount("/dev/mqueue"), new VolumeMount("data", "/data"),
            ],
            config.Mounts);
    }

    [Fact]
    public void Named_volumes_live_in_the_default_store_unless_volume_store_names_one()
    {
        var byDefault = Assert.IsType<VolumeMount>(Configure("-v", "data:/data", "true").Mounts[^1]);
        var config = Configure("-v", "data:/data", "--mount", "src=cache,dst=/cache,ro", "--volume-store", "/srv/volumes", "true");

        Assert.Same(VolumeStore.Default, byDefault.Store);
        var volumes = config.Mounts.OfType<VolumeMount>().ToArray();
        Assert.Equal(["data", "cache"], volumes.Select(v => v.Name));
        Assert.Equal([false, true], volumes.Select(v => v.ReadOnly));
        Assert.All(volumes, v => Assert.Equal("/srv/volumes", v.Store.RootDirectory));
        Assert.Same(volumes[0].Store, volumes[1].Store);
    }

    // ---- overlay roots ----

    public static TheoryData<string[], OverlayUpper> OverlayUppers => new()
    {
        { ["--overlay"], OverlayUpper.Ephemeral(OverlayUpper.DefaultEphemeralSizeBytes) },
        { ["--overlay", "--overlay-size", "1g"], OverlayUpper.Ephemeral(1L << 30) },
        { ["--overlay-size", "64m"], OverlayUpper.Ephemeral(64L << 20) },
        { ["--overlay-dir", "/var/lib/box1"], OverlayUpper.Directory("/var/lib/box1") },
        { ["--overlay", "--read-only"], OverlayUpper.None },
    };

    [Theory]
    [MemberData(nameof(OverlayUppers))]
    public void Overlay_options_make_the_rootfs_the_lower_layer_of_an_overlay_root(string[] overlay, OverlayUpper upper)
    {
        var config = Configure(["--rootfs", "/srv/root", .. overlay, "true"]);

        Assert.Equal(SandboxRoot.Overlay(["/srv/root"], upper), config.Root);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Rootfs_without_overlay_stays_a_directory_root(bool readOnly)
    {
        var config = Configure(readOnly ? ["--rootfs", "/srv/root", "--read-only", "true"] : ["--rootfs", "/srv/root", "true"]);

        Assert.Equal(SandboxRoot.FromDirectory("/srv/root", readOnly), config.Root);
    }

    // ---- images (an image as ImageStore.ImportAsync returns it; nothing is imported here) ----

    private static readonly SandboxImage s_image = new()
    {
        Id = "sha256:" + new string('a', 64),
        LayerDirectories = ["/store/layers/sha256/1", "/store/layers/sha256/2"],
        Config = new ImageConfig
        {
            Entrypoint = ["/entrypoint.sh"],
            Cmd = ["serve", "--port", "80"],
            Env = ["PATH=/opt/bin:/bin", "MODE=image", "EMPTY="],
            WorkingDir = "/app",
        },
    };

    private static SandboxConfiguration ConfigureImage(params string[] args) =>
        RunCommand.CreateBuilder(RunOptionsParser.Parse(["--image", "/images/app.tar", .. args], new CallerContext("/", _ => null)), image: s_image).Configuration;

    [Fact]
    public void An_image_becomes_an_overlay_root_with_its_environment_working_directory_entrypoint_and_command()
    {
        var config = ConfigureImage();

        Assert.Equal(SandboxRoot.Overlay(s_image.LayerDirectories, OverlayUpper.Ephemeral()), config.Root);
        Assert.Equal("/opt/bin:/bin", config.Environment["PATH"]);
        Assert.Equal("image", config.Environment["MODE"]);
        Assert.Equal("", config.Environment["EMPTY"]);
        Assert.Equal("/app", config.WorkingDirectory);
        Assert.Equal<string>(["/entrypoint.sh", "serve", "--port", "80"], config.ResolveCommand([]));
        Assert.Equal<string>(["/entrypoint.sh", "sh"], config.ResolveCommand(["sh"]));
    }

    [Theory]
    [MemberData(nameof(OverlayUppers))]
    public void An_images_writable_layer_follows_the_overlay_options(string[] overlay, OverlayUpper upper)
    {
        Assert.Equal(SandboxRoot.Overlay(s_image.LayerDirectories, upper), ConfigureImage(overlay).Root);
    }

    [Fact]
    public void Options_override_the_images_settings()
    {
        var config = ConfigureImage("-e", "MODE=cli", "-e", "EXTRA=1", "-w", "/tmp", "-u", "1000:1000");

        Assert.Equal("cli", config.Environment["MODE"]);
        Assert.Equal("1", config.Environment["EXTRA"]);
        Assert.Equal("/opt/bin:/bin", config.Environment["PATH"]);
        Assert.Equal("/tmp", config.WorkingDirectory);
        Assert.Equal(1000u, config.Uid);
        Assert.Equal(1000u, config.Gid);
    }

    [Fact]
    public void Entrypoint_replaces_the_images_and_drops_its_default_command_as_docker_does()
    {
        var config = ConfigureImage("--entrypoint", "/bin/sh");

        Assert.Equal<string>(["/bin/sh"], config.ResolveCommand([]));
        Assert.Equal<string>(["/bin/sh", "-c", "echo hi"], config.ResolveCommand(["-c", "echo hi"]));
    }

    [Fact]
    public void An_empty_entrypoint_clears_the_images_entrypoint_and_default_command()
    {
        var config = ConfigureImage("--entrypoint", "");

        Assert.Empty(config.ResolveCommand([]));
        Assert.Equal<string>(["/bin/echo", "hi"], config.ResolveCommand(["/bin/echo", "hi"]));
    }

    [Fact]
    public void Mounts_of_the_options_come_after_what_the_image_adds()
    {
        var config = ConfigureImage("--tmpfs", "/app/cache");

        Assert.Equal<SandboxMount>([new DirectoryEntry("/app"), new TmpfsMount("/app/cache")], config.Mounts[^2..]);
    }

    [Fact]
    public void An_image_option_without_the_imported_image_is_a_programming_error()
    {
        var options = RunOptionsParser.Parse(["--image", "/images/app.tar"], new CallerContext("/", _ => null));

        Assert.Throws<ArgumentException>(() => RunCommand.CreateBuilder(options));
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
