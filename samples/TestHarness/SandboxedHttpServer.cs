using System.Text.RegularExpressions;
using Sandboxing;

namespace TestHarness;

/// <summary>
/// A test fixture: <c>python3 -m http.server</c> serving a directory of test files, in a sandbox
/// of its own, started before the first test of a class and stopped after the last.
/// </summary>
/// <remarks>
/// <para>
/// The server binds port 0 and prints the port the kernel chose ("Serving HTTP on 127.0.0.1 port
/// 40123 ..."), so there is no race for a free port, and the fixture knows the server is ready
/// when that line arrives: no sleeps, no polling. The deadline covers a server that never
/// starts; a server that dies first ends the wait at once, with its standard error.
/// </para>
/// <para>
/// <see cref="SandboxNetwork.Host"/> (<see cref="HostNetworkServer"/>) lets the test process
/// connect; <see cref="SandboxNetwork.None"/> (<see cref="PrivateNetworkServer"/>) keeps the
/// server unreachable from the host, and the tests reach it from inside the sandbox with
/// <see cref="SandboxProcess.ExecAsync"/>, which joins its network namespace.
/// </para>
/// </remarks>
public abstract partial class SandboxedHttpServer(SandboxNetwork network) : IAsyncLifetime
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);

    private string? _site;
    private Task? _drain;

    /// <summary>The running sandbox; exec commands into it, list its processes.</summary>
    public SandboxProcess Server { get; private set; } = null!;

    /// <summary>The port the server listens on, in the sandbox's network namespace.</summary>
    public int Port { get; private set; }

    /// <summary>The server's address; reachable from the test process only with the host network.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    /// <summary>The files served, by name.</summary>
    public static IReadOnlyDictionary<string, string> Files { get; } = new Dictionary<string, string>
    {
        ["index.html"] = "<h1>hello from a sandbox</h1>\n",
        ["data.json"] = """{"answer":42}""" + "\n",
    };

    public async Task InitializeAsync()
    {
        // The site: a host directory, bound read-only into the sandbox. The sandbox's user is not
        // the caller when the caller is root (it is the host's nobody), so it must be readable by all.
        var site = Directory.CreateTempSubdirectory("sandbox-harness-");
        _site = site.FullName;
        File.SetUnixFileMode(_site, (UnixFileMode)0b111_101_101);                // 0755
        foreach (var (name, content) in Files)
            await File.WriteAllTextAsync(Path.Combine(_site, name), content);    // 0644 by default

        var sandbox = new SandboxBuilder()
            .WithNetwork(network)
            .WithBindMount(_site, "/tmp/site")          // under /tmp: the target is created in the sandbox's /tmp
            .WithMemoryLimit(256L << 20)
            .WithPidsLimit(64)
            .WithTimeout(TimeSpan.FromMinutes(10))      // a safety net should a test run hang
            .WithStandardOutput(SandboxOutput.Pipe)     // the fixture reads the "Serving HTTP" line
            .WithStandardError(SandboxOutput.CaptureUpTo(1 << 20)) // the request log, for a failure's message
            .Build();

        // -u: unbuffered, so the line arrives as it is printed, not when a buffer fills.
        Server = await sandbox.StartAsync(["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", "/tmp/site", "0"]);

        using var deadline = new CancellationTokenSource(StartDeadline);
        var stdout = new StreamReader(Server.StandardOutput);
        try
        {
            while (true)
            {
                string? line = await stdout.ReadLineAsync(deadline.Token);
                if (line is null)
                {
                    // End of file: the server is gone. Its result says why.
                    var result = await Server.WaitForExitAsync();
                    throw new InvalidOperationException($"The server ended before it served ({result}): {result.StandardError}");
                }
                if (ServingLine().Match(line) is { Success: true } m)
                {
                    Port = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            await Server.DisposeAsync();
            throw new TimeoutException($"The server did not report that it serves within {StartDeadline.TotalSeconds} s.");
        }
        // Nothing more is expected on stdout; keep reading anyway, so a full pipe never blocks it.
        _drain = stdout.ReadToEndAsync();
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            // SIGTERM, then after 5 s SIGKILL to every process of the sandbox.
            await Server.StopAsync(TimeSpan.FromSeconds(5));
            await Server.DisposeAsync();
        }
        if (_drain is not null)
            await _drain;
        if (_site is not null)
            Directory.Delete(_site, recursive: true);
    }

    [GeneratedRegex(@"^Serving HTTP on \S+ port (\d+) ")]
    private static partial Regex ServingLine();
}

/// <summary>The server on the host's network: the test process connects to it directly.</summary>
public sealed class HostNetworkServer() : SandboxedHttpServer(SandboxNetwork.Host);

/// <summary>The server in a private network namespace: reachable only from inside its sandbox.</summary>
public sealed class PrivateNetworkServer() : SandboxedHttpServer(SandboxNetwork.None);
