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

    [Theory]
    [InlineData("-v", "./data:/data", "/home/me/data")]
    [InlineData("-v", "../data:/data", "/home/data")]
    [InlineData("-v", ".:/data", "/home/me")]
    [InlineData("--bind", "data:/data", "/home/me/data")]
    [InlineData("--bind", "./data:/data", "/home/me/data")]
    public void A_relative_bind_source_is_resolved_against_the_current_directory(string option, string value, string source)
    {
        Assert.Equal(source, Assert.IsType<BindMount>(Assert.Single(Parse(option, value, "true").Mounts)).Source);
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

    // ---- overlay roots and images ----

    [Fact]
    public void Overlay_makes_the_rootfs_a_lower_layer_with_an_ephemeral_layer_of_the_librarys_default_size()
    {
        var options = Parse("--rootfs", "/srv/alpine", "--overlay", "true");

        Assert.Equal("/srv/alpine", options.RootFilesystem);
        Assert.True(options.Overlay);
        Assert.Null(options.OverlaySizeBytes);
        Assert.Null(options.OverlayDirectory);
        Assert.False(options.ReadOnlyRoot);
    }

    [Theory]
    [InlineData("64m", 64L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData("4096", 4096L)]
    public void Overlay_size_takes_dockers_size_units(string value, long bytes)
    {
        Assert.Equal(bytes, Parse("--rootfs", "/r", "--overlay", "--overlay-size", value, "true").OverlaySizeBytes);
    }

    [Fact]
    public void Overlay_size_alone_implies_overlay()
    {
        Assert.True(Parse("--rootfs", "/r", "--overlay-size=1m", "true").Overlay);
    }

    [Theory]
    [InlineData("/var/lib/box1", "/var/lib/box1")]
    [InlineData("boxes/one", "/home/me/boxes/one")]
    public void Overlay_dir_keeps_the_writable_layer_in_a_directory_and_implies_overlay(string value, string directory)
    {
        var options = Parse("--overlay-dir", value, "--rootfs", "/r", "true");

        Assert.True(options.Overlay);
        Assert.Equal(directory, options.OverlayDirectory);
    }

    [Fact]
    public void Read_only_with_overlay_means_no_writable_layer()
    {
        var options = Parse("--rootfs", "/r", "--overlay", "--read-only", "true");

        Assert.True(options.Overlay);
        Assert.True(options.ReadOnlyRoot);
    }

    [Fact]
    public void Image_options_keep_the_paths_resolved_and_the_reference_as_given()
    {
        var options = Parse("--image", "images/alpine.tar.gz", "--image-ref", "alpine:3.20", "--image-store", "store", "true");

        Assert.Equal("/home/me/images/alpine.tar.gz", options.ImagePath);
        Assert.Equal("alpine:3.20", options.ImageReference);
        Assert.Equal("/home/me/store", options.ImageStoreDirectory);
        Assert.Null(options.RootFilesystem);
        Assert.False(options.Overlay); // an image is always an overlay; the flag is about --rootfs
    }

    [Fact]
    public void With_an_image_the_command_is_optional()
    {
        var options = Parse("--image", "/i.tar");

        Assert.Empty(options.Command);
        Assert.Equal<string>(["ls", "-l"], Parse("--image", "/i.tar", "--", "ls", "-l").Command);
    }

    [Theory]
    [InlineData("--image", "/i.tar", "--overlay")]
    [InlineData("--image", "/i.tar", "--overlay-size", "1g")]
    [InlineData("--image", "/i.tar", "--overlay-dir", "/d")]
    [InlineData("--image", "/i.tar", "--read-only")]
    public void Image_takes_the_overlay_options(params string[] args)
    {
        var options = Parse(args);

        Assert.Equal("/i.tar", options.ImagePath);
        Assert.Empty(options.Command);
    }

    [Theory]
    [InlineData("/bin/sh", "/bin/sh")]
    [InlineData("", "")]
    public void Entrypoint_replaces_or_with_an_empty_value_clears_the_images(string value, string expected)
    {
        Assert.Equal(expected, Parse("--image", "/i.tar", "--entrypoint", value).Entrypoint);
        Assert.Null(Parse("--image", "/i.tar").Entrypoint);
    }

    [Fact]
    public void A_non_empty_entrypoint_makes_the_command_optional()
    {
        var options = Parse("--entrypoint", "/bin/true");

        Assert.Equal("/bin/true", options.Entrypoint);
        Assert.Empty(options.Command);
    }

    [Theory]
    [InlineData("--entrypoint", "")]
    [InlineData("--entrypoint=")]
    [InlineData("--image-store", "/s")]
    public void Without_an_image_or_an_entrypoint_the_command_is_still_needed(params string[] args)
    {
        Assert.Equal("'sandbox run' needs a command to run, for example 'sandbox run -- /bin/sh -c \"echo hi\"'", ParseError(args).Message);
    }

    [Theory]
    [InlineData("--rootfs and --image both choose the root filesystem; give one of them", "--rootfs", "/r", "--image", "/i.tar")]
    [InlineData("--image-ref needs --image, the archive or layout to pick the image from", "--image-ref", "alpine", "true")]
    [InlineData("--overlay needs --rootfs DIR, the read-only lower layer (an --image is always an overlay)", "--overlay", "true")]
    [InlineData("--overlay-dir needs --rootfs DIR, the read-only lower layer (an --image is always an overlay)", "--overlay-dir", "/d", "true")]
    [InlineData("--overlay-size needs --rootfs DIR, the read-only lower layer (an --image is always an overlay)", "--overlay-size", "1g", "true")]
    [InlineData("--overlay-size caps the ephemeral writable layer, but --overlay-dir keeps the layer in a directory; give one of them", "--rootfs", "/r", "--overlay-size", "1g", "--overlay-dir", "/d", "true")]
    [InlineData("--read-only leaves the overlay without a writable layer, so --overlay-dir would be unused; give one of them", "--image", "/i.tar", "--overlay-dir", "/d", "--read-only")]
    [InlineData("--read-only leaves the overlay without a writable layer, so --overlay-size would be unused; give one of them", "--rootfs", "/r", "--read-only", "--overlay-size", "1g", "true")]
    public void Root_options_that_contradict_each_other_are_usage_errors(string message, params string[] args)
    {
        var error = ParseError(args);

        Assert.Equal(message, error.Message);
        Assert.Equal("sandbox run --help", error.HelpCommand);
    }

    // ---- volumes, --mount and --mqueue ----

    [Theory]
    [InlineData("-v", "data:/data", "data", "/data", false)]
    [InlineData("--volume", "my_vol-1.x:/var/lib/x:rw", "my_vol-1.x", "/var/lib/x", false)]
    [InlineData("-v", "cache:/cache:ro", "cache", "/cache", true)]
    [InlineData("-v", "0:/zero", "0", "/zero", false)]
    public void Volume_with_a_name_mounts_a_named_volume_read_write_unless_ro(string option, string value, string name, string target, bool readOnly)
    {
        var volume = Assert.IsType<VolumeMount>(Assert.Single(Parse(option, value, "true").Mounts));

        Assert.Equal(new VolumeMount(name, target, readOnly), volume);
        Assert.Same(VolumeStore.Default, volume.Store);
    }

    [Fact]
    public void Volume_store_is_kept_for_the_volumes_and_resolved_against_the_current_directory()
    {
        var options = Parse("-v", "data:/data", "--volume-store", "vols", "true");

        Assert.Equal("/home/me/vols", options.VolumeStoreDirectory);
        Assert.IsType<VolumeMount>(Assert.Single(options.Mounts));
    }

    public static TheoryData<string, SandboxMount> Mounts => new()
    {
        { "type=bind,source=/srv/data,target=/data", new BindMount("/srv/data", "/data", readOnly: false) },
        { "type=bind,src=/srv/data,dst=/data,readonly", new BindMount("/srv/data", "/data", readOnly: true) },
        { "type=bind,src=/srv/data,destination=/data,ro", new BindMount("/srv/data", "/data", readOnly: true) },
        { "type=bind,src=/srv/data,dst=/data,ro=true", new BindMount("/srv/data", "/data", readOnly: true) },
        { "type=bind,src=/srv/data,dst=/data,readonly=1", new BindMount("/srv/data", "/data", readOnly: true) },
        { "type=bind,src=/srv/data,dst=/data,readonly=false", new BindMount("/srv/data", "/data", readOnly: false) },
        { "type=bind,src=/srv/data,dst=/data,ro=0", new BindMount("/srv/data", "/data", readOnly: false) },
        { "type=bind,src=/srv/data,dst=/data,ro=TRUE", new BindMount("/srv/data", "/data", readOnly: true) },
        { "type=bind,src=/srv/data,dst=/data,bind-recursive=enabled", new BindMount("/srv/data", "/data", readOnly: false, recursive: true) },
        { "type=bind,src=/srv/data,dst=/data,bind-recursive=disabled", new BindMount("/srv/data", "/data", readOnly: false, recursive: false) },
        { "type=bind,src=/srv/data,dst=/data,bind-optional=true", new BindMount("/srv/data", "/data", readOnly: false, optional: true) },
        { "type=bind,src=/srv/data,dst=/data,bind-optional", new BindMount("/srv/data", "/data", readOnly: false, optional: true) },
        { "type=bind,src=/srv/data,dst=/data,bind-optional=0", new BindMount("/srv/data", "/data", readOnly: false, optional: false) },
        { "type=bind,src=data,dst=/data", new BindMount("/home/me/data", "/data", readOnly: false) },
        { "dst=/data,src=/srv/data,type=bind", new BindMount("/srv/data", "/data", readOnly: false) },
        { "Type=BIND,SRC=/srv/data,Target=/data,RO", new BindMount("/srv/data", "/data", readOnly: true) },
        { "type=bind,src=/a,dst=/b,src=/c", new BindMount("/c", "/b", readOnly: false) },
        { "\"type=bind\",\"src=/srv/a,b\",dst=/data", new BindMount("/srv/a,b", "/data", readOnly: false) },
        { "type=bind,\"src=/srv/say \"\"hi\"\"\",dst=/data", new BindMount("/srv/say \"hi\"", "/data", readOnly: false) },
        { "type=bind,src=/srv/a=b,dst=/data", new BindMount("/srv/a=b", "/data", readOnly: false) },
        { "type=tmpfs,target=/scratch", new TmpfsMount("/scratch") },
        { "type=tmpfs,dst=/scratch,tmpfs-size=1m", new TmpfsMount("/scratch", 1L << 20) },
        { "type=tmpfs,dst=/scratch,tmpfs-size=64MiB,tmpfs-mode=700", new TmpfsMount("/scratch", 64L << 20, 0x1C0) },
        { "type=tmpfs,dst=/scratch,tmpfs-mode=01770", new TmpfsMount("/scratch", null, 0x3F8) },
        { "type=volume,src=cache,dst=/cache", new VolumeMount("cache", "/cache") },
        { "src=cache,dst=/cache", new VolumeMount("cache", "/cache") },
        { "source=cache,target=/cache,readonly", new VolumeMount("cache", "/cache", readOnly: true) },
    };

    [Theory]
    [MemberData(nameof(Mounts))]
    public void Mount_takes_dockers_key_value_syntax(string value, SandboxMount expected)
    {
        var options = Parse("--mount", value, "true");

        Assert.Equal(expected, Assert.Single(options.Mounts));
        Assert.Equal<string>([$"--mount {value}"], options.MountOptions);
    }

    [Fact]
    public void Mount_takes_its_value_after_an_equals_sign_too()
    {
        Assert.Equal(new TmpfsMount("/x", 1024), Assert.Single(Parse("--mount=type=tmpfs,dst=/x,tmpfs-size=1k", "true").Mounts));
    }

    [Fact]
    public void Mqueue_mounts_the_message_queues_at_dev_mqueue()
    {
        var options = Parse("--mqueue", "true");

        Assert.Equal(new MqueueMount("/dev/mqueue"), Assert.Single(options.Mounts));
        Assert.Equal<string>(["--mqueue"], options.MountOptions);
    }

    [Fact]
    public void Every_kind_of_mount_keeps_its_command_line_order_and_how_it_was_typed()
    {
        var options = Parse(
            "--mount", "type=tmpfs,dst=/a", "-v", "vol:/a/b", "--mqueue", "--bind", "/h:/a/b/c:ro", "--tmpfs", "/a/d",
            "--volume=/srv:/a/e", "--mount", "type=bind,src=/x,dst=/a/f", "--mount", "src=v2,dst=/a/g", "true");

        Assert.Equal<SandboxMount>(
            [
                new TmpfsMount("/a"), new VolumeMount("vol", "/a/b"), new MqueueMount(), new BindMount("/h", "/a/b/c", readOnly: true),
                new TmpfsMount("/a/d"), new BindMount("/srv", "/a/e", readOnly: false), new BindMount("/x", "/a/f", readOnly: false),
                new VolumeMount("v2", "/a/g"),
            ],
            options.Mounts);
        Assert.Equal<string>(
            [
                "--mount type=tmpfs,dst=/a", "-v vol:/a/b", "--mqueue", "--bind /h:/a/b/c:ro", "--tmpfs /a/d", "--volume /srv:/a/e",
                "--mount type=bind,src=/x,dst=/a/f", "--mount src=v2,dst=/a/g",
            ],
            options.MountOptions);
    }

    private const string VolumeForm =
        "expected SRC:DST[:ro|:rw] where SRC is a host path (absolute, or starting with '.') or a volume name, for example /srv/data:/mnt:ro or cache:/cache";

    private const string NotAName = "is neither a host path nor a volume name (letters, digits, '.', '_' and '-', starting with a letter or digit); " + VolumeForm;

    [Theory]
    [InlineData("-v", "/data", VolumeForm)]
    [InlineData("-v", "data", VolumeForm)]
    [InlineData("-v", ":/data", VolumeForm)]
    [InlineData("-v", "data:", VolumeForm)]
    [InlineData("-v", "a:b:c:d", VolumeForm)]
    [InlineData("--volume", "", VolumeForm)]
    [InlineData("-v", "data:data", "'data' is not an absolute path inside the sandbox")]
    [InlineData("-v", "data:/", "'/' cannot be a mount target; use --rootfs to choose the root")]
    [InlineData("-v", "data:/data:rx", "unknown mode 'rx'; use ro or rw")]
    [InlineData("-v", "data:/data:z", "unknown mode 'z'; use ro or rw")]
    [InlineData("-v", "~/data:/data", "'~/data' " + NotAName)]
    [InlineData("-v", "my data:/data", "'my data' " + NotAName)]
    [InlineData("-v", "-x:/data", "'-x' " + NotAName)]
    [InlineData("-v", "_x:/data", "'_x' " + NotAName)]
    public void A_malformed_volume_says_what_is_expected(string option, string value, string why)
    {
        Assert.Equal($"invalid value '{value}' for {option}: {why}", ParseError(option, value, "true").Message);
    }

    private const string Keys =
        "the keys are type (bind, volume or tmpfs), source or src, target, dst or destination, readonly or ro, bind-recursive, bind-optional, tmpfs-size and tmpfs-mode";

    private const string Quoting = "double-quote a whole field to put a comma in it, as in \"src=/srv/a,b\"";

    [Theory]
    [InlineData("", "a field is empty; " + Keys)]
    [InlineData("type=bind,,src=/a,dst=/b", "a field is empty; " + Keys)]
    [InlineData("type=bind,src=/a,dst=/b,", "a field is empty; " + Keys)]
    [InlineData("type=bind,src=/a,dst=/b,colour=red", "unknown key 'colour'; " + Keys)]
    [InlineData("type=bind,src=/a,dst=/b,Colour", "unknown key 'Colour'; " + Keys)]
    [InlineData("type=bind,src=/a,dst=/b,bind-propagation=rshared", "docker's key 'bind-propagation' is not supported; " + Keys)]
    [InlineData("type=volume,src=v,dst=/b,volume-nocopy", "docker's key 'volume-nocopy' is not supported; " + Keys)]
    [InlineData("type=bind,src=/a,dst=/b,consistency=cached", "docker's key 'consistency' is not supported; " + Keys)]
    [InlineData("type,src=/a,dst=/b", "key 'type' needs a value (type=...)")]
    [InlineData("type=bind,src,dst=/b", "key 'src' needs a value (src=...)")]
    [InlineData("type=npipe,src=/a,dst=/b", "unsupported type 'npipe'; use bind, volume or tmpfs")]
    [InlineData("type=,src=/a,dst=/b", "unsupported type ''; use bind, volume or tmpfs")]
    [InlineData("type=bind,src=,dst=/b", "'src' is empty")]
    [InlineData("type=bind,src=/a", "the target is missing; add target=PATH, the mount point inside the sandbox")]
    [InlineData("type=tmpfs", "the target is missing; add target=PATH, the mount point inside the sandbox")]
    [InlineData("type=bind,src=/a,dst=b", "'b' is not an absolute path inside the sandbox")]
    [InlineData("type=bind,src=/a,target=/", "'/' cannot be a mount target; use --rootfs to choose the root")]
    [InlineData("type=bind,dst=/b", "type=bind needs a source, the host path: add source=PATH")]
    [InlineData("type=bind,src=/a,dst=/b,ro=yes", "'ro=yes': expected true or false (or 1 or 0)")]
    [InlineData("type=bind,src=/a,dst=/b,bind-optional=maybe", "'bind-optional=maybe': expected true or false (or 1 or 0)")]
    [InlineData("type=bind,src=/a,dst=/b,bind-recursive=readonly", "'bind-recursive=readonly': use enabled (the default: mounts below the source come along) or disabled")]
    [InlineData("type=bind,src=/a,dst=/b,tmpfs-size=1m", "'tmpfs-size' applies only to type=tmpfs, not type=bind")]
    [InlineData("type=tmpfs,dst=/b,bind-recursive=disabled", "'bind-recursive' applies only to type=bind, not type=tmpfs")]
    [InlineData("src=v,dst=/b,bind-optional", "'bind-optional' applies only to type=bind, not type=volume")]
    [InlineData("src=v,dst=/b,tmpfs-mode=700", "'tmpfs-mode' applies only to type=tmpfs, not type=volume")]
    [InlineData("type=tmpfs,src=/a,dst=/b", "a tmpfs has no source; drop the source key")]
    [InlineData("type=tmpfs,dst=/b,readonly", "'readonly' is not supported for type=tmpfs: a tmpfs is always writable")]
    [InlineData("type=tmpfs,dst=/b,tmpfs-size=0", "'tmpfs-size=0' is not a size; use bytes or a k, m or g suffix, for example tmpfs-size=64m")]
    [InlineData("type=tmpfs,dst=/b,tmpfs-size=lots", "'tmpfs-size=lots' is not a size; use bytes or a k, m or g suffix, for example tmpfs-size=64m")]
    [InlineData("type=tmpfs,dst=/b,tmpfs-mode=9", "'tmpfs-mode=9' is not an octal permission mode, for example tmpfs-mode=1770")]
    [InlineData("type=tmpfs,dst=/b,tmpfs-mode=17777", "'tmpfs-mode=17777' is not an octal permission mode, for example tmpfs-mode=1770")]
    [InlineData("type=tmpfs,dst=/b,tmpfs-mode=", "'tmpfs-mode=' is not an octal permission mode, for example tmpfs-mode=1770")]
    [InlineData("dst=/b", "type=volume needs a source, the volume's name: add source=NAME (anonymous volumes are not supported)")]
    [InlineData("type=volume,src=/srv/a,dst=/b", "'/srv/a' is not a volume name (letters, digits, '.', '_' and '-', starting with a letter or digit); use type=bind for a host path")]
    [InlineData("type=bind,src=\"/a,b\",dst=/b", "a double quote inside the field 'src=\"/a'; " + Quoting)]
    [InlineData("type=bind,\"src=/a,dst=/b", "a double quote is not closed; " + Quoting)]
    [InlineData("type=bind,\"src=/a\"x,dst=/b", "text follows a closing double quote; " + Quoting)]
    public void A_malformed_mount_names_the_option_and_the_key(string value, string why)
    {
        var error = ParseError("--mount", value, "true");

        Assert.Equal($"invalid value '{value}' for --mount: {why}", error.Message);
        Assert.Equal("sandbox run --help", error.HelpCommand);
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
    [InlineData("--overlay-size")]
    [InlineData("--overlay-dir")]
    [InlineData("--image")]
    [InlineData("--image-ref")]
    [InlineData("--image-store")]
    [InlineData("--entrypoint")]
    [InlineData("--bind")]
    [InlineData("-v")]
    [InlineData("--volume")]
    [InlineData("--volume-store")]
    [InlineData("--mount")]
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
    [InlineData("--overlay=1")]
    [InlineData("--mqueue=/dev/mqueue")]
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
    [InlineData("--overlay-size", "")]
    [InlineData("--overlay-size", "0")]
    [InlineData("--overlay-size", "big")]
    [InlineData("--overlay-size", "-1m")]
    [InlineData("--overlay-dir", "")]
    [InlineData("--image", "")]
    [InlineData("--image-ref", "")]
    [InlineData("--image-store", "")]
    [InlineData("--volume-store", "")]
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
