using System.Runtime.InteropServices;
using Sandboxing.Interop;

namespace Sandboxing.IO;

/// <summary>
/// Tells asynchronous code when a non-blocking descriptor is ready, using one epoll thread for the
/// whole process. The library may watch thousands of sandboxes (stdio pipes, control sockets,
/// pidfds); a thread per pending read, which is what .NET's own pipe streams cost on Linux, does
/// not scale to that.
/// </summary>
/// <remarks>
/// A completed wait means "try the operation again", not a guarantee: callers loop on EAGAIN, so a
/// spurious wake-up (possible when a wait is cancelled and re-armed while an event is in flight)
/// costs one extra system call and nothing else. Hang-ups and errors also complete waits, so the
/// caller's next read or write reports EOF or the error.
///
/// A descriptor is in the epoll set only while someone waits on it (EPOLLONESHOT, re-armed with
/// EPOLL_CTL_MOD while waiters remain, removed with EPOLL_CTL_DEL when none do). The reactor thus
/// holds no reference to idle descriptors, and each registration carries a fresh key in
/// epoll_event.data, so an event for a descriptor number that was closed and reused is ignored.
/// </remarks>
internal sealed unsafe class Reactor : IDisposable
{
    private static readonly Lazy<Reactor> s_shared = new(() => new Reactor(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The process-wide reactor; its thread starts on first use and never stops.</summary>
    public static Reactor Shared => s_shared.Value;

    // Key 0 is the eventfd that wakes the loop; registrations count up from 1 and are never reused.
    private const ulong WakeKey = 0;
    private const int MaxEventsPerWait = 256;

    private readonly Lock _gate = new();
    private readonly Dictionary<SafeFd, Registration> _byFd = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<ulong, Registration> _byKey = new();
    private readonly SafeFd _epoll;
    private readonly SafeFd _wake;
    private readonly int _epollFd;
    private readonly Thread _thread;
    private ulong _nextKey = WakeKey + 1;
    private bool _disposed;

    // Public so tests can run a private reactor; the library uses Shared.
    public Reactor()
    {
        _epoll = SafeFd.Adopt(LibC.epoll_create1(LibC.EPOLL_CLOEXEC));
        if (_epoll.IsInvalid)
            throw SystemError("epoll_create1", LibC.LastErrno);
        _epollFd = _epoll.Fd;

        _wake = SafeFd.Adopt(LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK));
        if (_wake.IsInvalid)
        {
            int errno = LibC.LastErrno;
            _epoll.Dispose();
            throw SystemError("eventfd", errno);
        }

        // Level-triggered, not one-shot: the loop drains it only when asked to stop.
        LibC.EpollEvent wakeEvent = new() { Events = LibC.EPOLLIN, Data = WakeKey };
        if (LibC.epoll_ctl(_epollFd, LibC.EPOLL_CTL_ADD, _wake.Fd, &wakeEvent) < 0)
        {
            int errno = LibC.LastErrno;
            _wake.Dispose();
            _epoll.Dispose();
            throw SystemError("epoll_ctl(eventfd)", errno);
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "Sandbox reactor" };
        // No ExecutionContext to flow: the loop runs no user code.
        _thread.UnsafeStart();
    }

    /// <summary>Completes when <paramref name="fd"/> is readable, hung up or in error.</summary>
    public ValueTask WaitReadableAsync(SafeFd fd, CancellationToken cancellationToken = default) =>
        WaitAsync(fd, Direction.Read, cancellationToken);

    /// <summary>Completes when <paramref name="fd"/> is writable, hung up or in error.</summary>
    public ValueTask WaitWritableAsync(SafeFd fd, CancellationToken cancellationToken = default) =>
        WaitAsync(fd, Direction.Write, cancellationToken);

    /// <summary>
    /// Removes <paramref name="fd"/> from the epoll set and fails its pending waits with
    /// ObjectDisposedException. Owners call this before closing the descriptor: closing first
    /// would let the number be reused while the old registration still names it.
    /// </summary>
    public void Unregister(SafeFd fd)
    {
        Registration? registration;
        Waiter? waiters;
        lock (_gate)
        {
            if (!_byFd.TryGetValue(fd, out registration))
                return;
            waiters = registration.TakeAll();
            Remove(registration);
        }
        CompleteAll(waiters, new ObjectDisposedException(nameof(SafeFd), "The file descriptor was closed while an operation was waiting for it."));
    }

    /// <summary>Stops the loop and closes the epoll descriptor; pending waits fail. Never done to Shared.</summary>
    public void Dispose()
    {
        Waiter? waiters = null;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (Registration registration in _byFd.Values)
                waiters = Waiter.Concat(registration.TakeAll(), waiters);
            _byFd.Clear();
            _byKey.Clear();
        }
        CompleteAll(waiters, new ObjectDisposedException(nameof(Reactor)));

        ulong one = 1;
        if (LibC.write(_wake.Fd, (byte*)&one, sizeof(ulong)) < 0)
            throw SystemError("write(eventfd)", LibC.LastErrno);
        _thread.Join();
        _wake.Dispose();
        _epoll.Dispose();
    }

