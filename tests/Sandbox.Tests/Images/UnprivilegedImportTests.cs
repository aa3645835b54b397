using System.Diagnostics;
using System.Formats.Tar;
using System.Text.RegularExpressions;
using Sandboxing.Images;

namespace Sandboxing.Tests.Images;

/// <summary>
/// Imports by an unprivileged user, for real: as root, the first test runs the second in a
/// separate test process as uid/gid 65534 (setpriv, then <c>dotnet vstest</c> on this very
/// assembly), pointed at the images root built and at a store owned by 65534. When the whole
/// suite runs unprivileged, the second test simply runs in place.
/// </summary>
public sealed class UnprivilegedImportTests
{
    private const string StoreVariable = "SANDBOX_TEST_UNPRIVILEGED_STORE";
    private const uint Nobody = 65534;

    [Fact]
    public async Task Nobody_can_import_every_test_image_into_a_store_of_its_own()
    {
        if (!ImageAssert.IsRoot)
            return; // The test below runs in this process already.

        // Built as root, read by nobody: the child must not build anything.
        foreach (var image in new[] { TestImages.OciLayout, TestImages.DockerSaveTar, TestImages.SkopeoOciLayout, TestImages.UmociOciLayout, TestImages.RootfsTar, TestImages.RootfsTarGz })
            Assert.True(Path.Exists(image));
        using var scratch = new Scratch();
        string home = scratch["home"], store = scratch["home/store"];
        Directory.CreateDirectory(home);
        Assert.Equal(0, ImageAssert.Run("chown", $"{Nobody}:{Nobody}", home).ExitCode);

        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = home,
        };
        foreach (var argument in new[]
        {
            "--reuid", $"{Nobody}", "--regid", $"{Nobody}", "--clear-groups",
            "dotnet", "vstest", typeof(UnprivilegedImportTests).Assembly.Location,
            $"--TestCaseFilter:FullyQualifiedName={typeof(UnprivilegedImportTests).FullName}.{nameof(Imports_as_an_unprivileged_user)}",
        })
        {
            psi.ArgumentList.Add(argument);
        }
        psi.Environment["HOME"] = home;
        psi.Environment["DOTNET_CLI_HOME"] = home;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["TMPDIR"] = home;
        psi.Environment[TestImages.DirectoryVariable] = TestImages.Directory;
        psi.Environment[StoreVariable] = store;
        using var process = Process.Start(psi)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));

        string all = output + await error;
        Assert.True(process.ExitCode == 0, $"the test as nobody failed ({process.ExitCode}):\n{all}");
        Assert.Matches(new Regex(@"Passed:\s+1\b"), all);
        // Everything in the store belongs to nobody, whatever the archives said.
        var layers = Directory.GetDirectories(Path.Combine(store, "layers", "sha256"));
        Assert.NotEmpty(layers);
        Assert.All(layers, l => Assert.Equal(Nobody, ImageAssert.Stat(Path.Combine(l)).Uid));
    }

    [Fact]
    public async Task Imports_as_an_unprivileged_user()
    {
        string? storeDirectory = Environment.GetEnvironmentVariable(StoreVariable);
        if (storeDirectory is null && ImageAssert.IsRoot)
            return; // Run as nobody by the test above.
        using var scratch = new Scratch();
        var store = new ImageStore(storeDirectory ?? scratch["store"]);
        uint me = ImageNative.geteuid();
        Assert.NotEqual(0u, me);

        // Whiteouts are 0/0 character devices even unprivileged (Linux 5.8); opaque directories
        // get user.overlay.opaque only; owners are all the caller's.
        var oci = await store.ImportAsync(TestImages.OciLayout);
        ImageAssert.LayeredTestImage(oci, byRoot: false);
        Assert.All(new[] { "bin/busybox", "etc/passwd", "tmp" }, p => Assert.Equal(me, ImageAssert.Stat(Path.Combine(oci.LayerDirectories[0], p)).Uid));
        Assert.Equal(me, ImageAssert.Stat(Path.Combine(oci.LayerDirectories[1], "etc/removed-file")).Uid);

        Assert.Equal(oci, await store.ImportAsync(TestImages.DockerSaveTar));
        ImageAssert.LayeredTestImage(await store.ImportAsync(TestImages.SkopeoOciLayout), byRoot: false);
        var umoci = await store.ImportAsync(TestImages.UmociOciLayout);
        ImageAssert.Whiteout(Path.Combine(umoci.LayerDirectories[1], "etc/removed-file"));
        Assert.Single((await store.ImportAsync(TestImages.RootfsTarGz)).LayerDirectories);

        // Device nodes cannot be created: skipped and counted.
        string devices = scratch["devices.tar"];
        File.WriteAllBytes(devices, TestTar.Build(w =>
        {
            w.Dir("dev");
            w.Device("dev/null", TarEntryType.CharacterDevice, 1, 3);
            w.File("dev/.wh.gone", "");
        }));
        var withDevices = await store.ImportAsync(devices);
        Assert.Equal(1, withDevices.SkippedDeviceNodes);
        Assert.True(ImageAssert.Absent(Path.Combine(withDevices.LayerDirectories[0], "dev/null")));
        ImageAssert.Whiteout(Path.Combine(withDevices.LayerDirectories[0], "dev/gone"));

        // The layers work as overlay lower layers in a user namespace, with userxattr.
        Directory.CreateDirectory(scratch["mnt"]);
        string seen = ImageAssert.InOverlay(oci, scratch["mnt"], userNamespace: true,
            "ls $M/opaque-dir; test -e $M/etc/removed-file && echo removed-file-visible; cat $M/layer2.txt");
        Assert.Equal("new\nfrom layer 2\n", seen);

        // Removal copes with directories an unprivileged owner made read-only.
        string readOnly = scratch["readonly.tar"];
        File.WriteAllBytes(readOnly, TestTar.Build(w => { w.Dir("ro", mode: 0x16D); w.File("ro/f", "x", mode: 0x124); }));
        var readOnlyImage = await store.ImportAsync(readOnly);
        store.Remove(readOnlyImage);
        Assert.False(Directory.Exists(readOnlyImage.LayerDirectories[0]));
    }
}
