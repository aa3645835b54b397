using System.Collections.Immutable;

namespace Sandboxing;

/// <summary>Linux capabilities (capabilities(7)), numbered as the kernel numbers them.</summary>
public enum Capability
{
    /// <summary>CAP_CHOWN: change file owners.</summary>
    Chown = 0,
    /// <summary>CAP_DAC_OVERRIDE: bypass file permission checks.</summary>
    DacOverride = 1,
    /// <summary>CAP_DAC_READ_SEARCH: bypass read and search permission checks (and use open_by_handle_at).</summary>
    DacReadSearch = 2,
    /// <summary>CAP_FOWNER: bypass checks that the caller owns a file.</summary>
    Fowner = 3,
    /// <summary>CAP_FSETID: keep setuid/setgid bits when a file changes.</summary>
    Fsetid = 4,
    /// <summary>CAP_KILL: signal any process (of the sandbox's user namespace).</summary>
    Kill = 5,
    /// <summary>CAP_SETGID: change gids.</summary>
    Setgid = 6,
    /// <summary>CAP_SETUID: change uids.</summary>
    Setuid = 7,
    /// <summary>CAP_SETPCAP: change capability sets.</summary>
    Setpcap = 8,
    /// <summary>CAP_LINUX_IMMUTABLE: set immutable and append-only file flags.</summary>
    LinuxImmutable = 9,
    /// <summary>CAP_NET_BIND_SERVICE: bind ports below 1024.</summary>
    NetBindService = 10,
    /// <summary>CAP_NET_BROADCAST: unused by the kernel.</summary>
    NetBroadcast = 11,
    /// <summary>CAP_NET_ADMIN: configure the (sandbox's) network.</summary>
    NetAdmin = 12,
    /// <summary>CAP_NET_RAW: raw and packet sockets.</summary>
    NetRaw = 13,
    /// <summary>CAP_IPC_LOCK: lock memory.</summary>
    IpcLock = 14,
    /// <summary>CAP_IPC_OWNER: bypass System V IPC permission checks.</summary>
    IpcOwner = 15,
    /// <summary>CAP_SYS_MODULE: load kernel modules.</summary>
    SysModule = 16,
    /// <summary>CAP_SYS_RAWIO: raw I/O.</summary>
    SysRawio = 17,
    /// <summary>CAP_SYS_CHROOT: chroot.</summary>
    SysChroot = 18,
    /// <summary>CAP_SYS_PTRACE: trace any process (of the sandbox's user namespace).</summary>
    SysPtrace = 19,
    /// <summary>CAP_SYS_PACCT: process accounting.</summary>
    SysPacct = 20,
    /// <summary>CAP_SYS_ADMIN: mounts and much else.</summary>
    SysAdmin = 21,
    /// <summary>CAP_SYS_BOOT: reboot.</summary>
    SysBoot = 22,
    /// <summary>CAP_SYS_NICE: raise priorities.</summary>
    SysNice = 23,
    /// <summary>CAP_SYS_RESOURCE: exceed resource limits.</summary>
    SysResource = 24,
    /// <summary>CAP_SYS_TIME: set the clock.</summary>
    SysTime = 25,
    /// <summary>CAP_SYS_TTY_CONFIG: vhangup and terminal configuration.</summary>
    SysTtyConfig = 26,
    /// <summary>CAP_MKNOD: create device nodes.</summary>
    Mknod = 27,
    /// <summary>CAP_LEASE: file leases.</summary>
    Lease = 28,
    /// <summary>CAP_AUDIT_WRITE: write the audit log.</summary>
    AuditWrite = 29,
    /// <summary>CAP_AUDIT_CONTROL: configure auditing.</summary>
    AuditControl = 30,
    /// <summary>CAP_SETFCAP: set file capabilities.</summary>
    Setfcap = 31,
    /// <summary>CAP_MAC_OVERRIDE: override mandatory access control.</summary>
    MacOverride = 32,
    /// <summary>CAP_MAC_ADMIN: configure mandatory access control.</summary>
    MacAdmin = 33,
    /// <summary>CAP_SYSLOG: privileged syslog operations.</summary>
    Syslog = 34,
    /// <summary>CAP_WAKE_ALARM: wake-up alarms.</summary>
    WakeAlarm = 35,
    /// <summary>CAP_BLOCK_SUSPEND: block system suspend.</summary>
    BlockSuspend = 36,
    /// <summary>CAP_AUDIT_READ: read the audit log.</summary>
    AuditRead = 37,
    /// <summary>CAP_PERFMON: performance monitoring.</summary>
    Perfmon = 38,
    /// <summary>CAP_BPF: BPF programs and maps.</summary>
    Bpf = 39,
    /// <summary>CAP_CHECKPOINT_RESTORE: checkpoint and restore.</summary>
    CheckpointRestore = 40,
}

/// <summary>Sets and names of <see cref="Capability"/> values.</summary>
public static class Capabilities
{
    /// <summary>
    /// The capabilities docker gives a container by default (capabilities it keeps inside the
    /// sandbox's user namespace only; they grant nothing over the host).
    /// </summary>
    public static ImmutableSortedSet<Capability> DockerDefault { get; } =
    [
        Capability.Chown, Capability.DacOverride, Capability.Fsetid, Capability.Fowner, Capability.Mknod, Capability.NetRaw,
        Capability.Setgid, Capability.Setuid, Capability.Setfcap, Capability.Setpcap, Capability.NetBindService,
        Capability.SysChroot, Capability.Kill, Capability.AuditWrite,
    ];

    /// <summary>Every capability this library knows.</summary>
    public static ImmutableSortedSet<Capability> All { get; } = [.. Enum.GetValues<Capability>()];

    /// <summary>The kernel's name: <c>CAP_NET_RAW</c>.</summary>
    public static string KernelName(Capability capability) =>
        "CAP_" + string.Concat(capability.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    /// <summary>
    /// Parses <c>CAP_NET_RAW</c>, <c>NET_RAW</c>, <c>net_raw</c> or <c>NetRaw</c>.
    /// </summary>
    public static bool TryParse(string name, out Capability capability)
    {
        capability = default;
        if (string.IsNullOrWhiteSpace(name))
            return false;
        string wanted = name.Trim().ToUpperInvariant();
        if (!wanted.StartsWith("CAP_", StringComparison.Ordinal))
            wanted = "CAP_" + wanted;
        foreach (var c in All)
            if (KernelName(c) == wanted || ("CAP_" + c.ToString().ToUpperInvariant()) == wanted)
            {
                capability = c;
                return true;
            }
        return false;
    }
}
