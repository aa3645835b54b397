using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

public class FilesystemTests : IClassFixture<BusyboxRootfs>
{
    private readonly BusyboxRootfs _rootfs;

    public FilesystemTests(BusyboxRootfs rootfs) => _rootfs = rootfs;

    [Fact]
    public async Task The_host_root_is_read_only_and_tmp_is_a_private_writable_tmpfs()
    {
        var sandbox = new SandboxBuilder().Build();
        var r = await sandbox.ShAsync("touch /usr/x 2>&1; touch /etc/x 2>&1; echo data > /tmp/f && cat /tmp/f; grep ' /tmp ' /proc/self/mountinfo");
        Assert.Contains("'/usr/x': Read-only file system", r.StandardOutput);
        Assert.Contains("'/etc/x': Read-only file system", r.StandardOutput);
        Assert.Contains("data\n", r.StandardOutput);
        Assert.Contains(" - tmpfs ", r.StandardOutput);
        Assert.False(File.Exists("/usr/x"));
        // Each sandbox has its own /tmp.
        Assert.Equal("empty", await sandbox.OutputOfAsync("ls -A /tmp | grep -q . && echo used || echo empty"));
    }

    [Fact]
    public async Task The_mount_table_shows_fresh_proc_minimal_dev_and_read_only_nosuid_root()
    {
        string mountinfo = await new SandboxBuilder().Build().OutputOfAsync("cat /proc/self/mountinfo");
        var lines = mountinfo.Split('\n').Select(l => l.Split(' ')).ToList();
        var root = lines.Single(f => f[4] == "/");
        Assert.Contains("ro", root[5].Split(','));
        Assert.Contains("nosuid", root[5].Split(','));
        Assert.Contains("nodev", root[5].Split(','));
        var proc = lines.Last(f => f[4] == "/proc");
        Assert.Equal("proc", proc[Array.IndexOf(proc, "-") + 1]);
        Assert.Contains("noexec", proc[5].Split(','));
        string dev = await new SandboxBuilder().Build().OutputOfAsync("ls /dev | sort | paste -sd' '");
        Assert.Equal("fd full null ptmx pts random shm stderr stdin stdout tty urandom zero", dev);
        Assert.Equal("0", await new SandboxBuilder().Build().OutputOfAsync("head -c 1 /dev/zero | od -An -tu1 | tr -d ' '"));
    }

    [Fact]
    public async Task Ptys_work_inside_from_the_sandboxs_own_devpts()
    {
        string output = await new SandboxBuilder().Build().OutputOfAsync(
            "python3 -c 'import os, pty; m, s = pty.openpty(); print(os.ttyname(s))'; grep ' /dev/pts ' /proc/self/mountinfo | tail -1");
        var lines = output.Split('\n');
        Assert.Equal("/dev/pts/0", lines[0]); // a fresh instance: its first pty is 0
        Assert.Contains("ptmxmode=666", lines[1]); // the top /dev/pts is ours, not the host's (ptmxmode=000)
    }

    [Fact]
    public async Task A_directory_rootfs_is_entered_with_pivot_root_and_the_host_is_gone()
    {
        var sandbox = new SandboxBuilder().WithRootFilesystem(_rootfs.Path).Build();
        string output = await sandbox.OutputOfAsync("cat /etc/marker; ls / | sort | paste -sd' '; cut -d' ' -f5 /proc/self/mountinfo | grep -v -e '^/proc' -e '^/dev' | sort | paste -sd' '; test -e /work && echo host-visible || echo host-gone");
        var lines = output.Split('\n');
        Assert.Equal("inside-rootfs", lines[0]);
        Assert.Equal("bin data dev etc proc sys tmp", lines[1]);
        Assert.Equal("/ /sys /sys/firmware /tmp", lines[2]); // /sys/firmware: docker's mask // besides /proc, /dev and their masks: no host mounts
        Assert.Equal("host-gone", lines[3]);
    }

    [Fact]
    public async Task No_host_mount_survives_in_a_rootfs_sandbox()
    {
        string mountinfo = await new SandboxBuilder().WithRootFilesystem(_rootfs.Path).Build().OutputOfAsync("cat /proc/self/mountinfo");
        var targets = mountinfo.Split('\n').Select(l => l.Split(' ')[4]).ToList();
        Assert.All(targets, t => Assert.True(t == "/" || t.StartsWith("/proc") || t.StartsWith("/dev") || t == "/tmp" || t.StartsWith("/sys"), $"unexpected mount {t}"));
    }

    [Fact]
    public async Task A_read_only_rootfs_refuses_writes_but_its_tmpfs_accepts_them()
    {
        var sandbox = new SandboxBuilder().WithRootFilesystem(_rootfs.Path, readOnly: true).Build();
        var r = await sandbox.ShAsync("touch /data/x 2>&1; touch /tmp/ok && echo tmp-ok");
        Assert.Contains("Read-only file system", r.StandardOutput);
        Assert.Contains("tmp-ok", r.StandardOutput);
        Assert.False(File.Exists(Path.Combine(_rootfs.Path, "data", "x")));
    }

