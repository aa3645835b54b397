using System.Globalization;

namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// A pure cgroup v2 host on a <see cref="FakeCgroupFileSystem"/>, with the kernel's rules played
/// on writes: a new cgroup gets the control files of the controllers its parent enabled;
/// cgroup.subtree_control takes "+a -b" and refuses controllers the cgroup is not offered
/// (ENOENT) or, outside the root, while the cgroup has processes (EBUSY: no internal processes);
/// cgroup.procs moves a pid (EBUSY into a cgroup that enabled controllers for children);
/// cgroup.freeze and cgroup.kill update cgroup.events. The caller (from Fixtures/v2-service) is in
/// /system.slice/app.service, a service with Delegate=yes.
/// </summary>
internal sealed class V2FakeKernel
{
    public const string Mount = "/sys/fs/cgroup";
    public const string Caller = Mount + "/system.slice/app.service";
    public const string AllControllers = "cpuset cpu io memory hugetlb pids rdma misc";
    public static readonly int Self = Environment.ProcessId;

    private static readonly string[] KernelOrder = AllControllers.Split(' ');
    private readonly Dictionary<string, List<int>> _procs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _subtree = new(StringComparer.Ordinal);

    /// <param name="offered">What the caller's cgroup lists in cgroup.controllers (what systemd delegated).</param>
    /// <param name="callerPids">The processes in the caller's cgroup.</param>
    public V2FakeKernel(string offered = "cpuset cpu io memory pids", int[]? callerPids = null)
    {
        Fs = FakeCgroupFileSystem.FromFixture("v2-service");
        Fs.AddFiles(Mount, new Dictionary<string, string>
        {
            // The root cgroup: no cgroup.events, cgroup.freeze, cgroup.kill or cgroup.type there.
            ["cgroup.controllers"] = AllControllers + "\n",
            ["cgroup.subtree_control"] = offered + "\n",
            ["cgroup.procs"] = "",
            ["cpu.stat"] = "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
        });
        _procs[Mount] = [];
        _subtree[Mount] = new(Words(offered), StringComparer.Ordinal);
        AddCgroup(Mount + "/system.slice");
        Fs.AddFile(Mount + "/system.slice/cgroup.subtree_control", offered + "\n");
        _subtree[Mount + "/system.slice"] = new(Words(offered), StringComparer.Ordinal);
        AddCgroup(Caller);
        foreach (int pid in callerPids ?? [])
            AddProcess(Caller, pid);
        Fs.AfterCreateDirectory = path => MakeCgroupFiles(path);
        Fs.AfterWrite = OnWrite;
        Hierarchy = CgroupHost.Detect(Fs).Unified!;
        Assert.Equal(Caller, Hierarchy.Directory);
    }

    public FakeCgroupFileSystem Fs { get; }

    public UnifiedCgroupHierarchy Hierarchy { get; }

    /// <summary>Whether new cgroups get cgroup.kill (Linux 5.14).</summary>
    public bool HasKill { get; set; } = true;

    /// <summary>Whether writing cgroup.freeze gets cgroup.events to follow (false: stuck freezing).</summary>
    public bool FreezeTakesEffect { get; set; } = true;

    /// <summary>Whether cgroup.kill empties the cgroup (false: processes that never die).</summary>
    public bool KillTakesEffect { get; set; } = true;

    /// <summary>Pids cgroup.kill killed.</summary>
    public List<int> KilledByCgroupKill { get; } = [];

    public string Read(string directory, string file) => Fs.ReadAllText(directory + "/" + file).TrimEnd('\n');

    public bool Wrote(string path) => Fs.Writes.Any(w => w.Path == path);

    /// <summary>A cgroup made behind the library's back (by the test, or by "someone else").</summary>
    public V2FakeKernel AddCgroup(string directory)
    {
        Fs.AddDirectory(directory);
        MakeCgroupFiles(directory);
        return this;
    }

    public V2FakeKernel AddProcess(string directory, int pid)
    {
        foreach (var list in _procs.Values)
            list.Remove(pid);
        _procs[directory].Add(pid);
        Refresh();
        return this;
    }

    public void RemoveProcess(int pid)
    {
        foreach (var list in _procs.Values)
            list.Remove(pid);
        Refresh();
    }

    public IReadOnlyList<int> ProcessesIn(string directory) => _procs.TryGetValue(directory, out var list) ? list : [];

    private void MakeCgroupFiles(string directory)
    {
        string parentEnabled = Fs.ReadAllText(Parent(directory) + "/cgroup.subtree_control").Trim();
        var files = new Dictionary<string, string>
        {
            ["cgroup.controllers"] = parentEnabled + "\n",
            ["cgroup.subtree_control"] = "",
            ["cgroup.procs"] = "",
            ["cgroup.type"] = "domain\n",
            ["cgroup.events"] = "populated 0\nfrozen 0\n",
            ["cgroup.freeze"] = "0\n",
            ["cpu.stat"] = "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n",
        };
        if (HasKill)
            files["cgroup.kill"] = "";
        Fs.AddFiles(directory, files);
        foreach (string controller in Words(parentEnabled))
            Fs.AddFiles(directory, ControllerFiles(controller));
        _procs[directory] = [];
        _subtree.Remove(directory);
    }

