using Sandboxing.Interop;
using Sandboxing.IO;

namespace Sandboxing.Tests.Support;

internal static class Sandboxes
{
    /// <summary>Runs a shell script in the sandbox; fails the test with the stderr if setup failed.</summary>
    public static Task<SandboxResult> ShAsync(this Sandbox sandbox, string script, CancellationToken ct = default) =>
        sandbox.RunAsync(["/bin/sh", "-c", script], ct);

    public static async Task<string> OutputOfAsync(this Sandbox sandbox, string script)
    {
        var r = await sandbox.ShAsync(script);
        Assert.True(r.IsSuccess, $"script failed: {r}\nstdout: {r.StandardOutput}\nstderr: {r.StandardError}");
        return r.StandardOutput.Trim();
    }

    /// <summary>A number nobody else uses, to find our own processes by their command line.</summary>
    public static string UniqueSleepToken() => $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000, 9999)}";

    /// <summary>Host pids whose command line contains <paramref name="token"/>.</summary>
    public static List<int> HostPidsWithArgument(string token) => Shared.HostProcesses.WithArgument(token);

    /// <summary>Waits (through a pidfd, not by polling) until the host process <paramref name="pid"/> has exited.</summary>
    public static async Task WaitForHostProcessExitAsync(int pid, TimeSpan timeout)
    {
        using var pidfd = SafeFd.Adopt(LibC.pidfd_open(pid, 0));
        if (pidfd.IsInvalid)
            return; // already gone (ESRCH)
        await Reactor.Shared.WaitReadableAsync(pidfd).AsTask().WaitAsync(timeout);
    }

    /// <summary>The parent pid of a host process, from /proc/PID/stat.</summary>
    public static int ParentOf(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
    }

    public static string NamespaceOf(string kind) => new FileInfo($"/proc/self/ns/{kind}").LinkTarget!;
}
