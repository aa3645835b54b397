using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>What a command inside a default sandbox must fail to do, proven from inside.</summary>
public class ContainmentTests
{
    private readonly Sandbox _sandbox = new SandboxBuilder().Build();

    public static TheoryData<string, string> Attempts => new()
    {
        { "remount the root read-write", "mount -o remount,bind,rw / && touch /etc/sandbox-escape" },
        { "unmount /tmp to reveal the host's", "umount /tmp || umount -l /tmp" },
        { "unmount /proc", "umount -l /proc" },
        { "unmount /dev", "umount -l /dev" },
        { "mount a tmpfs", "mount -t tmpfs none /mnt" },
        { "write the host's kernel settings", "echo core > /proc/sys/kernel/core_pattern" },
        { "read /etc/shadow", "cat /etc/shadow" },
        { "write to the read-only host root", "touch /usr/sandbox-escape" },
        { "chroot", "chroot / true" },
        { "regain capabilities in a nested user namespace to remount", "unshare -rm sh -c 'mount -o remount,bind,rw / && touch /etc/sandbox-escape'" },
    };

    [Theory]
    [MemberData(nameof(Attempts))]
    public async Task A_default_sandbox_refuses(string what, string script)
    {
        var r = await _sandbox.ShAsync(script);
        Assert.True(r.ExitCode != 0, $"'{what}' succeeded: {r.StandardOutput}{r.StandardError}");
        Assert.False(File.Exists("/etc/sandbox-escape"));
        Assert.False(File.Exists("/usr/sandbox-escape"));
    }

    [Fact]
    public async Task The_command_has_no_capabilities_and_no_new_privileges()
    {
        string status = await _sandbox.OutputOfAsync("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status | tr -s '\\t' ' '");
        Assert.Equal(
            ["CapInh: 0000000000000000", "CapPrm: 0000000000000000", "CapEff: 0000000000000000", "CapBnd: 0000000000000000", "CapAmb: 0000000000000000", "NoNewPrivs: 1"],
            status.Split('\n'));
    }

    [Fact]
    public async Task The_command_gets_only_its_three_standard_fds()
    {
        Assert.Equal("0 1 2 3", await _sandbox.OutputOfAsync("ls /proc/self/fd | sort -n | paste -sd' '")); // 3: ls's own directory
    }

    [Fact]
    public async Task Init_and_the_helper_binary_are_out_of_reach()
    {
        var r = await _sandbox.ShAsync("head -c 4 /proc/1/exe; ls /proc/1/fd; kill -TERM 1; kill -KILL 1; echo alive");
        Assert.DoesNotContain("ELF", r.StandardOutput);
        Assert.EndsWith("alive\n", r.StandardOutput);
    }

    [Fact]
    public async Task Dockers_masked_and_read_only_paths_apply()
    {
        var r = await _sandbox.ShAsync(
            "cat /proc/kcore 2>/dev/null | wc -c; cat /proc/keys | wc -l; ls -A /sys/firmware | wc -l; " +
            "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo sys-writable || echo sys-readonly; " +
            "echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-readonly");
        Assert.Equal(["0", "0", "0", "sys-readonly", "sysrq-readonly"], r.StandardOutput.Trim().Split('\n'));
        Assert.NotEmpty(Directory.GetFileSystemEntries("/sys/firmware")); // the host's is there to hide

        var unmasked = await new SandboxBuilder().WithMaskedPaths().WithReadOnlyPaths().Build().ShAsync("ls -A /sys/firmware | wc -l");
        Assert.NotEqual("0", unmasked.StandardOutput.Trim());
    }

    [Fact]
    public async Task A_world_writable_host_unix_socket_is_out_of_reach_unless_asked_for()
    {
        string path = $"/run/sandbox-test-{Guid.NewGuid():N}.sock";
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        try
        {
            File.SetUnixFileMode(path, (UnixFileMode)0x1B6); // 0666: anyone may connect, nobody included
            listener.Listen();
            string connect = $"python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('{path}'); print('connected')\"";

            var masked = await _sandbox.ShAsync(connect);
            Assert.NotEqual(0, masked.ExitCode);
            Assert.DoesNotContain("connected", masked.StandardOutput);

            var allowed = await new SandboxBuilder().WithHostSockets().Build().ShAsync(connect);
            Assert.Equal("connected\n", allowed.StandardOutput);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
