namespace Sandboxing.Cli.Tests;

/// <summary>--cap-add, --cap-drop, --ulimit, --group-add, --umask and --security-opt: parsed, then seen from inside.</summary>
public class PrivilegeOptionsTests
{
    private static readonly CallerContext s_caller = new("/home/me", _ => null);

    private static RunOptions Parse(params string[] args) => RunOptionsParser.Parse([.. args, "true"], s_caller);

    private static CliUsageException ParseError(params string[] args) =>
        Assert.Throws<CliUsageException>(() => RunOptionsParser.Parse([.. args, "true"], s_caller));

    [Fact]
    public void Capabilities_are_added_and_dropped_in_order_starting_from_none()
    {
        Assert.Null(Parse().Capabilities);
        Assert.Equal([Capability.NetRaw], Parse("--cap-add", "NET_RAW").Capabilities!);
        Assert.Equal([Capability.Chown, Capability.NetRaw], Parse("--cap-add", "cap_net_raw", "--cap-add=CHOWN").Capabilities!);
        var docker = Parse("--cap-add", "DEFAULT", "--cap-drop", "NET_RAW").Capabilities!;
        Assert.Equal(Capabilities.DockerDefault.Remove(Capability.NetRaw), docker);
        Assert.Equal(Capabilities.All.Remove(Capability.SysAdmin), Parse("--cap-add", "ALL", "--cap-drop", "SYS_ADMIN").Capabilities!);
        Assert.Empty(Parse("--cap-add", "CHOWN", "--cap-drop", "ALL").Capabilities!);
        Assert.Contains("expected a capability such as NET_RAW", ParseError("--cap-add", "NET_RAWW").Message);
    }

    [Fact]
    public void Ulimits_use_dockers_syntax()
    {
        var o = Parse("--ulimit", "nofile=1024:2048", "--ulimit", "core=-1", "--ulimit", "fsize=100", "--ulimit", "nofile=10");
        Assert.Equal(new ResourceLimitValue(10, 10), o.ResourceLimits[ResourceLimit.Nofile]);
        Assert.Equal(new ResourceLimitValue(ResourceLimitValue.Unlimited, ResourceLimitValue.Unlimited), o.ResourceLimits[ResourceLimit.Core]);
        Assert.Equal(new ResourceLimitValue(100, 100), o.ResourceLimits[ResourceLimit.Fsize]);
        Assert.Equal(new ResourceLimitValue(5, ResourceLimitValue.Unlimited), Parse("--ulimit", "stack=5:unlimited").ResourceLimits[ResourceLimit.Stack]);
        foreach (var bad in new[] { "nofile", "nofile=", "files=10", "nofile=a", "nofile=1:2:3", "nofile=-2", "7=1" })
            Assert.Contains("expected NAME=SOFT[:HARD]", ParseError("--ulimit", bad).Message);
        Assert.Contains("soft limit is above the hard limit", ParseError("--ulimit", "nofile=20:10").Message);
    }

    [Fact]
    public void Groups_umask_and_no_new_privileges_parse()
    {
        var o = Parse("--group-add", "10", "--group-add=20", "--umask", "077", "--security-opt", "no-new-privileges=false");
        Assert.Equal([10u, 20u], o.SupplementaryGroups.ToArray());
        Assert.Equal(0x3F, o.Umask);
        Assert.False(o.NoNewPrivileges);
        Assert.True(Parse("--security-opt", "no-new-privileges").NoNewPrivileges);
        Assert.True(Parse("--security-opt", "no-new-privileges:true").NoNewPrivileges);
        Assert.Contains("numeric gid", ParseError("--group-add", "wheel").Message);
        Assert.Contains("octal umask", ParseError("--umask", "999").Message);
        Assert.Contains("no-new-privileges", ParseError("--security-opt", "apparmor=unconfined").Message);
    }

    [Fact]
    public async Task The_command_sees_its_capabilities_limits_groups_and_umask()
    {
        var result = await Cli.RunAsync(
            "run", "--cap-add", "CHOWN", "--ulimit", "nofile=50:60", "--umask", "027", "--security-opt", "no-new-privileges=false", "--",
            "/bin/sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -s '\\t' ' '; ulimit -n; ulimit -Hn; umask; ulimit -c");
        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal("CapEff: 0000000000000001\nNoNewPrivs: 0\n50\n60\n0027\n0\n", result.StandardOutput);
    }

