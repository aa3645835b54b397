using System.Diagnostics;

namespace Sandboxing.Benchmarks;

/// <summary>
/// `profile NAME [RUNS]`: runs one scenario RUNS times in a row (after a warm-up) and prints
/// the mean, median and 90th percentile per run. Without BenchmarkDotNet, so that the process
/// can be traced (strace or perf on the helper through SANDBOX_HELPER_PATH, perf on the whole)
/// and so that variants of the helper can be timed against each other.
/// NAME is a sandbox of <see cref="Scenarios.SandboxNames"/>, or process, bwrap, bwrap-cgroup,
/// runc; or cgroup, which only creates and removes the cgroup the full isolation level's runs
/// get, as the library does (Sandbox.Cgroups), without running anything in it.
/// </summary>
internal static class Profile
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length is < 1 or > 3)
        {
            Console.Error.WriteLine("usage: profile NAME [RUNS [WARMUP]]");
            return 2;
        }
        string name = args[0];
        int runs = args.Length > 1 ? int.Parse(args[1]) : 200;
        int warmup = args.Length > 2 ? int.Parse(args[2]) : Math.Max(5, runs / 10);
        string rootfs = Scenarios.CreateRootfs();
        using var runc = new Runc(rootfs);
        try
        {
            Func<Task> run = name switch
            {
                "process" => Scenarios.RunTrueAsync,
                "bwrap" => () => new Bubblewrap(rootfs).RunAsync(Scenarios.True),
                "bwrap-cgroup" => () => new Bubblewrap(rootfs).RunInCgroupAsync(Scenarios.True),
                "runc" => () => runc.RunAsync(Scenarios.True),
                "cgroup" => CgroupAsync,
                _ => Sandbox(Scenarios.Build(name, rootfs)),
            };
            for (int i = 0; i < warmup; i++)
                await run();
            var ms = new double[runs];
            for (int i = 0; i < runs; i++)
            {
                long t = Stopwatch.GetTimestamp();
                await run();
                ms[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }
            Array.Sort(ms);
            Console.WriteLine($"{name}: {runs} runs, mean {ms.Average():F3} ms, median {ms[runs / 2]:F3} ms, p90 {ms[runs * 9 / 10]:F3} ms, min {ms[0]:F3} ms");
            return 0;
        }
        finally
        {
            Directory.Delete(rootfs, recursive: true);
        }
    }

    private static async Task CgroupAsync()
    {
        var cgroup = Cgroups.CgroupFactory.Create(Cgroups.CgroupHost.Current, "sandbox-bench-" + Guid.NewGuid().ToString("N")[..12], Scenarios.Limits);
        await cgroup.DestroyAsync();
    }

    private static Func<Task> Sandbox(Sandbox sandbox) => () => Scenarios.RunSandboxAsync(sandbox, Scenarios.True);
}
