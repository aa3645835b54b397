using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;

namespace Sandboxing.Helper;

/// <summary>
/// Finds the sandbox-helper executable that ships with this library, and makes sure it can be
/// executed. Where it is (docs/packaging.md):
/// <list type="number">
/// <item><c>$SANDBOX_HELPER_PATH</c>, when set;</item>
/// <item><c>runtimes/&lt;rid&gt;/native/</c> under the application's directory: a framework-dependent
/// application that references the package (which carries one helper per RID), and projects that
/// reference the library's project;</item>
/// <item>the application's directory: a RID-specific, self-contained, single-file or NativeAOT
/// publish (the SDK copies the RID's native assets there), and projects that reference the
/// library's project.</item>
/// </list>
/// NuGet ignores file modes when it extracts a package (each file is 0766 less the umask, so only
/// its owner may execute it). The package's build targets make the copies that a build or publish
/// makes executable by everyone; when a helper is still not executable by this process (a dotnet
/// tool installed by another user, an application copied without its modes, a noexec mount), the
/// locator sets the bit if it may, and otherwise runs a private copy from the user's cache directory.
/// </summary>
internal static partial class HelperLocator
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

    /// <summary>The RID whose helper this process can run.</summary>
    public static string RuntimeIdentifier => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.Arm64 => "linux-arm64",
        Architecture.X64 => "linux-x64",
        var other => $"linux-{other.ToString().ToLowerInvariant()}",
    };

    internal static IEnumerable<string> Candidates(string baseDirectory)
    {
        if (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } overridden)
        {
            // An explicit choice is the only candidate: falling back would hide a typo.
            yield return overridden;
            yield break;
        }
        // The RID's own directory first: it can only hold a helper for this architecture, while
        // the application's directory of a project reference holds the build machine's.
        yield return System.IO.Path.Combine(baseDirectory, "runtimes", RuntimeIdentifier, "native", FileName);
        yield return System.IO.Path.Combine(baseDirectory, FileName);
    }

    private static string Locate()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Sandbox runs processes in Linux namespaces; this operating system is not Linux.");
        var tried = new List<string>();
        foreach (var candidate in Candidates(AppContext.BaseDirectory))
        {
            tried.Add(candidate);
            if (File.Exists(candidate))
                return Executable(candidate);
        }
        throw new SandboxException($"sandbox-helper was not found; looked in: {string.Join(", ", tried)}.", "locate sandbox-helper",
            hint: $"Build the Sandbox project (it compiles the helper with the system C compiler), reference the package so that " +
                  $"the helper lands in runtimes/{RuntimeIdentifier}/native/ or beside the application, or set {PathVariable}.");
    }

    /// <summary>
    /// <paramref name="helper"/> if this process may execute it; else the same file with its
    /// executable bit set, if this process may set it; else a private executable copy.
    /// </summary>
    [SupportedOSPlatform("linux")]
    internal static string Executable(string helper)
    {
        if (CanExecute(helper))
            return helper;
        string? chmodError = null;
        try
        {
            var mode = File.GetUnixFileMode(helper);
            File.SetUnixFileMode(helper, mode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            if (CanExecute(helper))
                return helper;
            chmodError = "it is executable now, but not by this process (a noexec mount?)";
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Someone else's file, or a read-only filesystem: a package cache, a tool installed by root.
            chmodError = e.Message;
        }
        if (TryPrivateCopy(helper, out var copy, out var copyError))
            return copy;
        throw new SandboxException(
            $"sandbox-helper at {helper} is not executable by this process and cannot be made so ({chmodError}), " +
            $"and no private copy could be made ({copyError}).",
            "locate sandbox-helper",
            hint: $"chmod a+x {helper} as its owner, or copy it somewhere executable and set {PathVariable} to the copy.");
    }

    /// <summary>
    /// Copies the helper into <c>$XDG_CACHE_HOME/sandbox</c> (default <c>~/.cache/sandbox</c>),
    /// under a name made of its SHA-256, so that each build has its own copy and a copy is never
    /// used for a different helper. The directory is the user's own (0700); a copy is written
    /// under a temporary name and renamed, so concurrent processes never see half a file.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private static bool TryPrivateCopy(string helper, out string copy, out string error)
    {
        copy = "";
        string? cacheHome = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cacheHome) || !System.IO.Path.IsPathRooted(cacheHome))
        {
            string? home = Environment.GetEnvironmentVariable("HOME");
            if (string.IsNullOrEmpty(home) || !System.IO.Path.IsPathRooted(home))
            {
                error = "neither XDG_CACHE_HOME nor HOME is set";
                return false;
            }
            cacheHome = System.IO.Path.Combine(home, ".cache");
        }
        try
        {
            byte[] bytes = File.ReadAllBytes(helper);
            byte[] digest = SHA256.HashData(bytes);
            string hash = Convert.ToHexStringLower(digest);
            string directory = System.IO.Path.Combine(cacheHome, "sandbox", $"helper-{hash[..32]}");
            copy = System.IO.Path.Combine(directory, FileName);
            if (File.Exists(copy) && CanExecute(copy) && SHA256.HashData(File.ReadAllBytes(copy)).AsSpan().SequenceEqual(digest))
                return Succeeded(out error);
            const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Directory.CreateDirectory(System.IO.Path.Combine(cacheHome, "sandbox"), Private);
            Directory.CreateDirectory(directory, Private);
            string temporary = $"{copy}.{Guid.NewGuid():N}.tmp";
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = Private,
            }))
            {
                stream.Write(bytes);
            }
            File.Move(temporary, copy, overwrite: true);
            if (!CanExecute(copy))
            {
                error = $"{copy} is not executable either (a noexec mount?)";
                return false;
            }
            return Succeeded(out error);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            error = e.Message;
            return false;
        }

        static bool Succeeded(out string error)
        {
            error = "";
            return true;
        }
    }

    /// <summary>access(2) with X_OK: the mode bits, the caller's ids and a noexec mount, as execve will see them.</summary>
    private static bool CanExecute(string path) => access(path, X_OK) == 0;

    private const int X_OK = 1;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);
}
