using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Xunit.Abstractions;

namespace Sandboxing.Tests;

/// <summary>
/// Runs each case of <see cref="ContainmentCases"/> once per test run, its default sandbox first
/// and then its relaxed ones, and keeps the outcomes for the theory and the report alike.
/// </summary>
public sealed class ContainmentSuiteFixture : IAsyncLifetime
{
    // Runs are sequential within a case; a few cases at a time keep the report quick without
    // starving the CPU-time cases.
    private readonly SemaphoreSlim _concurrency = new(4);
    private readonly ConcurrentDictionary<string, Lazy<Task<ContainmentOutcome>>> _outcomes = new();

    public ContainmentHost Host { get; } = new();

    public Task InitializeAsync() => Host.InitializeAsync();

    public Task DisposeAsync() => Host.DisposeAsync();

    public Task<ContainmentOutcome> OutcomeOf(ContainmentCase c) =>
        _outcomes.GetOrAdd(c.Name, _ => new Lazy<Task<ContainmentOutcome>>(() => RunAsync(c))).Value;

    private async Task<ContainmentOutcome> RunAsync(ContainmentCase c)
    {
        await _concurrency.WaitAsync();
        try
        {
            var observations = new List<ContainmentObservation>();
            foreach (var run in new[] { c.Default }.Concat(c.Relaxed))
            {
                Sandbox sandbox = run.Configure(new SandboxBuilder(), Host).Build();
                // Not a limit of the sandbox (the default one has none): only a guard against a hung test.
                using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                SandboxResult result = await sandbox.RunAsync(c.Command(Host), guard.Token);
                string evidence = (c.Evidence ?? ContainmentCases.LastLine)(result);
                if (c.HostState is { } hostState)
                    evidence += "; " + await hostState(Host);
                observations.Add(new ContainmentObservation(run, evidence, result, run.Expected(Host)));
            }
            return new ContainmentOutcome(c, observations[0], observations.Skip(1).ToList(), c.Unprovable?.Invoke());
        }
        finally
        {
            _concurrency.Release();
        }
    }
}

/// <summary>
/// The containment suite: each attack fails in a default sandbox, the layer declared to stop it
/// is proven by a run with that layer relaxed, and a report says what stopped what.
/// </summary>
public sealed class ContainmentSuite(ContainmentSuiteFixture fixture, ITestOutputHelper output) : IClassFixture<ContainmentSuiteFixture>
{
    public const string ReportPath = "TestResults/containment-report.md";

    public static TheoryData<string> CaseNames => new(ContainmentCases.All.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task The_attack_is_stopped_and_relaxing_its_stopper_lets_it_get_further(string name)
    {
        var outcome = await fixture.OutcomeOf(ContainmentCases.All.Single(c => c.Name == name));
        output.WriteLine($"{name}: stopped by {outcome.Case.StoppedByText}");
        foreach (var o in new[] { outcome.Default }.Concat(outcome.Relaxed))
            output.WriteLine(o.Describe());

        Assert.True(outcome.Default.AsExpected, $"the default sandbox did not stop it as expected:\n{outcome.Default.Describe()}");
        foreach (var relaxed in outcome.Relaxed)
            Assert.True(relaxed.AsExpected, $"a relaxed run did not behave as expected:\n{relaxed.Describe()}");
        if (outcome.Unprovable is null)
            Assert.True(outcome.GotFurther.Any(), $"no relaxed run got further than the default one ('{outcome.Default.Evidence}'), so nothing proves what stopped it");
        else
            output.WriteLine($"not provable by relaxing on this host: {outcome.Unprovable}");
    }

    [Fact]
    public async Task The_report_says_for_every_case_what_stopped_it_and_what_the_relaxed_runs_saw()
    {
        var outcomes = await Task.WhenAll(ContainmentCases.All.Select(fixture.OutcomeOf));
        string report = ContainmentReport.Markdown(outcomes);
        output.WriteLine(report);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(ReportPath))!);
        await File.WriteAllTextAsync(ReportPath, report);

