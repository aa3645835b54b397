using System.Diagnostics;
using System.Text;

namespace Sandboxing.Benchmarks;

/// <summary>
/// `footprint [--counts 1,10,100,1000] [--sandbox full] [--out FILE]`: what each running
/// sandbox costs while its command sleeps, as 1, 10, 100 and 1000 run at once.
/// <list type="bullet">
/// <item>Outside .NET: Rss, Pss and private memory of the helper and of the sandbox's init (the
/// two processes the library adds; the command itself is not counted), summed from
/// /proc/PID/smaps_rollup of every sandbox. The command's Rss is shown apart, for scale.</item>
/// <item>Inside .NET: managed bytes allocated per start, managed heap still held per running
/// sandbox (after a full GC), and the growth of the process's Rss, file descriptors and threads.</item>
/// <item>The kernel: growth of Slab, KernelStack and PageTables in /proc/meminfo (namespaces,
/// mounts, three processes per sandbox). Host-wide, so other work on the machine adds noise.</item>
/// </list>
/// Prints a markdown table (and writes it to FILE).
/// </summary>
internal static class Footprint
{
    private static readonly string[] Sleep = [Scenarios.Busybox, "sleep", "1000000"];

    public static async Task<int> RunAsync(string[] args)
    {
        int[] counts = [1, 10, 100, 1000];
        string sandboxName = "full";
        string? output = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--counts":
                    counts = [.. args[++i].Split(',').Select(int.Parse)];
                    break;
                case "--sandbox":
                    sandboxName = args[++i];
                    break;
                case "--out":
                    output = args[++i];
                    break;
                default:
                    Console.Error.WriteLine("usage: footprint [--counts 1,10,100,1000] [--sandbox NAME] [--out FILE]");
                    return 2;
            }
        }

        string rootfs = Scenarios.CreateRootfs();
        var sandbox = Scenarios.Build(sandboxName, rootfs);
        var running = new List<SandboxProcess>();
        try
        {
            // One run first, so that the runtime's one-time costs (JIT, the reactor thread, the
            // thread pool warming up) are not counted per sandbox.
            await Scenarios.RunSandboxAsync(sandbox, Scenarios.True);
            var baseline = ProcessSample.Take();
            var table = new StringBuilder();
            table.AppendLine("| Sandboxes | Started per second | Helper + init Rss per sandbox | Pss | Private | Command Rss (not counted) | .NET Rss growth per sandbox | Managed allocated per start | Managed held per sandbox | fds per sandbox | Threads (growth) | Kernel memory growth per sandbox |");
            table.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (int count in counts)
            {
                int toStart = count - running.Count;
                long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                long t = Stopwatch.GetTimestamp();
                // At most 16 starts in flight: enough to keep both cores busy, few enough that
                // a failure stops the ramp quickly.
                using var gate = new SemaphoreSlim(16);
                var started = await Task.WhenAll(Enumerable.Range(0, toStart).Select(async _ =>
                {
                    await gate.WaitAsync();
                    try
                    {
                        return await sandbox.StartAsync(Sleep);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
                double seconds = Stopwatch.GetElapsedTime(t).TotalSeconds;
                long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                running.AddRange(started);

                var outside = MemoryOf(running);
                var sample = ProcessSample.Take();
                string row = $"| {count} | {toStart / seconds:F0} | {Kib(outside.HelperRss / count)} | {Kib(outside.HelperPss / count)} | {Kib(outside.HelperPrivate / count)} " +
                    $"| {Kib(outside.CommandRss / count)} | {Kib((sample.Rss - baseline.Rss) / count)} | {Kib(allocated / toStart, bytes: true)} " +
                    $"| {Kib((sample.ManagedHeld - baseline.ManagedHeld) / count, bytes: true)} | {(double)(sample.Fds - baseline.Fds) / count:F2} " +
                    $"| {sample.Threads} ({sample.Threads - baseline.Threads:+0;-0;0}) | {Kib((sample.KernelKib - baseline.KernelKib) * 1024 / count)} |";
                table.AppendLine(row);
                Console.Error.WriteLine(row);
            }
            Console.Write(table);
            if (output is not null)
                await File.WriteAllTextAsync(output, table.ToString());
            return 0;
        }
        finally
        {
            long t = Stopwatch.GetTimestamp();
            await Task.WhenAll(running.Select(p => p.KillAsync()));
            await Task.WhenAll(running.Select(p => p.DisposeAsync().AsTask()));
            Console.Error.WriteLine($"killed {running.Count} sandboxes in {Stopwatch.GetElapsedTime(t).TotalMilliseconds:F0} ms");
            Directory.Delete(rootfs, recursive: true);
        }
    }

    /// <summary>Bytes (from KiB) as "123 KiB", or, for managed sizes, bytes under 10 KiB as "1,234 B".</summary>
    private static string Kib(double value, bool bytes = false) =>
        bytes ? (value < 10240 ? $"{value:N0} B" : $"{value / 1024:N1} KiB") : $"{value / 1024:N0} KiB";

    private readonly record struct Outside(long HelperRss, long HelperPss, long HelperPrivate, long CommandRss);

    /// <summary>Sums smaps_rollup (in bytes) of every sandbox's helper and init, and of its command.</summary>
    private static Outside MemoryOf(IEnumerable<SandboxProcess> sandboxes)
    {
        long rss = 0, pss = 0, priv = 0, commandRss = 0;
        foreach (var p in sandboxes)
        {
            // The command's parent is the sandbox's init, whose parent is the helper.
            int init = ParentOf(p.Pid), helper = ParentOf(init);
            commandRss += Rollup(p.Pid).Rss;
            foreach (int pid in new[] { init, helper })
            {
                var r = Rollup(pid);
                rss += r.Rss;
                pss += r.Pss;
                priv += r.Private;
            }
        }
        return new Outside(rss, pss, priv, commandRss);
    }

    private static int ParentOf(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("PPid:", StringComparison.Ordinal))[5..].Trim());

    private static (long Rss, long Pss, long Private) Rollup(int pid)
    {
        long rss = 0, pss = 0, priv = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
        {
            if (line.StartsWith("Rss:", StringComparison.Ordinal))
                rss = KiB(line);
            else if (line.StartsWith("Pss:", StringComparison.Ordinal))
                pss = KiB(line);
            else if (line.StartsWith("Private_", StringComparison.Ordinal))
                priv += KiB(line);
        }
        return (rss * 1024, pss * 1024, priv * 1024);
    }

    /// <summary>The number in a "Name:   123 kB" line.</summary>
    private static long KiB(string line) => long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1]);

    private readonly record struct ProcessSample(long Rss, long ManagedHeld, int Fds, int Threads, long KernelKib)
    {
        public static ProcessSample Take()
        {
            long held = GC.GetTotalMemory(forceFullCollection: true);
            var status = File.ReadLines("/proc/self/status").ToArray();
            long Field(string[] lines, string name) => KiB(lines.First(l => l.StartsWith(name + ":", StringComparison.Ordinal)));
            var meminfo = File.ReadLines("/proc/meminfo").ToArray();
            return new ProcessSample(
                Field(status, "VmRSS") * 1024,
                held,
                Directory.GetFileSystemEntries("/proc/self/fd").Length,
                (int)Field(status, "Threads"),
                Field(meminfo, "Slab") + Field(meminfo, "KernelStack") + Field(meminfo, "PageTables"));
        }
    }
}
