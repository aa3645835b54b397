using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace Sandboxing.PackageTests;

/// <summary>
/// The packages as their users get them: packed from the solution into a local feed, referenced
/// by a new console app outside the repository, built, published with NativeAOT, built and run
/// by an unprivileged user whose package cache is read-only, and the CLI installed as a dotnet
/// tool. Nothing here is skipped: a missing prerequisite fails with what to install.
/// </summary>
public sealed partial class PackageTests(PackageWorkspace workspace, ITestOutputHelper output) : IClassFixture<PackageWorkspace>, IDisposable
{
    private const int Nobody = 65534;

    /// <summary>This machine's RID, whose helper every package has, and the other one, built when its cross compiler is installed.</summary>
    private static readonly (string Rid, Elf Machine, string CrossCompiler) Host, Other;

    static PackageTests()
    {
        var x64 = ("linux-x64", Elf.X86_64, "x86_64-linux-gnu-gcc");
        var arm64 = ("linux-arm64", Elf.Aarch64, "aarch64-linux-gnu-gcc");
        (Host, Other) = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? (arm64, x64) : (x64, arm64);
    }

    /// <summary>What the app prints: the sandboxed command's output (as nobody inside), then the verdict.</summary>
    private const string ExpectedSandboxOutput = "hi\n65534\nverdict: Exited 0\n";

    public void Dispose()
    {
        foreach (var line in workspace.Log)
            output.WriteLine(line);
        workspace.Log.Clear();
    }

    [Fact]
    public async Task The_library_package_holds_the_assembly_docs_readme_license_build_targets_and_a_helper_per_rid()
    {
        await workspace.PackAsync();
        using var package = ZipFile.OpenRead(PackagePath("Sandbox"));
        var entries = package.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/Sandbox.dll", entries);
        Assert.Contains("lib/net10.0/Sandbox.xml", entries);
        Assert.Contains("README.md", entries);
        Assert.Contains("buildTransitive/Sandbox.targets", entries);

        Assert.Equal(Host.Machine, ElfMachine(package, $"runtimes/{Host.Rid}/native/sandbox-helper"));
        // The other architecture's helper is in the package exactly when this machine has its cross compiler.
        bool crossCompiler = Command.OnPath(Other.CrossCompiler) is not null;
        Assert.True(crossCompiler == entries.Contains($"runtimes/{Other.Rid}/native/sandbox-helper"),
            crossCompiler ? $"{Other.CrossCompiler} is installed, but the package has no {Other.Rid} helper"
                          : $"the package has a {Other.Rid} helper, but no {Other.CrossCompiler} built it");
        if (crossCompiler)
            Assert.Equal(Other.Machine, ElfMachine(package, $"runtimes/{Other.Rid}/native/sandbox-helper"));

        var nuspec = Nuspec(package);
        Assert.Equal("MIT", nuspec.Element("license")?.Value);
        Assert.Equal("expression", nuspec.Element("license")?.Attribute("type")?.Value);
        Assert.Equal("README.md", nuspec.Element("readme")?.Value);
        Assert.False(string.IsNullOrEmpty(nuspec.Element("description")?.Value));
        // SourceLink: the commit the package was built from (and the URL, when the clone has an origin).
        Assert.Matches("^[0-9a-f]{40}$", nuspec.Element("repository")?.Attribute("commit")?.Value ?? "");
        // The cgroup library of the same version, and logging's abstractions (nothing of logging itself).
        var dependencies = nuspec.Descendants().Where(e => e.Name.LocalName == "dependency").ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")?.Value);
        Assert.Equal(["Microsoft.Extensions.Logging.Abstractions", "Sandbox.Cgroups"], dependencies.Keys.Order());
        Assert.Equal(workspace.Version, dependencies["Sandbox.Cgroups"]);

        AssertAnnotatedAndTrimmable(package, "lib/net10.0/Sandbox.dll");
        Assert.True(File.Exists(Path.Combine(workspace.Feed, $"Sandbox.{workspace.Version}.snupkg")), "no symbol package for Sandbox");
    }

    [Fact]
    public async Task The_cgroup_package_holds_the_assembly_docs_readme_and_symbols()
    {
        await workspace.PackAsync();
        using var package = ZipFile.OpenRead(PackagePath("Sandbox.Cgroups"));
        var entries = package.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/Sandbox.Cgroups.dll", entries);
        Assert.Contains("lib/net10.0/Sandbox.Cgroups.xml", entries);
        Assert.Contains("README.md", entries);
        var nuspec = Nuspec(package);
        Assert.Equal("MIT", nuspec.Element("license")?.Value);
        Assert.Equal("README.md", nuspec.Element("readme")?.Value);
        AssertAnnotatedAndTrimmable(package, "lib/net10.0/Sandbox.Cgroups.dll");
        Assert.True(File.Exists(Path.Combine(workspace.Feed, $"Sandbox.Cgroups.{workspace.Version}.snupkg")), "no symbol package for Sandbox.Cgroups");
    }

