using System.IO.Compression;

namespace Sandboxing.Images;

/// <summary>
/// Recognises how a tar stream is compressed from its first bytes (media types lie, and docker
/// save and plain tars have none) and returns the uncompressed stream.
/// </summary>
internal static class Compression
{
    /// <summary>
    /// Returns <paramref name="raw"/> uncompressed: gzip is decompressed, an uncompressed tar is
    /// passed through, zstd, xz and bzip2 are refused with an <see cref="ImageException"/>.
    /// <paramref name="mediaType"/> (when known) refuses zstd before anything is read.
    /// </summary>
    public static Stream Decompress(Stream raw, string? mediaType, string file, string? entry)
    {
        if (mediaType is not null && mediaType.Contains("zstd", StringComparison.Ordinal))
            throw ZstdNotSupported(file, entry);

        byte[] head = new byte[6];
        int n = 0;
        while (n < head.Length && raw.Read(head, n, head.Length - n) is int read and > 0)
            n += read;
        var prefixed = new PrefixedStream(head.AsMemory(0, n), raw);
        ReadOnlySpan<byte> magic = head.AsSpan(0, n);

        if (magic.StartsWith((ReadOnlySpan<byte>)[0x1f, 0x8b]))
            return new GZipStream(prefixed, CompressionMode.Decompress);
        if (magic.StartsWith((ReadOnlySpan<byte>)[0x28, 0xb5, 0x2f, 0xfd]))
            throw ZstdNotSupported(file, entry);
        if (magic.StartsWith((ReadOnlySpan<byte>)[0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00]))
            throw new ImageException(file, entry, "the data is xz-compressed, which is not supported.", "Decompress it first (xz -d), or recompress it with gzip.");
        if (magic.StartsWith("BZh"u8))
            throw new ImageException(file, entry, "the data is bzip2-compressed, which is not supported.", "Decompress it first (bunzip2), or recompress it with gzip.");
        return prefixed;
    }

    private static ImageException ZstdNotSupported(string file, string? entry) =>
        new(file, entry, "the layer is zstd-compressed; zstd layers aren't supported yet.",
            "Convert the image to gzip layers, e.g. skopeo copy --dest-compress-format gzip oci:SRC oci:DST, or docker save.");
}

/// <summary>A read-only stream that first returns bytes already read from <c>inner</c>, then the rest of it.</summary>
internal sealed class PrefixedStream : Stream
{
    private readonly Stream _inner;
    private ReadOnlyMemory<byte> _prefix;
    private long _position;

    public PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner)
    {
        _prefix = prefix;
        _inner = inner;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n;
        if (!_prefix.IsEmpty)
        {
            n = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
        }
        else
        {
            n = _inner.Read(buffer);
        }
        _position += n;
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    // The inner stream belongs to the caller, who disposes it.
}
