namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// <see cref="CgroupHost.Detect"/> against real /proc/self/cgroup and /proc/self/mountinfo
/// samples (Fixtures/), on a fake tree that answers statfs as the kernel would.
/// </summary>
public class DetectionTests
{
    private const string AllV2Controllers = "cpuset cpu io memory hugetlb pids rdma misc\n";

    // ---- this machine: hybrid --------------------------------------------------------------

    private const string ThisHostMemoryCgroup = "/process_api/782dc0f789f1b4ee2fc7b30e008f053d";

    private static FakeCgroupFileSystem ThisHybridHost() =>
        FakeCgroupFileSystem.FromFixture("hybrid-this-host")
            .AddDirectory("/sys/fs/cgroup/memory" + ThisHostMemoryCgroup)
            // Copied from the host: hugetlb has no v1 hierarchy here, so the kernel left it on v2.
            // The caller is in the root cgroup of v2, where cgroup.kill and cgroup.freeze never exist.
            .AddFile("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n")
            .AddFile("/sys/fs/cgroup/unified/cgroup.procs", "");

    [Fact]
    public void This_hybrid_host_has_v1_controllers_and_a_nearly_empty_unified_hierarchy()
    {
        var fs = ThisHybridHost();

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Hybrid, host.Mode);
        Assert.Empty(host.IgnoredMounts);
        Assert.Empty(host.Notes);

        var memory = host.Controllers["memory"];
        Assert.Equal(CgroupVersion.V1, memory.Version);
        Assert.Equal(4, memory.HierarchyId);
        Assert.Equal("/sys/fs/cgroup/memory", memory.MountPoint);
        Assert.Equal("/", memory.MountRoot);
        Assert.Equal(ThisHostMemoryCgroup, memory.CgroupPath);
        Assert.Equal(ThisHostMemoryCgroup, memory.PathInMount);
        Assert.Equal("/sys/fs/cgroup/memory" + ThisHostMemoryCgroup, memory.Directory);

        // cpu and cpuacct are separate hierarchies on this host, not the usual cpu,cpuacct.
        Assert.Equal("/sys/fs/cgroup/cpu", host.Controllers["cpu"].Directory);
        Assert.Equal("/sys/fs/cgroup/cpuacct", host.Controllers["cpuacct"].Directory);
        Assert.Equal("/sys/fs/cgroup/blkio", host.FindController("io")!.MountPoint);
        foreach (string v1 in new[] { "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids" })
            Assert.Equal(CgroupVersion.V1, host.Controllers[v1].Version);

        var unified = Assert.IsType<UnifiedCgroupHierarchy>(host.Unified);
        Assert.Same(unified, host.Controllers["hugetlb"]);
        Assert.Equal("/sys/fs/cgroup/unified", unified.MountPoint);
        Assert.Equal("/sys/fs/cgroup/unified", unified.Directory);
        Assert.Equal("/", unified.PathInMount);
        Assert.Equal(["hugetlb"], unified.RootControllers);
        Assert.Equal(["hugetlb"], unified.AvailableControllers);
        Assert.False(unified.HasKill);
        Assert.False(unified.HasFreeze);
        Assert.False(unified.IsNamespaceDelegated);

