using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Capabilities, no_new_privs, rlimits, groups and umask, as the command sees them.</summary>
public class PrivilegeTests
{
    private static ulong Mask(IEnumerable<Capability> caps) => caps.Aggregate(0UL, (m, c) => m | 1UL << (int)c);

    private static Dictionary<string, string> Status(string text) =>
        text.Split('\n').Select(l => l.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim());

    [Fact]
    public async Task By_default_no_capability_survives_and_no_new_privileges_can_be_gained()
    {
        var status = Status(await new SandboxBuilder().Build().OutputOfAsync("cat /proc/self/status"));
        foreach (var set in new[] { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" })
            Assert.Equal(0UL, Convert.ToUInt64(status[set], 16));
        Assert.Equal("1", status["NoNewPrivs"]);
        // Without CAP_CHOWN even root inside cannot give a file away (to a uid that is mapped).
        var r = await new SandboxBuilder().WithUidMappings(new IdMapping(0, 100000, 65536)).WithGidMappings(new IdMapping(0, 100000, 65536))
            .Build().ShAsync("touch /tmp/f && chown 1:1 /tmp/f");
        Assert.Contains("Operation not permitted", r.StandardError);
    }

    [Fact]
    public async Task Dockers_capability_set_is_kept_in_every_set_and_works()
    {
        var sandbox = new SandboxBuilder().WithCapabilities(Capabilities.DockerDefault)
            .WithUidMappings(new IdMapping(0, 100000, 65536)).WithGidMappings(new IdMapping(0, 100000, 65536)).Build();
        var status = Status(await sandbox.OutputOfAsync("cat /proc/self/status"));
        ulong docker = Mask(Capabilities.DockerDefault);
        foreach (var set in new[] { "CapPrm", "CapEff", "CapBnd" })
            Assert.Equal(docker, Convert.ToUInt64(status[set], 16));
        Assert.Equal("0:0", await sandbox.OutputOfAsync("touch /tmp/f && chown 1:1 /tmp/f && chown 0:0 /tmp/f && stat -c %u:%g /tmp/f"));
        // A capability outside the set stays out: CAP_SYS_ADMIN would allow mounting.
        var r = await sandbox.ShAsync("mount -t tmpfs none /mnt");
        Assert.NotEqual(0, r.ExitCode);
    }

    [Fact]
    public async Task A_non_root_command_keeps_its_capabilities_through_exec_as_ambient_ones()
    {
        var sandbox = new SandboxBuilder().WithCapabilities(Capability.Chown).WithUser(1000, 1000)
            .WithUidMappings(new IdMapping(0, 100000, 65536)).WithGidMappings(new IdMapping(0, 100000, 65536)).Build();
        var status = Status(await sandbox.OutputOfAsync("cat /proc/self/status"));
        Assert.Equal(Mask([Capability.Chown]), Convert.ToUInt64(status["CapEff"], 16));
        Assert.Equal(Mask([Capability.Chown]), Convert.ToUInt64(status["CapAmb"], 16));
        Assert.Equal("2", await sandbox.OutputOfAsync("touch /tmp/f && chown 2 /tmp/f && stat -c %u /tmp/f"));
    }

    [Fact]
    public async Task New_privileges_can_be_allowed()
    {
        var status = Status(await new SandboxBuilder().WithNewPrivileges().Build().OutputOfAsync("cat /proc/self/status"));
        Assert.Equal("0", status["NoNewPrivs"]);
    }

    [Fact]
    public async Task Resource_limits_apply_and_core_dumps_are_off_by_default()
    {
        Assert.Equal("0", await new SandboxBuilder().Build().OutputOfAsync("ulimit -c"));
        var sandbox = new SandboxBuilder()
            .WithResourceLimit(ResourceLimit.Nofile, 64)
            .WithResourceLimit(ResourceLimit.Fsize, 4096)
            .WithResourceLimit(ResourceLimit.Stack, 1 << 20, ResourceLimitValue.Unlimited).Build();
        Assert.Equal("64 64 1024 unlimited", await sandbox.OutputOfAsync("echo $(ulimit -n) $(ulimit -Hn) $(ulimit -s) $(ulimit -Hs)"));
        // Writing past RLIMIT_FSIZE kills with SIGXFSZ (25).
        var r = await sandbox.RunAsync(["/bin/sh", "-c", "head -c 8192 /dev/zero > /tmp/big"]);
        Assert.True(r.Signal == 25 || r.ExitCode == 128 + 25 || r.ExitCode == 153, $"{r} {r.StandardError}");
    }

    [Fact]
    public async Task Supplementary_groups_and_umask_are_the_commands()
    {
        var sandbox = new SandboxBuilder().WithSupplementaryGroups(10, 20).WithUmask(0x3F /* 077 */)
            .WithUidMappings(new IdMapping(0, 100000, 65536)).WithGidMappings(new IdMapping(0, 100000, 65536)).Build();
        Assert.Equal("65534 10 20\n0077\n600", await sandbox.OutputOfAsync("id -G; umask; touch /tmp/f && stat -c %a /tmp/f"));
    }

    [Fact]
    public void Bad_privilege_settings_name_the_setting()
    {
        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithUmask(0x200).Build());
        Assert.Contains("umask", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithResourceLimit(ResourceLimit.Nofile, 10, 5).Build());
        Assert.Contains("resourceLimits.nofile", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithSupplementaryGroups(10).Build());
        Assert.Contains("supplementaryGroups", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithSupplementaryGroups(70000)
            .WithUidMappings(new IdMapping(0, 100000, 65536)).WithGidMappings(new IdMapping(0, 100000, 65536)).Build());
        Assert.Contains("70000 is not mapped", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithCapabilities((Capability)99).Build());
        Assert.Contains("capabilities", e.Message);
        Assert.True(Capabilities.TryParse("cap_net_raw", out var raw) && raw == Capability.NetRaw);
        Assert.True(Capabilities.TryParse("SYS_ADMIN", out var admin) && admin == Capability.SysAdmin);
        Assert.Equal("CAP_DAC_READ_SEARCH", Capabilities.KernelName(Capability.DacReadSearch));
        Assert.False(Capabilities.TryParse("CAP_NOPE", out _));
    }
}
