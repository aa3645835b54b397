using Sandboxing;

namespace TestHarness;

/// <summary>Tests that talk to a sandboxed server over the host's loopback.</summary>
public sealed class HostNetworkServerTests(HostNetworkServer server) : IClassFixture<HostNetworkServer>
{
    private readonly HttpClient _http = new() { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task The_server_serves_the_files_it_was_given()
    {
        string body = await _http.GetStringAsync("index.html");
        Assert.Equal(SandboxedHttpServer.Files["index.html"], body);
    }

    [Fact]
    public async Task A_missing_file_is_a_404()
    {
        using var response = await _http.GetAsync("no-such-file");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task The_server_cannot_change_the_files_it_serves()
    {
        // An exec'd command runs in the server's sandbox: same namespaces, mounts, cgroup and user.
        var result = await server.Server.ExecAsync(["python3", "-c", "open('/tmp/site/index.html', 'w')"]);
        Assert.Equal(SandboxVerdict.Exited, result.Verdict);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("Read-only file system", result.StandardError);
    }

    [Fact]
    public void The_server_is_the_sandboxs_command()
    {
        var processes = server.Server.GetProcesses();
        var command = Assert.Single(processes, p => p.CommandLine.Contains("http.server", StringComparison.Ordinal));
        Assert.Equal(2, command.Pid);    // pid 1 is the sandbox's init
        Assert.Equal(server.Server.Pid, command.HostPid);
    }
}

/// <summary>Tests that reach a server in a private network from inside its sandbox.</summary>
public sealed class PrivateNetworkServerTests(PrivateNetworkServer server) : IClassFixture<PrivateNetworkServer>
{
    private Task<SandboxResult> FetchInside(string path) => server.Server.ExecAsync(
        ["python3", "-c", $"import urllib.request; print(urllib.request.urlopen('{server.BaseAddress}{path}').read().decode(), end='')"],
        new SandboxExecOptions { Timeout = TimeSpan.FromSeconds(30) });

    [Fact]
    public async Task A_client_in_the_sandbox_reaches_the_server()
    {
        var result = await FetchInside("data.json");
        Assert.True(result.IsSuccess, result.StandardError);
        Assert.Equal(SandboxedHttpServer.Files["data.json"], result.StandardOutput);
    }

    [Fact]
    public async Task Clients_can_run_side_by_side()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => FetchInside("index.html")));
        Assert.All(results, r => Assert.Equal(SandboxedHttpServer.Files["index.html"], r.StandardOutput));
    }

    [Fact]
    public async Task A_streaming_client_sees_the_answer_as_it_arrives()
    {
        // StartExecAsync: the exec'd command runs while the test reads its output.
        await using var client = await server.Server.StartExecAsync(
            ["python3", "-u", "-c", $"import http.client; c = http.client.HTTPConnection('127.0.0.1', {server.Port}); c.request('HEAD', '/'); print(c.getresponse().status)"],
            new SandboxExecOptions { StandardOutput = SandboxOutput.Pipe, Timeout = TimeSpan.FromSeconds(30) });
        using var reader = new StreamReader(client.StandardOutput);
        Assert.Equal("200", await reader.ReadLineAsync());
        Assert.True((await client.WaitForExitAsync()).IsSuccess);
    }
}
