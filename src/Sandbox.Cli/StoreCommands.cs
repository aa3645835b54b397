using System.Collections.Immutable;
using System.Text;
using Sandboxing.Images;

namespace Sandboxing.Cli;

/// <summary>
/// <c>sandbox image import|ls|rm</c> and <c>sandbox volume ls|rm</c>: the stores behind
/// <c>run --image</c> and <c>run -v NAME:DST</c>. Docker's exit statuses: 125 for a wrong
/// command line, 1 when the store refuses (no such image or volume, a damaged record).
/// </summary>
internal static class StoreCommands
{
    /// <summary>What a store command was asked: its options and operands.</summary>
    internal sealed record StoreArguments
    {
        public bool ShowHelp { get; init; }

        /// <summary><c>--image-store</c> or <c>--volume-store</c>, resolved against the caller's directory.</summary>
        public string? Store { get; init; }

        /// <summary><c>--image-ref</c> (image import only).</summary>
        public string? Reference { get; init; }

        /// <summary><c>-q</c>/<c>--quiet</c> (ls only): ids or names alone.</summary>
        public bool Quiet { get; init; }

        public ImmutableArray<string> Operands { get; init; } = [];
    }

    /// <summary>One subcommand: the options it takes and how many operands.</summary>
    /// <param name="Command">"image import", as in messages.</param>
    /// <param name="Operands">What the operands are, for the "needs" message ("PATH"); null when it takes none.</param>
    internal sealed record Subcommand(string Command, string StoreOption, bool TakesReference, bool TakesQuiet, string? Operands, bool ManyOperands)
    {
        public string Help => $"sandbox {Command.Split(' ')[0]} --help";
    }

    internal static readonly Subcommand ImageImport = new("image import", "--image-store", TakesReference: true, TakesQuiet: false, "PATH", ManyOperands: false);
    internal static readonly Subcommand ImageList = new("image ls", "--image-store", TakesReference: false, TakesQuiet: true, null, ManyOperands: false);
    internal static readonly Subcommand ImageRemove = new("image rm", "--image-store", TakesReference: false, TakesQuiet: false, "IMAGE", ManyOperands: true);
    internal static readonly Subcommand VolumeList = new("volume ls", "--volume-store", TakesReference: false, TakesQuiet: true, null, ManyOperands: false);
    internal static readonly Subcommand VolumeRemove = new("volume rm", "--volume-store", TakesReference: false, TakesQuiet: false, "VOLUME", ManyOperands: true);

    /// <summary>Every option of the store commands, as the spellings that mean it; the help must cover them all.</summary>
    internal static IEnumerable<IReadOnlyList<string>> Options =>
        [["--image-store"], ["--image-ref"], ["--volume-store"], ["-q", "--quiet"], ["-h", "--help"]];

    /// <summary>
    /// Parses a subcommand's arguments. Options and operands may be interspersed, as in docker's
    /// non-run commands; everything after <c>--</c> is an operand.
    /// </summary>
    /// <exception cref="CliUsageException">An option is unknown or lacks its value, or there are too few or too many operands.</exception>
    internal static StoreArguments Parse(Subcommand subcommand, IReadOnlyList<string> args, CallerContext caller)
    {
        var result = new StoreArguments();
        var operands = ImmutableArray.CreateBuilder<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--")
            {
                operands.AddRange(args.Skip(i + 1));
                break;
            }
            if (arg.Length < 2 || arg[0] != '-')
            {
                operands.Add(arg);
                continue;
            }
            int eq = arg.IndexOf('=');
            string name = arg.StartsWith("--", StringComparison.Ordinal) && eq > 0 ? arg[..eq] : arg;
            string? inline = name.Length < arg.Length ? arg[(eq + 1)..] : null;
            switch (name)
            {
                case "-h" or "--help" when inline is null:
                    return result with { ShowHelp = true };
                case "-q" or "--quiet" when subcommand.TakesQuiet && inline is null:
                    result = result with { Quiet = true };
                    continue;
            }
            bool store = name == subcommand.StoreOption;
            bool reference = name == "--image-ref" && subcommand.TakesReference;
            if (!store && !reference)
                throw new CliUsageException(inline is not null && name is "-h" or "--help" or "-q" or "--quiet"
                    ? $"option '{name}' takes no value (got '{inline}')"
                    : $"unknown option '{name}' for 'sandbox {subcommand.Command}'", subcommand.Help);
            string value = inline ?? (i + 1 < args.Count ? args[++i] : throw new CliUsageException($"option '{name}' needs a value", subcommand.Help));
            if (value.Length == 0)
                throw new CliUsageException($"invalid value '' for {name}: expected {(store ? "a directory" : "the reference of one image, for example alpine:3.20")}", subcommand.Help);
            result = store ? result with { Store = Path.GetFullPath(value, caller.CurrentDirectory) } : result with { Reference = value };
        }

