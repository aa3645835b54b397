using System.Diagnostics;
using Xunit.Abstractions;

namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// <see cref="CgroupHost.Current"/> on the machine running the tests. The expectations are worked
/// out here from the real /proc files with plain string splitting (not the library's parsers)
/// and from stat(1), so the test holds on any host and says what this one has.
/// </summary>
public class RealHostTests(ITestOutputHelper output)
{
    private sealed record Mount(string Root, string MountPoint, string Type, string[] SuperOptions);

    [Fact]
    public void Current_matches_what_the_proc_files_and_statfs_of_this_machine_say()
    {
        var host = CgroupHost.Current;
        output.WriteLine(host.ToString());

        var lines = File.ReadAllLines("/proc/self/cgroup").Select(l => l.Split(':', 3)).ToArray();
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(ParseMount).ToArray();

        // v1: every controller of every v1 line, served by a cgroup mount whose options name it.
        var expectedV1 = new Dictionary<string, string>();
        foreach (var line in lines.Where(l => l[0] != "0"))
        {
            var controllers = line[1].Split(',').Where(c => !c.StartsWith("name=", StringComparison.Ordinal)).ToArray();
            var mount = mounts.FirstOrDefault(m =>
                m.Type == "cgroup" && StatType(m.MountPoint) == "27e0eb"
                && line[1].Split(',').All(m.SuperOptions.Contains) && IsUnder(line[2], m.Root));
            if (mount is null)
                continue;
            foreach (string controller in controllers)
                expectedV1[controller] = Join(mount.MountPoint, Relative(line[2], mount.Root));
        }
        // v2: the 0:: line and a cgroup2 mount that statfs confirms.
        var v2Line = lines.FirstOrDefault(l => l[0] == "0");
        var v2Mount = v2Line is null ? null : mounts.FirstOrDefault(m =>
            m.Type == "cgroup2" && StatType(m.MountPoint) == "63677270" && IsUnder(v2Line[2], m.Root));
        var expectedMode = (v2Mount is not null, expectedV1.Count > 0) switch
        {
            (true, true) => CgroupMode.Hybrid,
            (true, false) => CgroupMode.Unified,
            (false, true) => CgroupMode.Legacy,
            _ => CgroupMode.None,
        };
        output.WriteLine($"expected: {expectedMode}; v1 [{string.Join(", ", expectedV1.Select(p => $"{p.Key}={p.Value}"))}]; v2 {v2Mount?.MountPoint ?? "none"}");

        Assert.Equal(expectedMode, host.Mode);
        Assert.Same(host, CgroupHost.Current);
        foreach (var (controller, directory) in expectedV1)
        {
            var hierarchy = host.Controllers[controller];
            Assert.Equal(CgroupVersion.V1, hierarchy.Version);
            Assert.Equal(directory, hierarchy.Directory);
            Assert.True(Directory.Exists(hierarchy.Directory), hierarchy.Directory);
        }

        if (v2Mount is null)
        {
            Assert.Null(host.Unified);
            return;
        }
        var unified = host.Unified!;
        string unifiedDirectory = Join(v2Mount.MountPoint, Relative(v2Line![2], v2Mount.Root));
        Assert.Equal(v2Mount.MountPoint, unified.MountPoint);
        Assert.Equal(unifiedDirectory, unified.Directory);
        Assert.Equal(File.Exists(unifiedDirectory + "/cgroup.kill"), unified.HasKill);
        Assert.Equal(File.Exists(unifiedDirectory + "/cgroup.freeze"), unified.HasFreeze);
        Assert.Equal(Words(v2Mount.MountPoint + "/cgroup.controllers"), unified.RootControllers);
        Assert.Equal(Words(unifiedDirectory + "/cgroup.controllers"), unified.AvailableControllers);
        foreach (string controller in unified.RootControllers.Where(c => !expectedV1.ContainsKey(c)))
            Assert.Same(unified, host.Controllers[controller]);
    }

