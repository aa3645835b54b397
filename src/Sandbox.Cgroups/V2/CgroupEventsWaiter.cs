using System.Diagnostics;

namespace Sandboxing.Cgroups;

/// <summary>
/// Waits until a cgroup v2 <c>cgroup.events</c> file shows a value (<c>frozen 1</c>,
/// <c>populated 0</c>) without sleeping in a loop: the kernel notifies pollers of cgroup.events
/// whenever a value changes (kernfs raises POLLPRI and an inotify IN_MODIFY; see
/// Documentation/admin-guide/cgroup-v2.rst, "cgroup.events"). So the file is opened, read (which
/// arms the notification), and poll()ed for POLLPRI until it matches or the time runs out.
/// </summary>
/// <remarks>
/// Through any other <see cref="ICgroupFileSystem"/> (a fake tree in tests) there is no
/// descriptor to poll, and the fallback re-reads the file with short, growing waits (1 ms up to
/// 50 ms); it is bounded by the same timeout.
/// </remarks>
internal static class CgroupEventsWaiter
{
    private static long s_polledWaits;

    /// <summary>How many waits in this process ended through poll() rather than the fallback (for the real-kernel tests).</summary>
    public static long PolledWaits => Interlocked.Read(ref s_polledWaits);

    /// <summary>Blocks until <paramref name="eventsFile"/> has the line <c>key value</c>.</summary>
    /// <exception cref="TimeoutException">It did not within <paramref name="timeout"/>.</exception>
    /// <exception cref="FileNotFoundException">The file (so the cgroup) does not exist.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static void Wait(
        ICgroupFileSystem fileSystem, string eventsFile, string key, string value, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (fileSystem is LinuxCgroupFileSystem && OperatingSystem.IsLinux() && TryWaitWithPoll(eventsFile, key, value, timeout, cancellationToken))
            return;
        WaitByReading(fileSystem, eventsFile, key, value, timeout, cancellationToken);
    }

    /// <summary>The value of <paramref name="key"/> in a flat-keyed file (<c>key value</c> per line), or <see langword="null"/>.</summary>
    public static string? ValueOf(string text, string key)
    {
        foreach (string line in text.Split('\n'))
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && line.AsSpan(0, space).SequenceEqual(key))
                return line[(space + 1)..].Trim();
        }
        return null;
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static bool TryWaitWithPoll(string eventsFile, string key, string value, TimeSpan timeout, CancellationToken cancellationToken)
    {
        int fd = V2Native.OpenRead(eventsFile, out int errno);
        if (fd < 0)
        {
            if (errno == V2Native.ENOENT)
                throw new FileNotFoundException($"{eventsFile} does not exist (the cgroup is gone)", eventsFile);
            return false; // Let the fallback report whatever this is.
        }
        int cancelFd = V2Native.CreateEventFd();
        if (cancelFd < 0)
        {
            V2Native.Close(fd);
            return false;
        }
        try
        {
            // Disposed before the descriptors are closed: Dispose waits for a running callback.
            using var registration = cancellationToken.Register(() => V2Native.Signal(cancelFd));
            var clock = Stopwatch.StartNew();
            Span<V2Native.PollFd> fds = stackalloc V2Native.PollFd[2];
            while (true)
            {
                string text = V2Native.ReadFromStart(fd);
                if (ValueOf(text, key) == value)
                {
                    Interlocked.Increment(ref s_polledWaits);
                    return true;
                }
                cancellationToken.ThrowIfCancellationRequested();
                TimeSpan left = timeout - clock.Elapsed;
                if (left <= TimeSpan.Zero)
                    throw Timeout(eventsFile, key, value, timeout, text);
                fds[0] = new V2Native.PollFd { Fd = fd, Events = V2Native.POLLPRI };
                fds[1] = new V2Native.PollFd { Fd = cancelFd, Events = V2Native.POLLIN };
                // +1: round up, so a wake-up just before the deadline still re-reads once.
                V2Native.Poll(fds, (int)Math.Min(left.TotalMilliseconds + 1, int.MaxValue));
            }
        }
        finally
        {
            V2Native.Close(cancelFd);
            V2Native.Close(fd);
        }
    }

    private static void WaitByReading(
        ICgroupFileSystem fileSystem, string eventsFile, string key, string value, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        int delay = 1;
        while (true)
        {
            string text = fileSystem.ReadAllText(eventsFile);
            if (ValueOf(text, key) == value)
                return;
            cancellationToken.ThrowIfCancellationRequested();
            TimeSpan left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                throw Timeout(eventsFile, key, value, timeout, text);
            cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Min(delay, left.TotalMilliseconds)));
            delay = Math.Min(delay * 2, 50);
        }
    }

    private static TimeoutException Timeout(string eventsFile, string key, string value, TimeSpan timeout, string last) =>
        new($"{eventsFile} did not show `{key} {value}` within {timeout.TotalSeconds:0.###} s "
            + $"(last read: `{last.Trim().Replace('\n', ',')}`).");
}