    private static Dictionary<string, string> ControllerFiles(string controller) => controller switch
    {
        "memory" => new()
        {
            ["memory.current"] = "0\n", ["memory.peak"] = "0\n", ["memory.max"] = "max\n", ["memory.swap.max"] = "max\n",
            ["memory.low"] = "0\n", ["memory.high"] = "max\n",
            ["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
        },
        "cpu" => new() { ["cpu.max"] = "max 100000\n", ["cpu.weight"] = "100\n" },
        "cpuset" => new() { ["cpuset.cpus"] = "\n", ["cpuset.mems"] = "\n", ["cpuset.cpus.effective"] = "0-3\n" },
        "pids" => new() { ["pids.max"] = "max\n", ["pids.current"] = "0\n", ["pids.events"] = "max 0\n" },
        "io" => new() { ["io.max"] = "", ["io.stat"] = "" },
        _ => [],
    };

    private void OnWrite(string path, string content)
    {
        string directory = Parent(path);
        switch (path[(path.LastIndexOf('/') + 1)..])
        {
            case "cgroup.subtree_control":
                WriteSubtreeControl(directory, path, content);
                break;
            case "cgroup.procs":
                int pid = int.Parse(content.Trim(), CultureInfo.InvariantCulture);
                if (directory != Mount && Enabled(directory).Count > 0)
                {
                    Refresh(); // Undo the fake's append.
                    throw new CgroupWriteException(path, 16, "write: Device or resource busy");
                }
                AddProcess(directory, pid);
                break;
            case "cgroup.freeze":
                if (FreezeTakesEffect)
                    SetEvent(directory, frozen: content.Trim());
                break;
            case "cgroup.kill":
                if (KillTakesEffect)
                {
                    foreach (var (dir, list) in _procs.Where(p => p.Key == directory || p.Key.StartsWith(directory + "/", StringComparison.Ordinal)))
                    {
                        KilledByCgroupKill.AddRange(list);
                        list.Clear();
                    }
                    Refresh();
                }
                break;
        }
    }

    private void WriteSubtreeControl(string directory, string path, string content)
    {
        var offered = Words(Fs.ReadAllText(directory + "/cgroup.controllers"));
        var old = Enabled(directory);
        var next = new HashSet<string>(old, StringComparer.Ordinal);
        bool adding = false;
        foreach (string token in Words(content))
        {
            string controller = token[1..];
            if (token[0] == '+')
            {
                if (!offered.Contains(controller))
                {
                    Fs.AddFile(path, string.Join(' ', Ordered(old)) + "\n"); // Undo the fake's store.
                    throw new CgroupWriteException(path, 2, "write: No such file or directory");
                }
                adding |= next.Add(controller);
            }
            else
            {
                next.Remove(controller);
            }
        }
        if (adding && directory != Mount && _procs[directory].Count > 0)
        {
            Fs.AddFile(path, string.Join(' ', Ordered(old)) + "\n");
            throw new CgroupWriteException(path, 16, "write: Device or resource busy");
        }
        _subtree[directory] = next;
        string text = string.Join(' ', Ordered(next));
        Fs.AddFile(path, text + "\n");
        foreach (string child in Fs.GetDirectories(directory))
        {
            string childDirectory = directory + "/" + child;
            if (!Fs.FileExists(childDirectory + "/cgroup.controllers"))
                continue;
            Fs.AddFile(childDirectory + "/cgroup.controllers", text + "\n");
            foreach (string controller in next.Except(old))
                Fs.AddFiles(childDirectory, ControllerFiles(controller));
        }
    }

    /// <summary>What a cgroup's subtree_control holds (kept here: the fake stores a write's raw text before we see it).</summary>
    private HashSet<string> Enabled(string directory) =>
        _subtree.TryGetValue(directory, out var set) ? set : new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Rewrites every cgroup.procs and the populated key of every cgroup.events from the process table.</summary>
    private void Refresh()
    {
        foreach (var (directory, list) in _procs)
        {
            if (!Fs.DirectoryExists(directory))
                continue;
            Fs.AddFile(directory + "/cgroup.procs", string.Concat(list.Select(p => p + "\n")));
            if (Fs.FileExists(directory + "/cgroup.events"))
            {
                bool populated = _procs.Any(p => (p.Key == directory || p.Key.StartsWith(directory + "/", StringComparison.Ordinal)) && p.Value.Count > 0);
                SetEvent(directory, populated: populated ? "1" : "0");
            }
        }
    }

    private void SetEvent(string directory, string? populated = null, string? frozen = null)
    {
        string events = Fs.ReadAllText(directory + "/cgroup.events");
        populated ??= Value(events, "populated");
        frozen ??= Value(events, "frozen");
        Fs.AddFile(directory + "/cgroup.events", $"populated {populated}\nfrozen {frozen}\n");

        static string Value(string text, string key) =>
            text.Split('\n').First(l => l.StartsWith(key + " ", StringComparison.Ordinal))[(key.Length + 1)..];
    }

    private static IEnumerable<string> Ordered(IEnumerable<string> controllers) => controllers.OrderBy(c => Array.IndexOf(KernelOrder, c));

    private static string[] Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static string Parent(string path) => path[..path.LastIndexOf('/')];
}
