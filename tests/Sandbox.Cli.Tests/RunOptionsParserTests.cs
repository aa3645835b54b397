using Sandboxing.Cgroups;

namespace Sandboxing.Cli.Tests;

/// <summary>Tier 1: the parser alone, no processes, no files.</summary>
public class RunOptionsParserTests
{
    private static readonly Dictionary<string, string> s_callerEnvironment = new()
    {
        ["TERM"] = "xterm-256color",
        ["EMPTY"] = "",
    };

    private static readonly CallerContext s_caller = new("/home/me", name => s_callerEnvironment.GetValueOrDefault(name));

    private static RunOptions Parse(params string[] args) => RunOptionsParser.Parse(args, s_caller);

    private static CliUsageException ParseError(params string[] args) =>
        Assert.Throws<CliUsageException>(() => RunOptionsParser.Parse(args, s_caller));

    // ---- the command and "--" ----

    [Fact]
    public void I_can_give_the_command_without_options()
    {
        var options = Parse("/bin/sh", "-c", "echo hi");

        Assert.Equal<string>(["/bin/sh", "-c", "echo hi"], options.Command);
        Assert.False(options.ShowHelp);
    }

    [Fact]
    public void The_first_argument_that_is_not_an_option_starts_the_command_and_later_options_belong_to_it()
    {
        var options = Parse("--hostname", "box", "sh", "-c", "x", "--hostname", "other", "-e", "A=1");

        Assert.Equal("box", options.Hostname);
        Assert.Equal<string>(["sh", "-c", "x", "--hostname", "other", "-e", "A=1"], options.Command);
        Assert.Empty(options.Environment);
    }

    [Fact]
    public void Double_dash_ends_the_options_so_the_command_may_start_with_a_dash()
    {
        var options = Parse("--hostname", "box", "--", "-weird", "--help");

        Assert.Equal<string>(["-weird", "--help"], options.Command);
        Assert.False(options.ShowHelp);
    }

    [Fact]
    public void Only_the_first_double_dash_is_special()
    {
        Assert.Equal<string>(["echo", "--", "x"], Parse("--", "echo", "--", "x").Command);
    }

    [Fact]
    public void A_lone_dash_is_an_operand_not_an_option()
    {
        Assert.Equal<string>(["-"], Parse("-").Command);
    }

    [Theory]
    [InlineData]
    [InlineData("--")]
    [InlineData("--hostname", "box")]
    [InlineData("--read-only", "--")]
    public void A_missing_command_is_a_usage_error(params string[] args)
    {
        var error = ParseError(args);

        Assert.Contains("needs a command", error.Message);
        Assert.Equal("sandbox run --help", error.HelpCommand);
    }