    [Fact]
    public async Task An_app_built_against_the_package_finds_an_executable_helper_and_runs_a_sandbox()
    {
        await workspace.CreateAppAsync();
        var build = (await workspace.DotnetAsync(workspace.App, "build", "-c", "Release", "--no-restore", "-nodeReuse:false", "-tl:off")).ShouldSucceed();
        AssertNoWarnings(build);

        // A framework-dependent app keeps the package's native assets in runtimes/<rid>/native/,
        // where the package's build targets set the executable bit that NuGet dropped.
        string output = Path.Combine(workspace.App, "bin", "Release", "net10.0");
        AssertExecutableByAll(Path.Combine(output, "runtimes", Host.Rid, "native", "sandbox-helper"));

        var run = (await RunAsync([Command.Dotnet, Path.Combine(output, "App.dll")], workspace.App)).ShouldSucceed();
        Assert.EndsWith(ExpectedSandboxOutput, run.Output);

        // A framework-dependent publish without a RID keeps the same layout, executable too.
        string publish = Path.Combine(workspace.Root, "app-portable");
        AssertNoWarnings((await workspace.DotnetAsync(workspace.App, "publish", "-c", "Release", "--no-restore", "-o", publish,
            "-nodeReuse:false", "-tl:off")).ShouldSucceed());
        AssertExecutableByAll(Path.Combine(publish, "runtimes", Host.Rid, "native", "sandbox-helper"));
    }

    [Fact]
    public async Task A_single_file_app_keeps_the_helper_beside_it_and_runs_a_sandbox()
    {
        await workspace.CreateAppAsync();
        string publish = Path.Combine(workspace.Root, "app-single-file");
        // IncludeNativeLibrariesForSelfExtract would put the helper into the bundle, where nothing
        // can execute it; the package's targets keep it out.
        AssertNoWarnings((await workspace.DotnetAsync(workspace.App, "publish", "-c", "Release", "-r", Host.Rid, "--self-contained", "false",
            "-p:PublishSingleFile=true", "-p:IncludeNativeLibrariesForSelfExtract=true", "-o", publish, "-nodeReuse:false", "-tl:off")).ShouldSucceed());
        AssertExecutableByAll(Path.Combine(publish, "sandbox-helper"));
        Assert.False(File.Exists(Path.Combine(publish, "Sandbox.dll")), "the publish is not a single file: Sandbox.dll is beside it");

        var run = (await RunAsync([Path.Combine(publish, "App")], publish)).ShouldSucceed();
        Assert.EndsWith(ExpectedSandboxOutput, run.Output);
    }