        var systemd = Assert.Single(host.Hierarchies, h => h.Name == "systemd");
        Assert.Empty(systemd.Controllers);
        Assert.Equal("/sys/fs/cgroup/systemd", systemd.Directory);
        Assert.Equal(10, host.Hierarchies.Count);
        Assert.Equal(9, host.Controllers.Count);
    }

    [Fact]
    public void Every_cgroup_mount_point_is_checked_with_statfs_and_the_tmpfs_parent_is_never_used()
    {
        var fs = ThisHybridHost();

        var host = CgroupHost.Detect(fs);

        Assert.Equal(
            ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/devices",
             "/sys/fs/cgroup/freezer", "/sys/fs/cgroup/blkio", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"],
            fs.StatfsCalls);
        Assert.DoesNotContain(host.Hierarchies, h => h.MountPoint == "/sys/fs/cgroup");
    }

    [Fact]
    public void A_cgroup2_mount_point_that_statfs_says_is_tmpfs_is_ignored_with_the_reason()
    {
        var fs = ThisHybridHost().SetFileSystemType("/sys/fs/cgroup/unified", CgroupFilesystem.TmpfsMagic);

        var host = CgroupHost.Detect(fs);

        Assert.Null(host.Unified);
        Assert.Equal(CgroupMode.Legacy, host.Mode);
        Assert.False(host.Controllers.ContainsKey("hugetlb"));
        var ignored = Assert.Single(host.IgnoredMounts);
        Assert.Equal("/sys/fs/cgroup/unified", ignored.Mount.MountPoint);
        Assert.Contains("tmpfs (0x1021994)", ignored.Reason, StringComparison.Ordinal);
        Assert.Contains("not a cgroup filesystem", ignored.Reason, StringComparison.Ordinal);
        Assert.Contains(host.Notes, n => n.Contains("`0::/`", StringComparison.Ordinal) && n.Contains("none usable", StringComparison.Ordinal));
    }

    [Fact]
    public void A_cgroup2_mount_hidden_under_a_tmpfs_stacked_on_it_is_ignored()
    {
        // cgroup2 mounted on /sys/fs/cgroup, then a tmpfs mounted over it and v1 hierarchies
        // inside that tmpfs: the cgroup2 line stays in mountinfo but no path reaches it.
        const string mountInfo = """
            22 26 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
            26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
            35 22 0:29 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
            50 35 0:40 / /sys/fs/cgroup rw,nosuid,nodev,noexec - tmpfs tmpfs rw,mode=755
            51 50 0:41 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
            """;
        var fs = FakeCgroupFileSystem.FromText("3:memory:/\n0::/\n", mountInfo);

        var host = CgroupHost.Detect(fs);

        var ignored = Assert.Single(host.IgnoredMounts);
        Assert.Equal(35, ignored.Mount.MountId);
        Assert.Contains("mount 50 (tmpfs at /sys/fs/cgroup", ignored.Reason, StringComparison.Ordinal);
        Assert.Equal(CgroupMode.Legacy, host.Mode);
        Assert.Equal("/sys/fs/cgroup/memory", host.Controllers["memory"].Directory);
    }

    [Fact]
    public void A_mount_under_a_parent_directory_covered_by_a_sibling_is_ignored()
    {
        // memory was mounted on /sys's own /sys/fs/cgroup/memory directory, then a tmpfs covered /sys/fs/cgroup.
        const string mountInfo = """
            22 26 0:21 / /sys rw - sysfs sysfs rw
            40 22 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            41 22 0:42 / /sys/fs/cgroup rw - tmpfs tmpfs rw
            """;
        var fs = FakeCgroupFileSystem.FromText("3:memory:/\n", mountInfo)
            .SetFileSystemType("/sys/fs/cgroup/memory", CgroupFilesystem.CgroupV1Magic);

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.None, host.Mode);
        Assert.Contains("covers a parent directory", Assert.Single(host.IgnoredMounts).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_caller_s_cgroup_directory_is_checked_to_exist()
    {
        var fs = FakeCgroupFileSystem.FromFixture("hybrid-this-host").AddFile("/sys/fs/cgroup/unified/cgroup.controllers", "");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Hybrid, host.Mode);
        string note = Assert.Single(host.Notes);
        Assert.Contains("/sys/fs/cgroup/memory" + ThisHostMemoryCgroup + " (", note, StringComparison.Ordinal);
        Assert.Contains("does not exist", note, StringComparison.Ordinal);
    }

    // ---- pure cgroup v2 ---------------------------------------------------------------------

    [Fact]
    public void A_systemd_v2_host_puts_every_controller_on_the_unified_hierarchy()
    {
        const string session = "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope";
        var fs = FakeCgroupFileSystem.FromFixture("pure-v2-systemd")
            .AddFile("/sys/fs/cgroup/cgroup.controllers", AllV2Controllers)
            .AddFile(session + "/cgroup.controllers", "memory pids\n")
            .AddFile(session + "/cgroup.kill", "")
            .AddFile(session + "/cgroup.freeze", "0\n");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Unified, host.Mode);
        Assert.Empty(host.IgnoredMounts);
        Assert.Empty(host.Notes);
        var unified = Assert.IsType<UnifiedCgroupHierarchy>(Assert.Single(host.Hierarchies));
        Assert.Same(unified, host.Unified);
        Assert.Equal(CgroupVersion.V2, unified.Version);
        Assert.Equal(0, unified.HierarchyId);
        Assert.Equal("/sys/fs/cgroup", unified.MountPoint);
        Assert.Equal("/user.slice/user-1000.slice/session-2.scope", unified.PathInMount);
        Assert.Equal(session, unified.Directory);
        Assert.Equal(["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"], unified.RootControllers);
        Assert.Equal(["memory", "pids"], unified.AvailableControllers);
        Assert.True(unified.HasKill);
        Assert.True(unified.HasFreeze);
        Assert.True(unified.IsNamespaceDelegated);
        Assert.False(unified.IsReadOnly);
        Assert.Equal(unified.RootControllers.Order(), host.Controllers.Keys.Order());
        Assert.All(host.Controllers.Values, h => Assert.Same(unified, h));
        Assert.Same(unified, host.FindController("blkio"));
        Assert.Null(host.FindController("cpuacct"));
        Assert.Null(host.FindController("freezer"));
    }

    [Fact]
    public void Docker_with_a_cgroup_namespace_shows_the_container_cgroup_as_the_root()
    {
        // The .NET app is pid 1 in the container's root cgroup; that is the namespace root, not
        // the hierarchy root, so cgroup.kill and cgroup.freeze exist there.
        var fs = FakeCgroupFileSystem.FromFixture("docker-v2-cgroupns")
            .AddFile("/sys/fs/cgroup/cgroup.controllers", AllV2Controllers)
            .AddFile("/sys/fs/cgroup/cgroup.kill", "")
            .AddFile("/sys/fs/cgroup/cgroup.freeze", "0\n");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Unified, host.Mode);
        var unified = host.Unified!;
        Assert.Equal("/", unified.CgroupPath);
        Assert.Equal("/", unified.MountRoot);
        Assert.Equal("/", unified.PathInMount);
        Assert.Equal("/sys/fs/cgroup", unified.Directory);
        Assert.True(unified.IsReadOnly);
        Assert.Equal("cgroup", unified.Mount.Source);
        Assert.True(unified.HasKill);
        Assert.Equal(unified.RootControllers, unified.AvailableControllers);
        Assert.Empty(host.IgnoredMounts);
    }

    [Fact]
    public void Docker_without_a_cgroup_namespace_bind_mounts_the_container_cgroup()
    {
        const string id = "/docker/9c1d0e5b7f3a2c4d8e6f1a0b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5";
        var fs = FakeCgroupFileSystem.FromFixture("docker-v2-no-cgroupns")
            .AddFile("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Unified, host.Mode);
        var unified = host.Unified!;
        Assert.Equal(id, unified.CgroupPath);
        Assert.Equal(id, unified.MountRoot);
        Assert.Equal("/", unified.PathInMount);
        Assert.Equal("/sys/fs/cgroup", unified.Directory);
        Assert.Equal(["cpu", "io", "memory", "pids"], host.Controllers.Keys.Order());
    }

    [Fact]
    public void A_kubernetes_pod_on_v2_is_like_docker_with_a_cgroup_namespace()
    {
        var fs = FakeCgroupFileSystem.FromFixture("kubernetes-v2")
            .AddFile("/sys/fs/cgroup/cgroup.controllers", AllV2Controllers)
            .AddFile("/sys/fs/cgroup/cgroup.kill", "")
            .AddFile("/sys/fs/cgroup/cgroup.freeze", "0\n");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Unified, host.Mode);
        Assert.Equal("/sys/fs/cgroup", host.Unified!.Directory);
        Assert.True(host.Unified.IsReadOnly);
        Assert.True(host.Unified.IsNamespaceDelegated);
        Assert.Equal(8, host.Controllers.Count);
        Assert.Empty(host.IgnoredMounts);
        Assert.Empty(host.Notes);
    }

    [Fact]
    public void WSL2_without_systemd_runs_in_the_hierarchy_root_where_there_is_no_cgroup_kill()
    {
        var fs = FakeCgroupFileSystem.FromFixture("wsl2-v2")
            .AddFile("/sys/fs/cgroup/cgroup.controllers", AllV2Controllers);

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Unified, host.Mode);
        var unified = host.Unified!;
        Assert.Equal("/sys/fs/cgroup", unified.Directory);
        Assert.Equal(["rw", "nsdelegate"], unified.Mount.SuperOptions);
        Assert.False(unified.HasKill);
        Assert.False(unified.HasFreeze);
        Assert.Same(unified.RootControllers, unified.AvailableControllers);
        Assert.Empty(host.IgnoredMounts);
    }

    [Fact]
    public void A_named_v1_hierarchy_on_a_v2_host_does_not_make_it_hybrid()
    {
        // Docker on a v2 host mounts name=systemd v1 for CentOS 7 containers that run systemd.
        const string mountInfo = """
            26 1 254:0 / / rw - ext4 /dev/vda rw
            35 26 0:29 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
            60 26 0:60 / /run/systemd-v1 rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,xattr,name=systemd
            """;
        var fs = FakeCgroupFileSystem.FromText("1:name=systemd:/\n0::/init.scope\n", mountInfo)
            .AddFile("/sys/fs/cgroup/cgroup.controllers", AllV2Controllers)
            .AddFile("/sys/fs/cgroup/init.scope/cgroup.controllers", "");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Unified, host.Mode);
        Assert.Equal(2, host.Hierarchies.Count);
        Assert.Equal("/run/systemd-v1", Assert.Single(host.Hierarchies, h => h.Version == CgroupVersion.V1).Directory);
        Assert.Empty(host.Unified!.AvailableControllers);
        Assert.Equal(8, host.Controllers.Count);
    }

    // ---- pure cgroup v1 ---------------------------------------------------------------------

    [Fact]
    public void CentOS_7_has_combined_cpu_cpuacct_and_net_cls_net_prio_hierarchies()
    {
        var fs = FakeCgroupFileSystem.FromFixture("pure-v1-centos7");
        foreach (string dir in new[] { "memory", "devices", "blkio", "pids", "cpu,cpuacct" })
            fs.AddDirectory($"/sys/fs/cgroup/{dir}/user.slice");
        fs.AddDirectory("/sys/fs/cgroup/systemd/user.slice/user-1000.slice/session-1.scope");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Legacy, host.Mode);
        Assert.Null(host.Unified);
        Assert.Empty(host.IgnoredMounts);
        Assert.Empty(host.Notes);

        var cpu = host.Controllers["cpu"];
        Assert.Same(cpu, host.Controllers["cpuacct"]);
        Assert.Equal(["cpuacct", "cpu"], cpu.Controllers);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", cpu.MountPoint);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/user.slice", cpu.Directory);
        Assert.Same(host.Controllers["net_cls"], host.Controllers["net_prio"]);
        Assert.Equal("/sys/fs/cgroup/net_cls,net_prio", host.Controllers["net_cls"].Directory);
        Assert.Equal("/sys/fs/cgroup/memory/user.slice", host.Controllers["memory"].Directory);
        Assert.Equal("/sys/fs/cgroup/cpuset", host.Controllers["cpuset"].Directory);
        Assert.Same(host.Controllers["blkio"], host.FindController("io"));
        Assert.Equal(
            ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "net_cls", "net_prio", "perf_event", "pids"],
            host.Controllers.Keys.Order());
        Assert.Equal(
            "/sys/fs/cgroup/systemd/user.slice/user-1000.slice/session-1.scope",
            Assert.Single(host.Hierarchies, h => h.Name == "systemd").Directory);
        Assert.All(host.Hierarchies, h => Assert.False(h.IsReadOnly));
    }

    [Fact]
    public void Docker_on_a_v1_host_without_a_cgroup_namespace_shows_each_hierarchy_at_the_container_cgroup()
    {
        var fs = FakeCgroupFileSystem.FromFixture("docker-v1-no-cgroupns");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.Legacy, host.Mode);
        var memory = host.Controllers["memory"];
        Assert.Equal("/docker/4f1e9a7c2b6d", memory.CgroupPath);
        Assert.Equal("/docker/4f1e9a7c2b6d", memory.MountRoot);
        Assert.Equal("/", memory.PathInMount);
        Assert.Equal("/sys/fs/cgroup/memory", memory.Directory);
        Assert.Same(host.Controllers["cpu"], host.Controllers["cpuacct"]);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", host.Controllers["cpu"].Directory);
        Assert.Equal("/sys/fs/cgroup/rdma", host.Controllers["rdma"].Directory);
        Assert.All(host.Hierarchies, h => Assert.True(h.IsReadOnly));
        // The shim's v2 cgroup is listed, but nothing mounts cgroup2 in the container.
        Assert.Null(host.Unified);
        Assert.Contains(host.Notes, n => n.Contains("`0::/system.slice/containerd.service` is not mounted", StringComparison.Ordinal));
    }

    // ---- odd cases --------------------------------------------------------------------------

    [Fact]
    public void A_mount_showing_another_cgroup_than_the_caller_s_is_ignored()
    {
        const string mountInfo = "35 26 0:29 /docker/other /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n";
        var fs = FakeCgroupFileSystem.FromText("0::/docker/mine\n", mountInfo);

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.None, host.Mode);
        Assert.Contains("does not contain the caller's cgroup /docker/mine", Assert.Single(host.IgnoredMounts).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_caller_outside_its_cgroup_namespace_root_cannot_be_placed()
    {
        var fs = FakeCgroupFileSystem.FromText("0::/../../system.slice/other.scope\n", "35 26 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");

        var host = CgroupHost.Detect(fs);

        Assert.Null(host.Unified);
        Assert.Contains("outside its cgroup namespace root", Assert.Single(host.IgnoredMounts).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mount_made_before_entering_a_cgroup_namespace_says_to_mount_again()
    {
        var fs = FakeCgroupFileSystem.FromText("0::/\n", "35 26 0:29 /../.. /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");

        var host = CgroupHost.Detect(fs);

        Assert.Contains("mount cgroupfs again inside the namespace", Assert.Single(host.IgnoredMounts).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Of_two_mounts_of_one_hierarchy_the_one_showing_more_of_it_is_used()
    {
        const string mountInfo = """
            40 26 0:41 /docker/x /mnt/mem rw - cgroup cgroup rw,memory
            41 26 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            """;
        var fs = FakeCgroupFileSystem.FromText("4:memory:/docker/x/y\n", mountInfo)
            .AddDirectory("/sys/fs/cgroup/memory/docker/x/y");

        var host = CgroupHost.Detect(fs);

        var memory = host.Controllers["memory"];
        Assert.Equal("/sys/fs/cgroup/memory/docker/x/y", memory.Directory);
        var ignored = Assert.Single(host.IgnoredMounts);
        Assert.Equal("/mnt/mem", ignored.Mount.MountPoint);
        Assert.Contains("another mount of the same hierarchy is used", ignored.Reason, StringComparison.Ordinal);
        Assert.Empty(host.Notes);
    }

    [Fact]
    public void A_v1_mount_with_no_line_in_proc_self_cgroup_is_ignored()
    {
        const string mountInfo = """
            40 26 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            41 26 0:42 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
            """;
        var fs = FakeCgroupFileSystem.FromText("4:memory:/\n", mountInfo);

        var host = CgroupHost.Detect(fs);

        Assert.Equal(["memory"], host.Controllers.Keys);
        Assert.Contains("no line of /proc/self/cgroup matches", Assert.Single(host.IgnoredMounts).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mount_point_statfs_cannot_reach_is_ignored()
    {
        var fs = new FakeCgroupFileSystem()
            .AddFile("/proc/self/cgroup", "0::/\n")
            .AddFile("/proc/self/mountinfo", "35 26 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");

        var host = CgroupHost.Detect(fs);

        Assert.Equal(CgroupMode.None, host.Mode);
        Assert.Contains("statfs failed", Assert.Single(host.IgnoredMounts).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_deleted_cgroup_is_noted()
    {
        var fs = FakeCgroupFileSystem.FromText("0::/gone.scope (deleted)\n", "35 26 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
            .AddFile("/sys/fs/cgroup/cgroup.controllers", "");

        var host = CgroupHost.Detect(fs);

        Assert.Equal("/gone.scope", host.Unified!.CgroupPath);
        Assert.True(host.Unified.Membership.IsDeleted);
        Assert.Contains(host.Notes, n => n.Contains("as deleted", StringComparison.Ordinal));
        Assert.Contains(host.Notes, n => n.Contains("/sys/fs/cgroup/gone.scope", StringComparison.Ordinal) && n.Contains("does not exist", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_proc_nothing_is_usable_and_the_notes_say_why()
    {
        var host = CgroupHost.Detect(new FakeCgroupFileSystem());

        Assert.Equal(CgroupMode.None, host.Mode);
        Assert.Empty(host.Hierarchies);
        Assert.Empty(host.Controllers);
        Assert.Contains(host.Notes, n => n.Contains("/proc/self/cgroup", StringComparison.Ordinal));
        Assert.Contains(host.Notes, n => n.Contains("mount procfs", StringComparison.Ordinal));
    }

    [Fact]
    public void The_report_lists_mode_hierarchies_and_ignored_mounts()
    {
        var host = CgroupHost.Detect(ThisHybridHost().SetFileSystemType("/sys/fs/cgroup/unified", CgroupFilesystem.TmpfsMagic));

        string report = host.ToString();

        Assert.StartsWith("cgroup mode: Legacy\n", report, StringComparison.Ordinal);
        Assert.Contains("v1 memory at /sys/fs/cgroup/memory", report, StringComparison.Ordinal);
        Assert.Contains("ignored mount 40 (cgroup2 at /sys/fs/cgroup/unified, root /)", report, StringComparison.Ordinal);
    }
}
