using System.Diagnostics;

namespace Sandboxing.Tests.Support;

/// <summary>Starts tests/Sandbox.TestHost as a separate .NET process.</summary>
internal static class TestHostProcess
{
    public static string DllPath
    {
        get
        {
            string testDir = AppContext.BaseDirectory.TrimEnd('/');
            string hostDir = testDir.Replace("/Sandbox.Tests/", "/Sandbox.TestHost/");
            string dll = System.IO.Path.Combine(hostDir, "Sandbox.TestHost.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first");
            return dll;
        }
    }

    /// <summary>Starts the test host; <paramref name="prefix"/> (e.g. setpriv ...) runs in front of dotnet.</summary>
    public static Process Start(IEnumerable<string> prefix, params string[] args)
    {
        var all = prefix.Concat(["dotnet", DllPath]).Concat(args).ToList();
        var psi = new ProcessStartInfo(all[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in all.Skip(1))
            psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["HOME"] = "/tmp";
        return Process.Start(psi)!;
    }

    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(IEnumerable<string> prefix, params string[] args)
    {
        using var p = Start(prefix, args);
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (p.ExitCode, await output, await error);
    }

    public static readonly string[] AsNobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"];
}