    [Fact]
    public async Task An_app_published_with_NativeAOT_has_the_helper_beside_it_and_runs_a_sandbox()
    {
        string? clang = Command.OnPath("clang", "clang-20", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14");
        Assert.True(clang is not null,
            "NativeAOT needs clang to compile and link on Linux: install it (Debian/Ubuntu: apt-get install clang zlib1g-dev; .ci/run does).");

        await workspace.CreateAppAsync();
        string publish = Path.Combine(workspace.Root, "app-aot");
        var result = (await workspace.DotnetAsync(workspace.App, "publish", "-c", "Release", "-r", Host.Rid, "-p:PublishAot=true",
            $"-p:CppCompilerAndLinker={Path.GetFileName(clang)}", "-o", publish, "-nodeReuse:false", "-tl:off")).ShouldSucceed();
        // Trimming and AOT analysis of the library (IL2xxx, IL3xxx) as a consumer's publish sees it.
        AssertNoWarnings(result);

        Assert.False(File.Exists(Path.Combine(publish, "App.dll")), "the publish is not NativeAOT: App.dll is there");
        Assert.True(File.Exists(Path.Combine(publish, "App")), "no native executable App in the publish directory");
        // A RID-specific publish puts the RID's native assets beside the executable.
        AssertExecutableByAll(Path.Combine(publish, "sandbox-helper"));

        var run = (await RunAsync([Path.Combine(publish, "App")], publish)).ShouldSucceed();
        Assert.EndsWith(ExpectedSandboxOutput, run.Output);
    }

    [Fact]
    public async Task An_unprivileged_user_with_a_read_only_package_cache_builds_and_runs_the_app()
    {
        Assert.True(Command.OnPath("setpriv") is not null, "setpriv is missing: install util-linux");
        await workspace.CreateAppAsync();

        // The cache that root restored into: the user can read it but not write it.
        var cache = new DirectoryInfo(workspace.Packages);
        Assert.Equal(0, await FileOwnerAsync(cache.FullName));
        Assert.Equal((UnixFileMode)0, cache.UnixFileMode & UnixFileMode.OtherWrite);
        string cachedHelper = Directory.GetFiles(workspace.Packages, "sandbox-helper", SearchOption.AllDirectories)
            .Single(p => p.Contains($"/runtimes/{Host.Rid}/native/", StringComparison.Ordinal));
        Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(cachedHelper) & UnixFileMode.OtherWrite);

        string home = Path.Combine(workspace.Root, "nobody");
        string app = Path.Combine(home, "app");
        workspace.WriteApp(app, withFallbackFolder: false);
        Directory.CreateDirectory(Path.Combine(home, "tmp"));
        var environment = Command.Environment(home, workspace.Packages);
        // The administrator fills the shared cache (the package and its dependencies); the user
        // then only reads it.
        (await Command.RunAsync([Command.Dotnet, "restore", "-nodeReuse:false", "-tl:off"], app, environment, PackageWorkspace.DotnetTimeout)).ShouldSucceed();
        await ChownTreeAsync(home, Nobody);

        var build = (await Command.RunAsync([Command.Dotnet, "build", "-c", "Release", "-nodeReuse:false", "-tl:off"], app, environment,
            PackageWorkspace.DotnetTimeout, prefix: Command.AsNobody)).ShouldSucceed();
        workspace.Log.Add($"{build.Elapsed.TotalSeconds,5:F1} s  (as nobody) dotnet build");
        AssertNoWarnings(build);

        string output = Path.Combine(app, "bin", "Release", "net10.0");
        AssertExecutableByAll(Path.Combine(output, "runtimes", Host.Rid, "native", "sandbox-helper"));
        var run = (await Command.RunAsync([Command.Dotnet, Path.Combine(output, "App.dll")], app, environment,
            TimeSpan.FromMinutes(1), prefix: Command.AsNobody)).ShouldSucceed();
        Assert.EndsWith(ExpectedSandboxOutput, run.Output);
    }

    [Fact]
    public async Task The_cli_installs_as_a_dotnet_tool_and_runs_for_root_and_for_another_user()
    {
        Assert.True(Command.OnPath("setpriv") is not null, "setpriv is missing: install util-linux");
        await workspace.PackAsync();
        var install = (await workspace.DotnetAsync(workspace.Root, "tool", "install", "--tool-path", workspace.Tools,
            "--add-source", workspace.Feed, "--version", workspace.Version, "Sandbox.Cli")).ShouldSucceed();
        Assert.Contains("sandbox", install.Output);
        string sandbox = Path.Combine(workspace.Tools, "sandbox");

        // NuGet extracted the helper as 0766 less the umask, so only its owner, root, may execute
        // it; another user can neither run it nor chmod it, and the library runs a private copy
        // from that user's cache.
        string helper = Directory.GetFiles(workspace.Tools, "sandbox-helper", SearchOption.AllDirectories)
            .Single(p => p.EndsWith($"/runtimes/{Host.Rid}/native/sandbox-helper", StringComparison.Ordinal));
        Assert.True((File.GetUnixFileMode(helper) & UnixFileMode.OtherExecute) == 0,
            $"{helper} is executable by others after dotnet tool install: NuGet's extraction changed, and this test no longer exercises the private copy (see docs/packaging.md)");
        string home = Path.Combine(workspace.Root, "tool-user");
        Directory.CreateDirectory(Path.Combine(home, "tmp"));
        await ChownTreeAsync(home, Nobody);
        var asNobody = (await Command.RunAsync([sandbox, "run", "--", "/bin/sh", "-c", "echo hi; id -u"], home,
            Command.Environment(home, workspace.Packages), TimeSpan.FromMinutes(1), prefix: Command.AsNobody)).ShouldSucceed();
        Assert.Equal("hi\n65534\n", asNobody.Output);
        string copy = Assert.Single(Directory.GetFiles(Path.Combine(home, ".cache", "sandbox"), "sandbox-helper", SearchOption.AllDirectories));
        Assert.Equal(File.ReadAllBytes(helper), File.ReadAllBytes(copy));
        Assert.Equal(Nobody, await FileOwnerAsync(copy));

        var version = (await RunAsync([sandbox, "--version"], workspace.Root)).ShouldSucceed();
        Assert.Matches(@"^sandbox version \d+\.\d+\.\d+", version.Output);
        (await RunAsync([sandbox, "run", "--", "/bin/true"], workspace.Root)).ShouldSucceed();
        var exit = await RunAsync([sandbox, "run", "--", "/bin/sh", "-c", "exit 7"], workspace.Root);
        Assert.Equal(7, exit.ExitCode);
    }

