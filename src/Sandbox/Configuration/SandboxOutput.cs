namespace Sandboxing;

/// <summary>Where a sandboxed command's standard output or standard error goes.</summary>
public sealed class SandboxOutput
{
    internal enum OutputKind { Null, Inherit, Capture, Pipe, Stream, File }

    private SandboxOutput(OutputKind kind, Stream? stream = null, string? path = null, bool append = false)
    {
        Kind = kind;
        Stream = stream;
        Path = path;
        Append = append;
    }

    internal OutputKind Kind { get; }
    internal Stream? Stream { get; }
    internal string? Path { get; }
    internal bool Append { get; }

    /// <summary>Discards the output (/dev/null).</summary>
    public static SandboxOutput Null { get; } = new(OutputKind.Null);

    /// <summary>Shares the calling process's stream.</summary>
    public static SandboxOutput Inherit { get; } = new(OutputKind.Inherit);

    /// <summary>
    /// Buffers the output in memory; it appears in <see cref="SandboxResult.StandardOutput"/> or
    /// <see cref="SandboxResult.StandardError"/> (decoded as UTF-8). The default.
    /// </summary>
    public static SandboxOutput Capture { get; } = new(OutputKind.Capture);

    /// <summary>
    /// A pipe the caller reads through <see cref="SandboxProcess.StandardOutput"/> or
    /// <see cref="SandboxProcess.StandardError"/> while the command runs.
    /// </summary>
    public static SandboxOutput Pipe { get; } = new(OutputKind.Pipe);

    /// <summary>Copies the output into <paramref name="stream"/> as it arrives (the stream is not closed).</summary>
    public static SandboxOutput ToStream(Stream stream) =>
        new(OutputKind.Stream, stream: stream ?? throw new ArgumentNullException(nameof(stream)));

    /// <summary>Writes the output straight into the host file <paramref name="path"/>, created if missing.</summary>
    /// <param name="path">Host path of the file.</param>
    /// <param name="append">Append instead of truncating.</param>
    public static SandboxOutput ToFile(string path, bool append = false) =>
        new(OutputKind.File, path: string.IsNullOrEmpty(path) ? throw new ArgumentException("A file path is required.", nameof(path)) : path, append: append);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        OutputKind.File => $"file {Path}",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}
