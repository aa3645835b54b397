using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Overlay roots: read-only layers shared by many sandboxes, with a writable layer on top.</summary>
public class OverlayTests : IClassFixture<BusyboxRootfs>
{
    private readonly BusyboxRootfs _rootfs;

    public OverlayTests(BusyboxRootfs rootfs) => _rootfs = rootfs;

    [Fact]
    public async Task Writes_land_in_the_ephemeral_layer_and_the_layer_itself_never_changes()
    {
        var sandbox = new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path]).Build();
        string output = await sandbox.OutputOfAsync(
            "echo changed > /etc/marker && cat /etc/marker; touch /new-file && echo created; rm /bin/touch && echo removed; " +
            "grep ' / ' /proc/self/mountinfo | grep -o ' - overlay '");
        Assert.Equal("changed\ncreated\nremoved\n - overlay", output);
        Assert.Equal("inside-rootfs\n", File.ReadAllText(Path.Combine(_rootfs.Path, "etc", "marker")));
        Assert.False(File.Exists(Path.Combine(_rootfs.Path, "new-file")));
        Assert.True(File.Exists(Path.Combine(_rootfs.Path, "bin", "touch")) || new FileInfo(Path.Combine(_rootfs.Path, "bin", "touch")).LinkTarget is not null);
        // The next sandbox starts from the layer again.
        Assert.Equal("inside-rootfs\nno-new-file", await sandbox.OutputOfAsync("cat /etc/marker; test -e /new-file && echo new-file || echo no-new-file"));
    }

    [Fact]
    public async Task Root_owned_layer_files_belong_to_root_inside_although_root_inside_is_host_nobody()
    {
        // The test runs as root, so the sandbox's root is host uid 65534: without idmapped
        // layers, /etc/marker (host uid 0) would show as the overflow uid and be read-only.
        string output = await new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path]).Build()
            .OutputOfAsync("stat -c '%u:%g' /etc/marker; cat /proc/self/uid_map | tr -s ' '; echo more >> /etc/marker && tail -n1 /etc/marker");
        var lines = output.Split('\n');
        Assert.Equal("0:0", lines[0]);
        Assert.Equal(" 0 65534 1", lines[1].TrimEnd());
        Assert.Equal("more", lines[2]);
    }

    [Fact]
    public async Task Concurrent_sandboxes_share_one_layer_without_seeing_each_others_writes()
    {
        var sandbox = new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path]).Build();
        var runs = Enumerable.Range(0, 8).Select(i => sandbox.OutputOfAsync($"echo {i} > /etc/who; sleep 0.2; cat /etc/who; ls /etc | wc -l")).ToList();
        var outputs = await Task.WhenAll(runs);
        for (int i = 0; i < outputs.Length; i++)
            Assert.Equal($"{i}\n2", outputs[i]);
    }

    [Fact]
    public async Task A_persistent_writable_layer_keeps_changes_across_runs()
    {
        using var dir = new TempDirectory();
        string state = Path.Combine(dir.Path, "container");
        var sandbox = new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path], OverlayUpper.Directory(state)).Build();
        await sandbox.OutputOfAsync("echo first > /data/kept; rm /etc/marker");
        Assert.Equal("first\nmarker-gone", await sandbox.OutputOfAsync("cat /data/kept; test -e /etc/marker && echo marker || echo marker-gone"));
        Assert.Equal("first\n", File.ReadAllText(Path.Combine(state, "upper", "data", "kept")));
        Assert.True(File.Exists(Path.Combine(_rootfs.Path, "etc", "marker")));
    }

    [Fact]
    public async Task A_read_only_overlay_refuses_writes_but_its_mounts_work()
    {
        var sandbox = new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path], OverlayUpper.None).WithTmpfs("/scratch/deep").Build();
        var r = await sandbox.ShAsync("touch /etc/x 2>&1; touch /scratch/deep/ok && echo scratch-ok; touch /tmp/ok && echo tmp-ok");
        Assert.Contains("Read-only file system", r.StandardOutput);
        Assert.Contains("scratch-ok\ntmp-ok", r.StandardOutput);
        Assert.False(Directory.Exists(Path.Combine(_rootfs.Path, "scratch")));
    }

    [Fact]
    public async Task The_ephemeral_layer_is_capped_at_its_size()
    {
        var sandbox = new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path], OverlayUpper.Ephemeral(2 * 1024 * 1024)).Build();
        var r = await sandbox.ShAsync("cat /bin/busybox /bin/busybox /bin/busybox > /big; echo rc=$?");
        Assert.Contains("No space left on device", r.StandardError);
        Assert.Equal("rc=1", r.StandardOutput.Trim());
    }

    [Fact]
    public async Task Upper_layers_hide_lower_files_with_whiteouts_and_opaque_directories()
    {
        using var dir = new TempDirectory();
        string top = Directory.CreateDirectory(Path.Combine(dir.Path, "top")).FullName;
        Directory.CreateDirectory(Path.Combine(top, "etc"));
        Directory.CreateDirectory(Path.Combine(top, "bin"));
        File.WriteAllText(Path.Combine(top, "etc", "top-only"), "top\n");
        await Tools.RunAsync("mknod", Path.Combine(top, "etc", "marker"), "c", "0", "0"); // whiteout
        await Tools.RunAsync("/usr/bin/python3", "-c", $"import os; os.setxattr('{Path.Combine(top, "bin")}', 'user.overlay.opaque', b'y')");
        File.Copy(BusyboxRootfs.BusyboxPath, Path.Combine(top, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(top, "bin", "sh"), "busybox");
        File.CreateSymbolicLink(Path.Combine(top, "bin", "ls"), "busybox");

        string output = await new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path, top]).Build()
            .OutputOfAsync("ls /etc | sort | paste -sd' '; ls /bin | sort | paste -sd' '");
        Assert.Equal("top-only\nbusybox ls sh", output); // marker whited out; /bin opaque: no cat, id, ...
    }

    [Fact]
    public async Task An_unprivileged_caller_gets_an_overlay_root_too()
    {
        var (code, output, error) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "overlay",
            "id -u; stat -c %u /etc/marker; echo x > /etc/marker && cat /etc/marker", _rootfs.Path);
        Assert.True(code == 0, error);
        // Root inside is host nobody; the layer's files belong to host root, which nobody's
        // namespace does not map: they show as the overflow id and stay read-only for it
        // (layers an unprivileged caller imports belong to it, and so to root inside).
        Assert.StartsWith("0\n65534\n", output);
        Assert.Contains("Permission denied", output);
        Assert.Contains("verdict=Exited code=1", output);
    }

    [Fact]
    public async Task Bad_overlay_settings_name_the_setting()
    {
        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([]).Build());
        Assert.Contains("root.layers", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithUser(0, 0).WithOverlayRoot(["/no/such/layer"]).Build());
        Assert.Contains("root.layers[0]", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path], OverlayUpper.Directory(Path.Combine(_rootfs.Path, "data"))).Build());
        Assert.Contains("root.upper", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path], OverlayUpper.Ephemeral(0)).Build());
        Assert.Contains("root.upper.size", e.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_writable_directory_that_is_a_symlink_into_a_layer_is_refused_and_the_layer_stays_unchanged()
    {
        using var dir = new TempDirectory();
        string layer = Directory.CreateDirectory(Path.Combine(dir.Path, "layer")).FullName;
        Directory.CreateDirectory(Path.Combine(layer, "bin"));
        Directory.CreateDirectory(Path.Combine(layer, "data"));
        File.Copy(BusyboxRootfs.BusyboxPath, Path.Combine(layer, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(layer, "bin", "sh"), "busybox");
        var before = Snapshot(layer);

        // The link itself, a link to a directory inside the layer, a link to the layer's parent
        // (the layer is then below the writable directory), and a link as a parent of the
        // directory, which does not exist yet.
        File.CreateSymbolicLink(Path.Combine(dir.Path, "to-layer"), layer);
        File.CreateSymbolicLink(Path.Combine(dir.Path, "to-data"), Path.Combine(layer, "data"));
        File.CreateSymbolicLink(Path.Combine(dir.Path, "to-parent"), dir.Path);
        foreach (var upper in new[] { "to-layer", "to-data", "to-parent", "to-layer/state", "to-data/deeper/state" })
        {
            var e = await Assert.ThrowsAnyAsync<SandboxException>(() =>
                new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([layer], OverlayUpper.Directory(Path.Combine(dir.Path, upper))).Build().RunAsync(["/bin/sh", "-c", "echo pwned > /pwned"]));
            Assert.Contains("root.upper", e.Message);
            Assert.Equal(before, Snapshot(layer));
        }
    }

    [Fact]
    public void Preparing_the_writable_directory_rechecks_what_it_opened_and_never_follows_a_link()
    {
        // The validator's check and the run are apart in time: here the link appears after
        // Build() would have looked, so only the preparation itself stands between it and the layer.
        using var dir = new TempDirectory();
        string layer = Directory.CreateDirectory(Path.Combine(dir.Path, "layer")).FullName;
        Directory.CreateDirectory(Path.Combine(layer, "data"));
        var before = Snapshot(layer);
        File.CreateSymbolicLink(Path.Combine(dir.Path, "to-data"), Path.Combine(layer, "data"));
        File.CreateSymbolicLink(Path.Combine(dir.Path, "to-layer"), layer);
        Directory.CreateDirectory(Path.Combine(dir.Path, "state"));
        File.CreateSymbolicLink(Path.Combine(dir.Path, "state", "upper"), Path.Combine(layer, "data"));

        foreach (var upper in new[] { "to-data", "to-layer/state", "state" })
        {
            var config = new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([layer], OverlayUpper.Directory(Path.Combine(dir.Path, upper))).Configuration;
            var e = Assert.Throws<SandboxException>(() => SandboxStorage.Prepare(config, HostIdentity.Current));
            Assert.Contains("root.upper", e.Message);
            Assert.Equal(before, Snapshot(layer));
        }
    }

    private static List<string> Snapshot(string directory) =>
        [.. Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(directory, p)).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task A_persistent_layer_in_use_is_refused_by_a_second_sandbox_with_a_clear_error()
    {
        using var dir = new TempDirectory();
        var sandbox = new SandboxBuilder().WithUser(0, 0).WithOverlayRoot([_rootfs.Path], OverlayUpper.Directory(Path.Combine(dir.Path, "c"))).Build();
        await using var first = await sandbox.StartAsync(["/bin/sleep", "30"]);
        var e = await Assert.ThrowsAsync<SandboxException>(() => sandbox.RunAsync(["/bin/true"]));
        Assert.Equal("mount the overlay root", e.Step);
        Assert.Contains("in use by another sandbox", e.Message);
        await first.KillAsync();
    }
}
