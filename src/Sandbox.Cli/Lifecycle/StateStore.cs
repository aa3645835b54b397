using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandboxing.Cli.Lifecycle;

/// <summary>
/// Where the sandboxes of <c>run -d</c> are kept, one directory each (as runc's --root):
/// state.json, the monitor's control.sock while it runs, and the command's stdout.log and
/// stderr.log. The root is private to its user (0700).
/// </summary>
internal sealed class StateStore
{
    public const string DirectoryVariable = "SANDBOX_STATE_DIR";
    public const string StateFile = "state.json", SocketFile = "control.sock", StdoutLog = "stdout.log", StderrLog = "stderr.log";

    /// <summary>
    /// Locked by the monitor for as long as it lives: the kernel drops the lock when the process
    /// ends, however it ends, so waiting for it cannot be fooled by a recycled pid.
    /// </summary>
    public const string MonitorLock = "monitor.lock";

    private StateStore(string root) => Root = root;

    public string Root { get; }

    /// <summary>$SANDBOX_STATE_DIR, else /run/sandbox for root, else $XDG_RUNTIME_DIR/sandbox or /tmp/sandbox-UID; created 0700.</summary>
    public static StateStore Open()
    {
        uint uid = Interop.LibC.geteuid();
        string root = Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured ? Path.GetFullPath(configured)
            : uid == 0 ? "/run/sandbox"
            : Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime ? Path.Combine(runtime, "sandbox")
            : $"/tmp/sandbox-{uid}";
        try
        {
            Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"cannot create the state directory {root}: {e.Message} (set {DirectoryVariable} to a directory of yours)");
        }
        // In a shared place such as /tmp, someone else may have made it first, or planted a link;
        // and an existing directory keeps whatever mode it had: others who may enter it could read
        // the logs, and others who may write it could replace a sandbox's socket or state.
        var info = new DirectoryInfo(root);
        if (info.LinkTarget is not null || OwnerAndMode(root) is not { } st || st.Owner != uid)
            throw new CliUsageException($"the state directory {root} is a symbolic link or belongs to another user; remove it or set {DirectoryVariable}");
        if ((st.Mode & 0x3f /* 0077 */) != 0)
            throw new CliUsageException($"the state directory {root} is open to other users (mode {Convert.ToString(st.Mode & 0xfff, 8).PadLeft(4, '0')}); make it private with 'chmod 700 {root}' or set {DirectoryVariable}");
        return new StateStore(root);
    }

    private static unsafe (uint Owner, int Mode)? OwnerAndMode(string path)
    {
        Images.ImageNative.Statx st;
        return Images.ImageNative.statx(Images.ImageNative.AT_FDCWD, path, Images.ImageNative.AT_SYMLINK_NOFOLLOW, Images.ImageNative.STATX_BASIC_STATS, &st) == 0 ? (st.Uid, st.Mode) : null;
    }

    public string DirectoryOf(string id) => Path.Combine(Root, id);

    /// <summary>A fresh, private directory for a sandbox whose id is not known yet; renamed once it is.</summary>
    public string CreateStaging()
    {
        string path = Path.Combine(Root, ".new-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)));
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>Every sandbox with a readable state, newest first.</summary>
    public IReadOnlyList<SandboxRecord> List()
    {
        var records = new List<SandboxRecord>();
        foreach (var dir in Directory.EnumerateDirectories(Root))
            if (!Path.GetFileName(dir).StartsWith('.') && TryRead(Path.GetFileName(dir)) is { } record)
                records.Add(record);
        return [.. records.OrderByDescending(r => r.Created)];
    }

    /// <summary>The full id an id or unique prefix names.</summary>
    /// <exception cref="CliUsageException">No sandbox, or several, match.</exception>
    public string Resolve(string idOrPrefix)
    {
        if (idOrPrefix.Length == 0 || idOrPrefix.Contains('/') || idOrPrefix.StartsWith('.'))
            throw new CliUsageException($"'{idOrPrefix}' is not a sandbox id");
        var matches = Directory.EnumerateDirectories(Root, idOrPrefix + "*").Select(Path.GetFileName).OfType<string>().Where(n => !n.StartsWith('.')).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new CliUsageException($"no sandbox '{idOrPrefix}' in {Root} (see 'sandbox ps -a')"),
            _ => throw new CliUsageException($"'{idOrPrefix}' matches {matches.Count} sandboxes ({string.Join(", ", matches)}); give more of the id"),
        };
    }

    public SandboxRecord? TryRead(string id)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(DirectoryOf(id), StateFile)), StateJson.Default.SandboxRecord);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Replaces state.json in one rename, so a reader never sees half of it.</summary>
    public static void Write(string directory, SandboxRecord record)
    {
        string temporary = Path.Combine(directory, StateFile + ".tmp");
        File.WriteAllText(temporary, JsonSerializer.Serialize(record, StateJson.Relaxed.SandboxRecord) + "\n");
        File.Move(temporary, Path.Combine(directory, StateFile), overwrite: true);
    }
}

/// <summary>What state.json holds.</summary>
internal sealed record SandboxRecord
{
    public required string Id { get; init; }
    public required string Status { get; init; } // created, running, paused, exited
    public required DateTimeOffset Created { get; init; }
    public required int MonitorPid { get; init; }
    public required int Pid { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    public RunReport? Result { get; init; }

    /// <summary>Why there is no result, when the sandbox ended without one.</summary>
    public string? Error { get; init; }
}

/// <summary>A request to a sandbox's monitor: one JSON message on its control socket.</summary>
internal sealed record ControlRequest
{
    public required string Op { get; init; } // state, top, stats, pause, unpause, start, stop, kill, exec, signal
    public int Signal { get; init; }
    public double GraceSeconds { get; init; }
    public IReadOnlyList<string>? Command { get; init; }
    public Dictionary<string, string>? Environment { get; init; }
    public string? WorkingDirectory { get; init; }
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
    public bool Tty { get; init; }
    public int Columns { get; init; }
    public int Rows { get; init; }
}

/// <summary>The monitor's answer.</summary>
internal sealed record ControlResponse
{
    public bool Ok { get; init; }
    public string? Error { get; init; }
    public string? Step { get; init; }
    public int Pid { get; init; }
    public SandboxRecord? State { get; init; }
    public IReadOnlyList<ProcessRow>? Processes { get; init; }
    public StatsRow? Stats { get; init; }
    public RunReport? Result { get; init; }
}

internal sealed record ProcessRow(int Pid, int HostPid, int ParentPid, uint? Uid, string State, double CpuSeconds, long ResidentBytes, string Command);

internal sealed record StatsRow(double? CpuSeconds, long? MemoryBytes, long? MemoryPeakBytes, long? Pids, long? IoReadBytes, long? IoWriteBytes);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SandboxRecord))]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
internal sealed partial class StateJson : JsonSerializerContext
{
    /// <summary>Readable output ("host's", not "host\u0027s"): these files are for people and tools, never HTML.</summary>
    public static StateJson Relaxed => Holder.Context;

    /// <summary>A nested class, so it is initialised after the generated <see cref="Default"/>.</summary>
    private static class Holder
    {
        public static readonly StateJson Context = new(new JsonSerializerOptions(Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true });
    }
}
