using System.Globalization;

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
        new("rootfs", null, true, ParseRootFilesystem),
        new("read-only", null, false, static (o, _, _, _) => o with { ReadOnlyRoot = true }),
        new("bind", 'v', true, ParseBind, Alias: "volume"),
        new("tmpfs", null, true, ParseTmpfs),
        new("hostname", null, true, ParseHostname),
        new("env", 'e', true, ParseEnvironment),
        new("workdir", 'w', true, ParseWorkingDirectory),
        new("user", 'u', true, ParseUser),
        new("net", null, true, ParseNetwork, Alias: "network"),
        new("timeout", null, true, ParseTimeout),
        new("report", null, true, ParseReport),
    ];

    /// <summary>Every option, as the spellings that mean it ("--bind", "--volume", "-v"); the help must cover them all.</summary>
    internal static IEnumerable<IReadOnlyList<string>> Options => s_options.Select(o => (IReadOnlyList<string>)[.. o.Spellings]);

    /// <summary>Parses the arguments that follow <c>run</c>.</summary>
    /// <exception cref="CliUsageException">An option is unknown, lacks its value or has a malformed one, or the command is missing.</exception>
    public static RunOptions Parse(IReadOnlyList<string> args, CallerContext caller)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(caller);
        var options = new RunOptions();
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

        if (i >= args.Count)
            throw new CliUsageException("'sandbox run' needs a command to run, for example 'sandbox run -- /bin/sh -c \"echo hi\"'");
        return options with { Command = [.. args.Skip(i)] };
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

    /// <summary>SRC:DST[:ro|:rw]. Read-write unless ":ro", like docker's -v.</summary>
    private static RunOptions ParseBind(RunOptions o, string name, string value, CallerContext caller)
    {
        const string Expected = "expected SRC:DST[:ro|:rw], for example /srv/data:/mnt:ro";
        string[] parts = value.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            throw Invalid(name, value, Expected);
        bool readOnly = parts.Length == 3 ? parts[2] switch
        {
            "ro" => true,
            "rw" => false,
            _ => throw Invalid(name, value, $"unknown mode '{parts[2]}'; use ro or rw"),
        } : false;
        string target = RequireMountTarget(name, value, parts[1]);
        return o with { Mounts = o.Mounts.Add(new BindMount(Absolute(parts[0], caller), target, readOnly)) };
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
                    if (octal.Length is 0 or > 5 || !octal.All(c => c is >= '0' and <= '7') || Convert.ToInt32(octal, 8) > 0xFFF)
                        throw Invalid(name, value, $"'{octal}' is not an octal permission mode, for example mode=1777");
                    mode = Convert.ToInt32(octal, 8);
                }
                else
                    throw Invalid(name, value, $"unsupported tmpfs option '{setting}'; only size= and mode= are supported");
            }
        }
        return o with { Mounts = o.Mounts.Add(new TmpfsMount(target, size, mode)) };
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