    private Task<CommandResult> RunAsync(IReadOnlyList<string> argv, string workingDirectory) =>
        Command.RunAsync(argv, workingDirectory, workspace.RootEnvironment, TimeSpan.FromMinutes(1));

    private string PackagePath(string id)
    {
        string path = Path.Combine(workspace.Feed, $"{id}.{workspace.Version}.nupkg");
        Assert.True(File.Exists(path), $"{path} was not packed; the feed has: {string.Join(", ", Directory.GetFiles(workspace.Feed).Select(Path.GetFileName))}");
        return path;
    }

    private static XElement Nuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        using var stream = entry.Open();
        var metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        // Drop the namespace, which changes with the nuspec schema version.
        foreach (var e in metadata.DescendantsAndSelf())
            e.Name = e.Name.LocalName;
        return metadata;
    }

    private enum Elf : ushort
    {
        X86_64 = 62,
        Aarch64 = 183,
    }

    private static Elf ElfMachine(ZipArchive package, string entryName)
    {
        var entry = package.GetEntry(entryName);
        Assert.True(entry is not null, $"the package has no {entryName}");
        using var stream = entry!.Open();
        var header = new byte[20];
        stream.ReadExactly(header);
        Assert.True(header.AsSpan(0, 4).SequenceEqual("\u007fELF"u8), $"{entryName} is not an ELF file");
        return (Elf)BitConverter.ToUInt16(header, 18);
    }

    /// <summary>Nullable annotations (the compiler's NullableContextAttribute) and [AssemblyMetadata("IsTrimmable", "True")], which IsAotCompatible sets.</summary>
    private static void AssertAnnotatedAndTrimmable(ZipArchive package, string entryName)
    {
        using var stream = new MemoryStream();
        using (var s = package.GetEntry(entryName)!.Open())
            s.CopyTo(stream);
        stream.Position = 0;
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        // Compiled with nullable enabled: the compiler's attribute, embedded or from the framework.
        bool nullable = md.TypeDefinitions.Any(h => md.GetString(md.GetTypeDefinition(h).Name) == "NullableContextAttribute")
            || md.TypeReferences.Any(h => md.GetString(md.GetTypeReference(h).Name) == "NullableContextAttribute");
        Assert.True(nullable, $"{entryName} has no nullable annotations");
        var metadata = new Dictionary<string, string?>();
        foreach (var h in md.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = md.GetCustomAttribute(h);
            if (attribute.Constructor.Kind != HandleKind.MemberReference)
                continue;
            var constructor = md.GetMemberReference((MemberReferenceHandle)attribute.Constructor);
            if (constructor.Parent.Kind != HandleKind.TypeReference
                || md.GetString(md.GetTypeReference((TypeReferenceHandle)constructor.Parent).Name) != "AssemblyMetadataAttribute")
                continue;
            var blob = md.GetBlobReader(attribute.Value);
            blob.ReadUInt16(); // prolog
            string key = blob.ReadSerializedString()!;
            metadata[key] = blob.ReadSerializedString();
        }
        Assert.True(metadata.TryGetValue("IsTrimmable", out var trimmable) && trimmable == "True",
            $"{entryName} is not marked trimmable: {string.Join(", ", metadata.Select(kv => $"{kv.Key}={kv.Value}"))}");
    }

    private static void AssertNoWarnings(CommandResult result)
    {
        var warnings = WarningLine().Matches(result.Output).Select(m => m.Value.Trim()).Distinct().ToList();
        Assert.True(warnings.Count == 0, $"`{result.CommandLine}` warned:\n{string.Join('\n', warnings)}");
    }

    [GeneratedRegex(@"^.*\bwarning [A-Z]+[0-9]+\b.*$", RegexOptions.Multiline)]
    private static partial Regex WarningLine();

    private static void AssertExecutableByAll(string path)
    {
        Assert.True(File.Exists(path), $"{path} is missing");
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode all = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        Assert.True((mode & all) == all, $"{path} is not executable by everyone: {mode}");
    }

    private static readonly Dictionary<string, string> PlainEnvironment = new() { ["PATH"] = "/usr/bin:/bin", ["TMPDIR"] = "/tmp" };

    private static async Task<int> FileOwnerAsync(string path)
    {
        var result = (await Command.RunAsync(["stat", "-c", "%u", path], "/", PlainEnvironment, TimeSpan.FromSeconds(10))).ShouldSucceed();
        return int.Parse(result.Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task ChownTreeAsync(string path, int id) =>
        (await Command.RunAsync(["chown", "-R", $"{id}:{id}", path], "/", PlainEnvironment, TimeSpan.FromSeconds(30))).ShouldSucceed();
}
