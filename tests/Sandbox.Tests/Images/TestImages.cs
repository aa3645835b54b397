using System.Diagnostics;
using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sandboxing.Images;

namespace Sandboxing.Tests.Images;

/// <summary>
/// Test images, written by our own code (TarWriter) and by other tools (skopeo, umoci), built
/// on first use into one temporary directory per test run and shared by every test. All are
/// the same small busybox image, so a sandbox test can run any of them:
/// <list type="bullet">
/// <item><see cref="BusyboxRootfs"/>: a directory with /bin/busybox, applet symlinks, etc/passwd, etc/group, tmp, proc, dev, sys.</item>
/// <item><see cref="RootfsTar"/> and <see cref="RootfsTarGz"/>: that directory as a plain tar (what <c>docker export</c> writes).</item>
/// <item><see cref="OciLayout"/>: a two-layer OCI image layout (layer 1: the rootfs plus /work, /etc/removed-file and
/// /opaque-dir/old, gzip-compressed; layer 2: a whiteout of /etc/removed-file, an opaque /opaque-dir with /opaque-dir/new,
/// and /layer2.txt, uncompressed) with <see cref="Config"/>, tagged "latest".</item>
/// <item><see cref="DockerSaveTar"/>: the same image as a docker save archive (old layout), tagged <see cref="DockerReference"/>.</item>
/// <item><see cref="SkopeoOciLayout"/>: <see cref="DockerSaveTar"/> converted by skopeo to an OCI layout, tagged "latest".</item>
/// <item><see cref="UmociOciLayout"/>: an OCI layout made by umoci: layer 1 the rootfs plus /etc/removed-file and /opaque-dir/old,
/// layer 2 deletes /etc/removed-file (a whiteout written by umoci) and adds /layer2.txt; the same config; tagged "latest".</item>
/// </list>
/// Everything is world-readable, so a test process running as nobody can import it too; such a
/// process is pointed at the same directory through <see cref="DirectoryVariable"/>.
/// </summary>
internal static class TestImages
{
    /// <summary>When set, the directory of images an earlier (root) process built, to reuse instead of building.</summary>
    public const string DirectoryVariable = "SANDBOX_TEST_IMAGES";

    /// <summary>The docker save archive's RepoTags entry.</summary>
    public const string DockerReference = "sandbox-test/busybox:latest";

    /// <summary>The applets linked to busybox in /bin.</summary>
    public static readonly string[] Applets =
        ["sh", "ls", "cat", "echo", "id", "stat", "touch", "rm", "mkdir", "sleep", "env", "pwd", "readlink", "test"];

    /// <summary>The config of the layered images.</summary>
    public static ImageConfig Config { get; } = new()
    {
        Entrypoint = ["/bin/sh", "-c"],
        Cmd = ["echo hello"],
        Env = ["PATH=/bin", "GREETING=hi"],
        WorkingDir = "/work",
        User = "0:0",
    };

    private static readonly Lazy<string> Root = new(CreateRoot);
    private static readonly Lazy<string> Rootfs = new(() => Build("busybox-rootfs", BuildRootfs));
    private static readonly Lazy<string> Tar = new(() => Build("rootfs.tar", path => File.WriteAllBytes(path, TarOfDirectory(BusyboxRootfs))));
    private static readonly Lazy<string> TarGz = new(() => Build("rootfs.tar.gz", path => File.WriteAllBytes(path, TestTar.Gzip(File.ReadAllBytes(RootfsTar)))));
    private static readonly Lazy<(byte[] Layer1, byte[] Layer2, byte[] Config)> Parts = new(BuildParts);
    private static readonly Lazy<string> Oci = new(() => Build("oci", BuildOciLayout));
    private static readonly Lazy<string> DockerSave = new(() => Build("docker-save.tar", BuildDockerSave));
    private static readonly Lazy<string> Skopeo = new(() => Build("skopeo-oci", BuildSkopeo));
    private static readonly Lazy<string> Umoci = new(() => Build("umoci-oci", BuildUmoci));

    /// <summary>The directory that holds everything below.</summary>
    public static string Directory => Root.Value;

    /// <summary>The busybox root filesystem directory.</summary>
    public static string BusyboxRootfs => Rootfs.Value;

