namespace Sandboxing.Cgroups.Tests;

/// <summary>The v1 control file parsers and unit conversions, on text as the kernel prints it.</summary>
public class V1FilesTests
{
    [Fact]
    public void Flat_keyed_files_parse_into_numbers_by_key()
    {
        Assert.Equal(
            new Dictionary<string, long> { ["oom_kill_disable"] = 0, ["under_oom"] = 0, ["oom_kill"] = 2 },
            V1Files.ParseFlatKeyed("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"));
        Assert.Equal(new Dictionary<string, long> { ["user"] = 12, ["system"] = 3 }, V1Files.ParseFlatKeyed("user 12\nsystem 3"));
        Assert.Equal(new Dictionary<string, long> { ["max"] = 5 }, V1Files.ParseFlatKeyed("max 5\n"));
        Assert.Empty(V1Files.ParseFlatKeyed(""));
        // Odd lines are skipped rather than failing the whole file.
        Assert.Equal(new Dictionary<string, long> { ["a"] = 1 }, V1Files.ParseFlatKeyed("a 1\nnot a number line\nb x\n"));
    }

    [Fact]
    public void Blkio_statistics_sum_the_read_and_write_lines_of_every_device()
    {
        const string serviceBytes =
            "8:16 Read 1000\n8:16 Write 24\n8:16 Sync 1024\n8:16 Async 0\n8:16 Discard 0\n8:16 Total 1024\n"
            + "8:0 Read 4096\n8:0 Write 0\n8:0 Sync 4096\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 4096\nTotal 5120\n";

        Assert.Equal((5096L, 24L), V1Files.ParseBlkioReadWrite(serviceBytes));
        // A new cgroup's file, as this host prints it.
        Assert.Equal((0L, 0L), V1Files.ParseBlkioReadWrite(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "v1-blkio", "blkio.throttle.io_service_bytes"))));
    }

    [Fact]
    public void Procs_files_and_single_numbers_parse_and_report_what_is_wrong()
    {
        Assert.Equal([12, 345], V1Files.ParsePids("12\n345\n", "cgroup.procs"));
        Assert.Empty(V1Files.ParsePids("", "cgroup.procs"));
        Assert.Equal(9223372036854771712, V1Files.ParseInt64("9223372036854771712\n", "memory.limit_in_bytes"));
        Assert.Equal(-1, V1Files.ParseInt64("-1\n", "cpu.cfs_quota_us"));
        var e = Assert.Throws<FormatException>(() => V1Files.ParseInt64("max\n", "/x/pids.current"));
        Assert.Contains("/x/pids.current", e.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => V1Files.ParsePids("12\nabc\n", "cgroup.procs").ToArray());
    }

    [Theory]
    [InlineData(0.01, 1_000)]
    [InlineData(0.2, 20_000)]
    [InlineData(1.5, 150_000)]
    [InlineData(4, 400_000)]
    public void Cpus_become_a_quota_in_microseconds_per_100_ms(double cpus, long quota) =>
        Assert.Equal(quota, CpuController.QuotaFor(cpus));

    [Fact]
    public void Cpuacct_units_convert_to_time()
    {
        Assert.Equal(TimeSpan.FromSeconds(1.5), CpuacctController.FromNanoseconds(1_500_000_000));
        Assert.Equal(TimeSpan.FromSeconds(0.12), CpuacctController.FromUserHz(12)); // USER_HZ = 100
    }
}
