using Sandboxing.Interop;

namespace Sandboxing.IO;

/// <summary>
/// Our end of an AF_UNIX SOCK_SEQPACKET socket: reliable, ordered, and every send arrives as one
/// message, so the helper protocol needs no framing. Receives wait through the <see cref="Reactor"/>.
/// </summary>
/// <remarks>
/// Messages are never empty (read() returns 0 for an empty message and for end of file alike),
/// and the protocol keeps them small, so a send practically never finds the socket buffer full.
///
/// When the peer is gone, sends return false instead of throwing: the helper exiting (the
/// sandbox finished or was killed) is a normal outcome the caller learns about from the receive
/// side, which returns 0.
/// </remarks>
internal sealed class SeqPacketChannel : IDisposable
{
    private readonly SafeFd _fd;
    private readonly Reactor _reactor;
    private int _disposed;

    /// <param name="socket">A connected SOCK_SEQPACKET socket, owned from now on.</param>
    /// <param name="reactor">Reactor.Shared unless a test supplies its own.</param>
    public SeqPacketChannel(SafeFd socket, Reactor? reactor = null)
    {
        _fd = socket;
        _reactor = reactor ?? Reactor.Shared;
        _fd.SetNonBlocking();
    }

    /// <summary>
    /// Creates a connected pair. <paramref name="peer"/> stays blocking (O_NONBLOCK belongs to each
    /// end separately) and close-on-exec: dup2 it onto the helper's control descriptor when spawning.
    /// </summary>
    public static unsafe SeqPacketChannel CreatePair(out SafeFd peer, Reactor? reactor = null)
    {
        int* fds = stackalloc int[2];
        if (LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0, fds) < 0)
        {
            int errno = LibC.LastErrno;
            throw new IOException($"socketpair(AF_UNIX, SOCK_SEQPACKET) failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
        }
        SafeFd ours = SafeFd.Adopt(fds[0]);
        peer = SafeFd.Adopt(fds[1]);
        try
        {
            return new SeqPacketChannel(ours, reactor);
        }
        catch
        {
            ours.Dispose();
            peer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Receives one message into <paramref name="buffer"/> and returns its length, or 0 once the
    /// peer has closed its end (or was reset). A message longer than the buffer is an
    /// InvalidDataException: the protocol has a maximum size, so it means a bug, not a short read.
    /// </summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (buffer.IsEmpty)
            throw new ArgumentException("The receive buffer must hold at least one byte.", nameof(buffer));
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(cancellationToken);

        int n = TryReceive(buffer.Span);
        return n >= 0 ? new ValueTask<int>(n) : ReceiveSlowAsync(buffer, cancellationToken);
    }

    /// <summary>
    /// Receives one message and the descriptors it carries (SCM_RIGHTS, close-on-exec; at most
    /// eight, owned by the caller from now on). Returns the length, or 0 at end of file.
    /// </summary>
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, List<SafeFd> fds, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        while (true)
        {
            int n = TryReceiveWithFds(buffer.Span, fds);
            if (n >= 0)
                return n;
            await _reactor.WaitReadableAsync(_fd, cancellationToken).ConfigureAwait(false);
        }
    }