    [Fact]
    public async Task Bind_mounts_are_read_only_or_read_write_as_asked()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "in.txt"), "host-data");
        var ro = await new SandboxBuilder().WithBindMount(dir.Path, "/tmp/ro").Build().ShAsync("cat /tmp/ro/in.txt; echo; touch /tmp/ro/new 2>&1");
        Assert.StartsWith("host-data\n", ro.StandardOutput);
        Assert.Contains("Read-only file system", ro.StandardOutput);
        Assert.False(File.Exists(Path.Combine(dir.Path, "new")));

        var rw = await new SandboxBuilder().WithBindMount(dir.Path, "/tmp/rw", readOnly: false).Build().ShAsync("echo written > /tmp/rw/new");
        Assert.True(rw.IsSuccess, rw.StandardError);
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(dir.Path, "new")));
    }

    [Fact]
    public async Task Bind_targets_missing_in_a_rootfs_are_created_inside_it()
    {
        using var dir = new TempDirectory();
        using var rootfs = new BusyboxRootfs(); // this test writes into its rootfs
        File.WriteAllText(Path.Combine(dir.Path, "file.txt"), "single-file");
        var sandbox = new SandboxBuilder().WithRootFilesystem(rootfs.Path)
            .WithBindMount(dir.Path, "/new/deep/dir")
            .WithBindMount(Path.Combine(dir.Path, "file.txt"), "/etc/bound.txt")
            .Build();
        Assert.Equal("single-file\nsingle-file", await sandbox.OutputOfAsync("cat /new/deep/dir/file.txt; echo; cat /etc/bound.txt"));
    }

    [Fact]
    public async Task A_missing_target_on_the_read_only_host_root_is_a_clear_error()
    {
        using var dir = new TempDirectory();
        var e = await Assert.ThrowsAsync<SandboxException>(() => new SandboxBuilder().WithBindMount(dir.Path, "/no-such-dir-on-host").Build().ShAsync("true"));
        Assert.Equal("resolve a mount target", e.Step);
        Assert.Equal(30, e.ErrorNumber); // EROFS
        Assert.Contains("/no-such-dir-on-host", e.Message);
        Assert.False(Directory.Exists("/no-such-dir-on-host"));
    }

    [Fact]
    public async Task An_optional_bind_with_a_missing_source_is_skipped()
    {
        var sandbox = new SandboxBuilder().WithMount(new BindMount("/no/such/source", "/mnt", optional: true)).Build();
        Assert.Equal("ok", await sandbox.OutputOfAsync("echo ok"));
    }

    private static string HostileRootfs(string path)
    {
        Directory.CreateDirectory(Path.Combine(path, "bin"));
        File.Copy(BusyboxRootfs.BusyboxPath, Path.Combine(path, "bin", "busybox"));
        foreach (var applet in new[] { "sh", "ls", "cat" })
            File.CreateSymbolicLink(Path.Combine(path, "bin", applet), "busybox");
        return path;
    }

    [Theory]
    [InlineData("/tmp")]
    [InlineData("/proc")]
    [InlineData("/dev")]
    public async Task A_rootfs_whose_mount_points_are_symlinks_to_host_paths_mounts_nothing_on_the_host(string mountPoint)
    {
        using var hostile = new TempDirectory();
        using var victim = new TempDirectory();
        HostileRootfs(hostile.Path);
        Directory.CreateDirectory(Path.Combine(hostile.Path, "tmp"));
        Directory.CreateDirectory(Path.Combine(hostile.Path, "proc"));
        Directory.CreateDirectory(Path.Combine(hostile.Path, "dev"));
        Directory.Delete(Path.Combine(hostile.Path, mountPoint.TrimStart('/')));
        // /tmp -> /tmp/sandbox-test-xxx (the victim): resolved inside the rootfs it is a loop,
        // which must be refused rather than followed out to the host path.
        File.CreateSymbolicLink(Path.Combine(hostile.Path, mountPoint.TrimStart('/')), victim.Path);

        var e = await Assert.ThrowsAsync<SandboxException>(() => new SandboxBuilder().WithRootFilesystem(hostile.Path).Build().ShAsync("true"));
        Assert.Equal("resolve a mount target", e.Step);
        Assert.Empty(Directory.EnumerateFileSystemEntries(victim.Path));
    }

    [Fact]
    public async Task Symlinks_and_dotdot_in_a_rootfs_resolve_inside_it()
    {
        using var hostile = new TempDirectory();
        using var victim = new TempDirectory();
        HostileRootfs(hostile.Path);
        foreach (var dir in new[] { "tmp", "proc", "dev", "inside" })
            Directory.CreateDirectory(Path.Combine(hostile.Path, dir));
        // Climbing above / with .. stops at the rootfs's own root; absolute links resolve in it.
        File.CreateSymbolicLink(Path.Combine(hostile.Path, "up"), "../../../../../../inside");
        File.CreateSymbolicLink(Path.Combine(hostile.Path, "abs"), "/inside");
        // A link to the host's victim path names nothing inside the rootfs: refused, not followed.
        File.CreateSymbolicLink(Path.Combine(hostile.Path, "escape"), victim.Path);
        using var source = new TempDirectory();
        File.WriteAllText(Path.Combine(source.Path, "payload"), "x");

        var sandbox = new SandboxBuilder().WithRootFilesystem(hostile.Path)
            .WithBindMount(source.Path, "/up/a")
            .WithBindMount(source.Path, "/abs/b")
            .Build();
        var r = await sandbox.ShAsync("ls /inside/a /inside/b");
        Assert.True(r.IsSuccess, r.StandardError);
        Assert.Equal("/inside/a:\npayload\n\n/inside/b:\npayload\n", r.StandardOutput);
        Assert.True(Directory.Exists(Path.Combine(hostile.Path, "inside", "a")));

        var e = await Assert.ThrowsAsync<SandboxException>(() =>
            new SandboxBuilder().WithRootFilesystem(hostile.Path).WithBindMount(source.Path, "/escape/c").Build().ShAsync("true"));
        Assert.Equal("resolve a mount target", e.Step);
        Assert.Contains("/escape/c", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(victim.Path));
    }
}
