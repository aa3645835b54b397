using System.Collections.Immutable;
using System.Globalization;
using Sandboxing.Cgroups;

namespace Sandboxing.Cli;

/// <summary>
/// Parses the arguments of <c>sandbox run</c> into <see cref="RunOptions"/>. Pure: the caller's
/// directory and environment come in through <see cref="CallerContext"/>, and every mistake is
/// a <see cref="CliUsageException"/> naming the option as it was typed.
/// </summary>
/// <remarks>
/// The grammar is docker's (pflag with interspersed arguments off): options come first, as
/// <c>--name VALUE</c>, <c>--name=VALUE</c>, <c>-n VALUE</c>, <c>-nVALUE</c> or <c>-n=VALUE</c>;
/// the first argument that is not an option, or everything after <c>--</c>, is the command. A
/// value is taken even when it starts with '-', so <c>--timeout -1s</c> is reported as a bad
/// duration rather than as an unknown option. A repeated single-valued option keeps its last value.
/// The rules between options (--rootfs or --image, --overlay-size or --overlay-dir, ...) are
/// checked once all of them are read, since their order is free.
/// </remarks>
internal static class RunOptionsParser
{
    private delegate RunOptions Apply(RunOptions options, string name, string value, CallerContext caller);

    /// <summary>One option: its long name, an optional long alias and one-letter short name, and what it does.</summary>
    private sealed record Option(string Long, char? Short, bool TakesValue, Apply Apply, string? Alias = null)
    {
        public IEnumerable<string> Spellings =>
            new[] { "--" + Long, Alias is null ? null : "--" + Alias, Short is null ? null : "-" + Short }.OfType<string>();
    }

    private static readonly Option[] s_options =
    [
        new("help", 'h', false, static (o, _, _, _) => o with { ShowHelp = true }),
        new("interactive", 'i', false, static (o, _, _, _) => o with { Interactive = true }),
        new("tty", 't', false, static (o, _, _, _) => o with { Tty = true }),
        new("detach", 'd', false, static (o, _, _, _) => o with { Detach = true }),
        new("rootfs", null, true, ParseRootFilesystem),
        new("read-only", null, false, static (o, _, _, _) => o with { ReadOnlyRoot = true }),
        new("overlay", null, false, static (o, _, _, _) => o with { Overlay = true }),
        new("overlay-size", null, true, ParseOverlaySize),
        new("overlay-dir", null, true, ParseOverlayDirectory),
        new("image", null, true, static (o, n, v, c) => o with { ImagePath = RequireHostPath(n, v, c, "an image: a tar file (docker export or docker save, optionally gzipped) or an OCI layout directory") }),
        new("image-ref", null, true, static (o, n, v, _) => o with { ImageReference = v.Length > 0 ? v : throw Invalid(n, v, "expected the reference of one image in the archive or layout, for example alpine:3.20") }),
        new("image-store", null, true, static (o, n, v, c) => o with { ImageStoreDirectory = RequireHostPath(n, v, c, "the directory of an image store") }),
        new("entrypoint", null, true, static (o, _, v, _) => o with { Entrypoint = v }),
        new("bind", null, true, ParseBind),
        new("volume", 'v', true, ParseVolume),
        new("volume-store", null, true, static (o, n, v, c) => o with { VolumeStoreDirectory = RequireHostPath(n, v, c, "the directory that holds the named volumes") }),
        new("mount", null, true, ParseMount),
        new("tmpfs", null, true, ParseTmpfs),
        new("mqueue", null, false, static (o, n, _, _) => AddMount(o, new MqueueMount(), n)),
        new("hostname", null, true, ParseHostname),
        new("env", 'e', true, ParseEnvironment),
        new("workdir", 'w', true, ParseWorkingDirectory),
        new("user", 'u', true, ParseUser),
        new("net", null, true, ParseNetwork, Alias: "network"),
        new("timeout", null, true, ParseTimeout),
        new("report", null, true, ParseReport),
        new("memory", 'm', true, ParseMemory),
        new("memory-swap", null, true, ParseMemorySwap),
        new("memory-reservation", null, true, ParseMemoryReservation),
        new("cpus", null, true, ParseCpus),
        new("cpu-time", null, true, static (o, n, v, _) => Units.TryParseDuration(v, out var limit)
            ? o with { CpuTimeLimit = limit }
            : throw Invalid(n, v, "expected a positive duration of CPU time such as 500ms, 2s or 1m (a bare number is seconds)")),
        new("output-limit", null, true, static (o, n, v, _) => Units.TryParseSize(v, out long bytes)
            ? o with { OutputLimitBytes = bytes }
            : throw Invalid(n, v, "expected the bytes each of stdout and stderr may carry as " + SizeExample)),
        new("cpu-shares", 'c', true, ParseCpuShares),
        new("cpuset-cpus", null, true, static (o, n, v, _) => WithLimits(o, l => l with { CpusetCpus = RequireCpuList(n, v) })),
        new("cpuset-mems", null, true, static (o, n, v, _) => WithLimits(o, l => l with { CpusetMems = RequireCpuList(n, v) })),
        new("pids-limit", null, true, ParsePidsLimit),
        new("device-read-bps", null, true, static (o, n, v, _) => ParseDeviceThrottle(o, n, v, IoThrottleKind.ReadBytesPerSecond)),
        new("device-write-bps", null, true, static (o, n, v, _) => ParseDeviceThrottle(o, n, v, IoThrottleKind.WriteBytesPerSecond)),
        new("device-read-iops", null, true, static (o, n, v, _) => ParseDeviceThrottle(o, n, v, IoThrottleKind.ReadOperationsPerSecond)),
        new("device-write-iops", null, true, static (o, n, v, _) => ParseDeviceThrottle(o, n, v, IoThrottleKind.WriteOperationsPerSecond)),
        new("cap-add", null, true, static (o, n, v, _) => ParseCapabilities(o, n, v, add: true)),
        new("cap-drop", null, true, static (o, n, v, _) => ParseCapabilities(o, n, v, add: false)),
        new("ulimit", null, true, ParseUlimit),
        new("group-add", null, true, static (o, n, v, _) => o with { SupplementaryGroups = o.SupplementaryGroups.Add(TryParseId(v, out uint gid) ? gid : throw Invalid(n, v, "expected a numeric gid inside the sandbox")) }),
        new("umask", null, true, static (o, n, v, _) => o with { Umask = TryParseMode(v) is int m && m <= 0x1FF ? m : throw Invalid(n, v, "expected an octal umask such as 022 or 0077") }),
        new("security-opt", null, true, ParseSecurityOption),
        new("landlock", null, true, ParseLandlock),
        new("landlock-programs", null, false, static (o, _, _, _) => o with { LandlockRules = (o.LandlockRules ?? []).AddRange(SandboxLandlock.HostProgramRules) }),
        new("cgroup", null, false, static (o, _, _, _) => o with { UseCgroup = true }),
        new("cgroup-parent", null, true, static (o, n, v, _) => o with { CgroupParent = v.StartsWith('/') ? v : throw new CliUsageException($"invalid value '{v}' for {n}: the cgroup directory must be an absolute path (for example /sys/fs/cgroup/sandboxes)") }),
        new("cgroup-move-to-leaf", null, false, static (o, _, _, _) => o with { CgroupMoveToLeaf = true }),
    ];

