namespace Sandboxing;

/// <summary>
/// A sandbox could not be set up or controlled. The message names the step that failed, the
/// system's error text and, where one is known, what to do about it.
/// </summary>
public class SandboxException : Exception
{
    internal SandboxException(string message, string? step = null, int errorNumber = 0, string? hint = null, Exception? inner = null)
        : base(message, inner)
    {
        Step = step;
        ErrorNumber = errorNumber;
        Hint = hint;
    }

    /// <summary>The setup step that failed (for example "write uid_map", "mount proc", "find the command", "validate"), when known.</summary>
    public string? Step { get; }

    /// <summary>The errno the failing system call returned, or 0.</summary>
    public int ErrorNumber { get; }

    /// <summary>What is likely to fix the problem, when known.</summary>
    public string? Hint { get; }

    /// <summary>The id of the sandbox that failed, once one was assigned (its cgroup is named sandbox-&lt;id&gt;).</summary>
    public string? SandboxId { get; internal set; }
}

/// <summary>
/// A sandbox configuration is invalid. Thrown by <see cref="SandboxBuilder.Build"/> (and for a
/// bad command by <see cref="Sandbox.RunAsync"/>) before anything is created on the host.
/// </summary>
public sealed class SandboxConfigurationException : SandboxException
{
    internal SandboxConfigurationException(string setting, string message, string? hint = null)
        : base($"Invalid sandbox setting '{setting}': {message}{(hint is null ? "" : $" Hint: {hint}")}", step: "validate", hint: hint)
    {
        Setting = setting;
    }

    /// <summary>The setting that is invalid (for example "mounts[2].target" or "uid").</summary>
    public string Setting { get; }
}
