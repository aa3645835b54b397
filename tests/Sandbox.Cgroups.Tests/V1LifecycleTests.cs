using System.Diagnostics;
using System.Globalization;
using static Sandboxing.Cgroups.Tests.V1TestTree;

namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// The v1 backend's processes, kill, freeze, destroy and stale-cgroup removal against fake trees.
/// Kernel reactions (cgroup.kill emptying cgroup.procs, FREEZING turning into FROZEN) are played
/// by hooks; the freezer-based kill signals real <c>sleep</c> processes the test starts.
/// </summary>
public class V1LifecycleTests
{
    private const string Name = "sandbox-test";
    private const int EBUSY = 16;

    private const string Memory = MemoryParent + "/" + Name;
    private const string Pids = Root + "/pids/" + Name;
    private const string Freezer = Root + "/freezer/" + Name;
    private const string UnifiedChild = Unified + "/" + Name;

    private static V1Cgroup CreateHybrid(ICgroupFileSystem fs, FakeCgroupFileSystem tree, string name = Name) =>
        V1Cgroup.Create(Detect(tree), name, new CgroupLimits(), CgroupHost.Detect(tree).Unified, fs);

    // ---- processes and kill ----------------------------------------------------------------

    [Fact]
    public void Process_ids_are_the_union_over_every_hierarchy_and_child_cgroup()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, fs);
        fs.AddFile(Memory + "/cgroup.procs", $"{FakePid1}\n")
            .AddFile(Pids + "/cgroup.procs", $"{FakePid1}\n")
            .AddFile(Freezer + "/child/cgroup.procs", $"{FakePid2}\n");

        Assert.Equal([FakePid1, FakePid2], cgroup.GetProcessIds());
    }

    [Fact]
    public void On_a_hybrid_host_kill_writes_the_unified_cgroup_kill_and_leaves_the_v1_freezer_alone()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, fs);
        JoinAll(fs, cgroup, FakePid1);
        fs.AfterWrite = KernelKill(fs, cgroup);
        fs.Writes.Clear();

        cgroup.Kill();

        Assert.Equal([(UnifiedChild + "/cgroup.kill", "1")], fs.Writes);
        Assert.Empty(cgroup.GetProcessIds());
    }

    [Fact]
    public void Without_cgroup_kill_the_v1_freezer_stops_everything_before_each_pid_gets_SIGKILL()
    {
        var tree = CentOs7();
        var fs = LiveProcs(tree);
        var cgroup = V1Cgroup.Create(Detect(tree), Name, new CgroupLimits(), unified: null, fs);
        using var first = Process.Start("sleep", "60");
        using var second = Process.Start("sleep", "60");
        try
        {
            JoinAll(tree, cgroup, first.Id);
            JoinAll(tree, cgroup, second.Id);
            Assert.Equal(new[] { first.Id, second.Id }.Order(), cgroup.GetProcessIds());
            tree.Writes.Clear();

            cgroup.Kill();

            Assert.True(first.WaitForExit(5000) && second.WaitForExit(5000), "the sleeps should have been killed");
            Assert.Equal(137, first.ExitCode); // 128 + SIGKILL
            Assert.Equal([($"{Root}/freezer/{Name}/freezer.state", "FROZEN"), ($"{Root}/freezer/{Name}/freezer.state", "THAWED")], tree.Writes);
            Assert.Empty(cgroup.GetProcessIds());
        }
        finally
        {
            KillQuietly(first);
            KillQuietly(second);
        }
    }

    // ---- freeze ----------------------------------------------------------------------------

    [Fact]
    public async Task On_a_hybrid_host_freeze_uses_cgroup_freeze_and_waits_for_frozen_in_cgroup_events()
    {
        var tree = HybridHost();
        int reads = 0;
        var fs = new ScriptedFileSystem(tree).OnRead(
            p => p == UnifiedChild + "/cgroup.events",
            (_, content) => tree.ReadAllText(UnifiedChild + "/cgroup.freeze").Trim() == "1" && ++reads > 3 ? "populated 1\nfrozen 1\n" : content);
        var cgroup = CreateHybrid(fs, tree);

        await cgroup.FreezeAsync();
        await cgroup.ThawAsync();

        Assert.Equal(4, reads); // "frozen 0" three times, then "frozen 1"
        Assert.Equal([(UnifiedChild + "/cgroup.freeze", "1"), (UnifiedChild + "/cgroup.freeze", "0")], tree.Writes);
    }

    [Fact]
    public async Task A_unified_freeze_that_never_completes_times_out_and_thaws()
    {
        var tree = HybridHost();
        var cgroup = CreateHybrid(tree, tree);
        cgroup.FreezeTimeout = TimeSpan.FromMilliseconds(200);

        var e = await Assert.ThrowsAsync<TimeoutException>(() => cgroup.FreezeAsync());

        Assert.Contains("frozen 1", e.Message, StringComparison.Ordinal);
        Assert.Equal([(UnifiedChild + "/cgroup.freeze", "1"), (UnifiedChild + "/cgroup.freeze", "0")], tree.Writes);
    }

    [Fact]
    public async Task Without_cgroup_freeze_the_v1_freezer_is_used_and_FREEZING_is_waited_out()
    {
        var tree = CentOs7();
        int reads = 0;
        var fs = new ScriptedFileSystem(tree).OnRead(
            p => p.EndsWith("/freezer.state", StringComparison.Ordinal),
            (_, content) => content.Trim() == "FROZEN" && ++reads <= 3 ? "FREEZING\n" : content);
        var cgroup = V1Cgroup.Create(Detect(tree), Name, new CgroupLimits(), unified: null, fs);

        await cgroup.FreezeAsync();
        Assert.Equal(4, reads); // FREEZING three times, then FROZEN
        await cgroup.ThawAsync();

        Assert.Equal([(Freezer + "/freezer.state", "FROZEN"), (Freezer + "/freezer.state", "THAWED")], tree.Writes);
    }

    [Fact]
    public async Task A_v1_freeze_stuck_in_FREEZING_times_out_with_a_clear_message_and_thaws()
    {
        var tree = CentOs7();
        var fs = new ScriptedFileSystem(tree).OnRead(
            p => p.EndsWith("/freezer.state", StringComparison.Ordinal),
            (_, content) => content.Trim() == "FROZEN" ? "FREEZING\n" : content);
        var cgroup = V1Cgroup.Create(Detect(tree), Name, new CgroupLimits(), unified: null, fs);
        cgroup.FreezeTimeout = TimeSpan.FromMilliseconds(200);
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<TimeoutException>(() => cgroup.FreezeAsync());

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the wait should be bounded, took {clock.Elapsed}");
        Assert.Contains("still read FREEZING", e.Message, StringComparison.Ordinal);
        Assert.Contains("uninterruptible sleep", e.Message, StringComparison.Ordinal);
        Assert.Equal([(Freezer + "/freezer.state", "FROZEN"), (Freezer + "/freezer.state", "THAWED")], tree.Writes);
    }

    [Fact]
    public async Task A_cancelled_freeze_thaws_again()
    {
        var tree = CentOs7();
        var fs = new ScriptedFileSystem(tree).OnRead(
            p => p.EndsWith("/freezer.state", StringComparison.Ordinal),
            (_, content) => content.Trim() == "FROZEN" ? "FREEZING\n" : content);
        var cgroup = V1Cgroup.Create(Detect(tree), Name, new CgroupLimits(), unified: null, fs);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cgroup.FreezeAsync(cancel.Token));

        Assert.Equal("THAWED", tree.ReadAllText(Freezer + "/freezer.state"));
    }

    // ---- destroy ---------------------------------------------------------------------------

    [Fact]
    public async Task Destroy_removes_every_directory_newest_first_and_a_second_call_does_nothing()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, fs);
        var created = fs.CreatedDirectories.ToArray();

        await cgroup.DestroyAsync();
        await cgroup.DestroyAsync();

        Assert.Equal(created.Reverse(), fs.RemovedDirectories);
        Assert.Empty(DirectoriesNamed(fs, Name));
        Assert.Empty(cgroup.GetProcessIds());
        cgroup.Kill(); // nothing to do, and no error
        Assert.Throws<ObjectDisposedException>(() => cgroup.GetStats());
    }

    [Fact]
    public async Task Destroy_kills_what_is_left_and_removes_child_cgroups_first()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, fs);
        JoinAll(fs, cgroup, FakePid1);
        fs.AddFile(Memory + "/inner/cgroup.procs", "");
        fs.AfterWrite = KernelKill(fs, cgroup);

        await cgroup.DestroyAsync();

        Assert.Contains((UnifiedChild + "/cgroup.kill", "1"), fs.Writes);
        Assert.True(fs.RemovedDirectories.IndexOf(Memory + "/inner") < fs.RemovedDirectories.IndexOf(Memory));
        Assert.Empty(DirectoriesNamed(fs, Name));
    }

    [Fact]
    public async Task Destroy_retries_EBUSY_a_bounded_number_of_times_and_can_be_called_again()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, fs);
        fs.FailRemoveDirectory(Pids, EBUSY, times: 3);

        await cgroup.DestroyAsync();
        Assert.Empty(DirectoriesNamed(fs, Name));

        var busy = HybridHost();
        var stuck = CreateHybrid(busy, busy);
        busy.FailRemoveDirectory(Pids, EBUSY);
        var e = await Assert.ThrowsAsync<IOException>(() => stuck.DestroyAsync());
        Assert.Contains(Pids, e.Message, StringComparison.Ordinal);
        Assert.Contains("after 20 attempts", e.Message, StringComparison.Ordinal);
        Assert.Equal([Pids], DirectoriesNamed(busy, Name));

        busy.FailRemoveDirectory(Pids, EBUSY, times: 0);
        await stuck.DestroyAsync();
        Assert.Empty(DirectoriesNamed(busy, Name));
    }

    [Fact]
    public async Task Destroy_gives_up_with_a_timeout_when_processes_never_leave_and_keeps_the_directories()
    {
        var fs = HybridHost();
        var cgroup = CreateHybrid(fs, fs);
        JoinAll(fs, cgroup, FakePid1); // nothing plays cgroup.kill: the pid stays
        cgroup.EmptyTimeout = TimeSpan.FromMilliseconds(300);

        var e = await Assert.ThrowsAsync<TimeoutException>(() => cgroup.DestroyAsync());

        Assert.Contains(FakePid1.ToString(CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Equal(6, DirectoriesNamed(fs, Name).Length);
    }

    // ---- stale cgroups ---------------------------------------------------------------------

    [Fact]
    public void RemoveStale_removes_empty_leftovers_in_every_hierarchy_and_never_kills_a_live_one()
    {
        var fs = HybridHost();
        var host = Detect(fs);
        CreateHybrid(fs, fs, "stale-1");
        var populated = CreateHybrid(fs, fs, "stale-2");
        CreateHybrid(fs, fs, "other-1");
        JoinAll(fs, populated, FakePid1);
        fs.AfterWrite = KernelKill(fs, populated);

        int removed = V1Cgroup.RemoveStale(host, "stale-", fs);

        Assert.Equal(1, removed);
        Assert.Empty(DirectoriesNamed(fs, "stale-1"));
        Assert.Equal(6, DirectoriesNamed(fs, "stale-2").Length); // populated: maybe someone's live sandbox
        Assert.Equal(6, DirectoriesNamed(fs, "other-1").Length);
        Assert.DoesNotContain(fs.Writes, w => w.Path.EndsWith("/cgroup.kill", StringComparison.Ordinal));
    }

    [Fact]
    public void RemoveStale_leaves_a_cgroup_holding_the_calling_process()
    {
        var fs = HybridHost();
        var mine = CreateHybrid(fs, fs, "stale-mine");
        JoinAll(fs, mine, Environment.ProcessId);

        Assert.Equal(0, V1Cgroup.RemoveStale(Detect(fs), "stale-", fs));
        Assert.Equal(6, DirectoriesNamed(fs, "stale-mine").Length);
        Assert.DoesNotContain(fs.Writes, w => w.Path.EndsWith("/cgroup.kill", StringComparison.Ordinal));
    }

    // ---- helpers ---------------------------------------------------------------------------

    internal static void JoinAll(FakeCgroupFileSystem fs, ISandboxCgroup cgroup, int pid)
    {
        foreach (string procs in cgroup.ProcsFiles)
            fs.WriteControlFile(procs, pid.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Plays cgroup.kill: writing 1 empties cgroup.procs in every hierarchy of that cgroup.</summary>
    internal static Action<string, string> KernelKill(FakeCgroupFileSystem fs, ISandboxCgroup cgroup) => (path, content) =>
    {
        if (path == cgroup.UnifiedDirectory + "/cgroup.kill" && content == "1")
        {
            foreach (string procs in cgroup.ProcsFiles)
                fs.AddFile(procs, "");
        }
    };

    /// <summary>cgroup.procs that, like the kernel's, stops listing a process once it has died.</summary>
    private static ScriptedFileSystem LiveProcs(FakeCgroupFileSystem tree) =>
        new ScriptedFileSystem(tree).OnRead(
            p => p.EndsWith("/cgroup.procs", StringComparison.Ordinal),
            (_, content) => string.Concat(content.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(IsAlive).Select(p => p + "\n")));

    private static bool IsAlive(string pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill();
        }
        catch (InvalidOperationException)
        {
        }
    }
}
