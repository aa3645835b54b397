using System.Diagnostics;
using System.Text.Json.Nodes;
using Sandboxing.Cgroups;

// Namespaces, cgroups, bubblewrap and runc: the benchmarks run on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Sandboxing.Benchmarks;

/// <summary>
/// What every benchmark, the footprint measurement and the profiler run: the command, the
/// busybox root filesystem shared by all three runtimes, and each isolation level.
/// </summary>
internal static class Scenarios
{
    /// <summary>busybox-static: a static binary, so no dynamic loader or libraries are timed, and it also works inside the minimal rootfs.</summary>
    public const string Busybox = "/bin/busybox";

    public static readonly string[] True = [Busybox, "true"];

    /// <summary>The limits of the full isolation level, the same for the sandbox, bubblewrap's cgroup and runc.</summary>
    public const long MemoryLimit = 64L << 20;
    public const long PidsLimit = 64;

    /// <summary>The full isolation level's cgroup limits.</summary>
    public static CgroupLimits Limits => new() { MemoryBytes = MemoryLimit, MemorySwapBytes = MemoryLimit, PidsMax = PidsLimit };

    /// <summary>The names <see cref="Build"/> knows, in the order the tables show them.</summary>
    public static readonly string[] SandboxNames = ["user", "all-but-net", "all", "all-no-seccomp", "rootfs", "full", "full-no-seccomp", "overlay"];

    /// <summary>
    /// A sandbox of one isolation level (stdio on /dev/null: the default, Capture, would add two
    /// pipes and their readers to every run).
    /// <list type="bullet">
    /// <item><c>user</c>: a user namespace only, no mounts.</item>
    /// <item><c>all</c>: the default sandbox: every namespace, the host's root read-only, /proc, /sys, /dev, /tmp, masked paths, seccomp.</item>
    /// <item><c>rootfs</c>: every namespace, pivot_root into the busybox rootfs (read-only) with only a fresh /proc.</item>
    /// <item><c>full</c>: <c>rootfs</c> plus a cgroup with memory and pids limits: what bubblewrap and runc are compared with.</item>
    /// </list>
    /// </summary>
    public static Sandbox Build(string name, string rootfs)
    {
        var b = new SandboxBuilder();
        b = name switch
        {
            // No mount namespace means no mounts at all, so the defaults must go.
            "user" => b.WithNamespaces(SandboxNamespaces.User).WithoutDefaultMounts(),
            "all-but-net" => b.WithoutNamespaces(SandboxNamespaces.Network),
            "all" => b,
            // What the default seccomp filter (about 300 BPF instructions, installed per run) costs.
            "all-no-seccomp" => b.WithoutSeccomp(),
            "rootfs" => Rootfs(b, rootfs),
            "full" => Full(b, rootfs),
            "full-no-seccomp" => Full(b, rootfs).WithoutSeccomp(),
            // The rootfs as an image's single layer: overlay, tmpfs upper and, for a root
            // caller, an idmapped layer handed over from the helper.
            "overlay" => b.WithOverlayRoot([rootfs]),
            _ => throw new ArgumentException($"unknown sandbox {name}; known: {string.Join(", ", SandboxNames)}", nameof(name)),
        };
        return b.WithStandardInput(SandboxInput.Null)
            .WithStandardOutput(SandboxOutput.Null)
            .WithStandardError(SandboxOutput.Null)
            .Build();
    }

    private static SandboxBuilder Rootfs(SandboxBuilder b, string rootfs) =>
        b.WithRootFilesystem(rootfs, readOnly: true).WithoutDefaultMounts().WithMount(new ProcMount());

    private static SandboxBuilder Full(SandboxBuilder b, string rootfs) =>
        Rootfs(b, rootfs).WithMemoryLimit(MemoryLimit, memoryAndSwapBytes: MemoryLimit).WithPidsLimit(PidsLimit);

    /// <summary>
    /// The root filesystem of every runtime: busybox-static as /bin/busybox with links for true
    /// and sleep, and empty mount points. 0755 throughout: the sandbox's user (the host's nobody,
    /// for a root caller; a mapped id for runc) must search it.
    /// </summary>
    public static string CreateRootfs()
    {
        string root = Directory.CreateTempSubdirectory("sandbox-bench-rootfs-").FullName;
        File.SetUnixFileMode(root, (UnixFileMode)0x1ED);
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        File.Copy(Busybox, Path.Combine(root, "bin/busybox"));
        foreach (var applet in new[] { "true", "sleep", "sh" })
            File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        foreach (var dir in new[] { "proc", "dev", "sys", "tmp", "etc" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        return root;
    }

    public static async Task RunProcessAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        await process.WaitForExitAsync().ConfigureAwait(false);
        // A runtime that fails to set up must not be timed as a fast one.
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}.");
    }

    public static Task RunTrueAsync() => RunProcessAsync(Busybox, "true");

    public static async Task RunSandboxAsync(Sandbox sandbox, string[] command)
    {
        var result = await sandbox.RunAsync(command).ConfigureAwait(false);
        if (!result.IsSuccess)
            throw new InvalidOperationException($"{string.Join(' ', command)} in the sandbox: {result}");
    }
}

