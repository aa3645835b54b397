using static Sandboxing.Seccomp.SeccompComparison;

namespace Sandboxing.Seccomp;

/// <summary>
/// <see cref="SeccompPolicy.Default"/>: everything is allowed except what is listed here, each
/// denial with its reason in docs/seccomp.md. Modelled on docker's default profile
/// (moby/profiles seccomp/default.json) for a process without capabilities, but as a deny list,
/// so new harmless system calls work without a library update.
/// </summary>
internal static class SeccompDefaultPolicy
{
    // linux/sched.h
    private const ulong CloneNewUser = 0x10000000;

    // asm-generic/ioctls.h (x86_64 and aarch64 share them)
    private const ulong Tiocsti = 0x5412, Tioclinux = 0x541C;

    // linux/personality.h: PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32 | UNAME26, and the query.
    private static readonly ulong[] AllowedPersonalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

    // linux/socket.h: families a sandboxed program has no business opening, because they reach
    // hardware, the host (vsock), or rarely exercised kernel code with a history of bugs.
    // AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (ip, iproute2) stay allowed.
    private static readonly (string Name, ulong Family)[] DeniedSocketFamilies =
    [
        ("AF_ATMPVC", 8), ("AF_KEY", 15), ("AF_PACKET", 17), ("AF_ATMSVC", 20), ("AF_IRDA", 23),
        ("AF_PPPOX", 24), ("AF_WANPIPE", 25), ("AF_LLC", 26), ("AF_CAN", 29), ("AF_TIPC", 30),
        ("AF_BLUETOOTH", 31), ("AF_IUCV", 32), ("AF_RXRPC", 33), ("AF_ISDN", 34), ("AF_PHONET", 35),
        ("AF_IEEE802154", 36), ("AF_CAIF", 37), ("AF_ALG", 38), ("AF_NFC", 39), ("AF_VSOCK", 40),
        ("AF_KCM", 41), ("AF_QIPCRTR", 42), ("AF_SMC", 43), ("AF_XDP", 44), ("AF_MCTP", 45),
    ];

    // Denied outright with EPERM, in the order of docs/seccomp.md's table. Calls that exist only
    // in the i386 ABI (umount, stime, vm86, vm86old) are not listed: the architecture check
    // already kills any i386 call.
    private static readonly string[] DeniedCalls =
    [
        // loading code into the kernel, rebooting it, or replacing it
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
        // swap and the mount table
        "swapon", "swapoff", "mount", "umount2", "pivot_root",
        "move_mount", "open_tree", "open_tree_attr", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
        // the kernel keyring, which is not namespaced
        "keyctl", "add_key", "request_key",
        // large, frequently exploited kernel surfaces
        "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
        // entering other namespaces
        "setns",
        // host-wide administration and obsolete interfaces
        "acct", "lookup_dcookie", "quotactl", "quotactl_fd", "nfsservctl", "uselib", "ustat", "sysfs",
        "_sysctl", "get_kernel_syms", "query_module", "create_module", "iopl", "ioperm",
        // the clocks, which are not namespaced (time namespaces offset only the monotonic ones)
        "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
        // the kernel log, the terminal, file handles that bypass the mount namespace
        "syslog", "vhangup", "open_by_handle_at",
        // NUMA memory policy (docker allows these only with CAP_SYS_NICE)
        "mbind", "set_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages",
        // fanotify needs CAP_SYS_ADMIN for everything useful and watches whole mounts
        "fanotify_init",
    ];

    public static SeccompPolicy Create()
    {
        var policy = new SeccompPolicy();

        // Rules with conditions come first: the kernel can skip the filter for calls no such rule
        // names (see SeccompCompiler), but ioctl, clone, socket and personality run it every
        // time, through every rule before theirs. ioctl is the most frequent, so it is first.
        policy = policy
            .Deny("ioctl", new SeccompArgumentCondition(1, Equal, Tiocsti, Is32Bit: true))   // faking terminal input
            .Deny("ioctl", new SeccompArgumentCondition(1, Equal, Tioclinux, Is32Bit: true)) // the same through the console
            .Deny("clone", new SeccompArgumentCondition(0, MaskedEqual, CloneNewUser, Mask: CloneNewUser))
            .Deny("clone3", SeccompPolicy.Enosys)
            .Deny("unshare", new SeccompArgumentCondition(0, MaskedEqual, CloneNewUser, Mask: CloneNewUser));
        foreach (var (_, family) in DeniedSocketFamilies)
            policy = policy.Deny("socket", SeccompPolicy.Eafnosupport, new SeccompArgumentCondition(0, Equal, family, Is32Bit: true));
        foreach (ulong persona in AllowedPersonalities)
            policy = policy.Allow("personality", new SeccompArgumentCondition(0, Equal, persona, Is32Bit: true));
        policy = policy.Deny("personality");

        foreach (string name in DeniedCalls)
            policy = policy.Deny(name);
        return policy;
    }
}
