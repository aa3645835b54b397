namespace Sandboxing;

/// <summary>Where a sandboxed command's standard output or standard error goes.</summary>
public sealed class SandboxOutput
{
    internal enum OutputKind { Null, Inherit, Capture, Pipe, Stream, File, Handle }

    /// <summary>How much <see cref="Capture"/> keeps per stream: 64 MiB. The rest is read and dropped.</summary>
    public const long DefaultCaptureLimitBytes = 64L * 1024 * 1024;

    private SandboxOutput(OutputKind kind, Stream? stream = null, string? path = null, bool append = false, long captureLimit = DefaultCaptureLimitBytes, bool killOnOverflow = false, System.Runtime.InteropServices.SafeHandle? handle = null, bool timestamps = false, long? streamLimit = null)
    {
        StreamLimit = streamLimit;
        Timestamps = timestamps;
        Handle = handle;
        Kind = kind;
        Stream = stream;
        Path = path;
        Append = append;
        CaptureLimit = captureLimit;
        KillOnOverflow = killOnOverflow;
    }

    internal long CaptureLimit { get; }

    /// <summary>How many bytes of the command's output <see cref="Stream"/> gets; null: all of it.</summary>
    internal long? StreamLimit { get; }

    /// <summary>Whether output past <see cref="CaptureLimit"/> (or <see cref="StreamLimit"/>) kills the sandbox (verdict OutputLimitExceeded).</summary>
    internal bool KillOnOverflow { get; }

    internal OutputKind Kind { get; }
    internal Stream? Stream { get; }
    internal string? Path { get; }
    internal bool Append { get; }

    /// <summary>Whether every line copied to <see cref="Stream"/> starts with the time it arrived.</summary>
    internal bool Timestamps { get; }
    internal System.Runtime.InteropServices.SafeHandle? Handle { get; }

    /// <summary>
    /// Hands the command a duplicate of an open file descriptor (a file, pipe, socket or
    /// terminal) as this stream; the caller keeps and closes its own.
    /// </summary>
    public static SandboxOutput ToHandle(System.Runtime.InteropServices.SafeHandle handle) =>
        new(OutputKind.Handle, handle: handle is { IsInvalid: false, IsClosed: false } ? handle : throw new ArgumentException("An open handle is required.", nameof(handle)));

    /// <summary>Discards the output (/dev/null).</summary>
    public static SandboxOutput Null { get; } = new(OutputKind.Null);

    /// <summary>Shares the calling process's stream.</summary>
    public static SandboxOutput Inherit { get; } = new(OutputKind.Inherit);

    /// <summary>
    /// Buffers the output in memory, up to <see cref="DefaultCaptureLimitBytes"/>; it appears in
    /// <see cref="SandboxResult.StandardOutput"/> or <see cref="SandboxResult.StandardError"/>
    /// (decoded as UTF-8). The default.
    /// </summary>
    public static SandboxOutput Capture { get; } = new(OutputKind.Capture);

    /// <summary>
    /// Like <see cref="Capture"/>, keeping at most <paramref name="maxBytes"/>; what comes after is
    /// read (so the command never blocks) and dropped, and the result says it was truncated.
    /// </summary>
    public static SandboxOutput CaptureUpTo(long maxBytes) => CaptureUpTo(maxBytes, killOnOverflow: false);

    /// <summary>
    /// Like <see cref="Capture"/>, keeping at most <paramref name="maxBytes"/>. With
    /// <paramref name="killOnOverflow"/>, the first byte past the limit kills the whole sandbox and
    /// the run's verdict is <see cref="SandboxVerdict.OutputLimitExceeded"/> (a code runner's output
    /// limit); otherwise the rest is read and dropped, and the result says it was truncated.
    /// </summary>
    public static SandboxOutput CaptureUpTo(long maxBytes, bool killOnOverflow) =>
        maxBytes is >= 0 and <= int.MaxValue
            ? new(OutputKind.Capture, captureLimit: maxBytes, killOnOverflow: killOnOverflow)
            : throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "Between 0 and 2 GiB.");

    /// <summary>
    /// A pipe the caller reads through <see cref="SandboxProcess.StandardOutput"/> or
    /// <see cref="SandboxProcess.StandardError"/> while the command runs.
    /// </summary>
    public static SandboxOutput Pipe { get; } = new(OutputKind.Pipe);

    /// <summary>Copies the output into <paramref name="stream"/> as it arrives (the stream is not closed).</summary>
    public static SandboxOutput ToStream(Stream stream) =>
        new(OutputKind.Stream, stream: stream ?? throw new ArgumentNullException(nameof(stream)));

    /// <summary>
    /// Copies the output into <paramref name="stream"/> as it arrives (the stream is not closed);
    /// with <paramref name="timestamps"/>, every line starts with the UTC time its first byte
    /// arrived and a space, as docker logs -t prints them (2026-11-22T16:01:44.943071200Z).
    /// </summary>
    public static SandboxOutput ToStream(Stream stream, bool timestamps) =>
        new(OutputKind.Stream, stream: stream ?? throw new ArgumentNullException(nameof(stream)), timestamps: timestamps);

    /// <summary>
    /// Copies the output into <paramref name="stream"/> as it arrives (the stream is not closed),
    /// at most <paramref name="maxBytes"/> of it. With <paramref name="killOnOverflow"/>, the first
    /// byte past the limit kills the whole sandbox and the run's verdict is
    /// <see cref="SandboxVerdict.OutputLimitExceeded"/>; otherwise the rest is read and dropped, and
    /// the result says it was truncated. A command that floods a log or a terminal is stopped
    /// there rather than filling the disk. <paramref name="timestamps"/> as in
    /// <see cref="ToStream(Stream, bool)"/>; the limit counts the command's bytes, not the stamps.
    /// </summary>
    public static SandboxOutput ToStream(Stream stream, bool timestamps, long maxBytes, bool killOnOverflow) =>
        maxBytes >= 0
            ? new(OutputKind.Stream, stream: stream ?? throw new ArgumentNullException(nameof(stream)), timestamps: timestamps, streamLimit: maxBytes, killOnOverflow: killOnOverflow)
            : throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "Must not be negative.");

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
