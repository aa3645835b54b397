namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// Fake cgroup trees for the v1 backend: a host's /proc files from a fixture, the caller's
/// cgroup directories, and a kernel stand-in that fills every new cgroup with the control files
/// a real one has (Fixtures/v1-&lt;controller&gt;/, copied from fresh child cgroups on the hybrid
/// development host, Linux 6.18).
/// </summary>
internal static class V1TestTree
{
    /// <summary>The caller's memory cgroup in the hybrid-this-host fixture; it is at / elsewhere.</summary>
    public const string MemoryCgroup = "/process_api/782dc0f789f1b4ee2fc7b30e008f053d";

    public const string Root = "/sys/fs/cgroup";
    public const string MemoryParent = Root + "/memory" + MemoryCgroup;
    public const string Unified = Root + "/unified";

    /// <summary>Pids that can never be real (PID_MAX_LIMIT is 4194304), so a test can never signal a real process.</summary>
    public const int FakePid1 = 5_000_001;
    public const int FakePid2 = 5_000_002;

    private static readonly Dictionary<string, IReadOnlyDictionary<string, string>> FixtureCache = [];

    /// <summary>The hybrid development host: v1 cpu, cpuacct (separate), cpuset, memory, devices, freezer, blkio, pids; cgroup2 at /sys/fs/cgroup/unified.</summary>
    public static FakeCgroupFileSystem HybridHost()
    {
        var fs = FakeCgroupFileSystem.FromFixture("hybrid-this-host")
            .AddFile(Unified + "/cgroup.controllers", "hugetlb\n")
            .AddFile(Unified + "/cgroup.procs", "")
            .AddFile(Root + "/cpuset/cpuset.cpus", "0-1\n")
            .AddFile(Root + "/cpuset/cpuset.mems", "0\n")
            .AddFile(Root + "/cpuset/cgroup.procs", "");
        foreach (string hierarchy in new[] { "cpu", "cpuacct", "devices", "freezer", "blkio", "pids", "systemd" })
            fs.AddFile($"{Root}/{hierarchy}/cgroup.procs", "");
        fs.AddFile(MemoryParent + "/cgroup.procs", "");
        return PopulateNewCgroups(fs);
    }

    /// <summary>CentOS 7, pure v1: cpu and cpuacct share one hierarchy at /sys/fs/cgroup/cpu,cpuacct; the caller is in /user.slice.</summary>
    public static FakeCgroupFileSystem CentOs7()
    {
        var fs = FakeCgroupFileSystem.FromFixture("pure-v1-centos7");
        foreach (string hierarchy in new[] { "memory", "devices", "blkio", "pids", "cpu,cpuacct" })
            fs.AddFile($"{Root}/{hierarchy}/user.slice/cgroup.procs", "");
        fs.AddFile(Root + "/cpuset/cpuset.cpus", "0-3\n").AddFile(Root + "/cpuset/cpuset.mems", "0\n");
        return PopulateNewCgroups(fs);
    }

    /// <summary>Plays the kernel: a directory made in a hierarchy gets that controller's control files.</summary>
    public static FakeCgroupFileSystem PopulateNewCgroups(FakeCgroupFileSystem fs)
    {
        fs.AfterCreateDirectory = directory =>
        {
            string hierarchy = directory[(Root.Length + 1)..].Split('/')[0];
            foreach (string controller in hierarchy == "unified" ? ["hybrid-unified"] : hierarchy.Split(','))
                fs.AddFiles(directory, Fixture(controller));
        };
        return fs;
    }

    /// <summary>The files of a fresh child cgroup of one controller (or "hybrid-unified"), by name.</summary>
    public static IReadOnlyDictionary<string, string> Fixture(string controller)
    {
        lock (FixtureCache)
        {
            if (!FixtureCache.TryGetValue(controller, out var files))
            {
                string directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", "v1-" + controller);
                files = Directory.Exists(directory)
                    ? Directory.GetFiles(directory).ToDictionary(f => Path.GetFileName(f), File.ReadAllText)
                    : new Dictionary<string, string>(); // devices, hugetlb, ...: never made by the backend
                FixtureCache[controller] = files;
            }
            return files;
        }
    }

    public static CgroupHost Detect(FakeCgroupFileSystem fs)
    {
        var host = CgroupHost.Detect(fs);
        Assert.True(host.Mode is CgroupMode.Hybrid or CgroupMode.Legacy, host.ToString());
        return host;
    }

    /// <summary>Every directory under /sys/fs/cgroup whose last component is <paramref name="name"/>.</summary>
    public static string[] DirectoriesNamed(FakeCgroupFileSystem fs, string name) =>
        AllDirectories(fs, Root).Where(d => d.EndsWith("/" + name, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();

    private static IEnumerable<string> AllDirectories(FakeCgroupFileSystem fs, string directory)
    {
        foreach (string child in fs.GetDirectories(directory))
        {
            string path = directory + "/" + child;
            yield return path;
            foreach (string below in AllDirectories(fs, path))
                yield return below;
        }
    }
}

/// <summary>
/// An <see cref="ICgroupFileSystem"/> over a fake tree where chosen files answer reads from a
/// function (a freezer.state that reads FREEZING a few times, cgroup.procs that drops dead pids).
/// </summary>
internal sealed class ScriptedFileSystem(FakeCgroupFileSystem inner) : ICgroupFileSystem
{
    private readonly List<(Func<string, bool> Matches, Func<string, string, string> Read)> _scripts = [];

    public FakeCgroupFileSystem Inner => inner;

    /// <summary>Reads of paths matching <paramref name="matches"/> return <paramref name="read"/>(path, stored content).</summary>
    public ScriptedFileSystem OnRead(Func<string, bool> matches, Func<string, string, string> read)
    {
        _scripts.Add((matches, read));
        return this;
    }

    public string ReadAllText(string path)
    {
        string content = inner.ReadAllText(path);
        foreach (var (matches, read) in _scripts)
        {
            if (matches(path))
                content = read(path, content);
        }
        return content;
    }

    public bool FileExists(string path) => inner.FileExists(path);

    public bool DirectoryExists(string path) => inner.DirectoryExists(path);

    public IReadOnlyList<string> GetDirectories(string path) => inner.GetDirectories(path);

    public long GetFileSystemType(string path) => inner.GetFileSystemType(path);

    public void WriteControlFile(string path, string content) => inner.WriteControlFile(path, content);

    public void CreateDirectory(string path) => inner.CreateDirectory(path);

    public void RemoveDirectory(string path) => inner.RemoveDirectory(path);
}