    [Fact]
    public void Landlock_rules_parse_in_order()
    {
        Assert.Null(Parse().LandlockRules);
        var rules = Parse("--landlock", "/data:rw", "--landlock-programs", "--landlock=/opt/app:rx").LandlockRules!.Value;
        Assert.Equal(new LandlockRule("/data", LandlockAccess.ReadWrite), rules[0]);
        Assert.Equal(new LandlockRule("/opt/app", LandlockAccess.ReadExecute), rules[^1]);
        Assert.Equal(2 + SandboxLandlock.HostProgramRules.Length, rules.Length);
        foreach (var bad in new[] { "/data", "data:rw", "/data:", "/data:rq" })
            Assert.Contains("expected PATH:MODE", ParseError("--landlock", bad).Message);
    }

    [Fact]
    public async Task Landlock_confines_the_command_from_the_command_line()
    {
        var result = await Cli.RunAsync("run", "--landlock-programs", "--landlock", "/etc/hostname:r", "--", "/bin/sh", "-c", "cat /etc/hostname >/dev/null && echo ok; ls /home");
        Assert.Equal("ok\n", result.StandardOutput);
        Assert.Contains("Permission denied", result.StandardError);
    }

    [Fact]
    public async Task Seccomp_can_be_turned_off_from_the_command_line()
    {
        var on = await Cli.RunAsync("run", "--", "/bin/sh", "-c", "grep ^Seccomp: /proc/self/status");
        var off = await Cli.RunAsync("run", "--security-opt", "seccomp=unconfined", "--", "/bin/sh", "-c", "grep ^Seccomp: /proc/self/status");
        Assert.Equal("Seccomp:\t2\n", on.StandardOutput);
        Assert.Equal("Seccomp:\t0\n", off.StandardOutput);
        Assert.Contains("seccomp=default or seccomp=unconfined", ParseError("--security-opt", "seccomp=/x.json").Message);
    }

    [Fact]
    public async Task The_cpu_time_limit_ends_a_spinning_command_with_its_verdict_in_the_report()
    {
        string report = Path.Combine(Path.GetTempPath(), $"sandbox-cpu-{Guid.NewGuid():N}.json");
        try
        {
            var result = await Cli.RunAsync("run", "--cpu-time", "200ms", "--timeout", "30s", "--report", report, "--", "/bin/sh", "-c", "while :; do :; done");
            Assert.Contains("\"verdict\":\"cputimelimitexceeded\"", File.ReadAllText(report));
            Assert.Contains("\"cputime\"", File.ReadAllText(report));
            Assert.NotEqual(0, result.ExitCode);
        }
        finally
        {
            File.Delete(report);
        }
        Assert.Contains("positive duration of CPU time", ParseError("--cpu-time", "soon").Message);
    }

    [Fact]
    public async Task The_output_limit_passes_that_much_through_and_kills_a_flood()
    {
        string report = Path.Combine(Path.GetTempPath(), $"sandbox-output-{Guid.NewGuid():N}.json");
        try
        {
            var flood = await Cli.RunAsync("run", "--output-limit", "1k", "--timeout", "30s", "--report", report, "--", "/bin/sh", "-c", "yes sandbox");
            Assert.Equal(1024, flood.StandardOutput.Length);
            Assert.StartsWith("sandbox\nsandbox\n", flood.StandardOutput);
            Assert.Contains("\"verdict\":\"outputlimitexceeded\"", File.ReadAllText(report));
            Assert.Equal(137, flood.ExitCode); // killed by SIGKILL, as docker reports it
            var within = await Cli.RunAsync("run", "--output-limit", "1k", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3");
            Assert.Equal(3, within.ExitCode);
            Assert.Equal("out\n", within.StandardOutput);
            Assert.Contains("err\n", within.StandardError);
        }
        finally
        {
            File.Delete(report);
        }
        Assert.Contains("a positive size in bytes", ParseError("--output-limit", "lots").Message);
        Assert.Contains("-t replaces with a terminal", ParseError("-t", "--output-limit", "1m").Message);
    }
}
