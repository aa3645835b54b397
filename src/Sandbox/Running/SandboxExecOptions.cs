using System.Collections.Immutable;

namespace Sandboxing;

/// <summary>
/// How a command exec'd into a running sandbox (<see cref="SandboxProcess.ExecAsync"/>) runs.
/// Everything not set here is the sandbox's: its namespaces, cgroup, capabilities, seccomp
/// policy, Landlock rules, resource limits and umask always are, as with docker exec.
/// </summary>
public sealed record SandboxExecOptions
{
    /// <summary>The defaults: the sandbox's user, environment and working directory; no input; output captured.</summary>
    public static SandboxExecOptions Default { get; } = new();

    /// <summary>Standard input; <see cref="SandboxInput.Null"/> by default.</summary>
    public SandboxInput StandardInput { get; init; } = SandboxInput.Null;

    /// <summary>Standard output; <see cref="SandboxOutput.Capture"/> by default.</summary>
    public SandboxOutput StandardOutput { get; init; } = SandboxOutput.Capture;

    /// <summary>Standard error; <see cref="SandboxOutput.Capture"/> by default.</summary>
    public SandboxOutput StandardError { get; init; } = SandboxOutput.Capture;

    /// <summary>Variables set or replaced on top of the sandbox's environment (docker exec --env).</summary>
    public ImmutableSortedDictionary<string, string> Environment { get; init; } = ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Working directory inside the sandbox (docker exec --workdir); the sandbox's when null.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>User id inside the sandbox (docker exec --user); the sandbox command's when null.</summary>
    public uint? Uid { get; init; }

    /// <summary>Group id inside the sandbox; the sandbox command's when null.</summary>
    public uint? Gid { get; init; }

    /// <summary>
    /// A terminal of its own for the command, of this size (docker exec -t); null: none. It
    /// replaces the stdio settings; use <see cref="SandboxExecProcess.Terminal"/>.
    /// </summary>
    public TerminalSize? Terminal { get; init; }

    /// <summary>Wall-clock limit of the exec'd command alone; when it passes, the command is killed (verdict <see cref="SandboxVerdict.TimedOut"/>), not the sandbox.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Returns a copy that sets <paramref name="name"/> to <paramref name="value"/> in the command's environment.</summary>
    public SandboxExecOptions WithEnvironmentVariable(string name, string value) =>
        this with { Environment = Environment.SetItem(name, value) };

    /// <summary>The sandbox's configuration with this command's settings applied.</summary>
    internal SandboxConfiguration ApplyTo(SandboxConfiguration sandbox)
    {
        if (Timeout is { } t && t <= TimeSpan.Zero)
            throw new SandboxConfigurationException("timeout", $"{t} is not a positive duration.");
        var env = sandbox.Environment;
        foreach (var (name, value) in Environment)
            env = env.SetItem(name, value);
        var config = sandbox with
        {
            Environment = env,
            WorkingDirectory = WorkingDirectory ?? sandbox.WorkingDirectory,
            Uid = Uid ?? sandbox.Uid,
            Gid = Gid ?? sandbox.Gid,
            StandardInput = StandardInput,
            StandardOutput = StandardOutput,
            StandardError = StandardError,
            Terminal = Terminal,
            Timeout = null,
        };
        ConfigurationValidator.ValidateExec(sandbox, config);
        return config;
    }
}
