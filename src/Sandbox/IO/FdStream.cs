using Sandboxing.Interop;

namespace Sandboxing.IO;

/// <summary>
/// A Stream over one end of a pipe or socket that this object owns. The descriptor is made
/// non-blocking and waits go through the <see cref="Reactor"/>, so a pending read costs no thread;
/// the other end stays a real pipe for the sandboxed process.
/// </summary>
/// <remarks>
/// One pending read and one pending write at a time, like other Streams. The synchronous Read and
/// Write block in poll() on the calling thread instead of waiting on the async path, so they work
/// even when the thread pool is starved.
/// </remarks>
internal sealed class FdStream : Stream
{
    private readonly SafeFd _fd;
    private readonly bool _readable, _writable;
    private readonly Reactor _reactor;
    private int _disposed;

    /// <param name="fd">The descriptor, owned from now on.</param>
    /// <param name="access">FileAccess.Read for a read end, FileAccess.Write for a write end;
    /// ReadWrite for a terminal's master side, where reads end with EIO once no process holds
    /// the terminal any more, which counts as end of file.</param>
    /// <param name="reactor">Reactor.Shared unless a test supplies its own.</param>
    public FdStream(SafeFd fd, FileAccess access, Reactor? reactor = null)
    {
        _fd = fd;
        _readable = access.HasFlag(FileAccess.Read);
        _writable = access.HasFlag(FileAccess.Write);
        _reactor = reactor ?? Reactor.Shared;
        _fd.SetNonBlocking();
    }

    /// <summary>The descriptor, for ioctls on a terminal's master side.</summary>
    public SafeFd Descriptor => _fd;

    public override bool CanRead => _readable && _disposed == 0;
    public override bool CanWrite => _writable && _disposed == 0;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    // Writes go straight to the descriptor; there is nothing to flush.
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    // ---- reading --------------------------------------------------------------------------

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnsureCan(read: true);
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(cancellationToken);
        // A zero-byte read means "wait until there is data" (PipeReader-style callers use it).
        if (buffer.IsEmpty)
            return WaitThenZeroAsync(cancellationToken);

        // Fast path without an async state machine: data is often already there.
        nint n = TryRead(buffer.Span);
        return n >= 0 ? new ValueTask<int>((int)n) : ReadSlowAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> ReadSlowAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            await _reactor.WaitReadableAsync(_fd, cancellationToken).ConfigureAwait(false);
            nint n = TryRead(buffer.Span);
            if (n >= 0)
                return (int)n;
        }
    }

    private async ValueTask<int> WaitThenZeroAsync(CancellationToken cancellationToken)
    {
        await _reactor.WaitReadableAsync(_fd, cancellationToken).ConfigureAwait(false);
        return 0;
    }

    public override int Read(Span<byte> buffer)
    {
        EnsureCan(read: true);
        while (true)
        {
            if (buffer.IsEmpty)
            {
                _fd.PollBlocking(LibC.POLLIN);
                return 0;
            }
            nint n = TryRead(buffer);
            if (n >= 0)
                return (int)n;
            _fd.PollBlocking(LibC.POLLIN);
        }
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    // Bytes read (0 at end of file), or -1 when the pipe is empty (EAGAIN).
    private unsafe nint TryRead(Span<byte> buffer)
    {
        bool addedRef = false;
        try
        {
            _fd.DangerousAddRef(ref addedRef); // a concurrent Dispose must not close the number mid-call
            int fd = (int)_fd.DangerousGetHandle();
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    nint n = LibC.read(fd, p, buffer.Length);
                    if (n >= 0)
                        return n;
                    int errno = LibC.LastErrno;
                    if (errno == LibC.EAGAIN)
                        return -1;
                    if (errno == LibC.EIO && _writable)
                        return 0; // a terminal's master side: the last holder of the terminal closed it
                    if (errno != LibC.EINTR)
                        throw new IOException($"Reading from file descriptor {fd} failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
                }
            }
        }
        finally
        {
            if (addedRef)
                _fd.DangerousRelease();
        }
    }

    // ---- writing --------------------------------------------------------------------------

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnsureCan(read: false);
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        int written = TryWrite(buffer.Span);
        return written == buffer.Length ? default : WriteSlowAsync(buffer[written..], cancellationToken);
    }

    private async ValueTask WriteSlowAsync(ReadOnlyMemory<byte> remaining, CancellationToken cancellationToken)
    {
        while (!remaining.IsEmpty)
        {
            await _reactor.WaitWritableAsync(_fd, cancellationToken).ConfigureAwait(false);
            remaining = remaining[TryWrite(remaining.Span)..];
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        EnsureCan(read: false);
        while (true)
        {
            buffer = buffer[TryWrite(buffer)..];
            if (buffer.IsEmpty)
                return;
            _fd.PollBlocking(LibC.POLLOUT);
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        Write(buffer.AsSpan(offset, count));
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    // Writes as much as the pipe takes without blocking; returns the number of bytes written.
    private unsafe int TryWrite(ReadOnlySpan<byte> buffer)
    {
        bool addedRef = false;
        try
        {
            _fd.DangerousAddRef(ref addedRef);
            int fd = (int)_fd.DangerousGetHandle();
            fixed (byte* p = buffer)
            {
                int done = 0;
                while (done < buffer.Length)
                {
                    nint n = LibC.write(fd, p + done, buffer.Length - done);
                    if (n >= 0)
                    {
                        done += (int)n;
                        continue;
                    }
                    int errno = LibC.LastErrno;
                    if (errno == LibC.EAGAIN)
                        break;
                    if (errno == LibC.EINTR)
                        continue;
                    if (errno == LibC.EPIPE)
                        throw new IOException("The sandboxed process closed its end of the pipe (its standard input, or it exited), so the remaining data cannot be written.", errno);
                    throw new IOException($"Writing to file descriptor {fd} failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
                }
                return done;
            }
        }
        finally
        {
            if (addedRef)
                _fd.DangerousRelease();
        }
    }

    // ---- shared ---------------------------------------------------------------------------

    // Blocks this thread until the descriptor is ready (or hung up); only the synchronous API uses it.

    private void EnsureCan(bool read)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (read ? !_readable : !_writable)
            throw new NotSupportedException(read ? "This stream is the write end of a pipe." : "This stream is the read end of a pipe.");
    }

    protected override void Dispose(bool disposing)
    {
        // Unregister before closing: once closed, the number can be reused by anyone.
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _reactor.Unregister(_fd);
            _fd.Dispose();
        }
        base.Dispose(disposing);
    }
}
