using static Sandboxing.Cgroups.Tests.V1TestTree;

namespace Sandboxing.Cgroups.Tests;

/// <summary><see cref="CgroupFactory"/> picks the backend for the host's <see cref="CgroupMode"/>, on fake trees.</summary>
public class FactoryTests
{
    private const string Name = "sandbox-1";

    [Fact]
    public void A_hybrid_host_gets_v1_cgroups_plus_one_in_the_unified_hierarchy()
    {
        var fs = HybridHost();

        var cgroup = CgroupFactory.Create(CgroupHost.Detect(fs), Name, new CgroupLimits { PidsMax = 10 }, fs: fs);

        Assert.IsType<V1Cgroup>(cgroup);
        Assert.Equal(Unified + "/" + Name, cgroup.UnifiedDirectory);
        Assert.Equal(6, cgroup.ProcsFiles.Count);
        Assert.Contains((Root + "/pids/" + Name + "/pids.max", "10"), fs.Writes);
    }

    [Fact]
    public void A_legacy_host_gets_v1_cgroups_only()
    {
        var fs = CentOs7();

        var cgroup = CgroupFactory.Create(CgroupHost.Detect(fs), Name, new CgroupLimits(), new CgroupPlacement { MoveCallerToLeaf = true }, fs);

        Assert.IsType<V1Cgroup>(cgroup);
        Assert.Null(cgroup.UnifiedDirectory);
        Assert.All(cgroup.ProcsFiles, p => Assert.DoesNotContain("unified", p, StringComparison.Ordinal));
    }

    [Fact]
    public void A_unified_host_gets_the_v2_backend_under_the_callers_cgroup_or_the_configured_parent()
    {
        var kernel = new V2FakeKernel();
        var host = CgroupHost.Detect(kernel.Fs);
        Assert.Equal(CgroupMode.Unified, host.Mode);

        var own = CgroupFactory.Create(host, Name, new CgroupLimits { PidsMax = 10 }, fs: kernel.Fs);
        kernel.AddCgroup(V2FakeKernel.Mount + "/sandboxes");
        var placed = CgroupFactory.Create(host, Name, new CgroupLimits(), new CgroupPlacement { ParentDirectory = V2FakeKernel.Mount + "/sandboxes" }, kernel.Fs);

        Assert.IsType<V2Cgroup>(own);
        Assert.Equal(V2FakeKernel.Caller + "/" + Name, own.UnifiedDirectory);
        Assert.Equal(V2FakeKernel.Mount + "/sandboxes/" + Name, placed.UnifiedDirectory);
        Assert.Equal(1, CgroupFactory.RemoveStale(host, "sandbox-", fs: kernel.Fs));
        Assert.False(kernel.Fs.DirectoryExists(own.UnifiedDirectory!));
    }

    [Fact]
    public void A_parent_directory_on_a_v1_host_is_an_error_that_says_it_is_for_v2()
    {
        var fs = HybridHost();
        var placement = new CgroupPlacement { ParentDirectory = Root + "/memory/sandboxes" };

        var e = Assert.Throws<InvalidOperationException>(() => CgroupFactory.Create(CgroupHost.Detect(fs), Name, new CgroupLimits(), placement, fs));

        Assert.Contains("ParentDirectory", e.Message, StringComparison.Ordinal);
        Assert.Contains("Hybrid", e.Message, StringComparison.Ordinal);
        Assert.Empty(fs.CreatedDirectories);
        Assert.Throws<InvalidOperationException>(() => CgroupFactory.RemoveStale(CgroupHost.Detect(fs), "sandbox-", placement, fs));
    }

    [Fact]
    public void Without_a_usable_hierarchy_the_error_says_so_and_why()
    {
        var fs = new FakeCgroupFileSystem(); // no /proc at all
        var host = CgroupHost.Detect(fs);
        Assert.Equal(CgroupMode.None, host.Mode);

        var e = Assert.Throws<InvalidOperationException>(() => CgroupFactory.Create(host, Name, new CgroupLimits(), fs: fs));

        Assert.Contains("No usable cgroup hierarchy was found", e.Message, StringComparison.Ordinal);
        Assert.Contains("/proc/self/cgroup", e.Message, StringComparison.Ordinal); // from host.Notes
        Assert.Throws<InvalidOperationException>(() => CgroupFactory.RemoveStale(host, "sandbox-", fs: fs));
    }

    [Fact]
    public async Task RemoveStale_on_a_hybrid_host_removes_leftovers_from_the_v1_and_unified_hierarchies()
    {
        var fs = HybridHost();
        var host = CgroupHost.Detect(fs);
        CgroupFactory.Create(host, "sandbox-crashed", new CgroupLimits(), fs: fs);
        var live = CgroupFactory.Create(host, "other-live", new CgroupLimits(), fs: fs);

        Assert.Equal(1, CgroupFactory.RemoveStale(host, "sandbox-", fs: fs));

        Assert.Empty(DirectoriesNamed(fs, "sandbox-crashed"));
        Assert.Equal(6, DirectoriesNamed(fs, "other-live").Length);
        await live.DestroyAsync();
        Assert.Empty(DirectoriesNamed(fs, "other-live"));
    }
}

/// <summary>Optional limits: dropped only when the user said so, and only those the host cannot enforce.</summary>
public class OptionalLimitTests
{
    [Fact]
    public void Limits_whose_controller_is_missing_are_dropped_only_when_optional()
    {
        const string session = "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope";
        var fs = FakeCgroupFileSystem.FromFixture("pure-v2-systemd")
            .AddFile("/sys/fs/cgroup/cgroup.controllers", "memory pids\n")
            .AddFile(session + "/cgroup.controllers", "memory pids\n");
        var host = CgroupHost.Detect(fs);
        var limits = new CgroupLimits { MemoryBytes = 64L << 20, Cpus = 0.5, CpusetCpus = "0", PidsMax = 8 };

        var kept = limits.WithoutUnavailableControllers(host, out var skipped);

        Assert.Equal(["cpu", "cpuset"], skipped);
        Assert.Equal(64L << 20, kept.MemoryBytes);
        Assert.Equal(8, kept.PidsMax);
        Assert.Null(kept.Cpus);
        Assert.Null(kept.CpusetCpus);
        Assert.Equal(0.5, limits.Cpus);
    }
}
