namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// An in-memory tree of files and directories with a filesystem type per path prefix, standing in
/// for procfs and cgroupfs. Loaded from a fixture, it answers statfs the way the kernel would for
/// the mounts the fixture's mountinfo lists; tests then add cgroup files and override types.
/// </summary>
internal sealed class FakeCgroupFileSystem : ICgroupFileSystem
{
    /// <summary>statfs f_type of the filesystems the fixtures use, by mountinfo type name.</summary>
    private static readonly Dictionary<string, long> MagicByType = new(StringComparer.Ordinal)
    {
        ["cgroup"] = CgroupFilesystem.CgroupV1Magic,
        ["cgroup2"] = CgroupFilesystem.CgroupV2Magic,
        ["tmpfs"] = CgroupFilesystem.TmpfsMagic,
        ["proc"] = 0x9fa0,
        ["sysfs"] = 0x62656572,
        ["ext4"] = 0xef53,
        ["xfs"] = 0x58465342,
        ["overlay"] = 0x794c7630,
        ["devtmpfs"] = CgroupFilesystem.TmpfsMagic,
        ["9p"] = 0x01021997,
    };

    private const long DefaultMagic = 0xef53;

    private readonly Dictionary<string, string> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal) { "/" };
    private readonly List<(string Path, long Type)> _types = [];

    private readonly Dictionary<string, (int Errno, string? Content)> _failingWrites = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _failingCreates = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Errno, int Times)> _failingRemoves = new(StringComparer.Ordinal);

    /// <summary>Every path statfs was asked about, in order.</summary>
    public List<string> StatfsCalls { get; } = [];

    /// <summary>Every accepted <see cref="WriteControlFile"/>, in order.</summary>
    public List<(string Path, string Content)> Writes { get; } = [];

    /// <summary>Every directory <see cref="CreateDirectory"/> made, in order.</summary>
    public List<string> CreatedDirectories { get; } = [];

    /// <summary>Every directory <see cref="RemoveDirectory"/> removed, in order.</summary>
    public List<string> RemovedDirectories { get; } = [];

    /// <summary>
    /// Called after <see cref="CreateDirectory"/> made a directory: plays the kernel, which fills a
    /// new cgroup with its control files (see <see cref="AddFiles"/>).
    /// </summary>
    public Action<string>? AfterCreateDirectory { get; set; }

    /// <summary>
    /// Called after an accepted write was stored (path, content): plays the kernel's reaction,
    /// such as emptying cgroup.procs when "1" is written to cgroup.kill.
    /// </summary>
    public Action<string, string>? AfterWrite { get; set; }

    /// <summary>
    /// A tree with <c>/proc/self/cgroup</c> and <c>/proc/self/mountinfo</c> from
    /// <c>Fixtures/&lt;name&gt;/</c>, every mount point as a directory, and statfs answering with
    /// each mount's type (for stacked mounts, the later one's, as the kernel would).
    /// </summary>
    public static FakeCgroupFileSystem FromFixture(string name)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
        return FromText(
            File.ReadAllText(Path.Combine(directory, "cgroup")),
            File.ReadAllText(Path.Combine(directory, "mountinfo")));
    }

    /// <summary>As <see cref="FromFixture"/>, from the two files' contents.</summary>
    public static FakeCgroupFileSystem FromText(string procSelfCgroup, string procSelfMountInfo)
    {
        var fs = new FakeCgroupFileSystem()
            .AddFile("/proc/self/cgroup", procSelfCgroup)
            .AddFile("/proc/self/mountinfo", procSelfMountInfo);
        // Deliberately not MountInfoFile.Parse: the fake must not depend on the parser under test.
        foreach (string line in procSelfMountInfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = line.Split(' ');
            string mountPoint = fields[4].Replace("\\040", " ", StringComparison.Ordinal);
            string type = fields[Array.IndexOf(fields, "-", 6) + 1];
            fs.SetFileSystemType(mountPoint, MagicByType.GetValueOrDefault(type, DefaultMagic));
        }
        return fs;
    }

    public FakeCgroupFileSystem AddFile(string path, string content)
    {
        _files[path] = content;
        AddDirectory(Parent(path));
        return this;
    }

    public FakeCgroupFileSystem AddDirectory(string path)
    {
        for (string p = path; p != "/"; p = Parent(p))
            _directories.Add(p);
        return this;
    }

    public FakeCgroupFileSystem RemoveFile(string path)
    {
        Assert.True(_files.Remove(path), $"no file {path} to remove");
        return this;
    }

    /// <summary>Adds <paramref name="files"/> (name, content) to directory <paramref name="directory"/>.</summary>
    public FakeCgroupFileSystem AddFiles(string directory, IEnumerable<KeyValuePair<string, string>> files)
    {
        foreach (var (name, content) in files)
            AddFile(directory + "/" + name, content);
        return this;
    }

    /// <summary>Makes writes to <paramref name="path"/> fail with <paramref name="errno"/> (only those of <paramref name="content"/>, when given).</summary>
    public FakeCgroupFileSystem FailWrite(string path, int errno, string? content = null)
    {
        _failingWrites[path] = (errno, content);
        return this;
    }

    /// <summary>Makes mkdir of <paramref name="path"/> fail with <paramref name="errno"/>.</summary>
    public FakeCgroupFileSystem FailCreateDirectory(string path, int errno)
    {
        _failingCreates[path] = errno;
        return this;
    }

    /// <summary>Makes the next <paramref name="times"/> rmdirs of <paramref name="path"/> fail with <paramref name="errno"/>.</summary>
    public FakeCgroupFileSystem FailRemoveDirectory(string path, int errno, int times = int.MaxValue)
    {
        _failingRemoves[path] = (errno, times);
        return this;
    }

    /// <summary>Makes statfs report <paramref name="type"/> for <paramref name="path"/> and everything below it.</summary>
    public FakeCgroupFileSystem SetFileSystemType(string path, long type)
    {
        AddDirectory(path);
        _types.Add((path, type));
        return this;
    }

    public string ReadAllText(string path) =>
        _files.TryGetValue(path, out string? content)
            ? content
            : throw new FileNotFoundException($"Could not find file '{path}'.", path);

    public bool FileExists(string path) => _files.ContainsKey(path);

    public bool DirectoryExists(string path) => _directories.Contains(path);

    public IReadOnlyList<string> GetDirectories(string path)
    {
        if (!_directories.Contains(path))
            throw new DirectoryNotFoundException($"Could not find a part of the path '{path}'.");
        return _directories.Where(d => d != "/" && Parent(d) == path).Select(d => d[(d.LastIndexOf('/') + 1)..]).Order(StringComparer.Ordinal).ToArray();
    }

    public long GetFileSystemType(string path)
    {
        StatfsCalls.Add(path);
        if (!_directories.Contains(path) && !_files.ContainsKey(path))
            throw new FileNotFoundException($"statfs `{path}`: No such file or directory", path);
        long type = DefaultMagic;
        int best = -1;
        foreach (var (prefix, magic) in _types)
        {
            bool covers = prefix == "/" || path == prefix || path.StartsWith(prefix + "/", StringComparison.Ordinal);
            if (covers && prefix.Length >= best)
            {
                best = prefix.Length;
                type = magic;
            }
        }
        return type;
    }

    /// <summary>
    /// Stores <paramref name="content"/> as the file's new contents, except for cgroup.procs,
    /// where (as in the kernel) a written pid joins the list the file shows.
    /// </summary>
    public void WriteControlFile(string path, string content)
    {
        if (!_files.TryGetValue(path, out string? old))
            throw new CgroupWriteException(path, 2, $"open `{content}` for writing: No such file or directory");
        if (_failingWrites.TryGetValue(path, out var failure) && (failure.Content is null || failure.Content == content))
            throw new CgroupWriteException(path, failure.Errno, $"write `{content}`: error {failure.Errno}");
        Writes.Add((path, content));
        _files[path] = path.EndsWith("/cgroup.procs", StringComparison.Ordinal) ? old + content.Trim() + "\n" : content;
        AfterWrite?.Invoke(path, content);
    }

    public void CreateDirectory(string path)
    {
        if (_failingCreates.TryGetValue(path, out int errno))
            throw new CgroupWriteException(path, errno, $"mkdir: error {errno}");
        if (_directories.Contains(path) || _files.ContainsKey(path))
            throw new CgroupWriteException(path, 17, "mkdir: File exists");
        if (!_directories.Contains(Parent(path)))
            throw new CgroupWriteException(path, 2, "mkdir: No such file or directory");
        _directories.Add(path);
        CreatedDirectories.Add(path);
        AfterCreateDirectory?.Invoke(path);
    }

    /// <summary>
    /// rmdir as cgroupfs does it: the control files go with the directory, but a child directory
    /// or a process in cgroup.procs makes it EBUSY.
    /// </summary>
    public void RemoveDirectory(string path)
    {
        if (_failingRemoves.TryGetValue(path, out var failure) && failure.Times > 0)
        {
            _failingRemoves[path] = (failure.Errno, failure.Times - 1);
            throw new CgroupWriteException(path, failure.Errno, $"rmdir: error {failure.Errno}");
        }
        if (!_directories.Contains(path))
            throw new CgroupWriteException(path, 2, "rmdir: No such file or directory");
        if (_directories.Any(d => d != "/" && Parent(d) == path)
            || (_files.TryGetValue(path + "/cgroup.procs", out string? procs) && procs.Trim().Length > 0))
            throw new CgroupWriteException(path, 16, "rmdir: Device or resource busy");
        foreach (string file in _files.Keys.Where(f => Parent(f) == path).ToArray())
            _files.Remove(file);
        _directories.Remove(path);
        RemovedDirectories.Add(path);
    }

    private static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }
}
