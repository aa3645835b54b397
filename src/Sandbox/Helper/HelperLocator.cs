namespace Sandboxing.Helper;

/// <summary>Finds the sandbox-helper executable that ships next to this library.</summary>
internal static class HelperLocator
{
    public const string FileName = "sandbox-helper";

    /// <summary>Environment variable that overrides where the helper is looked up.</summary>
    public const string PathVariable = "SANDBOX_HELPER_PATH";

    private static string? s_path;

    /// <summary>
    /// The helper's path. Only a success is cached: after a failure (not built yet, not
    /// executable) a later call looks again, so a fixed install works without a restart.
    /// </summary>
    public static string Path => s_path ??= Locate();

    private static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } overridden)
            yield return overridden;
        string baseDir = AppContext.BaseDirectory;
        yield return System.IO.Path.Combine(baseDir, FileName);
        yield return System.IO.Path.Combine(baseDir, "runtimes", RuntimeIdentifier, "native", FileName);
    }

    private static string RuntimeIdentifier =>
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.Arm64 => "linux-arm64",
            _ => "linux-x64",
        };

    private static string Locate()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Sandbox runs processes in Linux namespaces; this operating system is not Linux.");
        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            tried.Add(candidate);
            if (!File.Exists(candidate))
                continue;
            // NuGet does not keep the executable bit when it extracts a package.
            var mode = File.GetUnixFileMode(candidate);
            if ((mode & UnixFileMode.UserExecute) == 0)
            {
                try
                {
                    File.SetUnixFileMode(candidate, mode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
                }
                catch (Exception e) when (e is UnauthorizedAccessException or IOException)
                {
                    throw new SandboxException($"sandbox-helper at {candidate} is not executable and cannot be made so: {e.Message}",
                        "locate sandbox-helper", hint: $"chmod +x {candidate}");
                }
            }
            return candidate;
        }
        throw new SandboxException($"sandbox-helper was not found; looked in: {string.Join(", ", tried)}.", "locate sandbox-helper",
            hint: $"Build the Sandbox project (it compiles the helper with the system C compiler), reference the package so it lands in runtimes/{RuntimeIdentifier}/native, or set {PathVariable}.");
    }
}