        if (subcommand.Operands is null && operands.Count > 0)
            throw new CliUsageException($"'sandbox {subcommand.Command}' takes no arguments (got '{operands[0]}')", subcommand.Help);
        if (subcommand.Operands is { } what && operands.Count == 0)
            throw new CliUsageException($"'sandbox {subcommand.Command}' needs {(subcommand.ManyOperands ? $"at least one {what}" : what)}", subcommand.Help);
        if (!subcommand.ManyOperands && operands.Count > 1)
            throw new CliUsageException($"'sandbox {subcommand.Command}' takes one {subcommand.Operands} (got {operands.Count})", subcommand.Help);
        return result with { Operands = operands.ToImmutable() };
    }

    // ---- sandbox image ----

    public static async Task<int> ImageAsync(string[] args)
    {
        switch (args)
        {
            case [] or ["-h" or "--help", ..]:
                return await PrintAsync(HelpText.Image).ConfigureAwait(false);
            case ["import", .. var rest]:
                return await RunAsync(ImageImport, rest, HelpText.Image, ImportAsync).ConfigureAwait(false);
            case ["ls" or "list", .. var rest]:
                return await RunAsync(ImageList, rest, HelpText.Image, ListImagesAsync).ConfigureAwait(false);
            case ["rm" or "remove", .. var rest]:
                return await RunAsync(ImageRemove, rest, HelpText.Image, RemoveImagesAsync).ConfigureAwait(false);
            default:
                return await UsageErrorAsync(new CliUsageException($"unknown command 'image {args[0]}'", "sandbox image --help")).ConfigureAwait(false);
        }
    }

    private static async Task<int> ImportAsync(StoreArguments arguments)
    {
        string path = Path.GetFullPath(arguments.Operands[0]);
        var store = RunCommand.OpenImageStore(arguments.Store);
        using var interrupts = new Interrupts();
        try
        {
            var image = await store.ImportAsync(path, arguments.Reference, interrupts.Token).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(image.Id).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (interrupts.Signal is int signal)
        {
            await FailAsync($"interrupted by signal {signal}; nothing was imported").ConfigureAwait(false);
            return 128 + signal;
        }
    }

    private static async Task<int> ListImagesAsync(StoreArguments arguments)
    {
        var images = RunCommand.OpenImageStore(arguments.Store).List();
        var text = new StringBuilder();
        if (!arguments.Quiet)
            text.Append("IMAGE ID       LAYERS   COMMAND\n");
        foreach (var image in images)
        {
            string id = ShortId(image.Id);
            text.Append(arguments.Quiet ? $"{id}\n" : $"{id,-14} {image.LayerDirectories.Length,-8} {Quote(image.Config.DefaultCommand)}\n");
        }
        await Console.Out.WriteAsync(text.ToString()).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Removes each image named by its id, its hex digest, or a unique prefix of it (docker's short ids).</summary>
    private static async Task<int> RemoveImagesAsync(StoreArguments arguments)
    {
        var store = RunCommand.OpenImageStore(arguments.Store);
        var images = store.List();
        int status = 0;
        foreach (string operand in arguments.Operands)
        {
            string hex = operand.StartsWith(Sha256, StringComparison.Ordinal) ? operand[Sha256.Length..] : operand;
            var matches = hex.Length == 0 ? [] : images.Where(i => i.Id.StartsWith(Sha256 + hex, StringComparison.Ordinal)).ToList();
            if (matches.Count != 1)
            {
                await FailAsync(matches.Count == 0
                    ? $"no such image: {operand}"
                    : $"'{operand}' is ambiguous: it begins the ids of {matches.Count} images; give more of the id").ConfigureAwait(false);
                status = 1;
                continue;
            }
            store.Remove(matches[0]);
            await Console.Out.WriteLineAsync($"Deleted: {matches[0].Id}").ConfigureAwait(false);
        }
        return status;
    }

    private const string Sha256 = "sha256:";

    /// <summary>Docker's short id: the first 12 hex digits.</summary>
    internal static string ShortId(string id)
    {
        string hex = id.StartsWith(Sha256, StringComparison.Ordinal) ? id[Sha256.Length..] : id;
        return hex[..Math.Min(12, hex.Length)];
    }

    /// <summary>A command as a JSON-style list, so arguments with spaces stay visible: ["/bin/sh", "-c", "echo hi"].</summary>
    internal static string Quote(IReadOnlyList<string> command) =>
        command.Count == 0 ? "-" : "[" + string.Join(", ", command.Select(a => "\"" + a.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"")) + "]";

    // ---- sandbox volume ----

    public static async Task<int> VolumeAsync(string[] args)
    {
        switch (args)
        {
            case [] or ["-h" or "--help", ..]:
                return await PrintAsync(HelpText.Volume).ConfigureAwait(false);
            case ["ls" or "list", .. var rest]:
                return await RunAsync(VolumeList, rest, HelpText.Volume, ListVolumesAsync).ConfigureAwait(false);
            case ["rm" or "remove", .. var rest]:
                return await RunAsync(VolumeRemove, rest, HelpText.Volume, RemoveVolumesAsync).ConfigureAwait(false);
            default:
                return await UsageErrorAsync(new CliUsageException($"unknown command 'volume {args[0]}'", "sandbox volume --help")).ConfigureAwait(false);
        }
    }

    private static async Task<int> ListVolumesAsync(StoreArguments arguments)
    {
        var names = RunCommand.OpenVolumeStore(arguments.Store).List();
        string header = arguments.Quiet ? "" : "VOLUME NAME\n";
        await Console.Out.WriteAsync(header + string.Concat(names.Select(n => n + "\n"))).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> RemoveVolumesAsync(StoreArguments arguments)
    {
        var store = RunCommand.OpenVolumeStore(arguments.Store);
        int status = 0;
        foreach (string name in arguments.Operands)
        {
            if (!VolumeStore.IsValidName(name))
            {
                await FailAsync($"'{name}' is not a volume name (letters, digits, '.', '_' and '-', starting with a letter or digit)").ConfigureAwait(false);
                status = 1;
            }
            else if (!store.Remove(name))
            {
                await FailAsync($"no such volume: {name}").ConfigureAwait(false);
                status = 1;
            }
            else
            {
                await Console.Out.WriteLineAsync(name).ConfigureAwait(false);
            }
        }
        return status;
    }

    // ---- common ----

    /// <summary>Parses, prints the help or runs; the store's refusals become one line on stderr and status 1.</summary>
    private static async Task<int> RunAsync(Subcommand subcommand, IReadOnlyList<string> args, string help, Func<StoreArguments, Task<int>> run)
    {
        StoreArguments arguments;
        try
        {
            arguments = Parse(subcommand, args, CallerContext.Current);
        }
        catch (CliUsageException e)
        {
            return await UsageErrorAsync(e).ConfigureAwait(false);
        }
        if (arguments.ShowHelp)
            return await PrintAsync(help).ConfigureAwait(false);
        try
        {
            return await run(arguments).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ImageException or IOException or UnauthorizedAccessException)
        {
            await FailAsync(e.Message).ConfigureAwait(false);
            return 1;
        }
    }

    private static async Task<int> PrintAsync(string text)
    {
        await Console.Out.WriteAsync(text).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> UsageErrorAsync(CliUsageException error)
    {
        await Console.Error.WriteLineAsync(error.ToErrorLine()).ConfigureAwait(false);
        return ExitCodes.CannotStart;
    }

    private static Task FailAsync(string message) => Console.Error.WriteLineAsync("sandbox: " + message.ReplaceLineEndings(" "));
}
