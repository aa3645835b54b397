namespace Sandboxing.Seccomp;

/// <summary>What the kernel does with a system call that a seccomp rule (or the default) decides.</summary>
public enum SeccompAction
{
    /// <summary>The system call runs (<c>SECCOMP_RET_ALLOW</c>).</summary>
    Allow,

    /// <summary>
    /// The system call does not run and fails with an errno value chosen by the rule or policy
    /// (<c>SECCOMP_RET_ERRNO</c>).
    /// </summary>
    Errno,

    /// <summary>The whole process is killed by SIGSYS, with a core dump (<c>SECCOMP_RET_KILL_PROCESS</c>, Linux 4.14).</summary>
    KillProcess,

    /// <summary>Only the calling thread is killed (<c>SECCOMP_RET_KILL_THREAD</c>); the rest of the process runs on, often in a broken state.</summary>
    KillThread,

    /// <summary>The calling thread gets a SIGSYS it can handle (<c>SECCOMP_RET_TRAP</c>).</summary>
    Trap,

    /// <summary>The system call runs and the kernel logs it (<c>SECCOMP_RET_LOG</c>, Linux 4.14): for trying a policy out.</summary>
    Log,
}