    /// <summary>Every option, as the spellings that mean it ("--bind", "--volume", "-v"); the help must cover them all.</summary>
    internal static IEnumerable<IReadOnlyList<string>> Options => s_options.Select(o => (IReadOnlyList<string>)[.. o.Spellings]);

    /// <summary>Parses the arguments that follow <c>run</c>, or <c>create</c> when <paramref name="create"/> is set (always detached).</summary>
    /// <exception cref="CliUsageException">An option is unknown, lacks its value or has a malformed one, or the command is missing.</exception>
    public static RunOptions Parse(IReadOnlyList<string> args, CallerContext caller, bool create = false)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(caller);
        var options = new RunOptions { Detach = create };
        int i = 0;
        for (; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--")
            {
                i++;
                break;
            }
            if (arg.Length < 2 || arg[0] != '-')
                break; // the command; "-" alone is an operand, as everywhere in Unix
            if (Bundle(arg) is { } flags)
            {
                // "-it", "-dit": one-letter flags written together, as docker takes them.
                foreach (var flag in flags)
                    options = flag.Apply(options, "-" + flag.Short, "", caller);
                continue;
            }
            var (option, name, inlineValue) = Match(arg);
            string value;
            if (option.TakesValue)
            {
                if (inlineValue is not null)
                    value = inlineValue;
                else if (i + 1 < args.Count)
                    value = args[++i];
                else
                    throw new CliUsageException($"option '{name}' needs a value");
            }
            else if (inlineValue is not null)
                throw new CliUsageException($"option '{name}' takes no value (got '{inlineValue}')");
            else
                value = "";
            options = option.Apply(options, name, value, caller);
            if (options.ShowHelp)
                return options;
        }

