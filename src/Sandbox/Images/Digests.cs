using System.Security.Cryptography;

namespace Sandboxing.Images;

/// <summary>
/// Content digests as OCI writes them: <c>sha256:</c> and 64 lowercase hex digits. Only sha256
/// is supported; it is what docker, podman, skopeo and umoci write.
/// </summary>
internal static class Digests
{
    public const string Sha256Prefix = "sha256:";

    /// <summary>Whether <paramref name="hex"/> is 64 lowercase hex digits (also safe as a file name).</summary>
    public static bool IsSha256Hex(ReadOnlySpan<char> hex)
    {
        if (hex.Length != 64)
            return false;
        foreach (char c in hex)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
                return false;
        }
        return true;
    }

    /// <summary>The hex part of a <c>sha256:</c> digest, or null when <paramref name="digest"/> is not one.</summary>
    public static string? Sha256Hex(string? digest) =>
        digest is not null && digest.StartsWith(Sha256Prefix, StringComparison.Ordinal) && IsSha256Hex(digest.AsSpan(Sha256Prefix.Length))
            ? digest[Sha256Prefix.Length..]
            : null;

    /// <summary>The digest of <paramref name="data"/>.</summary>
    public static string Of(ReadOnlySpan<byte> data) => Sha256Prefix + Convert.ToHexStringLower(SHA256.HashData(data));
}

/// <summary>
/// A read-only stream that hashes (sha256) and counts everything read through it, so a blob or
/// an uncompressed layer is verified while it streams, never held in memory.
/// </summary>
internal sealed class HashingStream : Stream
{
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private string? _digest;

    public HashingStream(Stream inner, bool leaveOpen = false)
    {
        _inner = inner;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>
    /// Reads what is left (a tar reader stops at the end-of-archive blocks, a gzip member may be
    /// followed by padding) and returns the digest of everything: <c>sha256:&lt;hex&gt;</c>.
    /// </summary>
    public string Finish(CancellationToken cancellationToken)
    {
        if (_digest is not null)
            return _digest;
        byte[] buffer = new byte[81920];
        while (Read(buffer, 0, buffer.Length) > 0)
            cancellationToken.ThrowIfCancellationRequested();
        _digest = Digests.Sha256Prefix + Convert.ToHexStringLower(_hash.GetHashAndReset());
        return _digest;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_digest is not null)
            return 0;
        int n = _inner.Read(buffer);
        _hash.AppendData(buffer[..n]);
        BytesRead += n;
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!_leaveOpen)
                _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
