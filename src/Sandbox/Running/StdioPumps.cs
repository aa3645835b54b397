using System.Text;
using Sandboxing.IO;

namespace Sandboxing;

/// <summary>
/// Moves a sandboxed command's stdio between its pipes and what the caller configured
/// (captured bytes, a stream, input bytes), for the sandbox's command and exec'd ones alike.
/// </summary>
internal static class StdioPumps
{
    private static readonly Encoding s_utf8 = new UTF8Encoding(false);

    public static string Decode(Sink? sink) =>
        sink?.Captured is not { } captured ? "" : s_utf8.GetString(captured.GetBuffer(), 0, (int)captured.Length);

    /// <summary>Where a stream's output went: captured bytes, or a limit on a stream; null for a pipe the caller reads.</summary>
    internal sealed class Sink(CappedBuffer? captured, LimitedStream? limited)
    {
        public CappedBuffer? Captured { get; } = captured;

        /// <summary>Whether some of the output was dropped (or the sandbox killed) at its limit.</summary>
        public bool Truncated => Captured?.Truncated ?? limited?.Truncated ?? false;
    }

    /// <summary>A write-only stream in front of another; subclasses decide what reaches it in WriteAsync.</summary>
    internal abstract class WriteThroughStream(Stream inner) : Stream
    {
        protected Stream Inner { get; } = inner;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => Inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) =>
            WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public abstract override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);
    }

    /// <summary>
    /// Passes the first <c>limit</c> bytes written to another stream and drops the rest; calls
    /// <c>onOverflow</c> (if any) the first time something does not fit. It goes on counting when
    /// the other stream fails (a full disk under a log): the limit must still end a flood.
    /// </summary>
    internal sealed class LimitedStream(Stream inner, long limit, Action? onOverflow) : WriteThroughStream(inner)
    {
        private long _written;
        private bool _innerBroken;

        public bool Truncated { get; private set; }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            long room = limit - _written;
            if (buffer.Length > room)
            {
                if (!Truncated)
                    onOverflow?.Invoke();
                Truncated = true;
                buffer = buffer[..(int)Math.Max(0, room)];
            }
            _written += buffer.Length;
            if (buffer.IsEmpty || _innerBroken)
                return;
            try
            {
                await Inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or UnauthorizedAccessException)
            {
                _innerBroken = true; // what the command writes from now on is counted and dropped
            }
        }
    }

    /// <summary>
    /// Keeps the first <c>limit</c> bytes written and counts the rest as truncated; calls
    /// <c>onOverflow</c> (if any) the first time something does not fit.
    /// </summary>
    internal sealed class CappedBuffer(long limit, Action? onOverflow) : MemoryStream
    {
        public bool Truncated { get; private set; }

        // Every other Write overload of MemoryStream, for a derived type, ends up here.
        public override void Write(byte[] buffer, int offset, int count)
        {
            long room = limit - Length;
            if (count > room)
            {
                if (!Truncated)
                    onOverflow?.Invoke();
                Truncated = true;
                count = (int)Math.Max(0, room);
            }
            base.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(buffer, out var segment))
                Write(segment.Array!, segment.Offset, segment.Count);
            else
                Write(buffer.ToArray(), 0, buffer.Length);
            return ValueTask.CompletedTask;
        }
    }

    public static Sink? StartOutput(SandboxOutput output, FdStream? pipe, List<Task> pumps, Action onOverflow)
    {
        if (pipe is null)
            return null;
        switch (output.Kind)
        {
            case SandboxOutput.OutputKind.Capture:
                var captured = new CappedBuffer(output.CaptureLimit, output.KillOnOverflow ? onOverflow : null);
                pumps.Add(CopyAsync(pipe, captured));
                return new Sink(captured, null);
            case SandboxOutput.OutputKind.Stream:
                Stream destination = output.Timestamps ? new TimestampingStream(output.Stream!) : output.Stream!;
                var limited = output.StreamLimit is { } max ? new LimitedStream(destination, max, output.KillOnOverflow ? onOverflow : null) : null;
                pumps.Add(CopyAsync(pipe, limited ?? destination));
                return new Sink(null, limited);
            default:
                return null; // a Pipe: the caller reads it
        }
    }

    /// <summary>Copies until end of file; if the destination fails, keeps draining so the command never blocks on a full pipe.</summary>
    private static async Task CopyAsync(FdStream source, Stream destination)
    {
        var buffer = new byte[16384];
        bool sinkBroken = false;
        int n;
        while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (sinkBroken)
                continue;
            try
            {
                await destination.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
            }
            catch (Exception) when (destination is not MemoryStream)
            {
                sinkBroken = true;
            }
        }
    }

    public static void StartInput(SandboxInput input, FdStream? pipe)
    {
        if (pipe is null || input.Kind == SandboxInput.InputKind.Pipe)
            return;
        _ = Task.Run(async () =>
        {
            try
            {
                if (input.Kind == SandboxInput.InputKind.Bytes)
                    await pipe.WriteAsync(input.Bytes).ConfigureAwait(false);
                else
                    await input.Stream!.CopyToAsync(pipe).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The command closed its stdin or ended: what it did not read is dropped.
            }
            finally
            {
                await pipe.DisposeAsync().ConfigureAwait(false);
            }
        });
    }


    /// <summary>Writes through to another stream, starting every line with the time it began to arrive.</summary>
    private sealed class TimestampingStream(Stream inner) : WriteThroughStream(inner)
    {
        private bool _atLineStart = true;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var output = new MemoryStream(buffer.Length + 64);
            byte[] stamp = [];
            int start = 0;
            var span = buffer.Span;
            for (int i = 0; i < span.Length; i++)
            {
                if (_atLineStart)
                {
                    if (stamp.Length == 0)
                        stamp = s_utf8.GetBytes(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z' ", System.Globalization.CultureInfo.InvariantCulture));
                    output.Write(stamp);
                    _atLineStart = false;
                }
                if (span[i] == (byte)'\n')
                {
                    output.Write(span[start..(i + 1)]);
                    start = i + 1;
                    _atLineStart = true;
                }
            }
            output.Write(span[start..]);
            await Inner.WriteAsync(output.GetBuffer().AsMemory(0, (int)output.Length), cancellationToken).ConfigureAwait(false);
        }
    }
}
