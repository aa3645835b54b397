namespace Sandboxing.Cli;

/// <summary>
/// What the parser needs to know about the calling process: relative paths are resolved
/// against its current directory, and <c>-e NAME</c> copies NAME from its environment.
/// Passed in, rather than read by the parser, so parsing stays pure and testable.
/// </summary>
internal sealed record CallerContext(string CurrentDirectory, Func<string, string?> GetEnvironmentVariable)
{
    public static CallerContext Current => new(Environment.CurrentDirectory, Environment.GetEnvironmentVariable);
}