/// <summary>
/// The full isolation level through bubblewrap: every namespace (--unshare-all), the busybox
/// rootfs read-only as /, a fresh /proc, the host's nobody inside, no capabilities, a new session.
/// bubblewrap has no cgroup support, so <see cref="RunInCgroupAsync"/> creates the same cgroup
/// as the library (through Sandbox.Cgroups) and starts bwrap from a `busybox sh` that joins it
/// first: what a bubblewrap user pays for limits.
/// </summary>
internal sealed class Bubblewrap(string rootfs)
{
    public const string Path = "/usr/bin/bwrap";

    private string[] Args(string[] command) =>
    [
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--uid", "65534", "--gid", "65534",
        "--ro-bind", rootfs, "/", "--proc", "/proc",
        "--", .. command,
    ];

    public Task RunAsync(string[] command) => Scenarios.RunProcessAsync(Path, Args(command));

    public async Task RunInCgroupAsync(string[] command)
    {
        var cgroup = CgroupFactory.Create(CgroupHost.Current, "sandbox-bench-bwrap-" + Guid.NewGuid().ToString("N")[..12], Scenarios.Limits);
        try
        {
            string join = string.Join("; ", cgroup.ProcsFiles.Select(p => $"echo $$ > {p}"));
            await Scenarios.RunProcessAsync(Scenarios.Busybox, ["sh", "-c", join + "; exec \"$@\"", "sh", Path, .. Args(command)]).ConfigureAwait(false);
        }
        finally
        {
            await cgroup.DestroyAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>
/// The full isolation level through runc: an OCI bundle of the same rootfs (read-only), with
/// pid, network, ipc, uts, mount, cgroup and user namespaces (ids 0-65535 mapped to 100000-165535),
/// the command as uid 65534 with no capabilities and no_new_privs, a fresh /proc, runc's own /dev
/// tmpfs (runc needs one for its device nodes), memory and pids limits, no terminal. Every run is
/// `runc run` with a fresh container id, which creates, starts, waits for and deletes the container.
/// </summary>
internal sealed class Runc : IDisposable
{
    public const string Path = "/usr/sbin/runc";
    private readonly string _dir, _state;
    private readonly Dictionary<string, string> _bundles = [];

    public Runc(string rootfs)
    {
        _dir = Directory.CreateTempSubdirectory("sandbox-bench-runc-").FullName;
        _state = System.IO.Path.Combine(_dir, "state");
        Directory.CreateDirectory(_state);
        Rootfs = rootfs;
    }

    public string Rootfs { get; }

    /// <summary>The bundle that runs <paramref name="command"/> (one per command, made on first use).</summary>
    public string Bundle(string[] command)
    {
        string key = string.Join('\0', command);
        if (_bundles.TryGetValue(key, out var bundle))
            return bundle;
        bundle = System.IO.Path.Combine(_dir, "bundle" + _bundles.Count);
        Directory.CreateDirectory(bundle);
        var spec = Process.Start(new ProcessStartInfo(Path, ["spec", "--bundle", bundle]) { UseShellExecute = false })!;
        spec.WaitForExit();
        if (spec.ExitCode != 0)
            throw new InvalidOperationException("runc spec failed");
        string file = System.IO.Path.Combine(bundle, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(file))!;
        config["root"] = new JsonObject { ["path"] = Rootfs, ["readonly"] = true };
        var process = config["process"]!;
        process["terminal"] = false;
        process["args"] = new JsonArray([.. command.Select(a => (JsonNode)a)]);
        process["user"] = new JsonObject { ["uid"] = 65534, ["gid"] = 65534 };
        process["noNewPrivileges"] = true;
        var noCaps = new JsonArray();
        process["capabilities"] = new JsonObject
        {
            ["bounding"] = noCaps.DeepClone(), ["effective"] = noCaps.DeepClone(), ["inheritable"] = noCaps.DeepClone(),
            ["permitted"] = noCaps.DeepClone(), ["ambient"] = noCaps.DeepClone(),
        };
        config["hostname"] = "sandbox";
        config["mounts"] = new JsonArray(
            new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
            new JsonObject
            {
                ["destination"] = "/dev", ["type"] = "tmpfs", ["source"] = "tmpfs",
                ["options"] = new JsonArray("nosuid", "strictatime", "mode=755", "size=65536k"),
            });
        var linux = config["linux"]!.AsObject();
        linux["namespaces"] = new JsonArray([.. new[] { "pid", "network", "ipc", "uts", "mount", "cgroup", "user" }.Select(t => (JsonNode)new JsonObject { ["type"] = t })]);
        linux["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
        linux["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
        // The sandbox's init counts against its pids limit; runc's command is pid 1 itself.
        linux["resources"] = new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = Scenarios.MemoryLimit, ["swap"] = Scenarios.MemoryLimit },
            ["pids"] = new JsonObject { ["limit"] = Scenarios.PidsLimit },
        };
        File.WriteAllText(file, config.ToJsonString(new() { WriteIndented = true }));
        _bundles[key] = bundle;
        return bundle;
    }

    public Task RunAsync(string[] command) =>
        Scenarios.RunProcessAsync(Path, "--root", _state, "run", "--bundle", Bundle(command), "bench-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
