using System.Text.Json;

namespace Sandboxing.Cli.Tests;

/// <summary><c>sandbox probe</c> run as a real process, against the host's own facts.</summary>
public class ProbeCommandTests
{
    [Fact]
    public async Task Probe_prints_the_report_as_a_table()
    {
        var result = await Cli.RunAsync("probe");

        Assert.True(result.ExitCode == 0, result.ToString()); // root on this machine can run sandboxes
        string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        Assert.Contains($"Kernel:          Linux {release}\n", result.StandardOutput);
        Assert.Contains("User:            uid 0 (root)\n", result.StandardOutput);
        Assert.Contains("Can run:         yes\n", result.StandardOutput);
        Assert.Matches(@"\nFEATURE +SUPPORTED +DETAILS\n", result.StandardOutput);
        Assert.Matches(@"\nkernel +yes +Linux ", result.StandardOutput);
        Assert.Matches(@"\nuserns\.privileged +yes +.*Confirmed", result.StandardOutput);
        foreach (string ns in new[] { "user", "pid", "mount", "network", "uts", "ipc", "cgroup", "time" })
            Assert.Matches($@"\nns\.{ns} +(yes|no) ", result.StandardOutput);
        Assert.Matches(@"\nCONTROLLER +VERSION +DELEGATED +DETAILS\n", result.StandardOutput);
        Assert.Equal("", result.StandardError);
    }

    [Fact]
    public async Task Probe_json_is_one_object_with_every_feature()
    {
        var result = await Cli.RunAsync("probe", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.StandardOutput);
        var root = doc.RootElement;
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), root.GetProperty("kernelRelease").GetString());
        Assert.True(root.GetProperty("canRunSandboxes").GetBoolean());
        Assert.Equal(0u, root.GetProperty("effectiveUid").GetUInt32());
        Assert.Contains(root.GetProperty("cgroupMode").GetString(), new[] { "v1", "v2", "hybrid", "none" });

        var features = root.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        foreach (string name in new[] { "kernel", "helper", "userns.privileged", "userns.unprivileged", "ns.time", "cgroups", "seccomp", "landlock", "overlayfs", "overlayfs.userns", "idmapped-mounts", "mount-api", "pidfd", "clone3", "clone-into-cgroup" })
        {
            Assert.True(features.ContainsKey(name), name);
            Assert.False(string.IsNullOrEmpty(features[name].GetProperty("reason").GetString()), name);
            Assert.True(features[name].TryGetProperty("hint", out _), name); // present, null when supported
        }
        // Each namespace agrees with /proc/self/ns.
        Assert.Equal(File.Exists("/proc/self/ns/time"), features["ns.time"].GetProperty("supported").GetBoolean());

        foreach (var c in root.GetProperty("cgroupControllers").EnumerateArray())
        {
            Assert.Contains(c.GetProperty("version").GetInt32(), new[] { 1, 2 });
            Assert.True(Directory.Exists(c.GetProperty("directory").GetString()));
        }
        Assert.Equal("", result.StandardError);
    }

    [Theory]
    [InlineData("probe", "--help")]
    [InlineData("probe", "-h")]
    [InlineData("help", "probe")]
    public async Task Probe_help_is_docker_style(params string[] args)
    {
        var result = await Cli.RunAsync(args);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(ProbeCommand.Help, result.StandardOutput);
        Assert.Contains("Usage:  sandbox probe [OPTIONS]", result.StandardOutput);
        Assert.Contains("--json", result.StandardOutput);
    }

    [Fact]
    public async Task Main_help_lists_probe() =>
        Assert.Contains("  probe ", (await Cli.RunAsync("--help")).StandardOutput);

    [Theory]
    [InlineData("sandbox: unknown option '--bogus' for 'probe'. See 'sandbox probe --help'.\n", "probe", "--bogus")]
    [InlineData("sandbox: 'probe' takes no arguments, got 'now'. See 'sandbox probe --help'.\n", "probe", "now")]
    public async Task A_wrong_probe_command_line_is_a_usage_error(string error, params string[] args)
    {
        var result = await Cli.RunAsync(args);

        Assert.Equal(125, result.ExitCode);
        Assert.Equal(error, result.StandardError);
        Assert.Equal("", result.StandardOutput);
    }
}
