namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// <see cref="V2Cgroup"/> against a fake pure-v2 tree (<see cref="V2FakeKernel"/>) with the
/// kernel's file names, formats and rules.
/// </summary>
public class V2CgroupTests
{
    private const long MiB = 1024 * 1024;
    private const string Caller = V2FakeKernel.Caller;
    private const string Sandbox = Caller + "/sandbox-1";
    private static readonly int Self = V2FakeKernel.Self;

    private static V2Cgroup Create(V2FakeKernel kernel, CgroupLimits limits, bool moveCallerToLeaf = false, string parent = Caller) =>
        V2Cgroup.Create(kernel.Hierarchy, parent, "sandbox-1", limits, moveCallerToLeaf, kernel.Fs);

    // ---- limits -> control files -----------------------------------------------------------

    [Fact]
    public void Every_limit_is_written_to_its_control_file_in_the_kernel_format()
    {
        var kernel = new V2FakeKernel();

        var cgroup = Create(kernel, new CgroupLimits
        {
            MemoryBytes = 64 * MiB,
            MemorySwapBytes = 96 * MiB,
            MemoryReservationBytes = 32 * MiB,
            Cpus = 1.5,
            CpuShares = 512,
            CpusetCpus = "0-1,3",
            CpusetMems = "0",
            PidsMax = 100,
            IoThrottles =
            [
                new(8, 0, IoThrottleKind.ReadBytesPerSecond, 1048576),
                new(259, 0, IoThrottleKind.WriteOperationsPerSecond, 50),
                new(8, 0, IoThrottleKind.ReadOperationsPerSecond, 100),
                new(259, 0, IoThrottleKind.WriteBytesPerSecond, 2097152),
            ],
        });

        Assert.Equal("sandbox-1", cgroup.Name);
        Assert.Equal(Sandbox, cgroup.UnifiedDirectory);
        Assert.Equal([Sandbox + "/cgroup.procs"], cgroup.ProcsFiles);
        // One write enables everything, in the kernel's order.
        Assert.Equal([(Caller + "/cgroup.subtree_control", "+cpuset +cpu +io +memory +pids")],
            kernel.Fs.Writes.Where(w => w.Path.EndsWith("/cgroup.subtree_control", StringComparison.Ordinal)));
        Assert.Equal("cpuset cpu io memory pids", kernel.Read(Caller, "cgroup.subtree_control"));
        Assert.Equal("67108864", kernel.Read(Sandbox, "memory.max"));
        Assert.Equal("33554432", kernel.Read(Sandbox, "memory.swap.max")); // 96M total - 64M memory
        Assert.Equal("33554432", kernel.Read(Sandbox, "memory.low"));
        Assert.Equal("150000 100000", kernel.Read(Sandbox, "cpu.max"));
        Assert.Equal("20", kernel.Read(Sandbox, "cpu.weight")); // 1 + (510 * 9999) / 262142
        Assert.Equal("0-1,3", kernel.Read(Sandbox, "cpuset.cpus"));
        Assert.Equal("0", kernel.Read(Sandbox, "cpuset.mems"));
        Assert.Equal("100", kernel.Read(Sandbox, "pids.max"));
        Assert.Equal(["8:0 rbps=1048576 riops=100", "259:0 wbps=2097152 wiops=50"],
            kernel.Fs.Writes.Where(w => w.Path == Sandbox + "/io.max").Select(w => w.Content));
    }