        options = CheckCombinations(options with { Command = [.. args.Skip(i)] }, create);
        if (options.Command.IsEmpty && options.ImagePath is null && options.Entrypoint is not { Length: > 0 })
            throw new CliUsageException("'sandbox run' needs a command to run, for example 'sandbox run -- /bin/sh -c \"echo hi\"'");
        return options;
    }

    /// <summary>
    /// The rules between options, checked once all are read since their order is free: the root
    /// options that need or exclude one another, and the image options that need an image.
    /// </summary>
    private static RunOptions CheckCombinations(RunOptions o, bool create)
    {
        if (o.RootFilesystem is not null && o.ImagePath is not null)
            throw new CliUsageException("--rootfs and --image both choose the root filesystem; give one of them");
        if (o.ImageReference is not null && o.ImagePath is null)
            throw new CliUsageException("--image-ref needs --image, the archive or layout to pick the image from");
        bool overlay = o.Overlay || o.OverlayDirectory is not null || o.OverlaySizeBytes is not null;
        if (overlay && o.RootFilesystem is null && o.ImagePath is null)
        {
            string option = o.Overlay ? "--overlay" : o.OverlayDirectory is not null ? "--overlay-dir" : "--overlay-size";
            throw new CliUsageException($"{option} needs --rootfs DIR, the read-only lower layer (an --image is always an overlay)");
        }
        if (o.OverlayDirectory is not null && o.OverlaySizeBytes is not null)
            throw new CliUsageException("--overlay-size caps the ephemeral writable layer, but --overlay-dir keeps the layer in a directory; give one of them");
        if (o.ReadOnlyRoot && o.OverlayDirectory is not null)
            throw new CliUsageException("--read-only leaves the overlay without a writable layer, so --overlay-dir would be unused; give one of them");
        if (o.ReadOnlyRoot && o.OverlaySizeBytes is not null)
            throw new CliUsageException("--read-only leaves the overlay without a writable layer, so --overlay-size would be unused; give one of them");
        // 'create' is always detached; its errors name it, and its help.
        string background = create ? "create sets the sandbox up" : "-d runs the sandbox", help = create ? "sandbox create --help" : "sandbox run --help";
        if (o.Detach && (o.Tty || o.Interactive))
            throw new CliUsageException($"{background} in the background, where it has no terminal or input of ours; drop -i/-t (and use 'sandbox exec -it ID sh' to work inside it)", help);
        if (o.Tty && o.OutputLimitBytes is not null)
            throw new CliUsageException("--output-limit counts the bytes of the command's stdout and stderr, which -t replaces with a terminal; drop one of them");
        if (o.Detach && o.ReportPath is not null)
            throw new CliUsageException($"--report is written when the command ends, which {(create ? "create" : "-d")} does not wait for; 'sandbox inspect ID' shows the result later", help);
        // A persistent layer is an overlay too: "--rootfs X --overlay-dir D" needs no "--overlay".
        return o with { Overlay = o.RootFilesystem is not null && overlay };
    }

    /// <summary>The flags of "-it" and the like: every letter a one-letter option without a value; null otherwise.</summary>
    private static Option[]? Bundle(string arg)
    {
        if (arg.Length < 3 || arg[1] == '-')
            return null;
        var flags = new Option[arg.Length - 1];
        for (int i = 1; i < arg.Length; i++)
        {
            if (s_options.FirstOrDefault(o => o.Short == arg[i] && !o.TakesValue) is not { } flag)
                return null;
            flags[i - 1] = flag;
        }
        return flags;
    }

    /// <summary>Finds the option an argument names; returns the name as typed and any value glued to it.</summary>
    private static (Option Option, string Name, string? InlineValue) Match(string arg)
    {
        if (arg.StartsWith("--", StringComparison.Ordinal))
        {
            int eq = arg.IndexOf('=');
            string name = eq < 0 ? arg : arg[..eq];
            string key = name[2..];
            foreach (var option in s_options)
            {
                if (key == option.Long || key == option.Alias)
                    return (option, name, eq < 0 ? null : arg[(eq + 1)..]);
            }
            throw Unknown(name);
        }

        foreach (var option in s_options)
        {
            if (option.Short != arg[1])
                continue;
            string name = arg[..2];
            if (arg.Length == 2)
                return (option, name, null);
            if (!option.TakesValue)
                break; // "-hx": a flag carries no glued value, and bundled flags are not supported
            return (option, name, arg[2] == '=' ? arg[3..] : arg[2..]);
        }
        throw Unknown(arg);
    }

    private static CliUsageException Unknown(string name) => new($"unknown option '{name}'");

    private static CliUsageException Invalid(string name, string value, string why) =>
        new($"invalid value '{value}' for {name}: {why}");

    private static RunOptions ParseRootFilesystem(RunOptions o, string name, string value, CallerContext caller)
    {
        if (value.Length == 0)
            throw Invalid(name, value, "expected the directory of a root filesystem, for example --rootfs /srv/alpine");
        return o with { RootFilesystem = Absolute(value, caller) };
    }

    private static RunOptions ParseOverlaySize(RunOptions o, string name, string value, CallerContext caller) =>
        Units.TryParseSize(value, out long bytes)
            ? o with { OverlaySizeBytes = bytes }
            : throw Invalid(name, value, "expected the writable layer's size cap as " + SizeExample);

    private static RunOptions ParseOverlayDirectory(RunOptions o, string name, string value, CallerContext caller) =>
        o with { OverlayDirectory = RequireHostPath(name, value, caller, "a directory to keep the writable layer in, for example --overlay-dir /var/lib/box1") };

    /// <summary>A host path, resolved against the caller's directory; empty is a mistake.</summary>
    private static string RequireHostPath(string name, string value, CallerContext caller, string what) =>
        value.Length > 0 ? Absolute(value, caller) : throw Invalid(name, value, "expected " + what);

    /// <summary>Appends a mount and remembers how it was asked for.</summary>
    private static RunOptions AddMount(RunOptions o, SandboxMount mount, string name, string? value = null) =>
        o with { Mounts = o.Mounts.Add(mount), MountOptions = o.MountOptions.Add(value is null ? name : $"{name} {value}") };

    /// <summary>SRC:DST[:ro|:rw], SRC a host path. Read-write unless ":ro", like docker's -v.</summary>
    private static RunOptions ParseBind(RunOptions o, string name, string value, CallerContext caller)
    {
        var (source, target, readOnly) = SplitVolume(name, value, "expected SRC:DST[:ro|:rw], for example /srv/data:/mnt:ro");
        return AddMount(o, new BindMount(Absolute(source, caller), target, readOnly), name, value);
    }

    /// <summary>
    /// Docker's <c>-v SRC:DST[:ro|:rw]</c>: an absolute SRC (or one starting with '.', resolved
    /// against the current directory, as docker 23 does) is a host path to bind; otherwise SRC
    /// names a volume of the volume store, created on first use. Read-write unless ":ro".
    /// </summary>
    private static RunOptions ParseVolume(RunOptions o, string name, string value, CallerContext caller)
    {
        const string Expected = "expected SRC:DST[:ro|:rw] where SRC is a host path (absolute, or starting with '.') or a volume name, for example /srv/data:/mnt:ro or cache:/cache";
        var (source, target, readOnly) = SplitVolume(name, value, Expected);
        if (source[0] is '/' or '.')
            return AddMount(o, new BindMount(Absolute(source, caller), target, readOnly), name, value);
        if (!VolumeStore.IsValidName(source))
            throw Invalid(name, value, $"'{source}' is neither a host path nor a volume name (letters, digits, '.', '_' and '-', starting with a letter or digit); " + Expected);
        return AddMount(o, new VolumeMount(source, target, readOnly), name, value);
    }

    private static (string Source, string Target, bool ReadOnly) SplitVolume(string name, string value, string expected)
    {
        string[] parts = value.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            throw Invalid(name, value, expected);
        bool readOnly = parts.Length == 3 ? parts[2] switch
        {
            "ro" => true,
            "rw" => false,
            _ => throw Invalid(name, value, $"unknown mode '{parts[2]}'; use ro or rw"),
        } : false;
        return (parts[0], RequireMountTarget(name, value, parts[1]), readOnly);
    }

    /// <summary>DST[:size=N,mode=OCTAL], the subset of docker's --tmpfs options the library supports.</summary>
    private static RunOptions ParseTmpfs(RunOptions o, string name, string value, CallerContext caller)
    {
        int colon = value.IndexOf(':');
        string target = RequireMountTarget(name, value, colon < 0 ? value : value[..colon]);
        long? size = null;
        int mode = new TmpfsMount(target).Mode;
        if (colon >= 0)
        {
            foreach (string setting in value[(colon + 1)..].Split(','))
            {
                if (setting.StartsWith("size=", StringComparison.Ordinal))
                {
                    if (!Units.TryParseSize(setting[5..], out long bytes))
                        throw Invalid(name, value, $"'{setting[5..]}' is not a size; use bytes or a k, m or g suffix, for example size=64m");
                    size = bytes;
                }
                else if (setting.StartsWith("mode=", StringComparison.Ordinal))
                {
                    string octal = setting[5..];
                    mode = TryParseMode(octal) ?? throw Invalid(name, value, $"'{octal}' is not an octal permission mode, for example mode=1777");
                }
                else
                    throw Invalid(name, value, $"unsupported tmpfs option '{setting}'; only size= and mode= are supported");
            }
        }
        return AddMount(o, new TmpfsMount(target, size, mode), name, value);
    }

    /// <summary>Octal permission bits, 0 to 7777 (the form docker's tmpfs mode takes); null when malformed.</summary>
    private static int? TryParseMode(string octal) =>
        octal.Length is > 0 and <= 5 && octal.All(c => c is >= '0' and <= '7') && Convert.ToInt32(octal, 8) is var mode && mode <= 0xFFF
            ? mode
            : null;

    private const string MountKeys =
        "the keys are type (bind, volume or tmpfs), source or src, target, dst or destination, readonly or ro, bind-recursive, bind-optional, tmpfs-size and tmpfs-mode";

    /// <summary>Keys of docker's --mount that the library has no counterpart for.</summary>
    private static readonly string[] s_unsupportedDockerMountKeys =
        ["bind-propagation", "bind-nonrecursive", "consistency", "volume-nocopy", "volume-driver", "volume-label", "volume-opt", "volume-subpath", "image-subpath"];

    /// <summary>
    /// Docker's --mount: comma-separated KEY=VALUE fields, read as one CSV record as docker reads
    /// it, so a field holding a comma is double-quoted whole ("src=/srv/a,b"). Keys are
    /// case-insensitive; the type defaults to volume; readonly may stand alone. bind-optional is
    /// ours: a missing bind source is skipped instead of failing.
    /// </summary>
    private static RunOptions ParseMount(RunOptions o, string name, string value, CallerContext caller)
    {
        string type = "volume";
        string? source = null, target = null, readOnlyKey = null, bindKey = null, tmpfsKey = null;
        bool readOnly = false, recursive = true, optional = false;
        long? size = null;
        int mode = new TmpfsMount("/x").Mode;
        foreach (string field in SplitCsvRecord(name, value))
        {
            int eq = field.IndexOf('=');
            string typedKey = eq < 0 ? field : field[..eq];
            string key = typedKey.ToLowerInvariant();
            string? setting = eq < 0 ? null : field[(eq + 1)..];
            if (field.Length == 0)
                throw Invalid(name, value, "a field is empty; " + MountKeys);
            if (key.StartsWith("bind-", StringComparison.Ordinal))
                bindKey ??= typedKey;
            else if (key.StartsWith("tmpfs-", StringComparison.Ordinal))
                tmpfsKey ??= typedKey;
            switch (key)
            {
                case "readonly" or "ro":
                    readOnly = setting is null || RequireBool(name, value, typedKey, setting);
                    readOnlyKey = readOnly ? typedKey : null;
                    continue;
                case "bind-optional":
                    optional = setting is null || RequireBool(name, value, typedKey, setting);
                    continue;
            }
            if (s_unsupportedDockerMountKeys.Contains(key))
                throw Invalid(name, value, $"docker's key '{typedKey}' is not supported; " + MountKeys);
            bool known = key is "type" or "source" or "src" or "target" or "dst" or "destination" or "bind-recursive" or "tmpfs-size" or "tmpfs-mode";
            if (!known)
                throw Invalid(name, value, $"unknown key '{typedKey}'; " + MountKeys);
            if (setting is null)
                throw Invalid(name, value, $"key '{typedKey}' needs a value ({typedKey}=...)");
            switch (key)
            {
                case "type":
                    type = setting.ToLowerInvariant() is "bind" or "volume" or "tmpfs"
                        ? setting.ToLowerInvariant()
                        : throw Invalid(name, value, $"unsupported type '{setting}'; use bind, volume or tmpfs");
                    break;
                case "source" or "src":
                    source = setting.Length > 0 ? setting : throw Invalid(name, value, $"'{typedKey}' is empty");
                    break;
                case "target" or "dst" or "destination":
                    target = RequireMountTarget(name, value, setting);
                    break;
                case "bind-recursive":
                    recursive = setting switch
                    {
                        "enabled" => true,
                        "disabled" => false,
                        _ => throw Invalid(name, value, $"'{typedKey}={setting}': use enabled (the default: mounts below the source come along) or disabled"),
                    };
                    break;
                case "tmpfs-size":
                    size = Units.TryParseSize(setting, out long bytes)
                        ? bytes
                        : throw Invalid(name, value, $"'{typedKey}={setting}' is not a size; use bytes or a k, m or g suffix, for example tmpfs-size=64m");
                    break;
                case "tmpfs-mode":
                    mode = TryParseMode(setting) ?? throw Invalid(name, value, $"'{typedKey}={setting}' is not an octal permission mode, for example tmpfs-mode=1770");
                    break;
            }
        }

        if (target is null)
            throw Invalid(name, value, "the target is missing; add target=PATH, the mount point inside the sandbox");
        if (bindKey is not null && type != "bind")
            throw Invalid(name, value, $"'{bindKey}' applies only to type=bind, not type={type}");
        if (tmpfsKey is not null && type != "tmpfs")
            throw Invalid(name, value, $"'{tmpfsKey}' applies only to type=tmpfs, not type={type}");
        switch (type)
        {
            case "bind":
                if (source is null)
                    throw Invalid(name, value, "type=bind needs a source, the host path: add source=PATH");
                return AddMount(o, new BindMount(Absolute(source, caller), target, readOnly, recursive, optional), name, value);
            case "tmpfs":
                if (source is not null)
                    throw Invalid(name, value, "a tmpfs has no source; drop the source key");
                if (readOnlyKey is not null)
                    throw Invalid(name, value, $"'{readOnlyKey}' is not supported for type=tmpfs: a tmpfs is always writable");
                return AddMount(o, new TmpfsMount(target, size, mode), name, value);
            default:
                if (source is null)
                    throw Invalid(name, value, "type=volume needs a source, the volume's name: add source=NAME (anonymous volumes are not supported)");
                if (!VolumeStore.IsValidName(source))
                    throw Invalid(name, value, $"'{source}' is not a volume name (letters, digits, '.', '_' and '-', starting with a letter or digit); use type=bind for a host path");
                return AddMount(o, new VolumeMount(source, target, readOnly), name, value);
        }
    }

    private static bool RequireBool(string name, string value, string key, string setting) => setting.ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw Invalid(name, value, $"'{key}={setting}': expected true or false (or 1 or 0)"),
    };

    /// <summary>
    /// Splits one CSV record as Go's encoding/csv reads it (docker parses --mount with it): a
    /// field that starts with '"' runs to the closing quote, with "" standing for one quote, and
    /// must end there; a quote anywhere else in a field is an error.
    /// </summary>
    private static List<string> SplitCsvRecord(string name, string value)
    {
        const string Quoting = "double-quote a whole field to put a comma in it, as in \"src=/srv/a,b\"";
        var fields = new List<string>();
        int i = 0;
        while (true)
        {
            if (i < value.Length && value[i] == '"')
            {
                var field = new System.Text.StringBuilder();
                for (i++; ; i++)
                {
                    if (i >= value.Length)
                        throw Invalid(name, value, "a double quote is not closed; " + Quoting);
                    if (value[i] != '"')
                        field.Append(value[i]);
                    else if (i + 1 < value.Length && value[i + 1] == '"')
                        field.Append(value[++i]);
                    else
                        break;
                }
                i++; // past the closing quote
                if (i < value.Length && value[i] != ',')
                    throw Invalid(name, value, "text follows a closing double quote; " + Quoting);
                fields.Add(field.ToString());
            }
            else
            {
                int end = value.IndexOf(',', i);
                if (end < 0)
                    end = value.Length;
                string field = value[i..end];
                if (field.Contains('"'))
                    throw Invalid(name, value, $"a double quote inside the field '{field}'; " + Quoting);
                fields.Add(field);
                i = end;
            }
            if (i >= value.Length)
                return fields;
            i++; // past the comma
        }
    }

    /// <summary>
    /// <c>--cap-add NAME</c> / <c>--cap-drop NAME</c>, applied in order to the set so far (empty at
    /// first): NAME is a capability (CAP_NET_RAW, NET_RAW, net_raw), ALL, or DEFAULT for docker's set.
    /// </summary>
    private static RunOptions ParseCapabilities(RunOptions o, string name, string value, bool add)
    {
        var set = o.Capabilities ?? [];
        ImmutableSortedSet<Capability> named = value.Trim().ToUpperInvariant() switch
        {
            "ALL" => Sandboxing.Capabilities.All,
            "DEFAULT" or "DOCKER" => Sandboxing.Capabilities.DockerDefault,
            _ => Sandboxing.Capabilities.TryParse(value, out var cap)
                ? [cap]
                : throw Invalid(name, value, "expected a capability such as NET_RAW or CAP_CHOWN, ALL, or DEFAULT (docker's set); see capabilities(7)"),
        };
        return o with { Capabilities = add ? set.Union(named) : set.Except(named) };
    }

    /// <summary><c>--ulimit NAME=SOFT[:HARD]</c>, docker's syntax; -1 or "unlimited" for no limit.</summary>
    private static RunOptions ParseUlimit(RunOptions o, string name, string value, CallerContext caller)
    {
        const string expected = "expected NAME=SOFT[:HARD], for example nofile=1024:2048 or core=0 (names: " +
            "core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack, as)";
        int eq = value.IndexOf('=');
        if (eq <= 0 || !ResourceLimitValue.TryParseName(value[..eq], out var limit))
            throw Invalid(name, value, expected);
        string[] parts = value[(eq + 1)..].Split(':');
        if (parts.Length is < 1 or > 2 || !TryParseLimit(parts[0], out ulong soft))
            throw Invalid(name, value, expected);
        ulong hard = soft;
        if (parts.Length == 2 && !TryParseLimit(parts[1], out hard))
            throw Invalid(name, value, expected);
        if (soft > hard)
            throw Invalid(name, value, "the soft limit is above the hard limit");
        return o with { ResourceLimits = o.ResourceLimits.SetItem(limit, new ResourceLimitValue(soft, hard)) };
    }

    private static bool TryParseLimit(string text, out ulong limit)
    {
        if (text is "-1" || text.Equals("unlimited", StringComparison.OrdinalIgnoreCase))
        {
            limit = ResourceLimitValue.Unlimited;
            return true;
        }
        return ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit);
    }

    /// <summary><c>--landlock PATH:MODE</c>: MODE is r, w, x or a combination (rw, rx, rwx).</summary>
    private static RunOptions ParseLandlock(RunOptions o, string name, string value, CallerContext caller)
    {
        const string expected = "expected PATH:MODE with an absolute path inside the sandbox and MODE r, w, x or a combination, for example /data:rw or /opt/app:rx";
        int colon = value.LastIndexOf(':');
        if (colon <= 0 || value[0] != '/')
            throw Invalid(name, value, expected);
        string mode = value[(colon + 1)..];
        LandlockAccess access = 0;
        foreach (char c in mode)
            access |= c switch
            {
                'r' => LandlockAccess.Read,
                'w' => LandlockAccess.Write,
                'x' => LandlockAccess.Execute,
                _ => throw Invalid(name, value, expected),
            };
        if (access == 0)
            throw Invalid(name, value, expected);
        return o with { LandlockRules = (o.LandlockRules ?? []).Add(new LandlockRule(value[..colon], access)) };
    }

    /// <summary><c>--security-opt</c>, docker's spellings: no-new-privileges[=true|false] (also with ':'), seccomp=default|unconfined.</summary>
    private static RunOptions ParseSecurityOption(RunOptions o, string name, string value, CallerContext caller)
    {
        string key = value, setting = "true";
        int sep = value.IndexOfAny(['=', ':']);
        if (sep >= 0)
        {
            key = value[..sep];
            setting = value[(sep + 1)..];
        }
        return key switch
        {
            "no-new-privileges" => o with { NoNewPrivileges = RequireBool(name, value, key, setting) },
            "seccomp" => setting switch
            {
                "unconfined" => o with { Seccomp = false },
                "default" => o with { Seccomp = true },
                _ => throw Invalid(name, value, "expected seccomp=default or seccomp=unconfined (profile files are not read yet)"),
            },
            _ => throw Invalid(name, value, "expected no-new-privileges[=true|false] or seccomp=default|unconfined"),
        };
    }

    private static RunOptions ParseHostname(RunOptions o, string name, string value, CallerContext caller) =>
        value.Length == 0 ? throw Invalid(name, value, "the hostname is empty") : o with { Hostname = value };

    /// <summary>NAME=VALUE sets; NAME alone copies the caller's NAME, or leaves it unset when the caller has none (docker's rule).</summary>
    private static RunOptions ParseEnvironment(RunOptions o, string name, string value, CallerContext caller)
    {
        int eq = value.IndexOf('=');
        string variable = eq < 0 ? value : value[..eq];
        if (variable.Length == 0)
            throw Invalid(name, value, "the variable name is empty; expected NAME=VALUE or NAME");
        string? content = eq < 0 ? caller.GetEnvironmentVariable(variable) : value[(eq + 1)..];
        return o with { Environment = content is null ? o.Environment.Remove(variable) : o.Environment.SetItem(variable, content) };
    }

    private static RunOptions ParseWorkingDirectory(RunOptions o, string name, string value, CallerContext caller) =>
        o with { WorkingDirectory = RequireAbsolute(name, value, value) };

    /// <summary>
    /// UID[:GID], numeric only: names would have to be looked up in the sandbox's /etc/passwd.
    /// A lone UID gets gid 0, which is what docker does for a numeric uid without a passwd entry.
    /// </summary>
    private static RunOptions ParseUser(RunOptions o, string name, string value, CallerContext caller)
    {
        int colon = value.IndexOf(':');
        string uidText = colon < 0 ? value : value[..colon];
        string gidText = colon < 0 ? "0" : value[(colon + 1)..];
        if (!TryParseId(uidText, out uint uid) || !TryParseId(gidText, out uint gid))
            throw Invalid(name, value, "expected numeric UID[:GID], for example 1000:1000 (user names are not supported)");
        return o with { Uid = uid, Gid = gid };
    }

    /// <summary>Digits only (no sign or spaces), and not 4294967295, which the kernel reserves as "no id".</summary>
    private static bool TryParseId(string text, out uint id) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id != uint.MaxValue;

    private static RunOptions ParseNetwork(RunOptions o, string name, string value, CallerContext caller) => value switch
    {
        "none" => o with { Network = SandboxNetwork.None },
        "host" => o with { Network = SandboxNetwork.Host },
        _ => throw Invalid(name, value, "expected none (only loopback) or host"),
    };

    private static RunOptions ParseTimeout(RunOptions o, string name, string value, CallerContext caller) =>
        Units.TryParseDuration(value, out var timeout)
            ? o with { Timeout = timeout }
            : throw Invalid(name, value, "expected a positive duration such as 500ms, 2s, 1.5s, 1m or 1h (a bare number is seconds)");

    private static RunOptions ParseReport(RunOptions o, string name, string value, CallerContext caller) =>
        value.Length == 0 ? throw Invalid(name, value, "expected a file name") : o with { ReportPath = Absolute(value, caller) };

    // ---- resource limits: docker's syntax; ranges that depend on the host (the number of CPUs,
    // whether a device exists) are the library's to check when the sandbox is built ----

    private const string SizeExample = "a positive size in bytes or with a k, m or g suffix, for example 64m";

    private static RunOptions WithLimits(RunOptions o, Func<CgroupLimits, CgroupLimits> change) =>
        o with { Resources = change(o.Resources ?? new CgroupLimits()) };

    private static long RequireSize(string name, string value) =>
        Units.TryParseSize(value, out long bytes) ? bytes : throw Invalid(name, value, "expected " + SizeExample);

    private static RunOptions ParseMemory(RunOptions o, string name, string value, CallerContext caller)
    {
        long bytes = RequireSize(name, value);
        return WithLimits(o, l => l with { MemoryBytes = bytes });
    }

    /// <summary>Memory plus swap, as docker's --memory-swap; -1 allows unlimited swap.</summary>
    private static RunOptions ParseMemorySwap(RunOptions o, string name, string value, CallerContext caller)
    {
        long bytes = value == "-1" ? -1
            : Units.TryParseSize(value, out long size) ? size
            : throw Invalid(name, value, "expected the total of memory and swap as " + SizeExample + ", or -1 for unlimited swap");
        return WithLimits(o, l => l with { MemorySwapBytes = bytes });
    }

    private static RunOptions ParseMemoryReservation(RunOptions o, string name, string value, CallerContext caller)
    {
        long bytes = RequireSize(name, value);
        return WithLimits(o, l => l with { MemoryReservationBytes = bytes });
    }

    /// <summary>A positive decimal number of CPUs, such as 1.5 or 0.25 (no sign or exponent).</summary>
    private static RunOptions ParseCpus(RunOptions o, string name, string value, CallerContext caller)
    {
        if (value.Length is 0 or > 20 || value[0] == '.' || value[^1] == '.'
            || !decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal cpus) || cpus <= 0)
            throw Invalid(name, value, "expected a positive number of CPUs, for example 1.5 or 0.5");
        return WithLimits(o, l => l with { Cpus = (double)cpus });
    }

    /// <summary>The relative weight in cgroup v1 shares: 2 to 262144, 1024 being the default.</summary>
    private static RunOptions ParseCpuShares(RunOptions o, string name, string value, CallerContext caller)
    {
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long shares) || shares is < 2 or > 262144)
            throw Invalid(name, value, "expected a relative weight from 2 to 262144 (1024 is the default), for example 512");
        return WithLimits(o, l => l with { CpuShares = shares });
    }

    /// <summary>At least 1, or docker's -1 for no limit (then the limit is simply not set).</summary>
    private static RunOptions ParsePidsLimit(RunOptions o, string name, string value, CallerContext caller)
    {
        if (value == "-1")
            return WithLimits(o, l => l with { PidsMax = null });
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long pids) || pids < 1)
            throw Invalid(name, value, "expected the maximum number of processes and threads, at least 1 (or -1 for no limit), for example 64");
        return WithLimits(o, l => l with { PidsMax = pids });
    }

    /// <summary>The cpuset list syntax: numbers and ascending ranges, comma-separated ("0-3,8").</summary>
    private static string RequireCpuList(string name, string value)
    {
        foreach (string item in value.Split(','))
        {
            int dash = item.IndexOf('-');
            string first = dash < 0 ? item : item[..dash];
            string last = dash < 0 ? item : item[(dash + 1)..];
            if (!int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out int from)
                || !int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out int to) || from > to)
                throw Invalid(name, value, "expected a list of numbers and ranges, for example 0-3 or 0,2");
        }
        return value;
    }

    /// <summary>
    /// DEVICE:RATE, docker's syntax, where DEVICE is a device node under /dev. The last ':'
    /// separates them, since /dev/disk/by-path names contain colons. RATE is a size per second
    /// for the -bps options and a plain number for the -iops ones.
    /// </summary>
    private static RunOptions ParseDeviceThrottle(RunOptions o, string name, string value, IoThrottleKind kind)
    {
        bool bytes = kind is IoThrottleKind.ReadBytesPerSecond or IoThrottleKind.WriteBytesPerSecond;
        string expected = bytes
            ? "expected DEVICE:RATE, a device under /dev and a positive rate in bytes per second with an optional k, m or g suffix, for example /dev/sda:10m"
            : "expected DEVICE:N, a device under /dev and a positive number of operations per second, for example /dev/sda:1000";
        int colon = value.LastIndexOf(':');
        if (colon < 0)
            throw Invalid(name, value, expected);
        string device = value[..colon];
        string rate = value[(colon + 1)..];
        if (!device.StartsWith("/dev/", StringComparison.Ordinal) || device.Length == "/dev/".Length)
            throw Invalid(name, value, $"'{device}' is not a device path under /dev; " + expected);
        ulong limit;
        if (bytes)
            limit = Units.TryParseSize(rate, out long size) ? (ulong)size : throw Invalid(name, value, $"'{rate}' is not a rate; " + expected);
        else if (!ulong.TryParse(rate, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit == 0)
            throw Invalid(name, value, $"'{rate}' is not a number of operations; " + expected);
        return o with { DeviceThrottles = o.DeviceThrottles.Add(new DeviceThrottle(name, value, device, kind, limit)) };
    }

    /// <summary>Resolves a host path against the caller's directory, as a shell user expects.</summary>
    private static string Absolute(string path, CallerContext caller) => Path.GetFullPath(path, caller.CurrentDirectory);

    /// <summary>
    /// Paths inside the sandbox must be absolute (docker refuses relative ones too); the library
    /// checks the finer points, such as '..', when the sandbox is built.
    /// </summary>
    private static string RequireAbsolute(string name, string value, string path) =>
        path.StartsWith('/') ? path : throw Invalid(name, value, $"'{path}' is not an absolute path inside the sandbox");

    private static string RequireMountTarget(string name, string value, string path)
    {
        RequireAbsolute(name, value, path);
        if (path == "/")
            throw Invalid(name, value, "'/' cannot be a mount target; use --rootfs to choose the root");
        return path;
    }
}
