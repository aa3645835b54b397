namespace Sandboxing;

/// <summary>The Linux namespaces a sandbox gets. Each one isolates one kind of resource.</summary>
[Flags]
public enum SandboxNamespaces
{
    /// <summary>No new namespace: the command shares everything with the host.</summary>
    None = 0,

    /// <summary>User namespace: uids and gids are mapped; root inside is not root outside.</summary>
    User = 0x01,

    /// <summary>PID namespace: the sandbox sees only its own processes; its init is pid 1.</summary>
    Pid = 0x02,

    /// <summary>Mount namespace: the sandbox has its own mount table and root filesystem.</summary>
    Mount = 0x04,

    /// <summary>Network namespace: only a loopback interface, which is brought up.</summary>
    Network = 0x08,

    /// <summary>UTS namespace: the sandbox has its own hostname.</summary>
    Uts = 0x10,

    /// <summary>IPC namespace: System V IPC objects and POSIX message queues are private.</summary>
    Ipc = 0x20,

    /// <summary>Cgroup namespace: the sandbox's cgroup appears as the root of /proc/self/cgroup.</summary>
    Cgroup = 0x40,

    /// <summary>Time namespace: CLOCK_MONOTONIC and CLOCK_BOOTTIME can be offset (Linux 5.6+).</summary>
    Time = 0x80,

    /// <summary>Every namespace above: the default.</summary>
    All = User | Pid | Mount | Network | Uts | Ipc | Cgroup | Time,
}