        foreach (var o in outcomes)
            Assert.Contains($"| {o.Case.Name} | {o.Case.StoppedByText} | {ContainmentReport.Cell(o.Default.Evidence)} |", report);
        Assert.All(outcomes, o => Assert.True(o.Default.AsExpected, $"{o.Case.Name}: {o.Default.Describe()}"));
    }

    [Fact]
    public void Every_case_has_a_unique_name_and_a_row_in_docs_containment_md_with_its_stoppers()
    {
        Assert.Equal(ContainmentCases.All.Count, ContainmentCases.All.Select(c => c.Name).Distinct().Count());
        Assert.All(ContainmentCases.All, c => Assert.True(c.StoppedBy.Count > 0 && c.StoppedBy.Distinct().Count() == c.StoppedBy.Count, $"{c.Name}: stoppers {c.StoppedByText}"));
        // Only the helper's hardening has nothing to relax; every other case must bring its proof.
        Assert.All(ContainmentCases.All, c => Assert.Equal(c.StoppedBy.Contains(ContainmentLayer.Helper), c.Relaxed.Count == 0));
        var rows = ContainmentReport.CaseTableRows(File.ReadAllText(RepositoryFile("docs/containment.md")));
        Assert.Equal(ContainmentCases.All.Select(c => c.Name).Order(StringComparer.Ordinal), rows.Keys.Order(StringComparer.Ordinal));
        foreach (var c in ContainmentCases.All)
            Assert.True(rows[c.Name] == c.StoppedByText, $"docs/containment.md says '{c.Name}' is stopped by '{rows[c.Name]}'; the code says '{c.StoppedByText}'");
    }

    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sandbox.sln")))
                return Path.Combine(dir.FullName, relative);
        }
        throw new FileNotFoundException($"no Sandbox.sln above {AppContext.BaseDirectory}, so {relative} cannot be found");
    }
}

/// <summary>The suite's outcomes as markdown, and the case table of docs/containment.md read back.</summary>
public static class ContainmentReport
{
    public const string TableHeader = "| Case | Stopped by | Default sandbox | Relaxed runs | Proof |";

    public static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");

    public static string Markdown(IReadOnlyList<ContainmentOutcome> outcomes)
    {
        var md = new StringBuilder();
        md.AppendLine("# Containment report");
        md.AppendLine();
        md.AppendLine($"Written by `ContainmentSuite` on {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; Linux {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, {RuntimeInformation.ProcessArchitecture}.");
        md.AppendLine("Each attack ran in a default sandbox (`new SandboxBuilder().Build()`, plus the limits or binds the case names),");
        md.AppendLine("then again with the layers that stop it relaxed. Evidence is what the command saw (errno names) or how it ended,");
        md.AppendLine("followed by what the host showed afterwards. See docs/containment.md.");
        md.AppendLine();
        md.AppendLine(TableHeader);
        md.AppendLine("|---|---|---|---|---|");
        foreach (var o in outcomes)
        {
            string relaxed = o.Relaxed.Count == 0 ? "(nothing to relax)" : string.Join("<br>", o.Relaxed.Select(r => $"*{Cell(r.Run.Label)}*: {Cell(r.Evidence)}"));
            string proof = (o.Unprovable, o.GotFurther.Any(), o.Default.AsExpected && o.Relaxed.All(r => r.AsExpected)) switch
            {
                (_, _, false) => "**UNEXPECTED**: see the test output",
                (null, true, _) => "proven: " + string.Join(", ", o.GotFurther.Select(r => $"*{Cell(r.Run.Label)}* got further")),
                (null, false, _) => "**NOT PROVEN**: no relaxed run got further",
                ({ } why, _, _) => $"not provable here: {Cell(why)}",
            };
            md.AppendLine($"| {o.Case.Name} | {o.Case.StoppedByText} | {Cell(o.Default.Evidence)} | {relaxed} | {proof} |");
        }
        md.AppendLine();
        md.AppendLine("## Why");
        md.AppendLine();
        foreach (var o in outcomes)
            md.AppendLine($"- **{o.Case.Name}** ({o.Case.StoppedByText}): {o.Case.Why}");
        return md.ToString();
    }

    /// <summary>Case name to "Stopped by", from the table that starts with a "| Case | Stopped by |" header.</summary>
    public static Dictionary<string, string> CaseTableRows(string markdown)
    {
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        bool inTable = false;
        foreach (string line in markdown.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line.StartsWith("| Case | Stopped by |", StringComparison.Ordinal))
            {
                inTable = true;
                continue;
            }
            if (!inTable)
                continue;
            if (!line.StartsWith('|'))
                break;
            string[] cells = line.Split('|').Select(c => c.Trim()).ToArray();
            if (cells[1].StartsWith("---", StringComparison.Ordinal))
                continue;
            rows[cells[1].Trim('`')] = cells[2];
        }
        return rows;
    }
}
