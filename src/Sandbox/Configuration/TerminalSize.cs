namespace Sandboxing;

/// <summary>
/// The size of a sandboxed command's terminal (<see cref="SandboxBuilder.WithTerminal"/>,
/// <see cref="SandboxExecOptions.Terminal"/>), in character cells.
/// </summary>
/// <param name="Columns">Width, 1 to 65535.</param>
/// <param name="Rows">Height, 1 to 65535.</param>
public readonly record struct TerminalSize(int Columns, int Rows)
{
    /// <summary>80 columns by 24 rows.</summary>
    public static TerminalSize Default { get; } = new(80, 24);

    internal void Validate(string setting)
    {
        if (Columns is < 1 or > ushort.MaxValue || Rows is < 1 or > ushort.MaxValue)
            throw new SandboxConfigurationException(setting, $"{Columns}x{Rows} is not a terminal size; columns and rows are 1 to 65535.");
    }
}