    private ValueTask WaitAsync(SafeFd fd, Direction direction, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);

        Waiter waiter;
        Waiter? failed;
        Exception? error;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_byFd.TryGetValue(fd, out Registration? registration))
            {
                registration = new Registration(fd, _nextKey++);
                _byFd.Add(fd, registration);
                _byKey.Add(registration.Key, registration);
            }

            waiter = new Waiter(this, registration, direction, cancellationToken);
            registration.Add(waiter);
            (failed, error) = Arm(registration);

            // Registered under the lock so that whoever later removes the waiter (also under the
            // lock) sees the registration to undo. If the token is cancelled right now, the
            // callback runs here, re-enters the lock and cancels the waiter: that is fine.
            if (failed is null && cancellationToken.CanBeCanceled)
                waiter.Cancellation = cancellationToken.UnsafeRegister(static state => ((Waiter)state!).Cancel(), waiter);
        }
        CompleteAll(failed, error);
        return new ValueTask(waiter.Task);
    }

    private void Cancel(Waiter waiter)
    {
        Waiter? failed;
        Exception? error;
        lock (_gate)
        {
            if (!waiter.Registration.Remove(waiter))
                return; // completed already
            (failed, error) = Arm(waiter.Registration);
        }
        waiter.TrySetCanceled(waiter.CancellationToken);
        CompleteAll(failed, error);
    }

    // Brings the kernel in line with the registration's waiters: MOD (or ADD) with the union of
    // their interests, or DEL and forget the registration when none are left. Called under _gate.
    // On failure the registration is dropped and its waiters are returned to be failed.
    private (Waiter? Failed, Exception? Error) Arm(Registration registration)
    {
        uint interests = registration.Interests;
        bool addedRef = false;
        try
        {
            // Keeps the number from being closed and reused between here and epoll_ctl.
            registration.Fd.DangerousAddRef(ref addedRef);
            int fd = (int)registration.Fd.DangerousGetHandle();

            if (interests == 0)
            {
                if (registration.InKernel)
                    LibC.epoll_ctl(_epollFd, LibC.EPOLL_CTL_DEL, fd, null); // nothing useful to do on failure
                Remove(registration);
                return (null, null);
            }

            LibC.EpollEvent ev = new() { Events = interests | LibC.EPOLLONESHOT, Data = registration.Key };
            int op = registration.InKernel ? LibC.EPOLL_CTL_MOD : LibC.EPOLL_CTL_ADD;
            int errno = 0;
            for (int attempt = 0; attempt < 2; attempt++)
            {
                if (LibC.epoll_ctl(_epollFd, op, fd, &ev) == 0)
                {
                    registration.InKernel = true;
                    return (null, null);
                }
                errno = LibC.LastErrno;
                // EEXIST: a registration for this number and file was left behind (the owner closed
                // a duplicate without unregistering). ENOENT: the kernel dropped ours when the file
                // was closed elsewhere. Either way the other operation is the right one.
                if (op == LibC.EPOLL_CTL_ADD && errno == LibC.EEXIST)
                    op = LibC.EPOLL_CTL_MOD;
                else if (op == LibC.EPOLL_CTL_MOD && errno == LibC.ENOENT)
                    op = LibC.EPOLL_CTL_ADD;
                else
                    break;
            }

            Remove(registration);
            return (registration.TakeAll(), errno == LibC.EPERM
                ? new IOException($"File descriptor {fd} does not support readiness notification (epoll_ctl: {LibC.ErrnoText(errno)}); regular files and directories cannot be used here.", errno)
                : SystemError("epoll_ctl", errno));
        }
        catch (ObjectDisposedException e)
        {
            // The owner closed the descriptor without unregistering it.
            Remove(registration);
            return (registration.TakeAll(), e);
        }
        finally
        {
            if (addedRef)
                registration.Fd.DangerousRelease();
        }
    }

    private void Remove(Registration registration)
    {
        // Only if still current: a stale Registration must not evict its successor.
        if (_byKey.Remove(registration.Key))
            _byFd.Remove(registration.Fd);
        registration.InKernel = false;
    }

    private void Run()
    {
        LibC.EpollEvent* events = (LibC.EpollEvent*)NativeMemory.Alloc(MaxEventsPerWait, (nuint)sizeof(LibC.EpollEvent));
        try
        {
            while (true)
            {
                int count = LibC.epoll_wait(_epollFd, events, MaxEventsPerWait, -1);
                if (count < 0)
                {
                    int errno = LibC.LastErrno;
                    if (errno == LibC.EINTR)
                        continue;
                    // Only a bug (EBADF, EFAULT, EINVAL) gets here; every pending wait would hang.
                    Environment.FailFast($"Sandbox reactor: epoll_wait failed: {LibC.ErrnoText(errno)} (errno {errno}).");
                }
                if (!Dispatch(events, count))
                    return;
            }
        }
        finally
        {
            NativeMemory.Free(events);
        }
    }

    // Returns false when the loop should stop.
    private bool Dispatch(LibC.EpollEvent* events, int count)
    {
        Waiter? ready = null;
        List<(Waiter? Waiters, Exception? Error)>? failures = null;
        bool keepRunning = true;
        lock (_gate)
        {
            for (int i = 0; i < count; i++)
            {
                ulong key = events[i].Data;
                if (key == WakeKey)
                {
                    keepRunning = !_disposed;
                    continue;
                }
                if (!_byKey.TryGetValue(key, out Registration? registration))
                    continue; // stale: unregistered, cancelled or replaced since the event was queued

                uint happened = events[i].Events;
                bool broken = (happened & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0;
                if (broken || (happened & (LibC.EPOLLIN | LibC.EPOLLRDHUP)) != 0)
                    ready = Waiter.Concat(registration.Take(Direction.Read), ready);
                if (broken || (happened & LibC.EPOLLOUT) != 0)
                    ready = Waiter.Concat(registration.Take(Direction.Write), ready);

                // One-shot: the kernel disarmed the entry; re-arm it for whoever still waits.
                (Waiter? failed, Exception? error) = Arm(registration);
                if (failed is not null)
                    (failures ??= []).Add((failed, error));
            }
        }

        // Outside the lock; continuations run on the thread pool (RunContinuationsAsynchronously).
        CompleteAll(ready, null);
        if (failures is not null)
        {
            foreach ((Waiter? waiters, Exception? error) in failures)
                CompleteAll(waiters, error);
        }
        return keepRunning;
    }

    // Completes a detached list: successfully when error is null.
    private static void CompleteAll(Waiter? waiters, Exception? error)
    {
        for (Waiter? w = waiters; w is not null;)
        {
            Waiter? next = w.Next;
            w.Next = null;
            w.Complete(error);
            w = next;
        }
    }

    private static IOException SystemError(string call, int errno) =>
        new($"Sandbox reactor: {call} failed: {LibC.ErrnoText(errno)} (errno {errno}).", errno);

    private enum Direction
    {
        Read,
        Write,
    }

    // The waiters on one descriptor, as two singly linked lists. Only touched under _gate.
    private sealed class Registration(SafeFd fd, ulong key)
    {
        public readonly SafeFd Fd = fd;
        public readonly ulong Key = key;
        public bool InKernel;
        private Waiter? _readers;
        private Waiter? _writers;

        public uint Interests =>
            (_readers is null ? 0 : LibC.EPOLLIN) | (_writers is null ? 0 : LibC.EPOLLOUT);

        public void Add(Waiter waiter)
        {
            ref Waiter? head = ref Head(waiter.Direction);
            waiter.Next = head;
            head = waiter;
        }

        // False when the waiter is no longer pending (completed, or being completed).
        public bool Remove(Waiter waiter)
        {
            ref Waiter? link = ref Head(waiter.Direction);
            while (link is not null)
            {
                if (link == waiter)
                {
                    link = waiter.Next;
                    waiter.Next = null;
                    return true;
                }
                link = ref link.Next;
            }
            return false;
        }

        // Detaches a whole list; the caller completes it outside the lock.
        public Waiter? Take(Direction direction)
        {
            ref Waiter? head = ref Head(direction);
            Waiter? taken = head;
            head = null;
            return taken;
        }

        public Waiter? TakeAll() => Waiter.Concat(Take(Direction.Read), Take(Direction.Write));

        private ref Waiter? Head(Direction direction) =>
            ref direction == Direction.Read ? ref _readers : ref _writers;
    }

    // One pending wait. Continuations run asynchronously so that no user code runs on the
    // reactor thread or under _gate.
    private sealed class Waiter(Reactor owner, Registration registration, Direction direction, CancellationToken cancellationToken)
        : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public readonly Registration Registration = registration;
        public readonly Direction Direction = direction;
        public readonly CancellationToken CancellationToken = cancellationToken;
        public CancellationTokenRegistration Cancellation;
        public Waiter? Next;

        public void Cancel() => owner.Cancel(this);

        public void Complete(Exception? error)
        {
            // Unregister, not Dispose: it never blocks on a callback running on another thread.
            Cancellation.Unregister();
            if (error is null)
                TrySetResult();
            else
                TrySetException(error);
        }

        // Appends list b to list a (either may be null).
        public static Waiter? Concat(Waiter? a, Waiter? b)
        {
            if (a is null)
                return b;
            Waiter last = a;
            while (last.Next is not null)
                last = last.Next;
            last.Next = b;
            return a;
        }
    }
}
