using System.Diagnostics;

namespace Sandboxing.Cgroups;

/// <summary>
/// Bounded waits for a cgroup state the kernel reaches on its own (frozen, empty, removable).
/// cgroupfs files cannot be waited on portably for all of these, so they are polled with a
/// growing pause (1 ms doubling to 50 ms), and every wait has a deadline.
/// </summary>
internal static class Polling
{
    private static readonly TimeSpan MaxPause = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="done"/> until it is true or <paramref name="timeout"/> passes.</summary>
    /// <returns>Whether <paramref name="done"/> became true in time.</returns>
    public static async Task<bool> UntilAsync(Func<bool> done, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            if (done())
                return true;
            if (clock.Elapsed >= timeout)
                return false;
            await Task.Delay(Min(pause, timeout - clock.Elapsed), cancellationToken).ConfigureAwait(false);
            pause = Min(pause * 2, MaxPause);
        }
    }

    /// <summary>As <see cref="UntilAsync"/>, blocking the calling thread (for the synchronous Kill).</summary>
    public static bool Until(Func<bool> done, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            if (done())
                return true;
            if (clock.Elapsed >= timeout)
                return false;
            Thread.Sleep(Min(pause, timeout - clock.Elapsed));
            pause = Min(pause * 2, MaxPause);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? (a < TimeSpan.Zero ? TimeSpan.Zero : a) : (b < TimeSpan.Zero ? TimeSpan.Zero : b);

    /// <summary>
    /// Waits until <paramref name="isFrozen"/> after a freeze was requested; on cancellation or
    /// timeout, undoes the freeze with <paramref name="thaw"/> (a half-frozen sandbox helps no
    /// one) and throws what <paramref name="timedOut"/> makes.
    /// </summary>
    public static async Task WaitFrozenOrThawAsync(Func<bool> isFrozen, Action thaw, TimeSpan timeout, Func<Exception> timedOut, CancellationToken cancellationToken)
    {
        bool frozen;
        try
        {
            frozen = await UntilAsync(isFrozen, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            thaw();
            throw;
        }
        if (!frozen)
            throw timedOut();
    }
}