    [Theory]
    [InlineData(64 * MiB, null, "67108864", null)]          // --memory alone: swap left to the parent's
    [InlineData(64 * MiB, -1L, "67108864", "max")]          // --memory-swap -1: unlimited swap
    [InlineData(64 * MiB, 64 * MiB, "67108864", "0")]       // total == memory: no swap
    [InlineData(64 * MiB, 100 * MiB, "67108864", "37748736")] // 100M - 64M
    [InlineData(null, 100 * MiB, "104857600", "0")]         // --memory-swap alone bounds memory to it, with no swap
    [InlineData(null, -1L, null, "max")]
    public void Memory_and_swap_follow_docker_semantics(long? memory, long? memorySwap, string? memoryMax, string? swapMax)
    {
        var kernel = new V2FakeKernel();

        Create(kernel, new CgroupLimits { MemoryBytes = memory, MemorySwapBytes = memorySwap });

        Assert.Equal(memoryMax, kernel.Wrote(Sandbox + "/memory.max") ? kernel.Read(Sandbox, "memory.max") : null);
        Assert.Equal(swapMax, kernel.Wrote(Sandbox + "/memory.swap.max") ? kernel.Read(Sandbox, "memory.swap.max") : null);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(100, 4)]
    [InlineData(512, 20)]
    [InlineData(1024, 39)]
    [InlineData(262144, 10000)]
    public void Cpu_shares_become_a_weight_with_crun_s_formula(long shares, long weight)
    {
        Assert.Equal(weight, V2Cgroup.ConvertSharesToWeight(shares));

        var kernel = new V2FakeKernel();
        Create(kernel, new CgroupLimits { CpuShares = shares });
        Assert.Equal(weight.ToString(System.Globalization.CultureInfo.InvariantCulture), kernel.Read(Sandbox, "cpu.weight"));
    }

    [Theory]
    [InlineData(2.0, "200000 100000")]
    [InlineData(1.25, "125000 100000")]
    [InlineData(0.5, "50000 100000")]
    [InlineData(0.001, "1000 100000")] // 100 us would be below the kernel's 1 ms minimum quota
    public void Cpus_become_a_quota_over_a_100_ms_period(double cpus, string cpuMax)
    {
        var kernel = new V2FakeKernel();

        Create(kernel, new CgroupLimits { Cpus = cpus });

        Assert.Equal(cpuMax, kernel.Read(Sandbox, "cpu.max"));
        Assert.Equal("cpu memory pids", kernel.Read(Caller, "cgroup.subtree_control"));
    }

    [Fact]
    public void Pids_limit_minus_one_is_max()
    {
        var kernel = new V2FakeKernel();

        Create(kernel, new CgroupLimits { PidsMax = -1 });

        Assert.Equal("max", kernel.Read(Sandbox, "pids.max"));
    }

    private static readonly Dictionary<string, CgroupLimits> InvalidLimits = new()
    {
        ["memory 0"] = new() { MemoryBytes = 0 },
        ["swap -2"] = new() { MemorySwapBytes = -2 },
        ["swap below memory"] = new() { MemoryBytes = 64 * MiB, MemorySwapBytes = 32 * MiB },
        ["reservation above memory"] = new() { MemoryBytes = 64 * MiB, MemoryReservationBytes = 128 * MiB },
        ["reservation -1"] = new() { MemoryReservationBytes = -1 },
        ["cpus 0"] = new() { Cpus = 0 },
        ["cpus -1"] = new() { Cpus = -1 },
        ["cpus NaN"] = new() { Cpus = double.NaN },
        ["cpus huge"] = new() { Cpus = 1e12 },
        ["shares 1"] = new() { CpuShares = 1 },
        ["shares 300000"] = new() { CpuShares = 300000 },
        ["cpuset 0-"] = new() { CpusetCpus = "0-" },
        ["cpuset 3-1"] = new() { CpusetCpus = "3-1" },
        ["mems a"] = new() { CpusetMems = "a" },
        ["pids 0"] = new() { PidsMax = 0 },
        ["pids -5"] = new() { PidsMax = -5 },
        ["io 0"] = new() { IoThrottles = [new(8, 0, IoThrottleKind.ReadBytesPerSecond, 0)] },
        ["io twice"] = new() { IoThrottles = [new(8, 0, IoThrottleKind.WriteOperationsPerSecond, 5), new(8, 0, IoThrottleKind.WriteOperationsPerSecond, 6)] },
    };

