using BenchmarkDotNet.Attributes;

namespace Sandboxing.Benchmarks;

/// <summary>
/// Time from start to exit of one `busybox true`: as a plain System.Diagnostics.Process (the
/// baseline), in sandboxes of each isolation level (<see cref="Scenarios.Build"/>), and with the
/// full isolation level through bubblewrap and runc.
/// </summary>
[MemoryDiagnoser]
public class StartToExitBenchmarks
{
    private string _rootfs = null!;
    private Sandbox _user = null!, _allButNet = null!, _all = null!, _allNoSeccomp = null!, _rootfsOnly = null!, _full = null!, _fullNoSeccomp = null!, _overlay = null!;
    private Bubblewrap _bwrap = null!;
    private Runc _runc = null!;

    [GlobalSetup]
    public void Setup()
    {
        _rootfs = Scenarios.CreateRootfs();
        _user = Scenarios.Build("user", _rootfs);
        _allButNet = Scenarios.Build("all-but-net", _rootfs);
        _all = Scenarios.Build("all", _rootfs);
        _allNoSeccomp = Scenarios.Build("all-no-seccomp", _rootfs);
        _rootfsOnly = Scenarios.Build("rootfs", _rootfs);
        _full = Scenarios.Build("full", _rootfs);
        _fullNoSeccomp = Scenarios.Build("full-no-seccomp", _rootfs);
        _overlay = Scenarios.Build("overlay", _rootfs);
        _bwrap = new Bubblewrap(_rootfs);
        _runc = new Runc(_rootfs);
        _runc.Bundle(Scenarios.True);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _runc.Dispose();
        Directory.Delete(_rootfs, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public Task ProcessStart() => Scenarios.RunTrueAsync();

    /// <summary>A user namespace and nothing else: no mounts.</summary>
    [Benchmark]
    public Task UserNamespaceOnly() => Scenarios.RunSandboxAsync(_user, Scenarios.True);

    /// <summary>The default sandbox without its network namespace.</summary>
    [Benchmark]
    public Task AllButNetwork() => Scenarios.RunSandboxAsync(_allButNet, Scenarios.True);

    /// <summary>The default sandbox: every namespace, the host's root read-only, /proc, /sys, /dev, /tmp, masked paths, seccomp.</summary>
    [Benchmark]
    public Task AllNamespaces() => Scenarios.RunSandboxAsync(_all, Scenarios.True);

    [Benchmark]
    public Task AllNamespacesWithoutSeccomp() => Scenarios.RunSandboxAsync(_allNoSeccomp, Scenarios.True);

    /// <summary>Every namespace, pivot_root into the busybox rootfs with a fresh /proc.</summary>
    [Benchmark]
    public Task Rootfs() => Scenarios.RunSandboxAsync(_rootfsOnly, Scenarios.True);

    /// <summary>The rootfs as a single overlay layer.</summary>
    [Benchmark]
    public Task OverlayRoot() => Scenarios.RunSandboxAsync(_overlay, Scenarios.True);

    /// <summary>Full isolation: <see cref="Rootfs"/> plus a cgroup with memory and pids limits.</summary>
    [Benchmark]
    public Task FullIsolation() => Scenarios.RunSandboxAsync(_full, Scenarios.True);

    [Benchmark]
    public Task FullIsolationWithoutSeccomp() => Scenarios.RunSandboxAsync(_fullNoSeccomp, Scenarios.True);

    /// <summary>bubblewrap with the same namespaces, rootfs and /proc, without a cgroup (it has none).</summary>
    [Benchmark]
    public Task Bubblewrap() => _bwrap.RunAsync(Scenarios.True);

    /// <summary>bubblewrap as <see cref="Bubblewrap"/>, inside the same cgroup as <see cref="FullIsolation"/>, joined by a busybox sh.</summary>
    [Benchmark]
    public Task BubblewrapWithCgroup() => _bwrap.RunInCgroupAsync(Scenarios.True);

    /// <summary>runc run on an OCI bundle of the same rootfs with the same isolation and limits.</summary>
    [Benchmark]
    public Task Runc() => _runc.RunAsync(Scenarios.True);
}

/// <summary>
/// Runs of `true` with <see cref="Concurrency"/> in flight at once, full isolation, against the
/// same with plain processes.
/// </summary>
/// <remarks>
/// OperationsPerInvoke has to be a constant, so it cannot follow a [Params] value. Every
/// invocation therefore does the same <see cref="Runs"/> runs, <see cref="Concurrency"/> at a
/// time, and the reported mean is the time per run at that concurrency: its inverse is the
/// number of sandboxes completed per second, and it is comparable with
/// <see cref="StartToExitBenchmarks"/>.
/// </remarks>
[MemoryDiagnoser]
public class ThroughputBenchmarks
{
    public const int Runs = 64;
    private string _rootfs = null!;
    private Sandbox _full = null!;

    [Params(1, 2, 8, 64)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rootfs = Scenarios.CreateRootfs();
        _full = Scenarios.Build("full", _rootfs);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_rootfs, recursive: true);

    [Benchmark(Baseline = true, OperationsPerInvoke = Runs)]
    public Task ProcessStart() => RunAllAsync(Scenarios.RunTrueAsync);

    [Benchmark(OperationsPerInvoke = Runs)]
    public Task FullIsolation() => RunAllAsync(() => Scenarios.RunSandboxAsync(_full, Scenarios.True));

    /// <summary>Concurrency workers, each running its share in a loop, so that many are always in flight.</summary>
    private Task RunAllAsync(Func<Task> run) => Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
    {
        for (int i = 0; i < Runs / Concurrency; i++)
            await run().ConfigureAwait(false);
    }));
}
