using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>
/// What the containment suite's attacks aim at on the host, set up once per run of the suite:
/// a root-owned process to signal, trace and read through /proc, a TCP listener on the host's
/// loopback, a terminal held by a session of its own, a host file behind a read-only bind, a
/// world-writable directory on the host's root filesystem, and a setuid copy of <c>id</c>.
/// Everything is removed (and the processes killed) on disposal.
/// </summary>
public sealed class ContainmentHost : IAsyncLifetime
{
    /// <summary>Content of <see cref="BoundFile"/>; a run that changes it has written through the bind.</summary>
    public const string BoundFileContent = "host data\n";

    /// <summary>uid and gid 0 inside a sandbox with <see cref="FullRange"/> mappings, on the host.</summary>
    public const int MappedRootOnHost = 100000;

    private readonly TempDirectory _bound = new();
    private readonly TempDirectory _setuid = new();
    private readonly TempDirectory _victimCwd = new();
    private Process? _victim;
    private Process? _terminalHolder;
    private TcpListener? _listener;

    /// <summary>The root/uid mapping that lets a sandbox use 65536 ids (host 100000-165535).</summary>
    public static IdMapping FullRange { get; } = new(0, MappedRootOnHost, 65536);

    /// <summary>A <c>sleep</c> started by the test (as root, in the host's namespaces).</summary>
    public int VictimPid => _victim!.Id;

    /// <summary>The file the victim's working directory holds, readable by anyone who can get there.</summary>
    public string VictimSecret => Path.Combine(_victimCwd.Path, "secret");

    /// <summary>Port of a TCP listener on the host's 127.0.0.1.</summary>
    public int LoopbackPort => ((IPEndPoint)_listener!.LocalEndpoint).Port;

    /// <summary>A pseudo-terminal that is the controlling terminal of a host session, as the caller's shell's terminal is.</summary>
    public string TerminalPath { get; private set; } = "";

    /// <summary>A host directory bound into the sandbox at /tmp/ro (read-only by default).</summary>
    public string BoundDirectory => _bound.Path;

    /// <summary>A file in <see cref="BoundDirectory"/> that anyone may write.</summary>
    public string BoundFile => Path.Combine(_bound.Path, "data");

    /// <summary>
    /// A world-writable directory on the host's root filesystem (not under /tmp, /run or /var/tmp,
    /// which the sandbox covers): only the read-only mount keeps the sandbox from writing here.
    /// </summary>
    public string WritableHostDirectory { get; } = Path.Combine(DebianImage.CacheDirectory, $"containment-{Guid.NewGuid():N}");

    /// <summary>A directory with a copy of /usr/bin/id, setuid and owned by the sandbox's root (host uid 100000).</summary>
    public string SetuidDirectory => _setuid.Path;

    /// <summary>What the host itself sees of its network, to compare with a sandbox on the host's network.</summary>
    public string HostNetworkView { get; private set; } = "";

    public async Task InitializeAsync()
    {
        File.WriteAllText(VictimSecret, "host secret\n");
        File.SetUnixFileMode(_victimCwd.Path, (UnixFileMode)0x1ED); // 0755: only the ptrace check guards it
        var sleep = new ProcessStartInfo("/bin/sleep", "86400") { WorkingDirectory = _victimCwd.Path, UseShellExecute = false };
        _victim = Process.Start(sleep)!;

        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();

        File.WriteAllText(BoundFile, BoundFileContent);
        File.SetUnixFileMode(BoundFile, (UnixFileMode)0x1B6); // 0666

        Directory.CreateDirectory(WritableHostDirectory);
        File.SetUnixFileMode(WritableHostDirectory, (UnixFileMode)0x1FF); // 0777

        string id = Path.Combine(_setuid.Path, "id");
        File.Copy("/usr/bin/id", id);
        await Tools.RunAsync("chown", $"{MappedRootOnHost}:{MappedRootOnHost}", id);
        File.SetUnixFileMode(id, (UnixFileMode)0x9ED); // 04755: chown clears the setuid bit, so it comes last

        _terminalHolder = StartTerminalHolder();
        TerminalPath = (await _terminalHolder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!;
        Assert.StartsWith("/dev/pts/", TerminalPath);

        HostNetworkView = NetworkView(Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName)!, HostRouteProbe());
    }

    public Task DisposeAsync()
    {
        foreach (var p in new[] { _victim, _terminalHolder })
        {
            if (p is { HasExited: false })
                p.Kill();
            p?.Dispose();
        }
        _listener?.Stop();
        _listener?.Dispose();
        _bound.Dispose();
        _setuid.Dispose();
        _victimCwd.Dispose();
        if (Directory.Exists(WritableHostDirectory))
            Directory.Delete(WritableHostDirectory, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Whether the victim still runs and nothing traces it.</summary>
    public string VictimState()
    {
        if (_victim!.HasExited)
            return "host process killed";
        string tracer = File.ReadLines($"/proc/{VictimPid}/status").First(l => l.StartsWith("TracerPid:")).Split('\t')[1];
        return tracer == "0" ? "host process alive, untraced" : $"host process traced by {tracer}";
    }

    /// <summary>Whether the bound host file still has its content.</summary>
    public string BoundFileState() => File.ReadAllText(BoundFile) == BoundFileContent ? "host file unchanged" : "host file overwritten";

    /// <summary>Whether anything appeared in <see cref="WritableHostDirectory"/>.</summary>
    public string WritableHostDirectoryState() => Directory.EnumerateFileSystemEntries(WritableHostDirectory).Any() ? "file created on the host" : "nothing created on the host";

    /// <summary>Whether input is waiting on the caller's terminal (then drained, so each run is judged alone).</summary>
    public async Task<string> TerminalState()
    {
        await _terminalHolder!.StandardInput.WriteLineAsync("check");
        await _terminalHolder.StandardInput.FlushAsync();
        string? answer = await _terminalHolder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return answer == "clean" ? "no input injected into the caller's terminal" : $"caller's terminal got input: {answer}";
    }

    /// <summary>Whether a connection reached the host's loopback listener (then accepted and closed).</summary>
    public string ListenerState()
    {
        if (!_listener!.Pending())
            return "listener saw no connection";
        _listener.AcceptTcpClient().Dispose();
        return "listener accepted a connection";
    }

    /// <summary>The network as a sandbox script reports it: interfaces and the route to a documentation address.</summary>
    public static string NetworkView(IEnumerable<string> interfaces, string route) =>
        $"interfaces: {string.Join(' ', interfaces.Order(StringComparer.Ordinal))}; route to 198.51.100.1: {route}";

    // A UDP connect only looks the route up; no packet leaves.
    private static string HostRouteProbe()
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            udp.Connect(IPAddress.Parse("198.51.100.1"), 9);
            return "ok";
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.NetworkUnreachable)
        {
            return "ENETUNREACH";
        }
    }

    // A python process that opens a pty, makes it the controlling terminal of a new session (as a
    // login shell's terminal is) in raw mode, prints its path, and answers "check" with whether
    // input is waiting on it.
    private static Process StartTerminalHolder()
    {
        const string script = """
            import os, pty, select, sys, tty
            master, slave = pty.openpty()
            name = os.ttyname(slave)
            os.setsid()
            terminal = os.open(name, os.O_RDWR)   # a session leader opening a tty acquires it
            tty.setraw(terminal)
            print(name, flush=True)
            for line in sys.stdin:
                waiting = select.select([terminal], [], [], 0)[0]
                data = os.read(terminal, 4096) if waiting else b""
                print(repr(data) if data else "clean", flush=True)
            """;
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        return Process.Start(psi)!;
    }
}
