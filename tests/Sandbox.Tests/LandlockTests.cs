using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Landlock as an extra layer under the mounts, seen from inside.</summary>
public class LandlockTests
{
    [Fact]
    public async Task Only_what_the_rules_grant_is_reachable()
    {
        var sandbox = new SandboxBuilder()
            .WithMounts(m => m.Tmpfs("/tmp/open").Tmpfs("/tmp/closed").File("/tmp/closed/secret", "s3cret\n").File("/tmp/open/data", "data\n"))
            .WithLandlock([.. SandboxLandlock.HostProgramRules.Where(r => r.Path != "/tmp"), new("/tmp/open", LandlockAccess.ReadWrite)])
            .Build();
        var r = await sandbox.ShAsync("cat /tmp/open/data; echo new > /tmp/open/new && cat /tmp/open/new; cat /tmp/closed/secret; ls /tmp/closed; touch /tmp/x");
        Assert.Equal("data\nnew\n", r.StandardOutput);
        Assert.Contains("/tmp/closed/secret: Permission denied", r.StandardError);
        Assert.Contains("can't open '/tmp/closed'", r.StandardError.Replace("ls: ", "").Replace("cannot open directory '/tmp/closed'", "can't open '/tmp/closed'"));
        Assert.Contains("/tmp/x", r.StandardError);
    }

    [Fact]
    public async Task Read_only_rules_refuse_writes_and_execution_needs_execute()
    {
        var sandbox = new SandboxBuilder()
            .WithMounts(m => m.Tmpfs("/tmp/ro").File("/tmp/ro/run.sh", "#!/bin/sh\necho ran\n", 0x1ED))
            // Rules add up along a path: /tmp's read-write rule would cover /tmp/ro too.
            .WithLandlock([.. SandboxLandlock.HostProgramRules.Where(r => r.Path != "/tmp"), new("/tmp/ro", LandlockAccess.Read)])
            .Build();
        var r = await sandbox.ShAsync("cat /tmp/ro/run.sh >/dev/null && echo readable; /tmp/ro/run.sh; echo x > /tmp/ro/run.sh");
        Assert.Equal("readable\n", r.StandardOutput);
        Assert.True(2 == r.StandardError.Split("Permission denied").Length - 1, r.StandardError); // exec and write
    }

    [Fact]
    public async Task A_missing_rule_path_is_an_error_unless_optional()
    {
        var sandbox = new SandboxBuilder().WithLandlock([.. SandboxLandlock.HostProgramRules, new("/nonexistent", LandlockAccess.Read)]).Build();
        var e = await Assert.ThrowsAsync<SandboxException>(() => sandbox.RunAsync(["/bin/true"]));
        Assert.Equal("apply the Landlock rules", e.Step);
        Assert.Contains("/nonexistent", e.Message);
        var optional = new SandboxBuilder().WithLandlock([.. SandboxLandlock.HostProgramRules, new("/nonexistent", LandlockAccess.Read, Optional: true)]).Build();
        Assert.True((await optional.RunAsync(["/bin/true"])).IsSuccess);
    }

    [Fact]
    public void Bad_rules_name_the_setting()
    {
        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithLandlock([new("relative", LandlockAccess.Read)]).Build());
        Assert.Contains("landlock.rules[0].path", e.Message);
        e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithLandlock([new("/x", 0)]).Build());
        Assert.Contains("landlock.rules[0].access", e.Message);
    }
}
