using System.Reflection;

namespace Sandboxing.PackageTests;

/// <summary>
/// One temporary directory outside the repository, shared by the tests of a run:
/// <c>feed/</c> (the packed solution), <c>packages/</c> (an empty NuGet cache of its own, so that
/// no package cached by an earlier run is ever used), <c>app/</c> (a new console app that
/// references the package), <c>nobody/</c> (the home of the unprivileged user) and
/// <c>tools/</c> (the installed dotnet tool). Each step runs once, when a test first needs it.
/// The packages get a version of their own, so that nothing but this feed can supply them.
/// </summary>
public sealed class PackageWorkspace : IAsyncLifetime
{
    public static readonly TimeSpan DotnetTimeout = TimeSpan.FromMinutes(5);

    public string RepositoryRoot { get; } = Metadata("RepositoryRoot");
    public string Configuration { get; } = Metadata("Configuration");
    public string Version { get; } = $"0.0.0-packagetest.{DateTime.UtcNow:yyyyMMddHHmmss}.{System.Environment.ProcessId}";

    public string Root { get; private set; } = "";
    public string Feed => Path.Combine(Root, "feed");
    public string Packages => Path.Combine(Root, "packages");
    public string App => Path.Combine(Root, "app");
    public string RootHome => Path.Combine(Root, "root-home");
    public string Tools => Path.Combine(Root, "tools");

    /// <summary>Every command the fixture ran, with its duration, for the test output.</summary>
    public List<string> Log { get; } = [];

    private Task? _packed;
    private Task? _appCreated;

    public Task InitializeAsync()
    {
        Root = Path.Combine(Path.GetTempPath(), $"sandbox-package-tests-{Guid.NewGuid():N}");
        Assert.False(Root.StartsWith(RepositoryRoot, StringComparison.Ordinal), $"{Root} must lie outside the repository");
        Directory.CreateDirectory(Root);
        // Readable by the unprivileged user, who builds from the same (read-only to it) cache.
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        foreach (var d in new[] { Feed, Packages, App, RootHome })
            Directory.CreateDirectory(d);
        // MSBuild looks for Directory.Build.* up the tree: stop it here, above nothing but /tmp.
        File.WriteAllText(Path.Combine(Root, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(Root, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(Root, "Directory.Packages.props"), "<Project />\n");
        // For dotnet tool install, which runs here: the feed alone (an app's own NuGet.config clears it).
        File.WriteAllText(Path.Combine(Root, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (System.Environment.GetEnvironmentVariable("SANDBOX_PACKAGE_TESTS_KEEP") != "1" && Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }

    public IReadOnlyDictionary<string, string> RootEnvironment => Command.Environment(RootHome, Packages);

    public async Task<CommandResult> DotnetAsync(string workingDirectory, params string[] args)
    {
        var result = await Command.RunAsync([Command.Dotnet, .. args], workingDirectory, RootEnvironment, DotnetTimeout);
        Log.Add($"{result.Elapsed.TotalSeconds,5:F1} s  dotnet {string.Join(' ', args)}");
        return result;
    }

    /// <summary>
    /// dotnet pack of the solution's packable projects into feed/. With a build, as a user packs:
    /// the build is incremental and finds everything up to date (this test project depends on the
    /// three), and the targets that pack the helpers run in the same build as the ones that make
    /// them. A solution filter leaves out the test projects, which may be running.
    /// </summary>
    public Task PackAsync() => _packed ??= PackCoreAsync();

    private async Task PackCoreAsync()
    {
        string filter = Path.Combine(Root, "packages.slnf");
        File.WriteAllText(filter, $$"""
            {
              "solution": {
                "path": "{{Path.Combine(RepositoryRoot, "Sandbox.sln")}}",
                "projects": [
                  "src/Sandbox/Sandbox.csproj",
                  "src/Sandbox.Cgroups/Sandbox.Cgroups.csproj",
                  "src/Sandbox.Cli/Sandbox.Cli.csproj"
                ]
              }
            }
            """);
        (await DotnetAsync(RepositoryRoot, "pack", filter, "-c", Configuration, "--no-restore",
            "-o", Feed, $"-p:PackageVersion={Version}", "-nodeReuse:false", "-tl:off", "-v:m")).ShouldSucceed();
    }

    /// <summary>A console app outside the repository that references Sandbox from the feed, restored once.</summary>
    public Task CreateAppAsync() => _appCreated ??= CreateAppCoreAsync();

    private async Task CreateAppCoreAsync()
    {
        await PackAsync();
        WriteApp(App, withFallbackFolder: true);
        (await DotnetAsync(App, "restore", "-tl:off")).ShouldSucceed();
    }

    /// <summary>
    /// The app: runs /bin/sh -c 'echo hi; id -u' in a default sandbox and prints what the
    /// sandbox reported, and the cgroup layout from Sandbox.Cgroups (the package's dependency).
    /// </summary>
    public void WriteApp(string directory, bool withFallbackFolder)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <InvariantGlobalization>true</InvariantGlobalization>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Sandbox" Version="{Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), """
            using Sandboxing;
            using Sandboxing.Cgroups;

            if (!OperatingSystem.IsLinux())
                return 2;
            Console.WriteLine($"cgroups: {CgroupHost.Current.Mode}");
            Sandbox sandbox = new SandboxBuilder().WithTimeout(TimeSpan.FromSeconds(60)).Build();
            SandboxResult result = await sandbox.RunAsync(["/bin/sh", "-c", "echo hi; id -u"]);
            Console.Write(result.StandardOutput);
            Console.WriteLine($"verdict: {result.Verdict} {result.ExitCode}");
            return result.Verdict == SandboxVerdict.Exited && result.ExitCode == 0 ? 0 : 1;
            """);
        File.WriteAllText(Path.Combine(directory, "NuGet.config"), NuGetConfig(withFallbackFolder));
    }

    /// <summary>
    /// The local feed and nuget.org, nothing from the user's configuration. The user's global
    /// package folder, when there is one, serves as a read-only fallback for the SDK's own
    /// packages (the NativeAOT compiler is large); it cannot hold this run's Sandbox version.
    /// </summary>
    private string NuGetConfig(bool withFallbackFolder)
    {
        string fallback = "";
        string userPackages = System.Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (withFallbackFolder && Directory.Exists(userPackages))
            fallback = $"""
                  <fallbackPackageFolders>
                    <clear />
                    <add key="user" value="{userPackages}" />
                  </fallbackPackageFolders>
                """;
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local">
                  <package pattern="Sandbox" />
                  <package pattern="Sandbox.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            {fallback}</configuration>
            """;
    }

    private static string Metadata(string key) =>
        typeof(PackageWorkspace).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"no {key} metadata");
}
