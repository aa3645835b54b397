using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

public class UserMappingTests
{
    [Fact]
    public async Task By_default_the_command_is_nobody_inside_and_the_hosts_nobody_for_a_root_caller()
    {
        string output = await new SandboxBuilder().Build().OutputOfAsync("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '");
        Assert.Equal(["65534", "65534", " 65534 65534 1", " 65534 65534 1"], output.Split('\n'));
    }

    [Fact]
    public async Task Root_inside_is_asked_for_and_is_still_the_hosts_nobody()
    {
        string output = await new SandboxBuilder().WithUser(0, 0).Build().OutputOfAsync("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '; echo $HOME");
        Assert.Equal(["0", "0", " 0 65534 1", " 0 65534 1", "/root"], output.Split('\n'));
    }

    [Fact]
    public async Task The_sandbox_user_can_be_a_chosen_uid_and_gid()
    {
        string output = await new SandboxBuilder().WithUser(1000, 1001).Build().OutputOfAsync("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '");
        Assert.Equal(["1000", "1001", " 1000 65534 1", " 1001 65534 1"], output.Split('\n'));
    }

    [Fact]
    public async Task Root_inside_can_be_made_root_outside_only_explicitly()
    {
        var sandbox = new SandboxBuilder().WithUidMappings(new IdMapping(0, 0, 1)).WithGidMappings(new IdMapping(0, 0, 1)).WithUser(0, 0).Build();
        Assert.Equal("0 0 1", string.Join(' ', (await sandbox.OutputOfAsync("cat /proc/self/uid_map")).Split(' ', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Root_can_map_full_ranges_and_files_belong_to_the_mapped_host_ids()
    {
        using var dir = new TempDirectory();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0x1FF); // 0777: the mapped user must write here
        var sandbox = new SandboxBuilder()
            .WithUidMappings(new IdMapping(0, 200000, 65536))
            .WithGidMappings(new IdMapping(0, 200000, 65536))
            .WithUser(1000, 1000)
            .WithBindMount(dir.Path, "/tmp/out", readOnly: false)
            .Build();
        string output = await sandbox.OutputOfAsync("id -u; touch /tmp/out/made-inside; cat /proc/self/uid_map | tr -s ' '");
        Assert.Equal(["1000", " 0 200000 65536"], output.Split('\n'));
        var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u:%g", System.IO.Path.Combine(dir.Path, "made-inside")]) { RedirectStandardOutput = true })!;
        Assert.Equal("201000:201000", (await stat.StandardOutput.ReadToEndAsync()).Trim());
    }

    [Fact]
    public async Task An_unprivileged_caller_is_nobody_inside_its_own_user_namespace_by_default()
    {
        var (code, output, error) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "probe");
        Assert.True(code == 0, error);
        var lines = output.Trim().Split('\n').Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToArray();
        Assert.Equal("65534", lines[0]);
        Assert.Equal("65534", lines[1]);
        Assert.Equal("65534 65534 1", lines[2]);
        Assert.Equal("sandbox", lines[3]);
        Assert.Equal("pid=2", lines[4]);
        Assert.Equal("usr-readonly", lines[5]);
        Assert.Equal("verdict=Exited code=0", lines[6]);
    }

    [Fact]
    public async Task An_unprivileged_caller_without_a_delegated_cgroup_gets_a_clear_error_for_limits()
    {
        var (code, output, error) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "limits");
        Assert.True(code == 0, error);
        Assert.StartsWith("error step=create the cgroup: Sandbox could not create its cgroup", output.Trim());
        Assert.Contains("Hint:", output);
    }
}
