using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Sandboxing.Cli.Tests;

/// <summary>What a finished CLI process left behind.</summary>
internal sealed record CliResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {StandardOutput}\nstderr: {StandardError}";
}

/// <summary>
/// Starts the built CLI (Sandbox.Cli.dll, copied next to this test assembly by the project
/// reference) as a real child process: <c>dotnet Sandbox.Cli.dll ARGS</c>.
/// </summary>
internal static partial class Cli
{
    /// <summary>Only a guard against a hung test run; no test waits for it to pass.</summary>
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromMinutes(2);

    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "Sandbox.Cli.dll");

    /// <summary>The dotnet host running these tests, so the CLI runs on the same runtime.</summary>
    private static string DotnetHost { get; } =
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath!
        : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : "dotnet";

    /// <param name="args">The CLI's arguments.</param>
    /// <param name="environment">Variables to add to the inherited environment.</param>
    /// <param name="defaultSignals">
    /// Start through GNU <c>env --default-signal</c>: a process started with SIGINT ignored (as
    /// a shell does for background jobs, so possibly this test run) would pass that on, and the
    /// runtime then never reports Ctrl-C. env execs, so the pid is still the CLI's.
    /// </param>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, bool defaultSignals = false)
    {
        var info = new ProcessStartInfo(defaultSignals ? "env" : DotnetHost)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (defaultSignals)
        {
            info.ArgumentList.Add("--default-signal");
            info.ArgumentList.Add(DotnetHost);
        }
        info.ArgumentList.Add(DllPath);
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(args, standardInput: "");

    public static async Task<CliResult> RunAsync(IEnumerable<string> args, string standardInput, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Start(args, environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(standardInput);
        process.StandardInput.Close();
        return await WaitAsync(process, stdout, stderr);
    }

    public static async Task<CliResult> WaitAsync(Process process, Task<string> stdout, Task<string> stderr)
    {
        using var guard = new CancellationTokenSource(s_hangGuard);
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"sandbox {string.Join(' ', process.StartInfo.ArgumentList)} hung for {s_hangGuard}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Sends a signal to the CLI alone; Process.Kill only knows SIGKILL.</summary>
    public static void Signal(Process process, int signal)
    {
        if (kill(process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
