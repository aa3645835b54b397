using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace Sandboxing.Benchmarks;

/// <summary>Shared pieces: the command and how every benchmark's sandbox is built.</summary>
internal static class Common
{
    /// <summary>busybox-static: a static binary, so no dynamic loader or libraries are timed, and it also works inside the minimal rootfs.</summary>
    public const string Busybox = "/bin/busybox";

    public static readonly string[] True = [Busybox, "true"];

    /// <summary>Builds with stdio on /dev/null: the default, Capture, would add two pipes and their readers to every run.</summary>
    public static Sandbox Build(SandboxBuilder builder) => builder
        .WithStandardInput(SandboxInput.Null)
        .WithStandardOutput(SandboxOutput.Null)
        .WithStandardError(SandboxOutput.Null)
        .Build();

    public static async Task RunProcessAsync()
    {
        using var process = Process.Start(new ProcessStartInfo(Busybox, "true") { UseShellExecute = false })!;
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Busybox} true exited with {process.ExitCode}.");
    }

    public static async Task RunSandboxAsync(Sandbox sandbox)
    {
        var result = await sandbox.RunAsync(True).ConfigureAwait(false);
        // A sandbox that fails to set up must not be timed as a fast one.
        if (!result.IsSuccess)
            throw new InvalidOperationException($"{string.Join(' ', True)} in the sandbox: {result}");
    }
}

/// <summary>Time from start to exit of one `true`, plain and under each isolation level.</summary>
[MemoryDiagnoser]
public class StartToExitBenchmarks
{
    private Sandbox _userOnly = null!, _noNetwork = null!, _all = null!, _allWithoutSeccomp = null!, _directoryRoot = null!, _overlayRoot = null!;
    private string _rootfs = null!;

    [GlobalSetup]
    public void Setup()
    {
        _rootfs = Directory.CreateTempSubdirectory("sandbox-bench-rootfs-").FullName;
        // 0755: the sandbox's user (the host's nobody, for a root caller) must search it.
        if (OperatingSystem.IsLinux())
            File.SetUnixFileMode(_rootfs, (UnixFileMode)0x1ED);
        Directory.CreateDirectory(Path.Combine(_rootfs, "bin"));
        File.Copy(Common.Busybox, Path.Combine(_rootfs, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(_rootfs, "bin/true"), "busybox");
        // Mount points for the default /proc, /dev and /tmp mounts.
        foreach (var dir in new[] { "proc", "dev", "tmp" })
            Directory.CreateDirectory(Path.Combine(_rootfs, dir));

        // No mount namespace means no mounts at all, so the defaults must go.
        _userOnly = Common.Build(new SandboxBuilder().WithNamespaces(SandboxNamespaces.User).WithoutDefaultMounts());
        _noNetwork = Common.Build(new SandboxBuilder().WithoutNamespaces(SandboxNamespaces.Network));
        _all = Common.Build(new SandboxBuilder());
        // What the default seccomp filter (about 300 BPF instructions, installed per run) costs.
        _allWithoutSeccomp = Common.Build(new SandboxBuilder().WithoutSeccomp());
        _directoryRoot = Common.Build(new SandboxBuilder().WithRootFilesystem(_rootfs));
        // The same directory as an image's single layer: overlay, tmpfs upper and, for a root
        // caller, an idmapped layer handed over from the helper.
        _overlayRoot = Common.Build(new SandboxBuilder().WithOverlayRoot([_rootfs]));
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_rootfs, recursive: true);

    [Benchmark(Baseline = true)]
    public Task ProcessStart() => Common.RunProcessAsync();

    [Benchmark]
    public Task UserNamespaceOnly() => Common.RunSandboxAsync(_userOnly);

    [Benchmark]
    public Task AllButNetwork() => Common.RunSandboxAsync(_noNetwork);

    [Benchmark]
    public Task AllNamespaces() => Common.RunSandboxAsync(_all);

    [Benchmark]
    public Task AllNamespacesWithoutSeccomp() => Common.RunSandboxAsync(_allWithoutSeccomp);

    [Benchmark]
    public Task AllNamespacesDirectoryRoot() => Common.RunSandboxAsync(_directoryRoot);

    [Benchmark]
    public Task AllNamespacesOverlayRoot() => Common.RunSandboxAsync(_overlayRoot);
}

/// <summary>
/// Runs of `true` with <see cref="Concurrency"/> in flight at once (default sandbox, all
/// namespaces), against the same with plain processes.
/// </summary>
/// <remarks>
/// OperationsPerInvoke has to be a constant, so it cannot follow a [Params] value. Every
/// invocation therefore does the same <see cref="Runs"/> runs, <see cref="Concurrency"/> at a
/// time, and the reported mean is the time per run at that concurrency: comparable across
/// rows and with <see cref="StartToExitBenchmarks"/>.
/// </remarks>
[MemoryDiagnoser]
public class ThroughputBenchmarks
{
    private const int Runs = 64;
    private Sandbox _sandbox = null!;

    [Params(1, 2, 8, 64)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup() => _sandbox = Common.Build(new SandboxBuilder());

    [Benchmark(Baseline = true, OperationsPerInvoke = Runs)]
    public Task ProcessStart() => RunAllAsync(Common.RunProcessAsync);

    [Benchmark(OperationsPerInvoke = Runs)]
    public Task AllNamespaces() => RunAllAsync(() => Common.RunSandboxAsync(_sandbox));

    /// <summary>Concurrency workers, each running its share in a loop, so that many are always in flight.</summary>
    private Task RunAllAsync(Func<Task> run) => Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
    {
        for (int i = 0; i < Runs / Concurrency; i++)
            await run().ConfigureAwait(false);
    }));
}