    /// <summary><see cref="BusyboxRootfs"/> as a plain tar.</summary>
    public static string RootfsTar => Tar.Value;

    /// <summary><see cref="RootfsTar"/>, gzip-compressed.</summary>
    public static string RootfsTarGz => TarGz.Value;

    /// <summary>The two-layer OCI image layout written by our code.</summary>
    public static string OciLayout => Oci.Value;

    /// <summary>The same image as a docker save archive (old layout).</summary>
    public static string DockerSaveTar => DockerSave.Value;

    /// <summary>The docker save archive converted by skopeo into an OCI layout.</summary>
    public static string SkopeoOciLayout => Skopeo.Value;

    /// <summary>An OCI layout built by umoci, with a whiteout umoci wrote.</summary>
    public static string UmociOciLayout => Umoci.Value;

    /// <summary>Layer 1 of <see cref="OciLayout"/> and <see cref="DockerSaveTar"/>, uncompressed.</summary>
    public static byte[] Layer1Tar => Parts.Value.Layer1;

    /// <summary>Layer 2 of <see cref="OciLayout"/> and <see cref="DockerSaveTar"/>.</summary>
    public static byte[] Layer2Tar => Parts.Value.Layer2;

    /// <summary>The config blob of <see cref="OciLayout"/> and <see cref="DockerSaveTar"/>: its digest is their image id.</summary>
    public static byte[] ConfigJson => Parts.Value.Config;