    [Theory]
    [InlineData("memory 0", "--memory must be > 0 bytes, got 0")]
    [InlineData("swap -2", "--memory-swap must be > 0 bytes (memory plus swap), or -1 for unlimited swap, got -2")]
    [InlineData("swap below memory", "--memory-swap (33554432) must be >= --memory (67108864)")]
    [InlineData("reservation above memory", "--memory-reservation (134217728) must be <= --memory (67108864)")]
    [InlineData("reservation -1", "--memory-reservation must be >= 0 bytes")]
    [InlineData("cpus 0", "--cpus must be > 0, got 0")]
    [InlineData("cpus -1", "--cpus must be > 0, got -1")]
    [InlineData("cpus NaN", "--cpus must be > 0, got NaN")]
    [InlineData("cpus huge", "is more than the kernel accepts")]
    [InlineData("shares 1", "--cpu-shares must be between 2 and 262144")]
    [InlineData("shares 300000", "--cpu-shares must be between 2 and 262144")]
    [InlineData("cpuset 0-", "--cpuset-cpus must be a CPU list such as `0-3,6`, got `0-`")]
    [InlineData("cpuset 3-1", "--cpuset-cpus must be a CPU list")]
    [InlineData("mems a", "--cpuset-mems must be a memory node list")]
    [InlineData("pids 0", "--pids-limit must be > 0, or -1 for unlimited, got 0")]
    [InlineData("pids -5", "--pids-limit must be > 0, or -1 for unlimited, got -5")]
    [InlineData("io 0", "--device-read-bps for device 8:0 must be > 0")]
    [InlineData("io twice", "--device-write-iops is given more than once for device 8:0")]
    public void Invalid_limits_are_refused_before_anything_is_touched(string which, string message)
    {
        var kernel = new V2FakeKernel();

        var e = Assert.Throws<ArgumentException>(() => Create(kernel, InvalidLimits[which]));

        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Empty(kernel.Fs.Writes);
        Assert.Empty(kernel.Fs.CreatedDirectories);

        // Apply on an existing cgroup validates the same way, before any write.
        var cgroup = Create(kernel, new CgroupLimits());
        int writes = kernel.Fs.Writes.Count;
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => cgroup.Apply(InvalidLimits[which])).Message, StringComparison.Ordinal);
        Assert.Equal(writes, kernel.Fs.Writes.Count);
    }

    // ---- controllers and delegation --------------------------------------------------------

    [Fact]
    public void A_controller_the_parent_is_not_offered_is_an_error_naming_it()
    {
        var kernel = new V2FakeKernel(offered: "memory pids");

        var e = Assert.Throws<CgroupDelegationException>(() => Create(kernel, new CgroupLimits { Cpus = 1, PidsMax = 10 }));

        Assert.Equal(Caller, e.Cgroup);
        Assert.Equal(["cpu"], e.Controllers);
        Assert.Contains("The cpu controller(s) (cpu for --cpus) are not available in cgroup " + Caller, e.Message, StringComparison.Ordinal);
        Assert.Contains("its cgroup.controllers lists memory pids", e.Message, StringComparison.Ordinal);
        Assert.Contains("Delegate=", e.Message, StringComparison.Ordinal);
        Assert.Empty(kernel.Fs.Writes);
        Assert.Empty(kernel.Fs.CreatedDirectories);
    }

    [Fact]
    public void Apply_on_a_cgroup_without_the_controller_names_it()
    {
        var kernel = new V2FakeKernel(offered: "memory pids");
        var cgroup = Create(kernel, new CgroupLimits { MemoryBytes = 64 * MiB });

        var e = Assert.Throws<InvalidOperationException>(() => cgroup.Apply(new CgroupLimits { CpusetCpus = "0" }));

        Assert.Contains("lacks the cpuset controller(s), needed for --cpuset-cpus", e.Message, StringComparison.Ordinal);
        Assert.Contains("`memory pids`", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_parent_with_processes_cannot_enable_controllers_and_the_error_explains_delegation()
    {
        var kernel = new V2FakeKernel(callerPids: [Self, 4711]);

        var e = Assert.Throws<CgroupDelegationException>(() => Create(kernel, new CgroupLimits { MemoryBytes = 64 * MiB }));

        Assert.Equal(Caller, e.Cgroup);
        Assert.Equal(["memory", "pids"], e.Controllers);
        var inner = Assert.IsType<CgroupWriteException>(e.InnerException);
        Assert.Equal(16, inner.ErrorNumber);
        foreach (string part in new[]
        {
            $"Cannot enable the memory, pids controller(s) for child cgroups of {Caller}",
            "EBUSY", "no-internal-processes rule", $"pids {Self}, 4711",
            "delegated cgroup", "`Delegate=yes`", "`systemd-run --user --scope -p Delegate=yes <app>`", "its own cgroup namespace",
            "CgroupPlacement.MoveCallerToLeaf", $"pid {Self}", Caller + "/sandbox-host", "never moves processes it did not start",
        })
        {
            Assert.Contains(part, e.Message, StringComparison.Ordinal);
        }
        Assert.Equal("", kernel.Read(Caller, "cgroup.subtree_control"));
        Assert.Empty(kernel.Fs.CreatedDirectories);
        Assert.Equal([Self, 4711], kernel.ProcessesIn(Caller));
    }

    [Fact]
    public void A_sandbox_without_limits_needs_no_delegation_and_goes_without_stats_controllers()
    {
        var kernel = new V2FakeKernel(callerPids: [Self, 4711]);

        var cgroup = Create(kernel, new CgroupLimits());

        Assert.True(kernel.Fs.DirectoryExists(Sandbox));
        Assert.Equal("", kernel.Read(Caller, "cgroup.subtree_control"));
        Assert.Null(cgroup.GetStats().MemoryCurrentBytes);
        Assert.Equal(TimeSpan.Zero, cgroup.GetStats().CpuTotal);
    }

    [Fact]
    public void MoveCallerToLeaf_moves_only_this_process_into_sandbox_host_and_then_enables()
    {
        var kernel = new V2FakeKernel(callerPids: [Self]);

        Create(kernel, new CgroupLimits { MemoryBytes = 64 * MiB }, moveCallerToLeaf: true);

        Assert.Equal([Caller + "/sandbox-host", Sandbox], kernel.Fs.CreatedDirectories);
        Assert.Equal([(Caller + "/sandbox-host/cgroup.procs", Self.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            kernel.Fs.Writes.Where(w => w.Path.EndsWith("/cgroup.procs", StringComparison.Ordinal)));
        Assert.Equal([Self], kernel.ProcessesIn(Caller + "/sandbox-host"));
        Assert.Empty(kernel.ProcessesIn(Caller));
        Assert.Equal("memory pids", kernel.Read(Caller, "cgroup.subtree_control"));
        Assert.Equal("67108864", kernel.Read(Sandbox, "memory.max"));
    }

    [Fact]
    public void MoveCallerToLeaf_reuses_an_existing_sandbox_host()
    {
        var kernel = new V2FakeKernel(callerPids: [Self]).AddCgroup(Caller + "/sandbox-host");

        Create(kernel, new CgroupLimits { PidsMax = 8 }, moveCallerToLeaf: true);

        Assert.Equal([Sandbox], kernel.Fs.CreatedDirectories);
        Assert.Equal([Self], kernel.ProcessesIn(Caller + "/sandbox-host"));
        Assert.Equal("8", kernel.Read(Sandbox, "pids.max"));
    }

    [Fact]
    public void MoveCallerToLeaf_never_moves_processes_it_did_not_start()
    {
        var kernel = new V2FakeKernel(callerPids: [4711, Self, 4712]);

        var e = Assert.Throws<CgroupDelegationException>(() => Create(kernel, new CgroupLimits { MemoryBytes = 64 * MiB }, moveCallerToLeaf: true));

        Assert.Contains("processes this application did not start (pids 4711, 4712)", e.Message, StringComparison.Ordinal);
        Assert.Contains("MoveCallerToLeaf moves only this process, never others", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(kernel.Fs.Writes, w => w.Path.EndsWith("/cgroup.procs", StringComparison.Ordinal));
        Assert.Empty(kernel.Fs.CreatedDirectories);
        Assert.Equal([4711, Self, 4712], kernel.ProcessesIn(Caller));
    }

    [Fact]
    public void Controllers_are_enabled_in_every_level_from_the_caller_s_cgroup_down_to_the_parent()
    {
        var kernel = new V2FakeKernel(callerPids: [Self]).AddCgroup(Caller + "/sandboxes");

        Create(kernel, new CgroupLimits { Cpus = 0.5 }, moveCallerToLeaf: true, parent: Caller + "/sandboxes");

        Assert.Equal("cpu memory pids", kernel.Read(Caller, "cgroup.subtree_control"));
        Assert.Equal("cpu memory pids", kernel.Read(Caller + "/sandboxes", "cgroup.subtree_control"));
        Assert.Equal("50000 100000", kernel.Read(Caller + "/sandboxes/sandbox-1", "cpu.max"));
        Assert.Equal([Self], kernel.ProcessesIn(Caller + "/sandbox-host"));
    }

    [Fact]
    public void A_refused_subtree_control_write_that_is_not_EBUSY_says_the_cgroup_is_not_delegated()
    {
        var kernel = new V2FakeKernel();
        kernel.Fs.FailWrite(Caller + "/cgroup.subtree_control", 13);

        var e = Assert.Throws<CgroupDelegationException>(() => Create(kernel, new CgroupLimits { PidsMax = 5 }));

        Assert.Contains("not delegated to this user", e.Message, StringComparison.Ordinal);
        Assert.Equal(13, Assert.IsType<CgroupWriteException>(e.InnerException).ErrorNumber);
        Assert.Empty(kernel.Fs.CreatedDirectories);
    }

    [Fact]
    public void The_parent_must_be_a_cgroup2_directory_inside_the_hierarchy()
    {
        var kernel = new V2FakeKernel();
        kernel.Fs.SetFileSystemType(Caller + "/on-tmpfs", CgroupFilesystem.TmpfsMagic);

        Assert.Contains("is not inside the cgroup v2 hierarchy mounted at /sys/fs/cgroup",
            Assert.Throws<ArgumentException>(() => Create(kernel, new CgroupLimits(), parent: "/tmp")).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist",
            Assert.Throws<ArgumentException>(() => Create(kernel, new CgroupLimits(), parent: Caller + "/missing")).Message, StringComparison.Ordinal);
        Assert.Contains("is on tmpfs (0x1021994), not cgroup2",
            Assert.Throws<InvalidOperationException>(() => Create(kernel, new CgroupLimits(), parent: Caller + "/on-tmpfs")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => V2Cgroup.Create(kernel.Hierarchy, Caller, "a/b", new CgroupLimits(), false, kernel.Fs));
        Assert.Throws<ArgumentException>(() => V2Cgroup.Create(kernel.Hierarchy, Caller, "sandbox-host", new CgroupLimits(), false, kernel.Fs));
        Assert.Empty(kernel.Fs.CreatedDirectories);
    }

    // ---- failures leave nothing behind ------------------------------------------------------

    [Fact]
    public void A_limit_the_kernel_refuses_removes_the_new_cgroup_and_names_the_limit()
    {
        var kernel = new V2FakeKernel();
        kernel.Fs.FailWrite(Sandbox + "/pids.max", 22);

        var e = Assert.Throws<IOException>(() => Create(kernel, new CgroupLimits { MemoryBytes = 64 * MiB, PidsMax = 10 }));

        Assert.Contains($"Cannot set the process limit (--pids-limit) of cgroup {Sandbox}: writing `10` to pids.max failed", e.Message, StringComparison.Ordinal);
        Assert.Equal(22, Assert.IsType<CgroupWriteException>(e.InnerException).ErrorNumber);
        Assert.Equal([Sandbox], kernel.Fs.RemovedDirectories);
        Assert.False(kernel.Fs.DirectoryExists(Sandbox));
    }

    [Fact]
    public void An_existing_cgroup_of_the_same_name_is_an_error_and_is_left_alone()
    {
        var kernel = new V2FakeKernel().AddCgroup(Sandbox);

        var e = Assert.Throws<InvalidOperationException>(() => Create(kernel, new CgroupLimits { PidsMax = 3 }));

        Assert.Contains($"cgroup {Sandbox} already exists", e.Message, StringComparison.Ordinal);
        Assert.True(kernel.Fs.DirectoryExists(Sandbox));
        Assert.Empty(kernel.Fs.RemovedDirectories);
    }

    // ---- statistics and events --------------------------------------------------------------

    private static V2Cgroup WithFixtureFiles(out V2FakeKernel kernel)
    {
        kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "v2-files");
        foreach (string file in Directory.GetFiles(fixtures))
            kernel.Fs.AddFile(Sandbox + "/" + Path.GetFileName(file), File.ReadAllText(file));
        return cgroup;
    }

    [Fact]
    public void Stats_come_from_cpu_stat_memory_current_and_peak_pids_current_and_io_stat_summed_over_devices()
    {
        var cgroup = WithFixtureFiles(out _);

        var stats = cgroup.GetStats();

        Assert.Equal(TimeSpan.FromMicroseconds(2519362), stats.CpuTotal);
        Assert.Equal(TimeSpan.FromMicroseconds(1705823), stats.CpuUser);
        Assert.Equal(TimeSpan.FromMicroseconds(813539), stats.CpuSystem);
        Assert.Equal(33488896, stats.MemoryCurrentBytes);
        Assert.Equal(33554432, stats.MemoryPeakBytes);
        Assert.Equal(3, stats.PidsCurrent);
        Assert.Equal(1459200 + 40960, stats.IoReadBytes);
        Assert.Equal(314773504 + 8192, stats.IoWriteBytes);
        Assert.Equal(192 + 10, stats.IoReadOperations);
        Assert.Equal(353 + 2, stats.IoWriteOperations);
    }

    [Fact]
    public void Events_come_from_memory_events_and_pids_events()
    {
        var cgroup = WithFixtureFiles(out _);

        var events = cgroup.GetEvents();

        Assert.Equal(new CgroupEvents { OomKills = 1, MemoryLimitHits = 3, PidsLimitHits = 2 }, events);
    }

    [Fact]
    public void Missing_files_give_null_stats_and_zero_events_and_never_throw()
    {
        var kernel = new V2FakeKernel();
        kernel.Fs.AddDirectory(Caller + "/bare").AddFile(Caller + "/bare/cgroup.procs", "");
        var cgroup = V2Cgroup.Open(Caller + "/bare", kernel.Fs);
        var gone = V2Cgroup.Open(Caller + "/gone", kernel.Fs);

        Assert.Equal(new CgroupStats(), cgroup.GetStats());
        Assert.Equal(new CgroupEvents(), cgroup.GetEvents());
        Assert.Equal(new CgroupStats(), gone.GetStats());
        Assert.Equal(new CgroupEvents(), gone.GetEvents());
        Assert.Empty(gone.GetProcessIds());
    }

    [Fact]
    public void Memory_peak_is_optional_before_Linux_5_19()
    {
        var cgroup = WithFixtureFiles(out var kernel);
        kernel.Fs.RemoveFile(Sandbox + "/memory.peak");

        Assert.Null(cgroup.GetStats().MemoryPeakBytes);
        Assert.Equal(33488896, cgroup.GetStats().MemoryCurrentBytes);
    }

    // ---- processes, freeze, kill, destroy ----------------------------------------------------

    [Fact]
    public void Process_ids_include_child_cgroups()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.AddCgroup(Sandbox + "/inner").AddProcess(Sandbox, 501).AddProcess(Sandbox + "/inner", 502);

        Assert.Equal([501, 502], cgroup.GetProcessIds());
    }

    [Fact]
    public async Task Freeze_and_thaw_write_cgroup_freeze_and_wait_for_cgroup_events()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.AddProcess(Sandbox, 501);

        await cgroup.FreezeAsync();
        Assert.Equal("populated 1\nfrozen 1", kernel.Read(Sandbox, "cgroup.events"));
        await cgroup.ThawAsync();
        Assert.Equal("populated 1\nfrozen 0", kernel.Read(Sandbox, "cgroup.events"));
        Assert.Equal(["1", "0"], kernel.Fs.Writes.Where(w => w.Path == Sandbox + "/cgroup.freeze").Select(w => w.Content));
    }

    [Fact]
    public async Task A_freeze_that_never_completes_ends_in_a_clear_timeout()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        cgroup.EventTimeout = TimeSpan.FromMilliseconds(150);
        kernel.FreezeTakesEffect = false;

        var e = await Assert.ThrowsAsync<TimeoutException>(() => cgroup.FreezeAsync());

        Assert.Contains($"cgroup {Sandbox} did not freeze in time", e.Message, StringComparison.Ordinal);
        Assert.Contains("did not show `frozen 1` within 0.15 s (last read: `populated 0,frozen 0`)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Freeze_can_be_cancelled()
    {
        var kernel = new V2FakeKernel { FreezeTakesEffect = false };
        var cgroup = Create(kernel, new CgroupLimits());
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cgroup.FreezeAsync(cancel.Token));
    }

    [Fact]
    public async Task Freezing_needs_cgroup_freeze()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.Fs.RemoveFile(Sandbox + "/cgroup.freeze");

        var e = await Assert.ThrowsAsync<NotSupportedException>(() => cgroup.FreezeAsync());
        Assert.Contains("Linux 5.2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kill_writes_cgroup_kill()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.AddCgroup(Sandbox + "/inner").AddProcess(Sandbox, 501).AddProcess(Sandbox + "/inner", 502);
        cgroup.SignalKill = pid => throw new InvalidOperationException("kill(2) must not be needed with cgroup.kill");

        cgroup.Kill();

        Assert.Equal([(Sandbox + "/cgroup.kill", "1")], kernel.Fs.Writes.Where(w => w.Path.EndsWith("/cgroup.kill", StringComparison.Ordinal)));
        Assert.Equal([501, 502], kernel.KilledByCgroupKill);
        Assert.Empty(cgroup.GetProcessIds());
    }

    [Fact]
    public void Without_cgroup_kill_kill_freezes_signals_every_pid_of_the_subtree_and_thaws()
    {
        var kernel = new V2FakeKernel { HasKill = false };
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.AddCgroup(Sandbox + "/inner").AddProcess(Sandbox, 501).AddProcess(Sandbox + "/inner", 502).AddProcess(Sandbox + "/inner", 503);
        var signalled = new List<int>();
        var order = new List<string>();
        kernel.Fs.AfterWrite += (path, content) => order.Add($"{Path.GetFileName(path)}={content}");
        cgroup.SignalKill = pid =>
        {
            Assert.Equal("frozen 1", kernel.Read(Sandbox, "cgroup.events").Split('\n')[1]);
            signalled.Add(pid);
            order.Add($"kill {pid}");
            kernel.RemoveProcess(pid);
            return true;
        };

        cgroup.Kill();

        Assert.Equal([501, 502, 503], signalled);
        Assert.Equal(["cgroup.freeze=1", "kill 501", "kill 502", "kill 503", "cgroup.freeze=0"], order);
        Assert.Empty(cgroup.GetProcessIds());
    }

    [Fact]
    public void The_kill_fallback_never_signals_this_process()
    {
        var kernel = new V2FakeKernel { HasKill = false };
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.AddProcess(Sandbox, 501).AddProcess(Sandbox, Self);
        var signalled = new List<int>();
        cgroup.SignalKill = pid => { signalled.Add(pid); return true; };

        cgroup.Kill();

        Assert.Equal([501], signalled);
    }

    [Fact]
    public async Task Destroy_kills_waits_and_removes_child_cgroups_depth_first_and_is_idempotent()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits { PidsMax = 10 });
        kernel.AddCgroup(Sandbox + "/a").AddCgroup(Sandbox + "/a/b").AddCgroup(Sandbox + "/c")
            .AddProcess(Sandbox + "/a/b", 601).AddProcess(Sandbox + "/c", 602);

        await cgroup.DestroyAsync();

        Assert.Equal([(Sandbox + "/cgroup.kill", "1")], kernel.Fs.Writes.Where(w => w.Path.EndsWith("/cgroup.kill", StringComparison.Ordinal)));
        Assert.Equal([Sandbox + "/c", Sandbox + "/a/b", Sandbox + "/a", Sandbox], kernel.Fs.RemovedDirectories);
        Assert.False(kernel.Fs.DirectoryExists(Sandbox));

        await cgroup.DestroyAsync();
        cgroup.Kill();
        Assert.Equal(4, kernel.Fs.RemovedDirectories.Count);
    }

    [Fact]
    public async Task An_empty_cgroup_is_removed_at_once_without_a_kill_or_a_wait()
    {
        // The usual end of a sandbox: everything in it has exited and been reaped.
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits { PidsMax = 10 });

        var destroy = cgroup.DestroyAsync();

        Assert.True(destroy.IsCompletedSuccessfully); // done on the caller's thread, none started for it
        Assert.DoesNotContain(kernel.Fs.Writes, w => w.Path.EndsWith("/cgroup.kill", StringComparison.Ordinal));
        Assert.Equal([Sandbox], kernel.Fs.RemovedDirectories);
        await destroy;
    }

    [Fact]
    public async Task A_cgroup_with_a_child_cgroup_takes_the_full_path_even_when_empty()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.AddCgroup(Sandbox + "/inner");

        await cgroup.DestroyAsync();

        Assert.Equal([Sandbox + "/inner", Sandbox], kernel.Fs.RemovedDirectories);
    }

    [Fact]
    public async Task Destroy_retries_rmdir_while_the_kernel_says_busy()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.Fs.FailRemoveDirectory(Sandbox, 16, times: 3);

        await cgroup.DestroyAsync();

        Assert.False(kernel.Fs.DirectoryExists(Sandbox));
    }

    [Fact]
    public async Task Destroy_gives_up_on_a_cgroup_that_stays_busy()
    {
        var kernel = new V2FakeKernel();
        var cgroup = Create(kernel, new CgroupLimits());
        kernel.Fs.FailRemoveDirectory(Sandbox, 16);

        var e = await Assert.ThrowsAsync<IOException>(() => cgroup.DestroyAsync());

        Assert.Contains($"cgroup {Sandbox} stays busy after 12 attempts", e.Message, StringComparison.Ordinal);
        Assert.True(kernel.Fs.DirectoryExists(Sandbox));
    }

    [Fact]
    public async Task Destroy_times_out_clearly_when_processes_survive_the_kill()
    {
        var kernel = new V2FakeKernel { KillTakesEffect = false };
        var cgroup = Create(kernel, new CgroupLimits());
        cgroup.EventTimeout = TimeSpan.FromMilliseconds(100);
        kernel.AddProcess(Sandbox, 701);

        var e = await Assert.ThrowsAsync<TimeoutException>(() => cgroup.DestroyAsync());

        Assert.Contains($"cgroup {Sandbox} still has processes after being killed", e.Message, StringComparison.Ordinal);
        Assert.Contains("`populated 0`", e.Message, StringComparison.Ordinal);
        Assert.Empty(kernel.Fs.RemovedDirectories);
    }

    // ---- stale cleanup ----------------------------------------------------------------------

    [Fact]
    public void RemoveStale_removes_empty_leftovers_with_the_prefix_and_never_kills_a_live_one()
    {
        var kernel = new V2FakeKernel()
            .AddCgroup(Caller + "/sandbox-old1")
            .AddCgroup(Caller + "/sandbox-old2").AddCgroup(Caller + "/sandbox-old2/inner").AddProcess(Caller + "/sandbox-old2/inner", 801)
            .AddCgroup(Caller + "/sandbox-host").AddProcess(Caller + "/sandbox-host", Self)
            .AddCgroup(Caller + "/sandbox-ours").AddProcess(Caller + "/sandbox-ours", Self + 1)
            .AddCgroup(Caller + "/other").AddProcess(Caller + "/other", 901);
        // A live sandbox holding this very process is not stale.
        kernel.AddCgroup(Caller + "/sandbox-ours/me").AddProcess(Caller + "/sandbox-ours/me", Self);

        int removed = V2Cgroup.RemoveStale(kernel.Hierarchy, Caller, "sandbox-", kernel.Fs);

        // sandbox-old2 holds a process: it may be another process's live sandbox, so it stays.
        Assert.Equal(1, removed);
        Assert.Equal([Caller + "/sandbox-old1"], kernel.Fs.RemovedDirectories);
        Assert.Empty(kernel.KilledByCgroupKill);
        Assert.Equal([801], kernel.ProcessesIn(Caller + "/sandbox-old2/inner"));
        Assert.True(kernel.Fs.DirectoryExists(Caller + "/sandbox-host"));
        Assert.True(kernel.Fs.DirectoryExists(Caller + "/sandbox-ours"));
        Assert.Equal([901], kernel.ProcessesIn(Caller + "/other"));
        Assert.Equal(0, V2Cgroup.RemoveStale(kernel.Hierarchy, Caller, "sandbox-old", kernel.Fs));
        Assert.Equal(0, V2Cgroup.RemoveStale(kernel.Hierarchy, Caller + "/never-made", "sandbox-", kernel.Fs));
        Assert.Throws<ArgumentException>(() => V2Cgroup.RemoveStale(kernel.Hierarchy, Caller, "", kernel.Fs));
        Assert.Throws<ArgumentException>(() => V2Cgroup.RemoveStale(kernel.Hierarchy, "/tmp", "sandbox-", kernel.Fs));
    }
}
