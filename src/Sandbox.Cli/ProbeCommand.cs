using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandboxing.Cli;

/// <summary>
/// <c>sandbox probe [--json]</c>: what this host supports, as <see cref="SandboxHost.ProbeAsync"/>
/// reports it, as a table or one JSON object. Exit status 0 when this user can run a default
/// sandbox here, 1 when not (so scripts can check a host), 125 for a wrong command line.
/// </summary>
internal static class ProbeCommand
{
    public const string Help =
        """

        Usage:  sandbox probe [OPTIONS]

        Report what this host supports for sandboxes, and why something is missing: the kernel
        and the system calls the helper needs, user namespaces (and the sysctls that restrict
        them), each namespace type, the cgroup layout and, per controller, whether this user
        can create cgroups with it, seccomp, Landlock, overlayfs, idmapped mounts and the
        helper. A missing feature comes with a hint. One tiny sandbox confirms that this user
        may create user namespaces; nothing else is changed on the host.

        The exit status is 0 when this user can run a default sandbox here, 1 when not.

        Options:
          -h, --help    Print usage
              --json    Print the report as one JSON object

        Examples:
          sandbox probe
          sandbox probe --json | jq '.features[] | select(.supported | not)'

        """;

    public static async Task<int> ExecuteAsync(IReadOnlyList<string> args)
    {
        bool json = false;
        foreach (string arg in args)
        {
            switch (arg)
            {
                case "-h" or "--help":
                    await Console.Out.WriteAsync(Help).ConfigureAwait(false);
                    return 0;
                case "--json":
                    json = true;
                    break;
                default:
                    var error = arg.StartsWith('-')
                        ? new CliUsageException($"unknown option '{arg}' for 'probe'", "sandbox probe --help")
                        : new CliUsageException($"'probe' takes no arguments, got '{arg}'", "sandbox probe --help");
                    await Console.Error.WriteLineAsync(error.ToErrorLine()).ConfigureAwait(false);
                    return ExitCodes.CannotStart;
            }
        }
        HostReport report;
        try
        {
            report = await SandboxHost.ProbeAsync().ConfigureAwait(false);
        }
        catch (PlatformNotSupportedException e)
        {
            await Console.Error.WriteLineAsync($"sandbox: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        await Console.Out.WriteAsync(json ? ProbeJsonContext.Serialize(ProbeReport.From(report)) + "\n" : FormatTable(report)).ConfigureAwait(false);
        return report.CanRunSandboxes ? 0 : 1;
    }

    /// <summary>docker info's header, then docker's column layout: upper-case headings, columns padded by three spaces.</summary>
    internal static string FormatTable(HostReport report)
    {
        var text = new StringBuilder();
        text.Append("Kernel:          ").Append(report.KernelRelease is { } r ? "Linux " + r : "unknown").Append('\n');
        text.Append("Architecture:    ").Append(report.Architecture).Append('\n');
        text.Append("User:            uid ").Append(report.EffectiveUid).Append(report.EffectiveUid == 0 ? " (root)" : "").Append('\n');
        text.Append("Cgroup mode:     ").Append(CgroupModeName(report.CgroupMode)).Append('\n');
        text.Append("Helper:          ").Append(report.HelperPath ?? "not found").Append('\n');
        text.Append("Can run:         ").Append(report.CanRunSandboxes ? "yes" : "no").Append("\n\n");

        AppendTable(text, ["FEATURE", "SUPPORTED", "DETAILS"],
            report.Features.Select(f => new[] { f.Name, f.Supported ? "yes" : "no", f.Reason }));
        if (report.CgroupControllers.Length > 0)
        {
            text.Append('\n');
            AppendTable(text, ["CONTROLLER", "VERSION", "DELEGATED", "DETAILS"],
                report.CgroupControllers.Select(c => new[] { c.Name, $"v{(int)c.Version}", c.CanDelegate ? "yes" : "no", c.Reason }));
        }
        var hints = report.Features.Where(f => !f.Supported && f.Hint is not null).Select(f => (f.Name, f.Hint!))
            .Concat(report.CgroupControllers.Where(c => !c.CanDelegate && c.Hint is not null).Select(c => ("cgroup controllers", c.Hint!)))
            .DistinctBy(h => h.Item2)
            .ToList();
        if (hints.Count > 0)
        {
            text.Append("\nHints:\n");
            foreach (var (name, hint) in hints)
                text.Append("  ").Append(name).Append(": ").Append(hint).Append('\n');
        }
        return text.ToString();
    }

    private static void AppendTable(StringBuilder text, string[] headings, IEnumerable<string[]> rows)
    {
        var all = rows.Prepend(headings).ToList();
        // The last column is free text: not padded, so a long reason does not widen the others.
        var widths = Enumerable.Range(0, headings.Length - 1).Select(i => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            for (int i = 0; i < row.Length - 1; i++)
                text.Append(row[i].PadRight(widths[i] + 3));
            text.Append(row[^1]).Append('\n');
        }
    }

    internal static string CgroupModeName(Cgroups.CgroupMode mode) => mode switch
    {
        Cgroups.CgroupMode.Unified => "v2",
        Cgroups.CgroupMode.Legacy => "v1",
        Cgroups.CgroupMode.Hybrid => "hybrid",
        _ => "none",
    };
}

/// <summary>What <c>sandbox probe --json</c> prints: every field always present.</summary>
internal sealed record ProbeReport(
    string OperatingSystem,
    string? KernelRelease,
    string? KernelVersion,
    string Architecture,
    uint EffectiveUid,
    bool CanRunSandboxes,
    string CgroupMode,
    string? HelperPath,
    int? LandlockAbi,
    IReadOnlyList<ProbeFeature> Features,
    IReadOnlyList<ProbeController> CgroupControllers)
{
    public static ProbeReport From(HostReport r) => new(
        r.OperatingSystem,
        r.KernelRelease,
        r.KernelVersion?.ToString(),
        r.Architecture,
        r.EffectiveUid,
        r.CanRunSandboxes,
        ProbeCommand.CgroupModeName(r.CgroupMode),
        r.HelperPath,
        r.LandlockAbi,
        [.. r.Features.Select(f => new ProbeFeature(f.Name, f.Supported, f.Reason, f.Hint))],
        [.. r.CgroupControllers.Select(c => new ProbeController(c.Name, (int)c.Version, c.Directory, c.CanDelegate, c.Reason, c.Hint))]);
}

/// <summary>One feature of the report; <see cref="Name"/> is the stable key.</summary>
internal sealed record ProbeFeature(string Name, bool Supported, string Reason, string? Hint);

/// <summary>One cgroup controller: its version (1 or 2) and whether this user can create cgroups with it.</summary>
internal sealed record ProbeController(string Name, int Version, string Directory, bool CanDelegate, string Reason, string? Hint);

/// <summary>Source-generated, as the CLI is AOT-compiled (see <see cref="ReportJsonContext"/>).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ProbeReport))]
internal sealed partial class ProbeJsonContext : JsonSerializerContext
{
    public static string Serialize(ProbeReport report) => JsonSerializer.Serialize(report, Relaxed.Context.ProbeReport);

    /// <summary>Hints quote shell commands and "host's": no HTML escaping (the output is for people and jq).</summary>
    private static class Relaxed
    {
        public static readonly ProbeJsonContext Context = new(new JsonSerializerOptions(Default.Options)
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
    }
}