    /// <summary>Copies a directory tree (files, directories, symlinks), e.g. a layout to tamper with.</summary>
    public static void CopyTree(string from, string to)
    {
        System.IO.Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            string target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
                File.CreateSymbolicLink(target, link);
            else if (entry is DirectoryInfo)
                CopyTree(entry.FullName, target);
            else
                File.Copy(entry.FullName, target);
        }
    }

    // ---- building -------------------------------------------------------------------------

    private static string CreateRoot()
    {
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } existing)
            return existing;
        string root = System.IO.Directory.CreateTempSubdirectory("sandbox-test-images-").FullName;
        File.SetUnixFileMode(root, (UnixFileMode)0x1ED); // 0755: a test run as nobody reads it too
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return root;
    }

    /// <summary>Builds an artifact once: into a temporary name, then renamed, so a half-built one is never used.</summary>
    private static string Build(string name, Action<string> build)
    {
        string path = Path.Combine(Directory, name);
        if (Path.Exists(path))
            return path;
        string temp = path + ".building";
        if (System.IO.Directory.Exists(temp))
            System.IO.Directory.Delete(temp, recursive: true);
        build(temp);
        Run("chmod", "-R", "a+rX", temp);
        if (System.IO.Directory.Exists(temp))
            System.IO.Directory.Move(temp, path);
        else
            File.Move(temp, path);
        return path;
    }

    private static void BuildRootfs(string path)
    {
        if (!File.Exists("/bin/busybox"))
            throw new InvalidOperationException("busybox-static is not installed (apt-get install busybox-static); .ci/run installs it.");
        foreach (var dir in new[] { "bin", "etc", "tmp", "proc", "dev", "sys" })
            System.IO.Directory.CreateDirectory(Path.Combine(path, dir));
        File.Copy("/bin/busybox", Path.Combine(path, "bin", "busybox"));
        File.SetUnixFileMode(Path.Combine(path, "bin", "busybox"), (UnixFileMode)0x1ED);
        foreach (var applet in Applets)
            File.CreateSymbolicLink(Path.Combine(path, "bin", applet), "busybox");
        File.WriteAllText(Path.Combine(path, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        File.WriteAllText(Path.Combine(path, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
        File.SetUnixFileMode(Path.Combine(path, "tmp"), (UnixFileMode)0x3FF); // 1777
    }

    /// <summary>A directory as a tar the way docker export writes one: relative names, directories before their entries.</summary>
    private static byte[] TarOfDirectory(string directory, Action<TarWriter>? more = null) => TestTar.Build(writer =>
    {
        WriteTree(writer, directory, "");
        more?.Invoke(writer);
    });

    private static void WriteTree(TarWriter writer, string directory, string prefix)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            string name = prefix + entry.Name;
            int mode = (int)entry.UnixFileMode;
            if (entry.LinkTarget is { } target)
            {
                writer.Symlink(name, target);
            }
            else if (entry is DirectoryInfo)
            {
                writer.Dir(name, mode);
                WriteTree(writer, entry.FullName, name + "/");
            }
            else
            {
                writer.File(name, File.ReadAllBytes(entry.FullName), mode);
            }
        }
    }

    private static (byte[], byte[], byte[]) BuildParts()
    {
        byte[] layer1 = TarOfDirectory(BusyboxRootfs, writer =>
        {
            writer.Dir("work");
            writer.File("etc/removed-file", "removed by layer 2\n");
            writer.Dir("opaque-dir");
            writer.File("opaque-dir/old", "old\n");
        });
        byte[] layer2 = TestTar.Build(writer =>
        {
            writer.Dir("etc");
            writer.File("etc/.wh.removed-file", "", mode: 0);
            writer.Dir("opaque-dir");
            writer.File("opaque-dir/.wh..wh..opq", "", mode: 0);
            writer.File("opaque-dir/new", "new\n");
            writer.File("layer2.txt", "from layer 2\n");
        });
        byte[] config = Json(writer =>
        {
            writer.WriteString("created", "2024-01-01T00:00:00Z");
            writer.WriteString("architecture", Architecture);
            writer.WriteString("os", "linux");
            writer.WritePropertyName("config");
            writer.WriteStartObject();
            Strings(writer, "Entrypoint", Config.Entrypoint);
            Strings(writer, "Cmd", Config.Cmd);
            Strings(writer, "Env", Config.Env);
            writer.WriteString("WorkingDir", Config.WorkingDir);
            writer.WriteString("User", Config.User);
            writer.WriteEndObject();
            writer.WritePropertyName("rootfs");
            writer.WriteStartObject();
            writer.WriteString("type", "layers");
            Strings(writer, "diff_ids", [Digest(layer1), Digest(layer2)]);
            writer.WriteEndObject();
        });
        return (layer1, layer2, config);
    }

    private static void BuildOciLayout(string path)
    {
        var (layer1, layer2, config) = Parts.Value;
        byte[] layer1Gz = TestTar.Gzip(layer1);
        System.IO.Directory.CreateDirectory(Path.Combine(path, "blobs", "sha256"));
        string Blob(byte[] content)
        {
            string digest = Digest(content);
            File.WriteAllBytes(Path.Combine(path, "blobs", "sha256", digest["sha256:".Length..]), content);
            return digest;
        }
        byte[] manifest = Json(writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", "application/vnd.oci.image.manifest.v1+json");
            writer.WritePropertyName("config");
            Descriptor(writer, "application/vnd.oci.image.config.v1+json", Blob(config), config.Length);
            writer.WriteStartArray("layers");
            Descriptor(writer, "application/vnd.oci.image.layer.v1.tar+gzip", Blob(layer1Gz), layer1Gz.Length);
            Descriptor(writer, "application/vnd.oci.image.layer.v1.tar", Blob(layer2), layer2.Length);
            writer.WriteEndArray();
        });
        string manifestDigest = Blob(manifest);
        File.WriteAllBytes(Path.Combine(path, "index.json"), Json(writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", "application/vnd.oci.image.index.v1+json");
            writer.WriteStartArray("manifests");
            Descriptor(writer, "application/vnd.oci.image.manifest.v1+json", manifestDigest, manifest.Length, "latest");
            writer.WriteEndArray();
        }));
        File.WriteAllText(Path.Combine(path, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    private static void BuildDockerSave(string path)
    {
        var (layer1, layer2, config) = Parts.Value;
        string configHex = Digest(config)["sha256:".Length..];
        // docker's v1 layer ids are chain-derived; any 64-hex name will do for an archive.
        string id1 = Digest(Encoding.UTF8.GetBytes("layer1"))["sha256:".Length..];
        string id2 = Digest(Encoding.UTF8.GetBytes("layer2"))["sha256:".Length..];
        File.WriteAllBytes(path, TestTar.Build(writer =>
        {
            foreach (var (id, layer) in new[] { (id1, layer1), (id2, layer2) })
            {
                writer.Dir(id);
                writer.File($"{id}/VERSION", "1.0");
                writer.File($"{id}/json", $"{{\"id\":\"{id}\"}}");
                writer.File($"{id}/layer.tar", layer);
            }
            writer.File($"{configHex}.json", config);
            writer.File("manifest.json", $"[{{\"Config\":\"{configHex}.json\",\"RepoTags\":[\"{DockerReference}\"],\"Layers\":[\"{id1}/layer.tar\",\"{id2}/layer.tar\"]}}]");
            writer.File("repositories", $"{{\"sandbox-test/busybox\":{{\"latest\":\"{id2}\"}}}}");
        }));
    }

    private static void BuildSkopeo(string path)
    {
        RequireTool("skopeo");
        // skopeo wants a signature policy; the test archives are local, so any is fine.
        Run("skopeo", "--insecure-policy", "copy", "-q", $"docker-archive:{DockerSaveTar}", $"oci:{path}:latest");
    }

    private static void BuildUmoci(string path)
    {
        RequireTool("umoci");
        string work = System.IO.Directory.CreateTempSubdirectory("sandbox-umoci-").FullName;
        try
        {
            string bundle = Path.Combine(work, "bundle");
            string[] rootless = ImageNative.geteuid() == 0 ? [] : ["--rootless"];
            Run("umoci", "init", "--layout", path);
            Run("umoci", "new", "--image", $"{path}:latest");
            Run(["umoci", "unpack", .. rootless, "--image", $"{path}:latest", bundle]);
            string rootfs = Path.Combine(bundle, "rootfs");
            Run("cp", "-a", BusyboxRootfs + "/.", rootfs);
            System.IO.Directory.CreateDirectory(Path.Combine(rootfs, "work"));
            System.IO.Directory.CreateDirectory(Path.Combine(rootfs, "opaque-dir"));
            File.WriteAllText(Path.Combine(rootfs, "etc", "removed-file"), "removed by layer 2\n");
            File.WriteAllText(Path.Combine(rootfs, "opaque-dir", "old"), "old\n");
            Run("umoci", "repack", "--refresh-bundle", "--image", $"{path}:latest", bundle);
            File.Delete(Path.Combine(rootfs, "etc", "removed-file"));
            File.WriteAllText(Path.Combine(rootfs, "layer2.txt"), "from layer 2\n");
            Run("umoci", "repack", "--image", $"{path}:latest", bundle);
            Run("umoci", "config", "--image", $"{path}:latest",
                "--config.entrypoint", "/bin/sh", "--config.entrypoint", "-c", "--config.cmd", "echo hello",
                "--config.env", "PATH=/bin", "--config.env", "GREETING=hi", "--config.workingdir", "/work", "--config.user", "0:0");
            Run("umoci", "gc", "--layout", path);
        }
        finally
        {
            Run("rm", "-rf", work);
        }
    }

    // ---- helpers --------------------------------------------------------------------------

    /// <summary>The digest of some bytes, <c>sha256:&lt;hex&gt;</c>.</summary>
    public static string Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private static string Architecture => RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64";

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: media types keep their '+' (tar+gzip), as other tools write them.
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void Strings(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
            writer.WriteStringValue(value);
        writer.WriteEndArray();
    }

    private static void Descriptor(Utf8JsonWriter writer, string mediaType, string digest, long size, string? refName = null)
    {
        writer.WriteStartObject();
        writer.WriteString("mediaType", mediaType);
        writer.WriteString("digest", digest);
        writer.WriteNumber("size", size);
        if (refName is not null)
        {
            writer.WritePropertyName("annotations");
            writer.WriteStartObject();
            writer.WriteString("org.opencontainers.image.ref.name", refName);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    private static void RequireTool(string tool)
    {
        if (!File.Exists($"/usr/bin/{tool}"))
            throw new InvalidOperationException($"{tool} is not installed (apt-get install {tool}); .ci/run installs it.");
    }

    private static void Run(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command.Skip(1))
            psi.ArgumentList.Add(argument);
        // skopeo and umoci may write caches and config below $HOME.
        psi.Environment["HOME"] = Path.Combine(Directory, ".home");
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', command)} failed ({process.ExitCode}): {error}{output.Result}");
    }
}
