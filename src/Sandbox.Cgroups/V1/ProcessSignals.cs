using System.Runtime.InteropServices;

namespace Sandboxing.Cgroups;

/// <summary>SIGKILL for the freezer-based kill on hosts without cgroup.kill.</summary>
internal static partial class ProcessSignals
{
    private const int SIGKILL = 9;
    private const int ESRCH = 3;

    /// <summary>SIGKILLs <paramref name="pid"/>; a process that is already gone is not an error.</summary>
    /// <exception cref="IOException">kill(2) failed for another reason (EPERM: not ours to kill).</exception>
    public static void Kill(int pid)
    {
        if (pid <= 0)
            throw new ArgumentOutOfRangeException(nameof(pid), pid, "a cgroup.procs pid must be positive (0 and negatives signal groups).");
        if (kill(pid, SIGKILL) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != ESRCH)
                throw new IOException($"kill({pid}, SIGKILL): {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