    // ---- help ----

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("--hostname", "box", "--help")]
    [InlineData("-h", "sh")]
    public void I_can_ask_for_help_without_a_command(params string[] args)
    {
        Assert.True(Parse(args).ShowHelp);
    }

    [Fact]
    public void A_mistake_before_help_is_still_reported()
    {
        Assert.Contains("'--nope'", ParseError("--nope", "--help").Message);
    }

    // ---- value forms ----

    [Theory]
    [InlineData("--hostname", "box")]
    [InlineData("--hostname=box")]
    public void A_long_option_takes_its_value_as_the_next_argument_or_after_an_equals_sign(params string[] args)
    {
        Assert.Equal("box", Parse([.. args, "true"]).Hostname);
    }

    [Theory]
    [InlineData("-w", "/src")]
    [InlineData("-w/src")]
    [InlineData("-w=/src")]
    public void A_short_option_takes_its_value_as_the_next_argument_or_glued_to_it(params string[] args)
    {
        Assert.Equal("/src", Parse([.. args, "true"]).WorkingDirectory);
    }

    [Fact]
    public void A_value_may_start_with_a_dash()
    {
        Assert.Equal("-x", Parse("--hostname", "-x", "true").Hostname);
    }

    [Fact]
    public void A_single_valued_option_given_twice_keeps_the_last_value()
    {
        var options = Parse("--hostname", "one", "--hostname", "two", "-w", "/a", "--workdir", "/b", "true");

        Assert.Equal("two", options.Hostname);
        Assert.Equal("/b", options.WorkingDirectory);
    }

    // ---- each option ----

    [Fact]
    public void Rootfs_sets_the_root_filesystem_directory()
    {
        var options = Parse("--rootfs", "/srv/alpine", "true");

        Assert.Equal("/srv/alpine", options.RootFilesystem);
        Assert.False(options.ReadOnlyRoot);
    }

    [Fact]
    public void A_relative_rootfs_is_resolved_against_the_current_directory()
    {
        Assert.Equal("/home/me/images/alpine", Parse("--rootfs", "images/./alpine", "true").RootFilesystem);
    }

    [Fact]
    public void Read_only_makes_the_rootfs_read_only()
    {
        var options = Parse("--rootfs", "/srv/alpine", "--read-only", "true");

        Assert.True(options.ReadOnlyRoot);
    }

    [Theory]
    [InlineData("--bind")]
    [InlineData("--volume")]
    [InlineData("-v")]
    public void A_bind_mount_is_read_write_unless_marked_ro_like_docker_volumes(string option)
    {
        var options = Parse(option, "/srv/data:/data", option, "/srv/a:/a:rw", option, "/srv/b:/b:ro", "true");

        Assert.Equal<SandboxMount>(
            [new BindMount("/srv/data", "/data", readOnly: false), new BindMount("/srv/a", "/a", readOnly: false), new BindMount("/srv/b", "/b", readOnly: true)],
            options.Mounts);
    }

    [Fact]
    public void A_relative_bind_source_is_resolved_against_the_current_directory()
    {
        Assert.Equal("/home/me/data", Assert.IsType<BindMount>(Assert.Single(Parse("-v", "./data:/data", "true").Mounts)).Source);
    }

    [Fact]
    public void A_tmpfs_without_options_gets_the_kernel_default_size()
    {
        var tmpfs = Assert.IsType<TmpfsMount>(Assert.Single(Parse("--tmpfs", "/scratch", "true").Mounts));

        Assert.Equal("/scratch", tmpfs.Target);
        Assert.Null(tmpfs.SizeBytes);
        Assert.Equal(new TmpfsMount("/x").Mode, tmpfs.Mode);
    }

    [Theory]
    [InlineData("/s:size=4096", 4096L)]
    [InlineData("/s:size=512k", 512L * 1024)]
    [InlineData("/s:size=64m", 64L * 1024 * 1024)]
    [InlineData("/s:size=1g", 1024L * 1024 * 1024)]
    [InlineData("/s:size=1.5k", 1536L)]
    [InlineData("/s:size=64MiB", 64L * 1024 * 1024)]
    public void A_tmpfs_size_takes_docker_suffixes(string value, long expected)
    {
        Assert.Equal(expected, Assert.IsType<TmpfsMount>(Assert.Single(Parse("--tmpfs", value, "true").Mounts)).SizeBytes);
    }

    [Fact]
    public void A_tmpfs_mode_is_octal()
    {
        var tmpfs = Assert.IsType<TmpfsMount>(Assert.Single(Parse("--tmpfs", "/s:mode=700,size=1m", "true").Mounts));

        Assert.Equal(0x1C0, tmpfs.Mode); // 0700
        Assert.Equal(1024 * 1024, tmpfs.SizeBytes);
    }

    [Fact]
    public void Binds_and_tmpfs_mounts_keep_their_command_line_order()
    {
        var options = Parse("--tmpfs", "/a", "-v", "/h:/a/b", "--tmpfs", "/a/b/c:size=1k", "true");

        Assert.Equal<SandboxMount>([new TmpfsMount("/a"), new BindMount("/h", "/a/b", readOnly: false), new TmpfsMount("/a/b/c", 1024)], options.Mounts);
    }

    [Fact]
    public void Hostname_sets_the_hostname()
    {
        Assert.Equal("box", Parse("--hostname", "box", "true").Hostname);
    }

    [Fact]
    public void Env_sets_variables_and_the_last_value_of_a_name_wins()
    {
        var options = Parse("--env", "A=1", "-e", "B=x=y", "-eC=", "-e", "A=2", "true");

        Assert.Equal([new("A", "2"), new("B", "x=y"), new("C", "")], options.Environment);
    }

    [Fact]
    public void Env_with_a_name_alone_copies_it_from_the_callers_environment()
    {
        var options = Parse("-e", "TERM", "-e", "EMPTY", "true");

        Assert.Equal([new("EMPTY", ""), new("TERM", "xterm-256color")], options.Environment);
    }

    [Fact]
    public void Env_with_a_name_the_caller_does_not_have_leaves_it_unset_like_docker()
    {
        var options = Parse("-e", "MISSING=1", "-e", "MISSING", "true");

        Assert.Empty(options.Environment);
    }

    [Theory]
    [InlineData("--workdir")]
    [InlineData("-w")]
    public void Workdir_sets_the_working_directory(string option)
    {
        Assert.Equal("/src", Parse(option, "/src", "true").WorkingDirectory);
    }

    [Theory]
    [InlineData("--user", "1000:2000", 1000u, 2000u)]
    [InlineData("-u", "1000", 1000u, 0u)]
    [InlineData("-u", "0:0", 0u, 0u)]
    [InlineData("-u", "4294967294:4294967294", 4294967294u, 4294967294u)]
    public void User_takes_a_numeric_uid_and_an_optional_gid_that_defaults_to_0(string option, string value, uint uid, uint gid)
    {
        var options = Parse(option, value, "true");

        Assert.Equal(uid, options.Uid);
        Assert.Equal(gid, options.Gid);
    }

    [Theory]
    [InlineData("--net", "none", SandboxNetwork.None)]
    [InlineData("--net", "host", SandboxNetwork.Host)]
    [InlineData("--network", "none", SandboxNetwork.None)]
    [InlineData("--network=host", null, SandboxNetwork.Host)]
    public void Net_chooses_between_no_network_and_the_hosts(string option, string? value, SandboxNetwork expected)
    {
        string[] args = value is null ? [option, "true"] : [option, value, "true"];

        Assert.Equal(expected, Parse(args).Network);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2s", 2000)]
    [InlineData("1.5s", 1500)]
    [InlineData("1m", 60_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("3", 3000)]
    [InlineData("0.25", 250)]
    public void Timeout_takes_a_duration_and_a_bare_number_is_seconds(string value, int milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Parse("--timeout", value, "true").Timeout);
    }

    [Fact]
    public void Report_is_resolved_against_the_current_directory()
    {
        Assert.Equal("/home/me/out/result.json", Parse("--report", "out/result.json", "true").ReportPath);
        Assert.Equal("/tmp/r.json", Parse("--report=/tmp/r.json", "true").ReportPath);
    }

    // ---- resource limits ----

    [Theory]
    [InlineData("--memory", "4194304", 4L << 20)]
    [InlineData("--memory", "512k", 512L << 10)]
    [InlineData("--memory", "32m", 32L << 20)]
    [InlineData("--memory", "32M", 32L << 20)]
    [InlineData("--memory", "64MiB", 64L << 20)]
    [InlineData("--memory", "1.5g", 3L << 29)]
    [InlineData("--memory", "2g", 2L << 30)]
    [InlineData("-m", "256m", 256L << 20)]
    public void Memory_takes_a_size_with_dockers_binary_units(string option, string value, long bytes)
    {
        var resources = Parse(option, value, "true").Resources;

        Assert.NotNull(resources);
        Assert.Equal(bytes, resources.MemoryBytes);
        Assert.Equal(new CgroupLimits { MemoryBytes = bytes }, resources);
    }

    [Theory]
    [InlineData("-m64m")]
    [InlineData("-m=64m")]
    [InlineData("--memory=64m")]
    public void Memory_may_be_glued_to_its_option(string arg)
    {
        Assert.Equal(64L << 20, Parse(arg, "true").Resources?.MemoryBytes);
    }

    [Theory]
    [InlineData("128m", 128L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("-1", -1L)]
    public void Memory_swap_is_memory_plus_swap_or_minus_1_for_unlimited_swap(string value, long bytes)
    {
        var resources = Parse("--memory", "64m", "--memory-swap", value, "true").Resources;

        Assert.Equal(64L << 20, resources?.MemoryBytes);
        Assert.Equal(bytes, resources?.MemorySwapBytes);
    }

    [Fact]
    public void Memory_reservation_is_a_soft_limit_in_bytes()
    {
        Assert.Equal(128L << 20, Parse("--memory-reservation", "128m", "true").Resources?.MemoryReservationBytes);
    }

    [Theory]
    [InlineData("1", 1.0)]
    [InlineData("1.5", 1.5)]
    [InlineData("0.5", 0.5)]
    [InlineData("0.01", 0.01)]
    [InlineData("16", 16.0)]
    public void Cpus_takes_a_decimal_number_of_cpus(string value, double cpus)
    {
        Assert.Equal(cpus, Parse("--cpus", value, "true").Resources?.Cpus);
    }

    [Theory]
    [InlineData("--cpu-shares", "512", 512L)]
    [InlineData("--cpu-shares", "2", 2L)]
    [InlineData("--cpu-shares", "262144", 262144L)]
    [InlineData("-c", "1024", 1024L)]
    public void Cpu_shares_sets_the_relative_weight(string option, string value, long shares)
    {
        Assert.Equal(shares, Parse(option, value, "true").Resources?.CpuShares);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0-3")]
    [InlineData("0,2")]
    [InlineData("0-1,3,5-7")]
    [InlineData("2-2")]
    public void Cpuset_cpus_and_mems_keep_the_list_as_given(string list)
    {
        var resources = Parse("--cpuset-cpus", list, "--cpuset-mems", list, "true").Resources;

        Assert.Equal(list, resources?.CpusetCpus);
        Assert.Equal(list, resources?.CpusetMems);
    }

    [Theory]
    [InlineData("1", 1L)]
    [InlineData("8", 8L)]
    [InlineData("100000", 100_000L)]
    public void Pids_limit_sets_the_most_processes(string value, long pids)
    {
        Assert.Equal(pids, Parse("--pids-limit", value, "true").Resources?.PidsMax);
    }

    [Fact]
    public void Pids_limit_minus_1_means_no_limit_like_docker()
    {
        var resources = Parse("--pids-limit", "64", "--pids-limit", "-1", "true").Resources;

        Assert.NotNull(resources);
        Assert.Null(resources.PidsMax);
        Assert.True(resources.IsEmpty);
    }

    [Fact]
    public void Limits_combine_and_a_repeated_one_keeps_its_last_value()
    {
        var resources = Parse("-m", "1g", "--cpus", "2", "--pids-limit", "10", "--memory", "512m", "--cpu-shares", "100", "true").Resources;

        Assert.Equal(new CgroupLimits { MemoryBytes = 512L << 20, Cpus = 2, PidsMax = 10, CpuShares = 100 }, resources);
    }

    [Theory]
    [InlineData("--device-read-bps", "/dev/sda:1048576", IoThrottleKind.ReadBytesPerSecond, 1048576UL)]
    [InlineData("--device-read-bps", "/dev/sda:10m", IoThrottleKind.ReadBytesPerSecond, 10UL << 20)]
    [InlineData("--device-read-bps", "/dev/sda:512k", IoThrottleKind.ReadBytesPerSecond, 512UL << 10)]
    [InlineData("--device-write-bps", "/dev/sda:1g", IoThrottleKind.WriteBytesPerSecond, 1UL << 30)]
    [InlineData("--device-write-bps", "/dev/sda:1.5MB", IoThrottleKind.WriteBytesPerSecond, 3UL << 19)]
    [InlineData("--device-read-iops", "/dev/sda:1000", IoThrottleKind.ReadOperationsPerSecond, 1000UL)]
    [InlineData("--device-write-iops", "/dev/sda:1", IoThrottleKind.WriteOperationsPerSecond, 1UL)]
    public void A_device_throttle_keeps_the_device_path_for_later_and_takes_a_rate(string option, string value, IoThrottleKind kind, ulong limit)
    {
        var options = Parse(option, value, "true");

        Assert.Equal(new DeviceThrottle(option, value, "/dev/sda", kind, limit), Assert.Single(options.DeviceThrottles));
        Assert.Null(options.Resources);
    }

    [Fact]
    public void Device_throttles_keep_their_command_line_order()
    {
        var options = Parse(
            "--device-write-iops", "/dev/vdb:20", "--device-read-bps", "/dev/vda:1m", "--device-read-bps=/dev/vda:2m", "true");

        Assert.Equal<DeviceThrottle>(
            [
                new("--device-write-iops", "/dev/vdb:20", "/dev/vdb", IoThrottleKind.WriteOperationsPerSecond, 20),
                new("--device-read-bps", "/dev/vda:1m", "/dev/vda", IoThrottleKind.ReadBytesPerSecond, 1UL << 20),
                new("--device-read-bps", "/dev/vda:2m", "/dev/vda", IoThrottleKind.ReadBytesPerSecond, 2UL << 20),
            ],
            options.DeviceThrottles);
    }

    [Fact]
    public void A_device_path_may_contain_colons_since_the_last_one_separates_the_rate()
    {
        const string Device = "/dev/disk/by-path/pci-0000:00:1f.2-ata-1";

        Assert.Equal(Device, Assert.Single(Parse("--device-read-iops", Device + ":500", "true").DeviceThrottles).DevicePath);
    }

    [Fact]
    public void Cgroup_asks_for_a_cgroup_without_limits()
    {
        var options = Parse("--cgroup", "true");

        Assert.True(options.UseCgroup);
        Assert.Null(options.Resources);
    }

    [Fact]
    public void Cgroup_placement_options_are_kept()
    {
        var options = Parse("--cgroup-parent", "/sys/fs/cgroup/sandboxes", "--cgroup-move-to-leaf", "true");

        Assert.Equal("/sys/fs/cgroup/sandboxes", options.CgroupParent);
        Assert.True(options.CgroupMoveToLeaf);
        var e = Assert.Throws<CliUsageException>(() => Parse("--cgroup-parent", "sandboxes", "true"));
        Assert.Contains("--cgroup-parent", e.Message);
        Assert.Contains("absolute", e.Message);
    }

    [Fact]
    public void Options_not_given_keep_the_librarys_defaults()
    {
        var options = Parse("true");

        Assert.Null(options.Resources);
        Assert.Empty(options.DeviceThrottles);
        Assert.False(options.UseCgroup);

        Assert.Null(options.RootFilesystem);
        Assert.Empty(options.Mounts);
        Assert.Null(options.Hostname);
        Assert.Null(options.WorkingDirectory);
        Assert.Null(options.Uid);
        Assert.Null(options.Network);
        Assert.Null(options.Timeout);
        Assert.Null(options.ReportPath);
    }

    // ---- mistakes: each one names the option as it was typed ----

    [Theory]
    [InlineData("--x")]
    [InlineData("--x=1")]
    [InlineData("-x")]
    [InlineData("-hx")]
    [InlineData("--Hostname")]
    [InlineData("--host")]
    [InlineData("--=x")]
    [InlineData("---")]
    public void An_unknown_option_is_a_usage_error(string arg)
    {
        string name = arg.Split('=')[0];

        var error = ParseError(arg, "true");

        Assert.Equal($"unknown option '{name}'", error.Message);
        Assert.Equal($"sandbox: unknown option '{name}'. See 'sandbox run --help'.", error.ToErrorLine());
    }

    [Theory]
    [InlineData("--rootfs")]
    [InlineData("--bind")]
    [InlineData("-v")]
    [InlineData("--tmpfs")]
    [InlineData("--hostname")]
    [InlineData("-e")]
    [InlineData("--workdir")]
    [InlineData("-u")]
    [InlineData("--net")]
    [InlineData("--timeout")]
    [InlineData("--report")]
    [InlineData("--memory")]
    [InlineData("-m")]
    [InlineData("--memory-swap")]
    [InlineData("--memory-reservation")]
    [InlineData("--cpus")]
    [InlineData("--cpu-shares")]
    [InlineData("-c")]
    [InlineData("--cpuset-cpus")]
    [InlineData("--cpuset-mems")]
    [InlineData("--pids-limit")]
    [InlineData("--device-read-bps")]
    [InlineData("--device-write-bps")]
    [InlineData("--device-read-iops")]
    [InlineData("--device-write-iops")]
    public void An_option_without_its_value_is_a_usage_error(string option)
    {
        Assert.Equal($"option '{option}' needs a value", ParseError(option).Message);
    }

    [Theory]
    [InlineData("--read-only=true")]
    [InlineData("--help=1")]
    [InlineData("--cgroup=yes")]
    public void A_flag_given_a_value_is_a_usage_error(string arg)
    {
        Assert.Contains($"'{arg.Split('=')[0]}' takes no value", ParseError(arg, "true").Message);
    }

    [Theory]
    [InlineData("--rootfs", "")]
    [InlineData("--bind", "/data")]
    [InlineData("--bind", ":/data")]
    [InlineData("--bind", "/data:")]
    [InlineData("--bind", "/data:data")]
    [InlineData("--bind", "/data:/")]
    [InlineData("--bind", "/data:/data:rx")]
    [InlineData("--bind", "/data:/data:ro,z")]
    [InlineData("--bind", "/a:/b:ro:rw")]
    [InlineData("-v", "/data")]
    [InlineData("--volume", "/data")]
    [InlineData("--tmpfs", "scratch")]
    [InlineData("--tmpfs", "")]
    [InlineData("--tmpfs", "/")]
    [InlineData("--tmpfs", "/s:size=")]
    [InlineData("--tmpfs", "/s:size=12q")]
    [InlineData("--tmpfs", "/s:size=0")]
    [InlineData("--tmpfs", "/s:size=-1m")]
    [InlineData("--tmpfs", "/s:noexec")]
    [InlineData("--tmpfs", "/s:mode=")]
    [InlineData("--tmpfs", "/s:mode=9")]
    [InlineData("--tmpfs", "/s:mode=17777")]
    [InlineData("--tmpfs", "/s:size=1m,")]
    [InlineData("--hostname", "")]
    [InlineData("--env", "")]
    [InlineData("-e", "=value")]
    [InlineData("--workdir", "src")]
    [InlineData("-w", "")]
    [InlineData("--user", "bob")]
    [InlineData("-u", "1000:staff")]
    [InlineData("-u", "-1")]
    [InlineData("-u", "+1")]
    [InlineData("-u", "4294967295")]
    [InlineData("-u", "1000:")]
    [InlineData("-u", ":1000")]
    [InlineData("-u", "")]
    [InlineData("--net", "bridge")]
    [InlineData("--net", "None")]
    [InlineData("--network", "")]
    [InlineData("--timeout", "soon")]
    [InlineData("--timeout", "0")]
    [InlineData("--timeout", "0ms")]
    [InlineData("--timeout", "-1s")]
    [InlineData("--timeout", "1e3")]
    [InlineData("--timeout", "5d")]
    [InlineData("--timeout", "")]
    [InlineData("--report", "")]
    [InlineData("--memory", "")]
    [InlineData("--memory", "lots")]
    [InlineData("--memory", "0")]
    [InlineData("--memory", "-1")]
    [InlineData("--memory", "64q")]
    [InlineData("--memory", "64 m")]
    [InlineData("--memory", "1e9")]
    [InlineData("-m", "m")]
    [InlineData("--memory-swap", "")]
    [InlineData("--memory-swap", "0")]
    [InlineData("--memory-swap", "-2")]
    [InlineData("--memory-swap", "-1m")]
    [InlineData("--memory-swap", "unlimited")]
    [InlineData("--memory-reservation", "0")]
    [InlineData("--memory-reservation", "-1")]
    [InlineData("--memory-reservation", "1x")]
    [InlineData("--cpus", "")]
    [InlineData("--cpus", "0")]
    [InlineData("--cpus", "0.0")]
    [InlineData("--cpus", "-1")]
    [InlineData("--cpus", "+1")]
    [InlineData("--cpus", "1.")]
    [InlineData("--cpus", ".5")]
    [InlineData("--cpus", "1,5")]
    [InlineData("--cpus", "1e2")]
    [InlineData("--cpus", "two")]
    [InlineData("--cpus", "1.5.2")]
    [InlineData("--cpus", "1 ")]
    [InlineData("--cpu-shares", "")]
    [InlineData("--cpu-shares", "0")]
    [InlineData("--cpu-shares", "1")]
    [InlineData("--cpu-shares", "262145")]
    [InlineData("--cpu-shares", "-512")]
    [InlineData("--cpu-shares", "1.5")]
    [InlineData("-c", "high")]
    [InlineData("--cpuset-cpus", "")]
    [InlineData("--cpuset-cpus", "a")]
    [InlineData("--cpuset-cpus", "0-")]
    [InlineData("--cpuset-cpus", "-1")]
    [InlineData("--cpuset-cpus", "3-1")]
    [InlineData("--cpuset-cpus", "0,,1")]
    [InlineData("--cpuset-cpus", "0,")]
    [InlineData("--cpuset-cpus", "0 1")]
    [InlineData("--cpuset-cpus", "0-1-2")]
    [InlineData("--cpuset-mems", "x")]
    [InlineData("--cpuset-mems", "1;2")]
    [InlineData("--pids-limit", "")]
    [InlineData("--pids-limit", "0")]
    [InlineData("--pids-limit", "-2")]
    [InlineData("--pids-limit", "+5")]
    [InlineData("--pids-limit", "ten")]
    [InlineData("--pids-limit", "1.5")]
    [InlineData("--pids-limit", "10k")]
    [InlineData("--device-read-bps", "")]
    [InlineData("--device-read-bps", "/dev/sda")]
    [InlineData("--device-read-bps", "/dev/sda:")]
    [InlineData("--device-read-bps", ":1m")]
    [InlineData("--device-read-bps", "/dev/:1m")]
    [InlineData("--device-read-bps", "sda:1m")]
    [InlineData("--device-read-bps", "/tmp/disk:1m")]
    [InlineData("--device-read-bps", "/dev/sda:0")]
    [InlineData("--device-read-bps", "/dev/sda:-1m")]
    [InlineData("--device-read-bps", "/dev/sda:fast")]
    [InlineData("--device-read-bps", "/dev/sda:1mb/s")]
    [InlineData("--device-write-bps", "/dev/sda")]
    [InlineData("--device-write-bps", "/dev/sda:10x")]
    [InlineData("--device-read-iops", "/dev/sda")]
    [InlineData("--device-read-iops", "/dev/sda:0")]
    [InlineData("--device-read-iops", "/dev/sda:1k")]
    [InlineData("--device-read-iops", "/dev/sda:1.5")]
    [InlineData("--device-read-iops", "/dev/sda:-5")]
    [InlineData("--device-read-iops", "dev/sda:5")]
    [InlineData("--device-write-iops", "/dev/sda:")]
    [InlineData("--device-write-iops", "/dev/sda:99999999999999999999")]
    public void A_malformed_value_is_a_usage_error_naming_the_option(string option, string value)
    {
        var error = ParseError(option, value, "true");

        Assert.StartsWith($"invalid value '{value}' for {option}: ", error.Message);
        Assert.Equal("sandbox run --help", error.HelpCommand);
    }

    [Fact]
    public void A_malformed_value_glued_to_its_option_names_the_option_too()
    {
        Assert.StartsWith("invalid value 'soon' for --timeout: ", ParseError("--timeout=soon", "true").Message);
        Assert.StartsWith("invalid value 'bob' for -u: ", ParseError("-ubob", "true").Message);
        Assert.StartsWith("invalid value 'lots' for -m: ", ParseError("-mlots", "true").Message);
        Assert.StartsWith("invalid value '/dev/sda' for --device-read-bps: ", ParseError("--device-read-bps=/dev/sda", "true").Message);
    }

    [Fact]
    public void Every_option_is_documented_in_the_help_with_an_example()
    {
        string[] lines = HelpText.Run.Split('\n');
        // Example lines are indented two columns past the descriptions (column 31).
        string[] examples = [.. lines.Where(l => l.Length - l.TrimStart().Length >= 33)];

        foreach (var spellings in RunOptionsParser.Options)
        {
            foreach (string spelling in spellings)
                Assert.Contains(spelling, HelpText.Run);
            Assert.True(examples.Any(e => spellings.Any(e.Contains)), $"no example for {string.Join(", ", spellings)}");
        }
    }

    [Theory]
    [InlineData("--memory", "x", "a positive size")]
    [InlineData("--memory-swap", "x", "-1 for unlimited swap")]
    [InlineData("--cpus", "x", "a positive number of CPUs")]
    [InlineData("--cpu-shares", "1", "from 2 to 262144")]
    [InlineData("--cpuset-cpus", "x", "for example 0-3")]
    [InlineData("--pids-limit", "0", "-1 for no limit")]
    [InlineData("--device-read-bps", "/dev/sda", "expected DEVICE:RATE")]
    [InlineData("--device-read-bps", "/tmp/x:1m", "'/tmp/x' is not a device path under /dev")]
    [InlineData("--device-write-iops", "/dev/sda:1m", "'1m' is not a number of operations")]
    public void A_malformed_limit_says_what_is_expected(string option, string value, string hint)
    {
        Assert.Contains(hint, ParseError(option, value, "true").Message);
    }
}
