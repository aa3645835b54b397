using System.Diagnostics;
using Sandboxing.Images;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>The volume store against a hostile sandbox and other host users: what root removes, and who can read a volume.</summary>
public class VolumeStoreTests
{
    private const int VictimFiles = 20;

    [Fact]
    public void Removing_a_volume_never_follows_a_directory_a_sandbox_swaps_for_a_symlink()
    {
        using var dir = new TempDirectory();
        var store = new VolumeStore(Path.Combine(dir.Path, "volumes"));
        string victim = Directory.CreateDirectory(Path.Combine(dir.Path, "victim")).FullName;
        for (int i = 0; i < VictimFiles; i++)
            File.WriteAllText(Path.Combine(victim, $"precious-{i}"), "host data");

        // A race: each round gives the swap another chance to land between the remover's look
        // at "d" and its use of it.
        for (int round = 0; round < 30; round++)
        {
            // What a sandbox can leave in a volume it has mounted: a directory with files and a
            // symlink to a host directory, which it keeps exchanging (renameat2 RENAME_EXCHANGE
            // on the directory it has open, as the bind mount does, wherever the volume is renamed to).
            string volume = store.Ensure("hostile", SandboxConfiguration.UnprivilegedHostId, SandboxConfiguration.UnprivilegedHostId);
            string d = Directory.CreateDirectory(Path.Combine(volume, "d")).FullName;
            for (int i = 0; i < VictimFiles; i++)
                File.WriteAllText(Path.Combine(d, $"junk-{i}"), "sandbox data");
            File.CreateSymbolicLink(Path.Combine(volume, "link"), victim);
            int volumeFd = ImageNative.openat(ImageNative.AT_FDCWD, volume, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC, 0);
            Assert.True(volumeFd >= 0);

            int stop = 0;
            using var swapping = new ManualResetEventSlim();
            var swapper = new Thread(() =>
            {
                // Until the remover has deleted one of the two names (or the test is done).
                while (Volatile.Read(ref stop) == 0 && ImageNative.renameat2(volumeFd, "d", volumeFd, "link", ImageNative.RENAME_EXCHANGE) == 0)
                    swapping.Set();
                swapping.Set();
            });
            swapper.Start();
            swapping.Wait();
            Exception? error = null;
            try
            {
                store.Remove("hostile");
            }
            catch (Exception e)
            {
                error = e;
            }
            Volatile.Write(ref stop, 1);
            swapper.Join();
            ImageNative.close(volumeFd);

            Assert.Equal(VictimFiles, Directory.GetFiles(victim).Length);
            Assert.Null(error);
            Assert.Empty(store.List());
            Assert.Empty(Directory.EnumerateFileSystemEntries(store.RootDirectory));
        }
    }

    [Fact]
    public async Task A_volume_is_unreadable_by_other_host_users_yet_a_root_callers_sandbox_mounts_it()
    {
        using var dir = new TempDirectory();
        var store = new VolumeStore(Path.Combine(dir.Path, "volumes"));
        var sandbox = new SandboxBuilder().WithVolume("data", "/tmp/data", store: store).Build();

        Assert.Equal("secret", await sandbox.OutputOfAsync("echo secret > /tmp/data/file; cat /tmp/data/file"));
        var (code, error) = await RunAsUser1234("cat", Path.Combine(store.GetPath("data"), "file"));
        Assert.NotEqual(0, code);
        Assert.Contains("Permission denied", error);
        Assert.Equal((UnixFileMode)0x1C0 /* 0700 */, File.GetUnixFileMode(store.RootDirectory));
        // The sandbox still gets it, run after run.
        Assert.Equal("secret", await sandbox.OutputOfAsync("cat /tmp/data/file"));
    }

    [Fact]
    public async Task An_existing_store_with_wider_permissions_is_made_private()
    {
        using var dir = new TempDirectory();
        string root = Directory.CreateDirectory(Path.Combine(dir.Path, "volumes"), (UnixFileMode)0x1ED /* 0755 */).FullName;
        File.SetUnixFileMode(root, (UnixFileMode)0x1ED);
        var store = new VolumeStore(root);

        await new SandboxBuilder().WithVolume("data", "/tmp/data", store: store).Build().OutputOfAsync("echo secret > /tmp/data/file");

        var (code, error) = await RunAsUser1234("cat", Path.Combine(root, "data", "file"));
        Assert.NotEqual(0, code);
        Assert.Contains("Permission denied", error);
        Assert.Equal((UnixFileMode)0x1C0 /* 0700 */, File.GetUnixFileMode(root));
    }

    /// <summary>Runs a program as host uid/gid 1234, a user that is neither the caller nor any sandbox's.</summary>
    private static async Task<(int ExitCode, string Error)> RunAsUser1234(params string[] command)
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--reuid", "1234", "--regid", "1234", "--clear-groups", .. command])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        await stdout;
        return (p.ExitCode, await stderr);
    }
}