    [Fact]
    public void Statfs_through_libc_agrees_with_stat_1()
    {
        var fs = LinuxCgroupFileSystem.Instance;
        foreach (var mount in File.ReadAllLines("/proc/self/mountinfo").Select(ParseMount)
            .Where(m => m.Type is "cgroup" or "cgroup2" or "proc" or "tmpfs" && Directory.Exists(m.MountPoint)).Take(20))
        {
            Assert.Equal(StatType(mount.MountPoint), fs.GetFileSystemType(mount.MountPoint).ToString("x"));
        }
        Assert.Equal(0x9fa0, fs.GetFileSystemType("/proc/self"));
    }

    [Fact]
    public void The_real_file_system_reads_lists_and_reports_missing_paths()
    {
        var fs = LinuxCgroupFileSystem.Instance;

        Assert.Equal(File.ReadAllText("/proc/self/cgroup"), fs.ReadAllText("/proc/self/cgroup"));
        Assert.Contains("fd", fs.GetDirectories("/proc/self"));
        Assert.True(fs.FileExists("/proc/self/mountinfo"));
        Assert.False(fs.FileExists("/proc/self"));
        Assert.True(fs.DirectoryExists("/proc/self"));
        var e = Assert.Throws<FileNotFoundException>(() => fs.GetFileSystemType("/no/such/path"));
        Assert.Contains("statfs `/no/such/path`", e.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => fs.GetFileSystemType("/proc/self/cgroup/not-a-directory"));
        Assert.ThrowsAny<IOException>(() => fs.ReadAllText("/no/such/file"));
    }

    [Fact]
    public void Reading_a_file_gives_what_File_ReadAllText_gives_and_the_same_exceptions()
    {
        var fs = LinuxCgroupFileSystem.Instance;
        // Files that do not change while the test runs (status and mountinfo may); a file of
        // 100 KB takes many reads, the environment usually more than one.
        string big = Path.Combine(Path.GetTempPath(), $"cgroup-fs-read-{Environment.ProcessId}");
        File.WriteAllText(big, string.Concat(Enumerable.Range(0, 20000).Select(i => $"{i} é\n")));
        try
        {
            foreach (string path in new[] { "/proc/self/cgroup", "/proc/self/cmdline", "/proc/self/environ", big, "/dev/null" })
                Assert.Equal(File.ReadAllText(path), fs.ReadAllText(path));
        }
        finally
        {
            File.Delete(big);
        }
        var missing = Assert.Throws<FileNotFoundException>(() => fs.ReadAllText("/proc/self/no-such-file"));
        Assert.Contains("/proc/self/no-such-file", missing.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => fs.ReadAllText("/no/such/dir/file"));
        Assert.Throws<DirectoryNotFoundException>(() => fs.ReadAllText("/proc/self/cgroup/not-a-directory"));
        Assert.ThrowsAny<IOException>(() => fs.ReadAllText("/proc/self")); // EISDIR
    }

    private static Mount ParseMount(string line)
    {
        string[] f = line.Split(' ');
        int dash = Array.IndexOf(f, "-", 6);
        return new Mount(f[3], f[4].Replace("\\040", " ", StringComparison.Ordinal), f[dash + 1], f[dash + 3].Split(','));
    }

    private static bool IsUnder(string path, string root) => Relative(path, root) is not null;

    private static string? Relative(string path, string root) =>
        root == "/" ? path : path == root ? "/" : path.StartsWith(root + "/", StringComparison.Ordinal) ? path[root.Length..] : null;

    private static string Join(string mountPoint, string? relative) => relative is null or "/" ? mountPoint : mountPoint + relative;

    private static string[] Words(string path) => File.ReadAllText(path).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>statfs f_type in hex, from coreutils' stat(1): an implementation independent of ours.</summary>
    private static string StatType(string path)
    {
        var start = new ProcessStartInfo("stat") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "-f", "-c", "%t", path })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return process.ExitCode == 0 ? text : "error";
    }
}