    private unsafe int TryReceiveWithFds(Span<byte> buffer, List<SafeFd>? fds)
    {
        const int cmsgHeader = 16;
        byte* control = stackalloc byte[cmsgHeader + MaxFds * sizeof(int)];
        bool addedRef = false;
        try
        {
            _fd.DangerousAddRef(ref addedRef);
            int fd = (int)_fd.DangerousGetHandle();
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    var iov = new LibC.IoVec { Base = p, Length = (nuint)buffer.Length };
                    var msg = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)(cmsgHeader + MaxFds * sizeof(int)) };
                    nint n = LibC.recvmsg(fd, &msg, LibC.MSG_CMSG_CLOEXEC | LibC.MSG_DONTWAIT);
                    if (n >= 0)
                    {
                        // One SCM_RIGHTS message at most: that is all this protocol ever sends.
                        if (msg.ControlLength >= cmsgHeader && *(int*)(control + 8) == LibC.SOL_SOCKET && *(int*)(control + 12) == LibC.SCM_RIGHTS)
                        {
                            int count = (int)((*(nuint*)control - cmsgHeader) / sizeof(int));
                            for (int i = 0; i < count; i++)
                            {
                                var received = SafeFd.Adopt(((int*)(control + cmsgHeader))[i]);
                                if (fds is null)
                                    received.Dispose();
                                else
                                    fds.Add(received);
                            }
                        }
                        // A message longer than the buffer means a bug, not a short read: the protocol has a maximum size.
                        if ((msg.Flags & LibC.MSG_TRUNC) != 0)
                            throw new InvalidDataException($"A message larger than the {buffer.Length}-byte buffer arrived on file descriptor {fd}; it was discarded.");
                        return (int)n;
                    }
                    int errno = LibC.LastErrno;
                    if (errno == LibC.EAGAIN)
                        return -1;
                    if (errno == LibC.ECONNRESET)
                        return 0;
                    if (errno != LibC.EINTR)
                        throw new IOException($"Receiving from file descriptor {fd} failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
                }
            }
        }
        finally
        {
            if (addedRef)
                _fd.DangerousRelease();
        }
    }

    /// <summary>Connects to the SOCK_SEQPACKET socket listening at <paramref name="path"/>.</summary>
    public static unsafe SeqPacketChannel Connect(string path, Reactor? reactor = null)
    {
        var fd = SafeFd.Adopt(LibC.socket(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0));
        if (fd.IsInvalid)
            throw SocketError("socket", path, LibC.LastErrno);
        Span<byte> address = stackalloc byte[110];
        int length = UnixAddress(path, address);
        fixed (byte* a = address)
        {
            if (LibC.connect(fd.Fd, a, length) != 0)
            {
                int errno = LibC.LastErrno;
                fd.Dispose();
                throw SocketError("connect to", path, errno);
            }
        }
        return new SeqPacketChannel(fd, reactor);
    }

    /// <summary>Creates a listening SOCK_SEQPACKET socket at <paramref name="path"/> (non-blocking; see <see cref="AcceptAsync"/>).</summary>
    public static unsafe SafeFd Listen(string path)
    {
        var fd = SafeFd.Adopt(LibC.socket(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC | LibC.SOCK_NONBLOCK, 0));
        if (fd.IsInvalid)
            throw SocketError("socket", path, LibC.LastErrno);
        Span<byte> address = stackalloc byte[110];
        int length = UnixAddress(path, address);
        fixed (byte* a = address)
        {
            if (LibC.bind(fd.Fd, a, length) != 0 || LibC.listen(fd.Fd, 64) != 0)
            {
                int errno = LibC.LastErrno;
                fd.Dispose();
                throw SocketError("listen at", path, errno);
            }
        }
        return fd;
    }

    /// <summary>Waits for and accepts one connection on a socket from <see cref="Listen"/>.</summary>
    public static async Task<SeqPacketChannel> AcceptAsync(SafeFd listener, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            int fd = Accept(listener);
            if (fd >= 0)
                return new SeqPacketChannel(SafeFd.Adopt(fd));
            await Reactor.Shared.WaitReadableAsync(listener, cancellationToken).ConfigureAwait(false);
        }
    }

    private static unsafe int Accept(SafeFd listener)
    {
        while (true)
        {
            int fd = LibC.accept4(listener.Fd, null, null, LibC.SOCK_CLOEXEC);
            if (fd >= 0)
                return fd;
            int errno = LibC.LastErrno;
            if (errno is LibC.EAGAIN or 103 /* ECONNABORTED */)
                return -1;
            if (errno != LibC.EINTR)
                throw new IOException($"accept failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
        }
    }

    /// <summary>struct sockaddr_un for a path (at most 107 bytes).</summary>
    private static int UnixAddress(string path, Span<byte> address)
    {
        address.Clear();
        int n = System.Text.Encoding.UTF8.GetByteCount(path);
        if (n >= address.Length - 2)
            throw new IOException($"The socket path {path} is {n} bytes; AF_UNIX socket paths must be shorter than 108.");
        address[0] = LibC.AF_UNIX;
        System.Text.Encoding.UTF8.GetBytes(path, address[2..]);
        return 2 + n + 1;
    }

    private static IOException SocketError(string what, string path, int errno) =>
        new($"Could not {what} the socket {path}: {LibC.ErrnoText(errno)} (errno {errno}).", errno);

    private async ValueTask<int> ReceiveSlowAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            await _reactor.WaitReadableAsync(_fd, cancellationToken).ConfigureAwait(false);
            int n = TryReceive(buffer.Span);
            if (n >= 0)
                return n;
        }
    }

    // Message length, 0 at end of file, or -1 when nothing is queued (EAGAIN). Descriptors a
    // message carries are closed: this receive takes none.
    private int TryReceive(Span<byte> buffer) => TryReceiveWithFds(buffer, null);

    /// <summary>
    /// Sends one message. Returns false if the peer has closed its end. Blocks only if the socket
    /// buffer is full, which the protocol's small messages practically never cause.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> message) => TrySend(message, []);

    /// <summary>
    /// Sends one message carrying duplicates of <paramref name="fds"/> (SCM_RIGHTS; the caller
    /// keeps and closes its own). Returns false if the peer has closed its end.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> message, ReadOnlySpan<int> fds)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (fds.Length > MaxFds)
            throw new ArgumentOutOfRangeException(nameof(fds), fds.Length, $"At most {MaxFds} descriptors go with one message.");
        while (true)
        {
            SendResult result = TrySendOnce(message, fds);
            if (result != SendResult.WouldBlock)
                return result == SendResult.Sent;
            _fd.PollBlocking(LibC.POLLOUT);
        }
    }

    private enum SendResult
    {
        Sent,
        WouldBlock,
        PeerGone,
    }

    private const int MaxFds = 8;

    private unsafe SendResult TrySendOnce(ReadOnlySpan<byte> message, ReadOnlySpan<int> fds)
    {
        bool addedRef = false;
        try
        {
            _fd.DangerousAddRef(ref addedRef);
            int fd = (int)_fd.DangerousGetHandle();
            fixed (byte* p = message)
            {
                while (true)
                {
                    nint n = fds.IsEmpty
                        ? LibC.send(fd, p, message.Length, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT)
                        : SendWithFds(fd, p, message.Length, fds);
                    if (n == message.Length)
                        return SendResult.Sent;
                    if (n >= 0) // cannot happen on a seqpacket socket: messages are atomic
                        throw new IOException($"Only {n} of {message.Length} bytes of a message were sent on file descriptor {fd}.");
                    int errno = LibC.LastErrno;
                    if (errno == LibC.EAGAIN)
                        return SendResult.WouldBlock;
                    if (errno is LibC.EPIPE or LibC.ECONNRESET or LibC.ENOTCONN)
                        return SendResult.PeerGone;
                    if (errno != LibC.EINTR)
                        throw new IOException($"Sending a {message.Length}-byte message on file descriptor {fd} failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
                }
            }
        }
        finally
        {
            if (addedRef)
                _fd.DangerousRelease();
        }
    }


    // sendmsg with one SCM_RIGHTS control message: struct cmsghdr (size_t len, int level,
    // int type) followed by the descriptors, padded to 8 bytes.
    private static unsafe nint SendWithFds(int fd, byte* data, int length, ReadOnlySpan<int> fds)
    {
        const int cmsgHeader = 16;
        int dataLength = fds.Length * sizeof(int);
        int space = cmsgHeader + ((dataLength + 7) & ~7);
        byte* control = stackalloc byte[cmsgHeader + MaxFds * sizeof(int)];
        new Span<byte>(control, space).Clear();
        *(nuint*)control = (nuint)(cmsgHeader + dataLength);
        *(int*)(control + 8) = LibC.SOL_SOCKET;
        *(int*)(control + 12) = LibC.SCM_RIGHTS;
        fds.CopyTo(new Span<int>(control + cmsgHeader, fds.Length));
        var iov = new LibC.IoVec { Base = data, Length = (nuint)length };
        var msg = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)space };
        return LibC.sendmsg(fd, &msg, LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT);
    }

    /// <summary>
    /// Shuts the socket down in both directions: the peer reads end of file even if a copy of our
    /// descriptor leaked into another process (which a plain close would not achieve), and our
    /// pending and later receives return 0. The descriptor itself is released by Dispose.
    /// </summary>
    public void Shutdown()
    {
        if (_disposed != 0)
            return;
        bool addedRef = false;
        try
        {
            _fd.DangerousAddRef(ref addedRef);
            // ENOTCONN: the peer is gone already, which is what we wanted.
            if (LibC.shutdown((int)_fd.DangerousGetHandle(), LibC.SHUT_RDWR) < 0 && LibC.LastErrno != LibC.ENOTCONN)
            {
                int errno = LibC.LastErrno;
                throw new IOException($"shutdown of the control socket failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed concurrently: closing has the same effect.
        }
        finally
        {
            if (addedRef)
                _fd.DangerousRelease();
        }
    }

    public void Dispose()
    {
        // Unregister before closing: once closed, the number can be reused by anyone.
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _reactor.Unregister(_fd);
            _fd.Dispose();
        }
    }
}
