using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>Each namespace, proven from inside the sandbox.</summary>
public class NamespaceTests
{
    public static TheoryData<string, SandboxNamespaces> Kinds => new()
    {
        { "user", SandboxNamespaces.User },
        { "pid", SandboxNamespaces.Pid },
        { "mnt", SandboxNamespaces.Mount },
        { "net", SandboxNamespaces.Network },
        { "uts", SandboxNamespaces.Uts },
        { "ipc", SandboxNamespaces.Ipc },
        { "cgroup", SandboxNamespaces.Cgroup },
        { "time", SandboxNamespaces.Time },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Each_namespace_is_new_when_selected_and_shared_when_not(string kind, SandboxNamespaces ns)
    {
        string host = Sandboxes.NamespaceOf(kind);
        // pid and time namespaces apply to children: the command is a child of init.
        string script = $"readlink /proc/self/ns/{kind}";

        var all = new SandboxBuilder().Build();
        Assert.NotEqual(host, await all.OutputOfAsync(script));

        var builder = new SandboxBuilder().WithoutNamespaces(ns);
        if (ns == SandboxNamespaces.Mount)
            builder = builder.WithoutDefaultMounts();
        var without = builder.Build();
        Assert.Equal(host, await without.OutputOfAsync(script));
    }

    [Fact]
    public async Task The_command_is_pid_2_under_an_init_and_sees_only_sandbox_processes()
    {
        var sandbox = new SandboxBuilder().Build();
        string output = await sandbox.OutputOfAsync("echo $$; cat /proc/1/comm; ls /proc | grep -c '^[0-9]'");
        var lines = output.Split('\n');
        Assert.Equal("2", lines[0]);
        Assert.Equal("sandbox-helper", lines[1]);
        // init, sh, ls, grep (and nothing of the host's)
        Assert.InRange(int.Parse(lines[2]), 3, 5);
    }

    [Fact]
    public async Task The_hostname_is_the_sandbox_own()
    {
        Assert.Equal("sandbox", await new SandboxBuilder().Build().OutputOfAsync("hostname"));
        Assert.Equal("judge-7", await new SandboxBuilder().WithHostname("judge-7").Build().OutputOfAsync("hostname"));
        Assert.NotEqual("judge-7", System.Net.Dns.GetHostName());
    }

    [Fact]
    public async Task The_network_has_only_loopback_and_it_is_up()
    {
        var sandbox = new SandboxBuilder().Build();
        string devices = await sandbox.OutputOfAsync("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ls /sys/class/net");
        Assert.Equal("lo\nlo", devices); // /proc and /sys both show only the sandbox's own network
        // A TCP round trip over 127.0.0.1 works only if lo is up.
        string script = "python3 -c \"import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); c=socket.create_connection(s.getsockname()); a,_=s.accept(); c.send(b'ping'); print(a.recv(4).decode())\"";
        Assert.Equal("ping", await sandbox.OutputOfAsync(script));
    }

    [Fact]
    public async Task Host_network_mode_sees_the_host_interfaces()
    {
        string hostDevices = string.Join(",", File.ReadAllLines("/proc/net/dev").Skip(2).Select(l => l.Split(':')[0].Trim()).Order());
        var sandbox = new SandboxBuilder().WithNetwork(SandboxNetwork.Host).Build();
        string inside = await sandbox.OutputOfAsync("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | paste -sd,");
        Assert.Equal(hostDevices, inside);
    }

    [Fact]
    public async Task Clock_offsets_shift_boottime_and_monotonic_inside()
    {
        var sandbox = new SandboxBuilder().WithClockOffsets(TimeSpan.FromDays(2), TimeSpan.FromDays(10)).Build();
        string output = await sandbox.OutputOfAsync("cut -d' ' -f1 /proc/uptime; cat /proc/self/timens_offsets");
        var lines = output.Split('\n');
        double hostUptime = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        double insideUptime = double.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(insideUptime - hostUptime, 10 * 86400 - 60, 10 * 86400 + 60);
        Assert.Contains(lines, l => l.StartsWith("monotonic") && l.Contains(" 172800 "));
        Assert.Contains(lines, l => l.StartsWith("boottime") && l.Contains(" 864000 "));
    }

    [Fact]
    public async Task The_cgroup_namespace_shows_the_sandbox_cgroup_as_root()
    {
        string inside = await new SandboxBuilder().Build().OutputOfAsync("grep '^0::' /proc/self/cgroup");
        Assert.Equal("0::/", inside);
    }

    [Fact]
    public async Task Ipc_objects_of_the_host_are_invisible()
    {
        // A System V message queue made on the host side is listed in /proc/sysvipc/msg only there.
        string hostView = File.ReadAllText("/proc/sysvipc/msg");
        string inside = await new SandboxBuilder().Build().OutputOfAsync("tail -n +2 /proc/sysvipc/msg | wc -l");
        Assert.Equal("0", inside);
        Assert.NotNull(hostView);
    }
}
