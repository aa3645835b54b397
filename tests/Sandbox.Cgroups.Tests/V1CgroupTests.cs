using System.Collections.Immutable;
using static Sandboxing.Cgroups.Tests.V1TestTree;

namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// The v1 backend against fake cgroup trees whose new cgroups get the control files a real
/// kernel gives them (<see cref="V1TestTree"/>): which directories are made, which files are
/// written in which order, how the statistics are read, and that nothing is left behind.
/// </summary>
public class V1CgroupTests
{
    private const string Name = "sandbox-test";
    private const long MiB = 1024 * 1024;
    private const int EINVAL = 22;
    private const int EACCES = 13;
    private const int EBUSY = 16;

    private const string Memory = MemoryParent + "/" + Name;
    private const string Cpu = Root + "/cpu/" + Name;
    private const string Cpuacct = Root + "/cpuacct/" + Name;
    private const string Cpuset = Root + "/cpuset/" + Name;
    private const string Pids = Root + "/pids/" + Name;
    private const string Freezer = Root + "/freezer/" + Name;
    private const string Blkio = Root + "/blkio/" + Name;
    private const string UnifiedChild = Unified + "/" + Name;

    private static V1Cgroup CreateHybrid(FakeCgroupFileSystem fs, CgroupLimits limits) =>
        V1Cgroup.Create(Detect(fs), Name, limits, CgroupHost.Detect(fs).Unified, fs);

    private static (string Path, string Content)[] WritesUnder(FakeCgroupFileSystem fs, params string[] directories) =>
        fs.Writes.Where(w => directories.Any(d => w.Path.StartsWith(d + "/", StringComparison.Ordinal))).ToArray();

    // ---- creation --------------------------------------------------------------------------

    [Fact]
    public void Without_limits_it_joins_memory_cpu_cpuacct_pids_freezer_and_the_unified_hierarchy_under_the_callers_cgroups()
    {
        var fs = HybridHost();

        var cgroup = CreateHybrid(fs, new CgroupLimits());

        Assert.Equal([Memory, Cpu, Cpuacct, Pids, Freezer, UnifiedChild], fs.CreatedDirectories);
        Assert.Equal(fs.CreatedDirectories.Select(d => d + "/cgroup.procs"), cgroup.ProcsFiles);
        Assert.Equal(UnifiedChild, cgroup.UnifiedDirectory);
        Assert.Equal(Name, cgroup.Name);
        Assert.Empty(fs.Writes);
        // Every parent was checked to be a real cgroup before mkdir (/sys/fs/cgroup is tmpfs here).
        foreach (string parent in new[] { MemoryParent, Root + "/cpu", Root + "/cpuacct", Root + "/pids", Root + "/freezer", Unified })
            Assert.Contains(parent, fs.StatfsCalls);
        // No cpuset (it would need filling in) or blkio (nothing to report) without limits using them.
        Assert.False(fs.DirectoryExists(Cpuset));
        Assert.False(fs.DirectoryExists(Blkio));
    }

    [Fact]
    public void Controllers_mounted_together_share_one_directory_and_a_legacy_host_has_no_unified_one()
    {
        var fs = CentOs7();
        var host = Detect(fs);

        var cgroup = V1Cgroup.Create(host, Name, new CgroupLimits { Cpus = 0.5 }, unified: null, fs);

        Assert.Equal(
            [$"{Root}/memory/user.slice/{Name}", $"{Root}/cpu,cpuacct/user.slice/{Name}", $"{Root}/pids/user.slice/{Name}", $"{Root}/freezer/{Name}"],
            fs.CreatedDirectories);
        Assert.Null(cgroup.UnifiedDirectory);
        Assert.Equal(
            [($"{Root}/cpu,cpuacct/user.slice/{Name}/cpu.cfs_period_us", "100000"), ($"{Root}/cpu,cpuacct/user.slice/{Name}/cpu.cfs_quota_us", "50000")],
            fs.Writes);
    }

    [Fact]
    public void A_parent_that_statfs_says_is_tmpfs_is_refused_before_anything_is_made()
    {
        var fs = HybridHost();
        var host = Detect(fs);
        fs.SetFileSystemType(Root + "/pids", CgroupFilesystem.TmpfsMagic); // unmounted after detection

        var e = Assert.Throws<InvalidOperationException>(() => V1Cgroup.Create(host, Name, new CgroupLimits(), host.Unified, fs));

        Assert.Contains("/sys/fs/cgroup/pids is on tmpfs", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Root + "/pids/" + Name, fs.CreatedDirectories);
        Assert.Empty(DirectoriesNamed(fs, Name));
        Assert.Equal(fs.CreatedDirectories.AsEnumerable().Reverse(), fs.RemovedDirectories);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("line\nbreak")]
    public void Names_that_are_not_one_path_component_are_refused(string name)
    {
        var fs = HybridHost();
        Assert.ThrowsAny<ArgumentException>(() => V1Cgroup.Create(Detect(fs), name, new CgroupLimits(), null, fs));
        Assert.Empty(fs.CreatedDirectories);
    }

