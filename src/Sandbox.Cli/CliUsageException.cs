namespace Sandboxing.Cli;

/// <summary>
/// The command line is wrong: an unknown option, a missing or malformed value. The message
/// names the option as the user spelled it; <see cref="HelpCommand"/> says where to read more.
/// </summary>
internal sealed class CliUsageException(string message, string? helpCommand = "sandbox run --help") : Exception(message)
{
    /// <summary>The command that prints the relevant help, for the "See '...'" suffix; null for a failure no help explains.</summary>
    public string? HelpCommand { get; } = helpCommand;

    /// <summary>The errno behind the mistake, when a system call found it (a missing device: ENOENT), else 0.</summary>
    public int ErrorNumber { get; init; }

    /// <summary>The one line printed on standard error, docker style.</summary>
    public string ToErrorLine() => HelpCommand is null
        ? $"sandbox: {Message.TrimEnd('.')}."
        : $"sandbox: {Message}. See '{HelpCommand}'.";
}
