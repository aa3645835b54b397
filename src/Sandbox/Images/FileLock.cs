using Microsoft.Win32.SafeHandles;

namespace Sandboxing.Images;

/// <summary>
/// An flock(2) on a lock file, held until disposed. flock locks belong to the open file, so two
/// opens in one process exclude each other just as two processes do: one mechanism serves
/// threads, tasks and processes. The lock goes away with the process, so a crash never
/// leaves the store locked.
/// </summary>
internal sealed class FileLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private FileLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>
    /// Waits for the lock. The wait polls with a non-blocking flock rather than blocking in
    /// flock(2), so it honours <paramref name="cancellationToken"/> and never pins a thread in
    /// the kernel.
    /// </summary>
    public static FileLock Acquire(string path, bool exclusive, CancellationToken cancellationToken)
    {
        var handle = Open(path);
        try
        {
            int delayMs = 1;
            while (!TryLock(handle, path, exclusive))
            {
                cancellationToken.WaitHandle.WaitOne(delayMs);
                cancellationToken.ThrowIfCancellationRequested();
                delayMs = Math.Min(delayMs * 2, 50);
            }
            return new FileLock(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Takes the lock if nobody holds a conflicting one, without waiting; null otherwise.</summary>
    public static FileLock? TryAcquire(string path, bool exclusive)
    {
        var handle = Open(path);
        if (TryLock(handle, path, exclusive))
            return new FileLock(handle);
        handle.Dispose();
        return null;
    }

    public void Dispose() => _handle.Dispose();

    private static SafeFileHandle Open(string path)
    {
        int fd = ImageNative.openat(ImageNative.AT_FDCWD, path, ImageNative.O_RDWR | ImageNative.O_CREAT | ImageNative.O_CLOEXEC | ImageNative.O_NOFOLLOW, 0x180 /* 0600 */);
        if (fd < 0)
        {
            int errno = ImageNative.LastErrno;
            throw new ImageException(path, null, $"cannot open the lock file: {ImageNative.ErrnoText(errno)} (errno {errno}).",
                "The image store must be writable by the caller; each user needs a store of their own.");
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static bool TryLock(SafeFileHandle handle, string path, bool exclusive)
    {
        while (true)
        {
            if (ImageNative.flock((int)handle.DangerousGetHandle(), (exclusive ? ImageNative.LOCK_EX : ImageNative.LOCK_SH) | ImageNative.LOCK_NB) == 0)
                return true;
            int errno = ImageNative.LastErrno;
            if (errno == ImageNative.EAGAIN)
                return false;
            if (errno != ImageNative.EINTR)
                throw new ImageException(path, null, $"cannot lock: {ImageNative.ErrnoText(errno)} (errno {errno}).");
        }
    }
}