    [Fact]
    public void An_existing_cgroup_of_the_same_name_is_an_error_that_points_at_RemoveStale()
    {
        var fs = HybridHost();
        fs.AddDirectory(Pids);

        var e = Assert.Throws<CgroupWriteException>(() => CreateHybrid(fs, new CgroupLimits()));

        Assert.Equal(17, e.ErrorNumber);
        Assert.Contains("RemoveStale", e.Message, StringComparison.Ordinal);
        Assert.Equal([Memory, Cpu, Cpuacct], fs.RemovedDirectories.AsEnumerable().Reverse());
        Assert.True(fs.DirectoryExists(Pids)); // not ours: left alone
    }

    // ---- memory ----------------------------------------------------------------------------

    [Fact]
    public void Memory_with_a_smaller_total_lowers_the_memory_limit_before_the_memsw_limit()
    {
        var fs = HybridHost();
        EnforceMemswRule(fs, Memory);

        CreateHybrid(fs, new CgroupLimits { MemoryBytes = 64 * MiB, MemorySwapBytes = 128 * MiB, MemoryReservationBytes = 32 * MiB });

        // A new cgroup's limits are "unlimited" (9223372036854771712), above the new total.
        Assert.Equal(
            [(Memory + "/memory.limit_in_bytes", "67108864"), (Memory + "/memory.memsw.limit_in_bytes", "134217728"), (Memory + "/memory.soft_limit_in_bytes", "33554432")],
            fs.Writes);
    }

    [Fact]
    public void Raising_memory_above_the_current_limit_raises_memsw_first()
    {
        var fs = HybridHost();
        EnforceMemswRule(fs, Memory);
        var cgroup = CreateHybrid(fs, new CgroupLimits { MemoryBytes = 64 * MiB, MemorySwapBytes = 64 * MiB });
        fs.Writes.Clear();

        cgroup.Apply(new CgroupLimits { MemoryBytes = 256 * MiB, MemorySwapBytes = 512 * MiB });

        Assert.Equal([(Memory + "/memory.memsw.limit_in_bytes", "536870912"), (Memory + "/memory.limit_in_bytes", "268435456")], fs.Writes);
    }

    [Fact]
    public void Unlimited_swap_is_written_first_as_minus_one()
    {
        var fs = HybridHost();
        EnforceMemswRule(fs, Memory);

        CreateHybrid(fs, new CgroupLimits { MemoryBytes = 64 * MiB, MemorySwapBytes = -1 });

        Assert.Equal([(Memory + "/memory.memsw.limit_in_bytes", "-1"), (Memory + "/memory.limit_in_bytes", "67108864")], fs.Writes);
    }

    [Fact]
    public void A_swap_limit_alone_bounds_memory_to_the_same_total()
    {
        var fs = HybridHost();
        EnforceMemswRule(fs, Memory);

        CreateHybrid(fs, new CgroupLimits { MemorySwapBytes = 100 * MiB });

        Assert.Equal([(Memory + "/memory.limit_in_bytes", "104857600"), (Memory + "/memory.memsw.limit_in_bytes", "104857600")], fs.Writes);
    }

    [Fact]
    public void Unlimited_swap_alone_leaves_the_memory_limit_as_it_is()
    {
        var fs = HybridHost();
        EnforceMemswRule(fs, Memory);

        CreateHybrid(fs, new CgroupLimits { MemorySwapBytes = -1 });

        Assert.Equal([(Memory + "/memory.memsw.limit_in_bytes", "-1")], fs.Writes);
    }

