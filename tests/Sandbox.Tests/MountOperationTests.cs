using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>mqueue, volumes, and the symlinks, directories and files a sandbox gets created inside.</summary>
public class MountOperationTests : IClassFixture<BusyboxRootfs>
{
    private readonly BusyboxRootfs _rootfs;

    public MountOperationTests(BusyboxRootfs rootfs) => _rootfs = rootfs;

    [Fact]
    public async Task Mqueue_shows_only_the_sandboxs_own_queues()
    {
        var sandbox = new SandboxBuilder().WithMounts(m => m.Mqueue()).Build();
        string output = await sandbox.OutputOfAsync(
            "grep ' /dev/mqueue ' /proc/self/mountinfo | grep -o ' - mqueue '; ls -A /dev/mqueue | wc -l; : > /dev/mqueue/q1 && head -c 5 /dev/mqueue/q1");
        Assert.Equal("- mqueue \n0\nQSIZE", output);
        // A queue made in one sandbox is not in the next one's IPC namespace.
        Assert.Equal("0", await sandbox.OutputOfAsync("ls -A /dev/mqueue | wc -l"));
    }

    [Fact]
    public async Task Symlinks_directories_and_files_are_created_in_order_on_a_tmpfs()
    {
        var sandbox = new SandboxBuilder().WithMounts(m => m
            .Tmpfs("/work")
            .Directory("/work/private", 0x1C0 /* 0700 */)
            .File("/work/run.sh", "#!/bin/sh\necho script-ran \"$@\"\n", 0x1ED /* 0755 */)
            .Symlink("run.sh", "/work/go")
            .File("/work/deep/er/data.txt", "payload")).Build();
        string output = await sandbox.OutputOfAsync(
            "stat -c '%a %F' /work/private; /work/go arg; readlink /work/go; cat /work/deep/er/data.txt; echo; stat -c %a /work/run.sh");
        Assert.Equal("700 directory\nscript-ran arg\nrun.sh\npayload\n755", output);
    }

    [Fact]
    public async Task Creating_on_the_read_only_host_root_fails_with_a_hint()
    {
        var sandbox = new SandboxBuilder().WithMounts(m => m.File("/etc/sandbox-created", "x")).Build();
        var e = await Assert.ThrowsAsync<SandboxException>(() => sandbox.RunAsync(["/bin/true"]));
        Assert.Equal("create a file, directory or symlink", e.Step);
        Assert.Contains("Read-only file system", e.Message);
        Assert.Contains("writable mount", e.Hint);
        Assert.False(File.Exists("/etc/sandbox-created"));
    }

    [Fact]
    public async Task A_symlink_in_a_rootfs_never_sends_a_created_file_to_the_host()
    {
        using var root = new TempDirectory();
        using var host = new TempDirectory();
        Images.TestImages.CopyTree(_rootfs.Path, root.Path);
        File.CreateSymbolicLink(Path.Combine(root.Path, "escape"), host.Path);       // a directory link to a host path
        File.WriteAllText(Path.Combine(host.Path, "victim"), "host\n");
        File.CreateSymbolicLink(Path.Combine(root.Path, "file-link"), Path.Combine(host.Path, "victim"));

        foreach (var target in new[] { "/escape/pwned", "/escape/sub/pwned" })
        {
            var sandbox = new SandboxBuilder().WithRootFilesystem(root.Path).WithMounts(m => m.File(target, "pwned")).Build();
            var e = await Assert.ThrowsAsync<SandboxException>(() => sandbox.RunAsync(["/bin/true"]));
            Assert.Equal("create a file, directory or symlink", e.Step);
        }
        // A file created over a symlink replaces the link inside the root; it never writes through it.
        var replace = new SandboxBuilder().WithRootFilesystem(root.Path).WithMounts(m => m.File("/file-link", "pwned")).Build();
        Assert.Equal("pwned", await replace.OutputOfAsync("cat /file-link"));
        Assert.Null(new FileInfo(Path.Combine(root.Path, "file-link")).LinkTarget);
        Assert.Equal(["victim"], Directory.EnumerateFileSystemEntries(host.Path).Select(Path.GetFileName));
        Assert.Equal("host\n", File.ReadAllText(Path.Combine(host.Path, "victim")));
    }

    [Fact]
    public async Task A_named_volume_outlives_its_sandbox_and_belongs_to_the_commands_user()
    {
        using var dir = new TempDirectory();
        var store = new VolumeStore(Path.Combine(dir.Path, "volumes"));
        var sandbox = new SandboxBuilder().WithVolume("cache", "/tmp/cache", store: store).Build();
        await sandbox.OutputOfAsync("echo kept > /tmp/cache/file");
        Assert.Equal("kept\n65534", await sandbox.OutputOfAsync("cat /tmp/cache/file; stat -c %u /tmp/cache"));
        Assert.Equal(["cache"], store.List());
        // On the host, the volume is the command user's: the host's nobody for a root caller.
        var stat = await Tools.RunAsync("stat", "-c", "%u", store.GetPath("cache"));
        Assert.Equal($"{SandboxConfiguration.UnprivilegedHostId}", stat.Trim());
        var readOnly = new SandboxBuilder().WithVolume("cache", "/tmp/cache", readOnly: true, store: store).Build();
        var r = await readOnly.ShAsync("cat /tmp/cache/file; touch /tmp/cache/x");
        Assert.Contains("kept", r.StandardOutput);
        Assert.Contains("Read-only file system", r.StandardError);
        Assert.True(store.Remove("cache"));
        Assert.Empty(store.List());
    }

    [Fact]
    public void Bad_mount_operations_name_the_setting()
    {
        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithVolume("../etc", "/x").Build());
        Assert.Contains("mounts[4].name", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithMounts(m => m.Symlink("", "/x")).Build());
        Assert.Contains("mounts[4].linkText", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithMounts(m => m.File("/x", "a\0b")).Build());
        Assert.Contains("mounts[4].content", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithMounts(m => m.Directory("/x", 0x10000)).Build());
        Assert.Contains("mounts[4].mode", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithoutNamespaces(SandboxNamespaces.Ipc).WithMounts(m => m.Mqueue()).Build());
        Assert.Contains("IPC namespace", e.Message);
    }
}
