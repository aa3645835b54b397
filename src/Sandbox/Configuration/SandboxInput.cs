using System.Text;

namespace Sandboxing;

/// <summary>Where a sandboxed command's standard input comes from.</summary>
public sealed class SandboxInput
{
    internal enum InputKind { Null, Inherit, Pipe, Stream, File, Bytes, Handle }

    private SandboxInput(InputKind kind, Stream? stream = null, string? path = null, ReadOnlyMemory<byte> bytes = default)
    {
        Kind = kind;
        Stream = stream;
        Path = path;
        Bytes = bytes;
    }

    internal InputKind Kind { get; }
    internal Stream? Stream { get; }
    internal string? Path { get; }
    internal ReadOnlyMemory<byte> Bytes { get; }
    internal System.Runtime.InteropServices.SafeHandle? Handle { get; private init; }

    /// <summary>
    /// Hands the command a duplicate of an open file descriptor (a file, pipe, socket or
    /// terminal) as its standard input; the caller keeps and closes its own.
    /// </summary>
    public static SandboxInput FromHandle(System.Runtime.InteropServices.SafeHandle handle) =>
        new(InputKind.Handle) { Handle = handle is { IsInvalid: false, IsClosed: false } ? handle : throw new ArgumentException("An open handle is required.", nameof(handle)) };

    /// <summary>Reads from /dev/null: the command sees end of file at once. The default.</summary>
    public static SandboxInput Null { get; } = new(InputKind.Null);

    /// <summary>Shares the calling process's standard input.</summary>
    public static SandboxInput Inherit { get; } = new(InputKind.Inherit);

    /// <summary>
    /// A pipe the caller writes to through <see cref="SandboxProcess.StandardInput"/>;
    /// disposing that stream gives the command end of file.
    /// </summary>
    public static SandboxInput Pipe { get; } = new(InputKind.Pipe);

    /// <summary>Copies <paramref name="stream"/> into the command's standard input, then closes it.</summary>
    public static SandboxInput FromStream(Stream stream) =>
        new(InputKind.Stream, stream: stream ?? throw new ArgumentNullException(nameof(stream)));

    /// <summary>Opens the host file <paramref name="path"/> and hands it to the command directly.</summary>
    public static SandboxInput FromFile(string path) =>
        new(InputKind.File, path: string.IsNullOrEmpty(path) ? throw new ArgumentException("A file path is required.", nameof(path)) : path);

    /// <summary>Writes <paramref name="bytes"/> to the command's standard input, then closes it.</summary>
    public static SandboxInput FromBytes(ReadOnlyMemory<byte> bytes) => new(InputKind.Bytes, bytes: bytes);

    /// <summary>Writes <paramref name="text"/> (UTF-8 unless <paramref name="encoding"/> says otherwise), then closes it.</summary>
    public static SandboxInput FromString(string text, Encoding? encoding = null) =>
        new(InputKind.Bytes, bytes: (encoding ?? new UTF8Encoding(false)).GetBytes(text ?? throw new ArgumentNullException(nameof(text))));

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        InputKind.File => $"file {Path}",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}