    [Fact]
    public void Without_swap_accounting_a_swap_limit_with_memory_is_an_error_naming_it_and_nothing_is_left()
    {
        var fs = HybridHost();
        var populate = fs.AfterCreateDirectory!;
        fs.AfterCreateDirectory = d =>
        {
            populate(d);
            if (d == Memory)
                fs.RemoveFile(Memory + "/memory.memsw.limit_in_bytes"); // swapaccount=0
        };

        var e = Assert.Throws<InvalidOperationException>(() => CreateHybrid(fs, new CgroupLimits { MemoryBytes = 64 * MiB, MemorySwapBytes = 64 * MiB }));

        Assert.Contains("MemorySwapBytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("memory.memsw.limit_in_bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("swapaccount=1", e.Message, StringComparison.Ordinal);
        Assert.Empty(DirectoriesNamed(fs, Name));
    }

    [Fact]
    public void Without_swap_accounting_a_swap_limit_alone_still_sets_the_memory_limit()
    {
        var fs = HybridHost();
        var populate = fs.AfterCreateDirectory!;
        fs.AfterCreateDirectory = d =>
        {
            populate(d);
            if (d == Memory)
                fs.RemoveFile(Memory + "/memory.memsw.limit_in_bytes");
        };

        CreateHybrid(fs, new CgroupLimits { MemorySwapBytes = 100 * MiB });

        Assert.Equal([(Memory + "/memory.limit_in_bytes", "104857600")], fs.Writes);
    }

    [Theory]
    [InlineData(128L, 64L)]
    [InlineData(-1L, 64L)]
    [InlineData(0L, null)]
    [InlineData(null, -2L)]
    public void Impossible_memory_limits_are_refused_before_anything_is_made(long? memory, long? memorySwap)
    {
        var fs = HybridHost();
        Assert.ThrowsAny<ArgumentException>(() => CreateHybrid(fs, new CgroupLimits { MemoryBytes = memory * MiB, MemorySwapBytes = memorySwap * MiB }));
        Assert.Empty(fs.CreatedDirectories);
    }

    // ---- cpu, cpuset, pids, blkio ----------------------------------------------------------

    [Fact]
    public void Cpus_become_a_quota_per_100_ms_period_and_shares_are_written_as_they_are()
    {
        var fs = HybridHost();

        CreateHybrid(fs, new CgroupLimits { Cpus = 0.2, CpuShares = 512 });

        Assert.Equal([(Cpu + "/cpu.cfs_period_us", "100000"), (Cpu + "/cpu.cfs_quota_us", "20000"), (Cpu + "/cpu.shares", "512")], fs.Writes);
    }

    [Fact]
    public void A_refused_period_is_retried_after_the_quota()
    {
        var fs = HybridHost();
        fs.AfterCreateDirectory += d =>
        {
            if (d == Cpu)
                fs.FailWrite(Cpu + "/cpu.cfs_period_us", EINVAL);
        };
        var cgroup = CreateHybrid(fs, new CgroupLimits());
        fs.AfterWrite = (path, _) =>
        {
            if (path == Cpu + "/cpu.cfs_quota_us")
                fs.FailWrite(Cpu + "/cpu.cfs_period_us", EINVAL, "no such content");
        };

        cgroup.Apply(new CgroupLimits { Cpus = 1.5 });

        Assert.Equal([(Cpu + "/cpu.cfs_quota_us", "150000"), (Cpu + "/cpu.cfs_period_us", "100000")], fs.Writes);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.004)]
    [InlineData(double.NaN)]
    public void Cpus_below_a_1_ms_quota_are_refused(double cpus)
    {
        var fs = HybridHost();
        Assert.Throws<ArgumentOutOfRangeException>(() => CreateHybrid(fs, new CgroupLimits { Cpus = cpus }));
    }

    [Fact]
    public void A_new_cpuset_cgroup_gets_the_parents_mems_and_the_limits_cpus_before_anything_can_join()
    {
        var fs = HybridHost();

        var cgroup = CreateHybrid(fs, new CgroupLimits { CpusetCpus = "1" });

        Assert.Equal([Memory, Cpu, Cpuacct, Cpuset, Pids, Freezer, UnifiedChild], fs.CreatedDirectories);
        Assert.Contains(Cpuset + "/cgroup.procs", cgroup.ProcsFiles);
        // The fixture's cpuset.cpus and cpuset.mems are empty, as in a real new v1 cpuset cgroup.
        Assert.Equal("", Fixture("cpuset")["cpuset.cpus"].Trim());
        Assert.Equal([(Cpuset + "/cpuset.mems", "0"), (Cpuset + "/cpuset.cpus", "1")], fs.Writes);
    }

    [Fact]
    public void Cpuset_mems_alone_copies_the_parents_cpus()
    {
        var fs = HybridHost();

        CreateHybrid(fs, new CgroupLimits { CpusetMems = "0" });

        Assert.Equal([(Cpuset + "/cpuset.cpus", "0-1"), (Cpuset + "/cpuset.mems", "0")], fs.Writes);
    }

