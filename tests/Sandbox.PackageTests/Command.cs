using System.Diagnostics;
using System.Text;

namespace Sandboxing.PackageTests;

/// <summary>The outcome of one external command: its exit status and its interleaved output.</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string Output, TimeSpan Elapsed)
{
    public CommandResult ShouldSucceed()
    {
        Assert.True(ExitCode == 0, $"`{CommandLine}` exited with {ExitCode} after {Elapsed.TotalSeconds:F0} s:\n{Output}");
        return this;
    }
}

/// <summary>
/// Runs the dotnet CLI and the programs under test. The environment is built from scratch:
/// what `dotnet test` put into this process (MSBuild's paths, the test platform's variables)
/// would otherwise leak into the nested builds.
/// </summary>
public static class Command
{
    public static readonly string[] AsNobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"];

    /// <summary>The dotnet executable that runs these tests: the nested builds use the same SDK.</summary>
    public static string Dotnet { get; } = FindDotnet();

    public static string DotnetRoot => Path.GetDirectoryName(Dotnet)!;

    /// <summary>A clean environment for the dotnet CLI: no build servers (they would outlive the test), no telemetry.</summary>
    public static Dictionary<string, string> Environment(string home, string nugetPackages) => new()
    {
        ["PATH"] = $"{DotnetRoot}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["HOME"] = home,
        ["DOTNET_CLI_HOME"] = home,
        ["TMPDIR"] = Path.Combine(home, "tmp"),
        ["DOTNET_ROOT"] = DotnetRoot,
        ["NUGET_PACKAGES"] = nugetPackages,
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
        ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
        ["DOTNET_GENERATE_ASPNET_CERTIFICATE"] = "false",
        ["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1",
        ["MSBUILDDISABLENODEREUSE"] = "1",
        ["UseSharedCompilation"] = "false",
        ["NUGET_XMLDOC_MODE"] = "skip",
    };

    public static async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, TimeSpan timeout, IReadOnlyList<string>? prefix = null)
    {
        var all = (prefix ?? []).Concat(argv).ToList();
        var psi = new ProcessStartInfo(all[0])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in all.Skip(1))
            psi.ArgumentList.Add(a);
        psi.Environment.Clear();
        foreach (var (k, v) in environment)
            psi.Environment[k] = v;
        Directory.CreateDirectory(environment["TMPDIR"]);

        string commandLine = string.Join(' ', argv);
        var output = new StringBuilder();
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Append(e.Data).Append('\n'); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            lock (output)
                Assert.Fail($"`{commandLine}` did not finish within {timeout.TotalSeconds:F0} s:\n{output}");
        }
        await process.WaitForExitAsync(); // the last lines of output
        lock (output)
            return new CommandResult(commandLine, process.ExitCode, output.ToString(), stopwatch.Elapsed);
    }

    /// <summary>The first of <paramref name="names"/> on PATH, or null.</summary>
    public static string? OnPath(params string[] names)
    {
        string[] directories = (System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (var name in names)
            foreach (var directory in directories)
                if (File.Exists(Path.Combine(directory, name)))
                    return Path.Combine(directory, name);
        return null;
    }

    private static string FindDotnet()
    {
        // `dotnet test` runs the test host with DOTNET_HOST_PATH pointing at itself.
        if (System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
            return host;
        string? onPath = OnPath("dotnet");
        Assert.True(onPath is not null, "dotnet is not on PATH");
        return new FileInfo(onPath!).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? onPath!;
    }
}