    [Fact]
    public void Cpuset_limits_after_creation_are_an_error_naming_the_controller()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, new CgroupLimits());

        var e = Assert.Throws<InvalidOperationException>(() => cgroup.Apply(new CgroupLimits { CpusetCpus = "0" }));

        Assert.Contains("cpuset", e.Message, StringComparison.Ordinal);
        Assert.Contains("CpusetCpus", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pids_max_is_a_number_or_max()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, new CgroupLimits { PidsMax = 16 });
        cgroup.Apply(new CgroupLimits { PidsMax = -1 });

        Assert.Equal([(Pids + "/pids.max", "16"), (Pids + "/pids.max", "max")], fs.Writes);
    }

    [Fact]
    public void Io_throttles_join_blkio_and_write_one_device_rule_per_write()
    {
        var fs = HybridHost();

        var cgroup = CreateHybrid(fs, new CgroupLimits
        {
            IoThrottles = [new(8, 0, IoThrottleKind.ReadBytesPerSecond, 1_048_576), new(8, 16, IoThrottleKind.WriteOperationsPerSecond, 100)],
        });

        Assert.Contains(Blkio + "/cgroup.procs", cgroup.ProcsFiles);
        Assert.Equal(
            [(Blkio + "/blkio.throttle.read_bps_device", "8:0 1048576"), (Blkio + "/blkio.throttle.write_iops_device", "8:16 100")],
            fs.Writes);
    }

    // ---- missing controllers and failures --------------------------------------------------

    [Fact]
    public void A_limit_whose_controller_the_host_lacks_is_an_error_naming_it_and_nothing_is_made()
    {
        var fs = WithoutPids();

        var e = Assert.Throws<InvalidOperationException>(() => CreateHybrid(fs, new CgroupLimits { MemoryBytes = 64 * MiB, PidsMax = 16 }));

        Assert.Contains("pids controller", e.Message, StringComparison.Ordinal);
        Assert.Contains("PidsMax", e.Message, StringComparison.Ordinal);
        Assert.Empty(fs.CreatedDirectories);
    }

    [Fact]
    public void Without_a_limit_needing_it_a_missing_controller_is_simply_not_joined()
    {
        var fs = WithoutPids();

        var cgroup = CreateHybrid(fs, new CgroupLimits { MemoryBytes = 64 * MiB });

        Assert.Equal([Memory, Cpu, Cpuacct, Freezer, UnifiedChild], fs.CreatedDirectories);
        Assert.Null(cgroup.GetStats().PidsCurrent);
        Assert.Equal(0, cgroup.GetEvents().PidsLimitHits);
    }

    [Fact]
    public void A_refused_limit_removes_every_directory_made_so_far()
    {
        var fs = HybridHost();
        fs.AfterCreateDirectory += d =>
        {
            if (d == Pids)
                fs.FailWrite(Pids + "/pids.max", EINVAL);
        };

        var e = Assert.Throws<CgroupWriteException>(() => CreateHybrid(fs, new CgroupLimits { MemoryBytes = 64 * MiB, PidsMax = 16 }));

        Assert.Equal(EINVAL, e.ErrorNumber);
        Assert.Equal(Pids + "/pids.max", e.Path);
        Assert.Equal(fs.CreatedDirectories.AsEnumerable().Reverse(), fs.RemovedDirectories);
        Assert.Empty(DirectoriesNamed(fs, Name));
    }

    [Fact]
    public void A_refused_mkdir_removes_what_was_made_and_says_what_is_needed()
    {
        var fs = HybridHost().FailCreateDirectory(Freezer, EACCES);

        var e = Assert.Throws<CgroupWriteException>(() => CreateHybrid(fs, new CgroupLimits()));

        Assert.Equal(EACCES, e.ErrorNumber);
        Assert.Contains("needs root", e.Message, StringComparison.Ordinal);
        Assert.Equal([Pids, Cpuacct, Cpu, Memory], fs.RemovedDirectories);
        Assert.Empty(DirectoriesNamed(fs, Name));
    }

    // ---- statistics and events -------------------------------------------------------------

    [Fact]
    public void Statistics_come_from_cpuacct_memory_pids_and_blkio_in_their_kernel_formats()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, new CgroupLimits { IoThrottles = [new(8, 0, IoThrottleKind.ReadBytesPerSecond, 1 << 20)] });
        fs.AddFile(Cpuacct + "/cpuacct.usage", "1512345678\n")
            .AddFile(Cpuacct + "/cpuacct.stat", "user 120\nsystem 30\n")
            .AddFile(Memory + "/memory.usage_in_bytes", "3067904\n")
            .AddFile(Memory + "/memory.max_usage_in_bytes", "33554432\n")
            .AddFile(Pids + "/pids.current", "3\n")
            .AddFile(Blkio + "/blkio.throttle.io_service_bytes",
                "8:16 Read 1000\n8:16 Write 24\n8:16 Sync 1024\n8:16 Async 0\n8:16 Discard 0\n8:16 Total 1024\n"
                + "8:0 Read 4096\n8:0 Write 0\n8:0 Sync 4096\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 4096\nTotal 5120\n")
            .AddFile(Blkio + "/blkio.throttle.io_serviced",
                "8:0 Read 1\n8:0 Write 2\n8:0 Sync 3\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 3\nTotal 3\n");

        var stats = cgroup.GetStats();

        Assert.Equal(TimeSpan.FromTicks(15123456), stats.CpuTotal);
        Assert.Equal(TimeSpan.FromSeconds(1.2), stats.CpuUser);
        Assert.Equal(TimeSpan.FromSeconds(0.3), stats.CpuSystem);
        Assert.Equal(3067904, stats.MemoryCurrentBytes);
        Assert.Equal(33554432, stats.MemoryPeakBytes);
        Assert.Equal(3, stats.PidsCurrent);
        Assert.Equal(5096, stats.IoReadBytes);
        Assert.Equal(24, stats.IoWriteBytes);
        Assert.Equal(1, stats.IoReadOperations);
        Assert.Equal(2, stats.IoWriteOperations);
    }

    [Fact]
    public void A_fresh_cgroup_reports_zeros_and_no_io_without_blkio()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, new CgroupLimits());

        var stats = cgroup.GetStats();

        Assert.Equal(TimeSpan.Zero, stats.CpuTotal);
        Assert.Equal(TimeSpan.Zero, stats.CpuUser);
        Assert.Equal(0, stats.MemoryCurrentBytes);
        Assert.Equal(0, stats.PidsCurrent);
        Assert.Null(stats.IoReadBytes);
        Assert.Equal(new CgroupEvents(), cgroup.GetEvents());
    }

    [Fact]
    public void Events_come_from_oom_control_failcnt_and_pids_events()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, new CgroupLimits());
        fs.AddFile(Memory + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
            .AddFile(Memory + "/memory.failcnt", "7\n")
            .AddFile(Pids + "/pids.events", "max 5\n");

        Assert.Equal(new CgroupEvents { OomKills = 2, MemoryLimitHits = 7, PidsLimitHits = 5 }, cgroup.GetEvents());

        // Before Linux 4.13 memory.oom_control had no oom_kill line.
        fs.AddFile(Memory + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 1\n");
        Assert.Equal(0, cgroup.GetEvents().OomKills);
    }

    private static FakeCgroupFileSystem WithoutPids()
    {
        // The hybrid host with the pids hierarchy neither in /proc/self/cgroup nor mounted.
        var full = FakeCgroupFileSystem.FromFixture("hybrid-this-host");
        string cgroup = string.Join('\n', full.ReadAllText("/proc/self/cgroup").Split('\n').Where(l => !l.Contains(":pids:", StringComparison.Ordinal)));
        string mountInfo = string.Join('\n', full.ReadAllText("/proc/self/mountinfo").Split('\n').Where(l => !l.EndsWith(",pids", StringComparison.Ordinal)));
        var fs = FakeCgroupFileSystem.FromText(cgroup, mountInfo)
            .AddFile(Unified + "/cgroup.controllers", "hugetlb\n")
            .AddFile(MemoryParent + "/cgroup.procs", "");
        return PopulateNewCgroups(fs);
    }

    /// <summary>Keeps memory.limit_in_bytes &lt;= memory.memsw.limit_in_bytes after every write, as the kernel does (EINVAL otherwise).</summary>
    private static void EnforceMemswRule(FakeCgroupFileSystem fs, string directory)
    {
        fs.AfterWrite = (path, _) =>
        {
            if (!path.StartsWith(directory + "/memory.", StringComparison.Ordinal) || !fs.FileExists(directory + "/memory.memsw.limit_in_bytes"))
                return;
            long limit = Effective(fs.ReadAllText(directory + "/memory.limit_in_bytes"));
            long memsw = Effective(fs.ReadAllText(directory + "/memory.memsw.limit_in_bytes"));
            Assert.True(limit <= memsw, $"after writing {path}: memory.limit_in_bytes {limit} > memory.memsw.limit_in_bytes {memsw}: the kernel would have refused this write");
        };

        static long Effective(string text) => long.Parse(text.Trim(), System.Globalization.CultureInfo.InvariantCulture) is var v && v == -1 ? long.MaxValue : v;
    }
}
