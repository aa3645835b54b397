using L = Sandboxing.Tests.ContainmentLayer;

namespace Sandboxing.Tests;

/// <summary>
/// The containment suite's table: each attack, the layers that stop it, and the runs that
/// prove it. Cases that two layers stop are run four ways (both layers, each one alone,
/// neither) wherever relaxing both is harmless to the host, so each layer is shown to refuse
/// on its own. docs/containment.md lists the same cases with what was observed.
/// </summary>
public static class ContainmentCases
{
    private const long MiB = 1L << 20;

    private static Func<ContainmentHost, string> X(string regex) => _ => regex;

    private static ContainmentRun DefaultRun(string expected) => new("default", (b, _) => b, X(expected));

    private static Capability[] Every => Enum.GetValues<Capability>();

    /// <summary>The three relaxations of a case that the filter and a missing capability both stop.</summary>
    private static ContainmentRun[] FilterAndCapability(string capabilityName, Capability[] capabilities, string filterOnly, string capabilityOnly, string neither) =>
    [
        new($"with {capabilityName} (the filter alone)", (b, _) => b.WithCapabilities(capabilities), X(filterOnly)),
        new("without seccomp (no capability alone)", (b, _) => b.WithoutSeccomp(), X(capabilityOnly)),
        new($"without seccomp, with {capabilityName}", (b, _) => b.WithoutSeccomp().WithCapabilities(capabilities), X(neither)),
    ];

    /// <summary>
    /// The relaxations of opening a host-owned /proc file for writing: each of the user namespace
    /// and the read-only path alone, capabilities, and neither (the host's root, without
    /// capabilities, opens it; nothing is ever written). <paramref name="missing"/>: the errno of
    /// every run when the file does not exist on this kernel.
    /// </summary>
    private static ContainmentRun[] HostOwnedProcFileRuns(string? missing) =>
    [
        new("without the user namespace (the host's root, no capabilities)", (b, _) => b.WithoutNamespaces(SandboxNamespaces.User), X(missing ?? "EROFS")),
        new("without read-only paths", (b, _) => b.WithReadOnlyPaths(), X(missing ?? "EACCES")),
        new("without read-only paths, with every capability", (b, _) => b.WithReadOnlyPaths().WithCapabilities(Every), X(missing ?? "EACCES")),
        new("without read-only paths or the user namespace", (b, _) => b.WithReadOnlyPaths().WithoutNamespaces(SandboxNamespaces.User), X(missing ?? "ok")),
    ];

    private static string HostSysctl(string name) => File.ReadAllText($"/proc/sys/{name.Replace('.', '/')}").Trim();

    private static bool KernelLoadsModules => File.Exists("/proc/modules");

    private static bool KernelHasSysRq => File.Exists("/proc/sysrq-trigger");

    /// <summary>"Exited 0", "Signaled (SIGXCPU)", "TimedOut (SIGKILL)", "MemoryLimitExceeded (SIGKILL)".</summary>
    public static string Outcome(SandboxResult r) =>
        r.ExitCode is { } code ? $"{r.Verdict} {code}" : $"{r.Verdict} ({SignalName(r.Signal)})";

    private static string SignalName(int? signal) => signal switch
    {
        9 => "SIGKILL",
        24 => "SIGXCPU",
        31 => "SIGSYS",
        null => "no signal",
        _ => $"signal {signal}",
    };

    /// <summary>The last line the command printed, or how it ended when it printed nothing.</summary>
    public static string LastLine(SandboxResult r) =>
        r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
        ?? $"{Outcome(r)}, no output; stderr: {r.StandardError.Trim().Split('\n').LastOrDefault()}";

    private static string WithOutcome(SandboxResult r) =>
        string.IsNullOrWhiteSpace(r.StandardOutput) ? Outcome(r) : $"{Outcome(r)}; {LastLine(r)}";

    public static IReadOnlyList<ContainmentCase> All { get; } =
    [
        // ---- limits ----
        new("fork bomb", [L.Limit],
            "pids.max of the sandbox's cgroup: fork() fails with EAGAIN at 64 processes. Without the limit, the same bomb (bounded at 126 processes so that relaxing it is safe) creates every process.",
            _ => Probe.Python(ForkBomb),
            new("default + WithPidsLimit(64)", (b, _) => b.WithPidsLimit(64), X(@"EAGAIN after \d+ processes; limits hit: Pids")),
            [new("without the pids limit", (b, _) => b, X("126 processes, no EAGAIN; limits hit: none"))],
            Evidence: r => $"{LastLine(r)}; limits hit: {(r.Usage is { LimitsHit: not SandboxLimits.None } u ? u.LimitsHit : "none")}"),

        new("memory bomb", [L.Limit],
            "memory.max (64 MiB, no swap) of the sandbox's cgroup: the OOM killer ends the command and the verdict says so. Without the limit, the 256 MiB are allocated.",
            _ => Probe.Python("block = bytearray(b'x') * (256 << 20)\nprint(f'allocated {len(block) >> 20} MiB')"),
            new("default + WithMemoryLimit(64 MiB, 64 MiB)", (b, _) => b.WithMemoryLimit(64 * MiB, 64 * MiB), X(@"MemoryLimitExceeded \(SIGKILL\); OOM kills: [1-9]\d*")),
            [new("without the memory limit", (b, _) => b, X("Exited 0; allocated 256 MiB; OOM kills: none"))],
            Evidence: r => $"{WithOutcome(r)}; OOM kills: {(r.Usage is { OomKills: > 0 } u ? u.OomKills : "none")}"),

        new("CPU spin past the timeout", [L.Limit],
            "the helper's wall-clock timeout kills the whole sandbox at 0.5 s. Without it, the 1.5 s spin finishes.",
            _ => Probe.Python("import time\nstart = time.monotonic()\nwhile time.monotonic() - start < 1.5:\n    pass\nprint('spun for 1.5 s')"),
            new("default + WithTimeout(0.5 s)", (b, _) => b.WithTimeout(TimeSpan.FromMilliseconds(500)), X(@"TimedOut \(SIGKILL\)")),
            [new("without the timeout", (b, _) => b, X("Exited 0; spun for 1.5 s"))],
            Evidence: WithOutcome),

        new("CPU time past RLIMIT_CPU", [L.Limit],
            "RLIMIT_CPU of 1 s: the kernel kills the command when it has used 1 s of CPU, with SIGKILL because the soft limit (SIGXCPU) equals the hard one, which the kernel checks first. Without the rlimit, the 1.5 s of CPU are used.",
            _ => Probe.Python("import time\nwhile time.process_time() < 1.5:\n    pass\nprint('used 1.5 s of CPU')"),
            new("default + WithResourceLimit(Cpu, 1)", (b, _) => b.WithResourceLimit(ResourceLimit.Cpu, 1), X(@"Signaled \(SIGKILL\)")),
            [new("without the rlimit", (b, _) => b, X("Exited 0; used 1.5 s of CPU"))],
            Evidence: WithOutcome),

        new("fill /tmp", [L.Limit],
            "the size cap of the sandbox's private /tmp tmpfs (128 MiB by default): ENOSPC. With a 256 MiB /tmp, the 160 MiB fit. The host's /tmp is never touched.",
            _ => Probe.Python(FillTmp),
            DefaultRun(@"ENOSPC after 12\d MiB"),
            [new("with a 256 MiB /tmp", (b, _) => b.WithTmpfs("/tmp", 256 * MiB), X("ok after 160 MiB"))]),

        // ---- mounts ----
        new("write through a read-only bind mount", [L.Mount],
            "the bind is read-only: EROFS, and the host file keeps its content. Bound read-write, the same write reaches the host file (which the sandbox's user may write).",
            _ => Probe.Python("print(attempt(lambda: open('/tmp/ro/data', 'w').write('sandbox was here')))"),
            new("default + WithBindMount(dir, /tmp/ro)", (b, h) => b.WithBindMount(h.BoundDirectory, "/tmp/ro"), X("EROFS; host file unchanged")),
            [new("bound read-write", (b, h) => b.WithBindMount(h.BoundDirectory, "/tmp/ro", readOnly: false), X("ok; host file overwritten"))],
            HostState: h => Task.FromResult(h.BoundFileState())),

        new("write to the host's root filesystem", [L.Mount],
            "the host's / is bound read-only: EROFS, even in a directory that the sandbox's user may write (mode 0777). Bound read-write at the same path, the file is created on the host.",
            h => Probe.Python($$"""print(attempt(lambda: open('{{h.WritableHostDirectory}}/escaped', 'w').close()))"""),
            DefaultRun("EROFS; nothing created on the host"),
            [new("that directory bound read-write", (b, h) => b.WithBindMount(h.WritableHostDirectory, h.WritableHostDirectory, readOnly: false), X("ok; file created on the host"))],
            HostState: h => Task.FromResult(h.WritableHostDirectoryState())),

        new("mount a filesystem", [L.Seccomp, L.Capability],
            "the filter denies mount(2); without the filter, the kernel wants CAP_SYS_ADMIN. With both relaxed, a tmpfs is mounted, in the sandbox's own mount namespace only.",
            _ => Probe.Python("os.mkdir('/tmp/m')\nprint(sc('mount', buf(b'none'), buf(b'/tmp/m'), buf(b'tmpfs'), 0, 0))"),
            DefaultRun("EPERM"),
            FilterAndCapability("CAP_SYS_ADMIN", [Capability.SysAdmin], "EPERM", "EPERM", "ok")),

        new("unmount a masked path", [L.Seccomp, L.Capability],
            "the filter denies umount2(2); without the filter, the kernel wants CAP_SYS_ADMIN. With both relaxed, the empty tmpfs over /sys/firmware comes off and the host's firmware tables show.",
            _ => Probe.Python("r = sc('umount2', buf(b'/sys/firmware'), 2)\nprint(f\"{r}; /sys/firmware: {'masked' if not os.listdir('/sys/firmware') else 'uncovered'}\")"),
            DefaultRun("EPERM; /sys/firmware: masked"),
            FilterAndCapability("CAP_SYS_ADMIN", [Capability.SysAdmin], "EPERM; /sys/firmware: masked", "EPERM; /sys/firmware: masked", "ok; /sys/firmware: uncovered")),

        new("pivot_root", [L.Seccomp, L.Capability],
            "the filter denies pivot_root(2); without the filter, the kernel wants CAP_SYS_ADMIN. With both relaxed, the command pivots into /tmp, in its own mount namespace.",
            _ => Probe.Python("os.mkdir('/tmp/old')\nprint(sc('pivot_root', buf(b'/tmp'), buf(b'/tmp/old')))"),
            DefaultRun("EPERM"),
            FilterAndCapability("CAP_SYS_ADMIN", [Capability.SysAdmin], "EPERM", "EPERM", "ok")),

        new("escape a chroot", [L.Capability],
            "chroot(2) needs CAP_SYS_CHROOT (the filter allows it, as docker's does). With it, the classic escape (chroot into a subdirectory, chdir .. past the root) works, but lands on the sandbox's own root, still read-only, in the sandbox's mount namespace.",
            _ => Probe.Python(ChrootEscape),
            DefaultRun("chroot EPERM"),
            [new("with CAP_SYS_CHROOT", (b, _) => b.WithCapabilities(Capability.SysChroot), X("chroot ok; escaped: yes; writing / then: EROFS"))]),

        new("regain capabilities in a new user namespace", [L.Seccomp],
            "the filter denies unshare(CLONE_NEWUSER). Without the filter the nested user namespace is made, with every capability in it, but remounting / read-write still fails: the mount's read-only flag is locked (MNT_LOCK_READONLY) in a namespace made by a less privileged user namespace, so the Mount layer stops it next; that layer cannot be relaxed.",
            _ => Probe.Python(NestedUserNamespace),
            DefaultRun("unshare EPERM"),
            [new("without seccomp", (b, _) => b.WithoutSeccomp(), X("unshare ok; remount / read-write EPERM; write /etc: EROFS"))]),

        // ---- other processes ----
        new("kill a host process", [L.Namespace],
            "the pid namespace: the host's processes have no pid inside (ESRCH). Without it the host process is in sight, and the kernel refuses with EPERM: the sandbox's root is the host's nobody (the uid mapping), and CAP_KILL would count only in the host's user namespace.",
            h => Probe.Python($"print(attempt(lambda: os.kill({h.VictimPid}, 9)))"),
            DefaultRun("ESRCH; host process alive, untraced"),
            [new("without the pid namespace", (b, _) => b.WithoutNamespaces(SandboxNamespaces.Pid), X("EPERM; host process alive, untraced"))],
            HostState: h => Task.FromResult(h.VictimState())),

        new("ptrace a host process", [L.Namespace],
            "the pid namespace (ESRCH). Without it, PTRACE_ATTACH fails with EPERM: the target belongs to another user (the host's root) and CAP_SYS_PTRACE would count only in the host's user namespace.",
            h => Probe.Python($"print(sc('ptrace', 16, {h.VictimPid}, 0, 0))"),
            DefaultRun("ESRCH; host process alive, untraced"),
            [new("without the pid namespace", (b, _) => b.WithoutNamespaces(SandboxNamespaces.Pid), X("EPERM; host process alive, untraced"))],
            HostState: h => Task.FromResult(h.VictimState())),

        new("read host files through /proc/PID/root and /proc/PID/cwd", [L.Namespace],
            "the pid namespace: a fresh /proc without the host's processes (ENOENT). Without it, the host's /proc shows them, and the magic links are refused by the ptrace access check (EACCES): the secret in the host process's working directory stays unread.",
            h => Probe.Python($$"""
                pid = {{h.VictimPid}}
                root = attempt(lambda: os.listdir(f'/proc/{pid}/root/'))
                cwd = attempt(lambda: open(f'/proc/{pid}/cwd/secret').read())
                print(f'root: {root}; cwd: {cwd}')
                """),
            DefaultRun("root: ENOENT; cwd: ENOENT"),
            [new("without the pid namespace", (b, _) => b.WithoutNamespaces(SandboxNamespaces.Pid), X("root: EACCES; cwd: EACCES"))]),

        // ---- file handles, sockets, network ----
        new("open_by_handle_at (shocker)", [L.Seccomp, L.Capability],
            "the filter denies open_by_handle_at(2); without it, the kernel wants CAP_DAC_READ_SEARCH and CAP_SYS_ADMIN over the mount. With both relaxed, a handle opens a directory of the sandbox's own tmpfs, but never one of the host's root: that needs CAP_DAC_READ_SEARCH in the host's user namespace (its locked mounts forbid the relaxed check).",
            _ => Probe.Python(ByHandle),
            DefaultRun("own tmpfs: EPERM; host root: EPERM"),
            FilterAndCapability("CAP_DAC_READ_SEARCH and CAP_SYS_ADMIN", [Capability.DacReadSearch, Capability.SysAdmin],
                "own tmpfs: EPERM; host root: EPERM", "own tmpfs: EPERM; host root: EPERM", "own tmpfs: ok; host root: EPERM")),

        new("raw socket", [L.Capability],
            "socket(AF_INET, SOCK_RAW) needs CAP_NET_RAW (the filter allows AF_INET). With it, the socket opens, in the sandbox's own network namespace (loopback only).",
            _ => Probe.Python("print(attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)))"),
            DefaultRun("EPERM"),
            [new("with CAP_NET_RAW", (b, _) => b.WithCapabilities(Capability.NetRaw), X("ok"))]),

        new("packet socket", [L.Seccomp, L.Capability],
            "the filter refuses AF_PACKET with EAFNOSUPPORT; without the filter the kernel wants CAP_NET_RAW (EPERM). With both relaxed, the socket opens, on the sandbox's own loopback only.",
            _ => Probe.Python("print(attempt(lambda: socket.socket(17, socket.SOCK_RAW, socket.htons(3))))"),
            DefaultRun("EAFNOSUPPORT"),
            FilterAndCapability("CAP_NET_RAW", [Capability.NetRaw], "EAFNOSUPPORT", "EPERM", "ok")),

        new("connect to the host's loopback", [L.Namespace],
            "the network namespace: the sandbox's 127.0.0.1 is its own (ECONNREFUSED), and the host's listener sees nothing. On the host's network, the connection reaches the host's listener.",
            h => Probe.Python($"s = socket.socket()\ns.settimeout(5)\nprint(attempt(lambda: s.connect(('127.0.0.1', {h.LoopbackPort}))))"),
            DefaultRun("ECONNREFUSED; listener saw no connection"),
            [new("on the host's network", (b, _) => b.WithNetwork(SandboxNetwork.Host), X("ok; listener accepted a connection"))],
            HostState: h => Task.FromResult(h.ListenerState())),

        new("reach the network", [L.Namespace],
            "the network namespace: only loopback, and no route anywhere (a UDP connect, which sends nothing, fails with ENETUNREACH). On the host's network, the sandbox sees the host's interfaces and routes, exactly as the host does.",
            _ => Probe.Python(NetworkView),
            DefaultRun(System.Text.RegularExpressions.Regex.Escape(ContainmentHost.NetworkView(["lo"], "ENETUNREACH"))),
            [new("on the host's network", (b, _) => b.WithNetwork(SandboxNetwork.Host), h => System.Text.RegularExpressions.Regex.Escape(h.HostNetworkView))]),

        // ---- the kernel ----
        new("load a kernel module", [L.Seccomp, L.Capability],
            "the filter denies init_module and finit_module (called with an invalid fd and a NULL image, so that nothing could load even if permitted). Without the filter, the kernel refuses by itself: with ENOSYS on a kernel without module support (this suite's host, so the capability check behind it is not reached), else EPERM, because CAP_SYS_MODULE counts only in the host's user namespace.",
            _ => Probe.Python("print(f\"finit_module: {sc('finit_module', -1, buf(b''), 0)}; init_module: {sc('init_module', 0, 0, buf(b''))}\")"),
            DefaultRun("finit_module: EPERM; init_module: EPERM"),
            FilterAndCapability("CAP_SYS_MODULE", [Capability.SysModule], "finit_module: EPERM; init_module: EPERM",
                KernelLoadsModules ? "finit_module: EPERM; init_module: EPERM" : "finit_module: ENOSYS; init_module: ENOSYS",
                KernelLoadsModules ? "finit_module: EPERM; init_module: EPERM" : "finit_module: ENOSYS; init_module: ENOSYS"),
            Unprovable: () => KernelLoadsModules ? "this kernel loads modules, and CAP_SYS_MODULE counts only in the host's user namespace: every run gets EPERM" : null),

        new("reboot", [L.Seccomp, L.Capability],
            "the filter denies reboot(2); without it, the kernel wants CAP_SYS_BOOT over the sandbox's pid namespace (EPERM). With both relaxed, the kernel reaches its magic-number check and refuses the invalid one with EINVAL (a valid one would only end the sandbox's pid namespace).",
            _ => Probe.Python("print(sc('reboot', 0xfee1dead, 0, 0x01234567, 0))"),
            DefaultRun("EPERM"),
            FilterAndCapability("CAP_SYS_BOOT", [Capability.SysBoot], "EPERM", "EPERM", "EINVAL")),

        new("trigger SysRq", [L.Namespace, L.Mount],
            "as for /proc/sys below, on /proc/sysrq-trigger (mode 0200, the host's root's): the unmapped owner refuses it first (EACCES) and the read-only path next (EROFS). The file is only opened for writing, never written.",
            _ => Probe.Python("print(attempt(lambda: os.close(os.open('/proc/sysrq-trigger', os.O_WRONLY))))"),
            DefaultRun(KernelHasSysRq ? "EACCES" : "ENOENT"),
            HostOwnedProcFileRuns(KernelHasSysRq ? null : "ENOENT"),
            Unprovable: () => KernelHasSysRq ? null : "this kernel has no SysRq (no /proc/sysrq-trigger); the /proc/sys case proves the same layers on the same kind of file"),

        new("write the host's kernel settings through /proc/sys", [L.Namespace, L.Mount],
            "kernel.core_pattern belongs to the host's root, whom the user namespace does not map, so no capability inside opens it for writing (EACCES; the kernel checks permissions before the mount's read-only flag). As the host's root, without the user namespace, /proc/sys is still read-only (EROFS). Only with both relaxed does it open (and nothing is written).",
            _ => Probe.Python("print(attempt(lambda: os.close(os.open('/proc/sys/kernel/core_pattern', os.O_WRONLY))))"),
            DefaultRun("EACCES"),
            HostOwnedProcFileRuns(null)),

        new("keyctl", [L.Seccomp],
            "the filter denies keyctl(2). Without it, the command gets the user keyring of the host's nobody, which every sandbox of a root caller shares: the keyring is not namespaced.",
            _ => Probe.Python("print(sc('keyctl', 0, -4, 0, 0, 0))"),
            DefaultRun("EPERM"),
            [new("without seccomp", (b, _) => b.WithoutSeccomp(), X("ok"))]),

        new("bpf", [L.Seccomp],
            "the filter denies bpf(2). Without it, the kernel parses the call (a malformed one gets EINVAL); a real array map is then up to kernel.unprivileged_bpf_disabled.",
            _ => Probe.Python("malformed = sc('bpf', 0, 0, 0)\narray = sc('bpf', 0, buf(struct.pack('IIII', 2, 4, 4, 1), 72), 72)\nprint(f'malformed call: {malformed}; array map: {array}')"),
            DefaultRun("malformed call: EPERM; array map: EPERM"),
            [new("without seccomp", (b, _) => b.WithoutSeccomp(), _ => $"malformed call: EINVAL; array map: {(HostSysctl("kernel.unprivileged_bpf_disabled") == "0" ? "ok" : "EPERM")}")]),

        new("perf_event_open", [L.Seccomp],
            "the filter denies perf_event_open(2). Without it, a user-space-only software counter on the command itself opens (kernel.perf_event_paranoid allows that up to 2).",
            _ => Probe.Python(PerfEvent),
            DefaultRun("EPERM"),
            [new("without seccomp", (b, _) => b.WithoutSeccomp(), _ => int.Parse(HostSysctl("kernel.perf_event_paranoid")) > 2 ? "EACCES" : "ok")],
            Unprovable: () => int.Parse(HostSysctl("kernel.perf_event_paranoid")) > 2 ? "kernel.perf_event_paranoid > 2 refuses every unprivileged perf_event_open" : null),

        new("userfaultfd", [L.Seccomp],
            "the filter denies userfaultfd(2). Without it, a user-mode-only userfaultfd opens (vm.unprivileged_userfaultfd refuses only kernel-mode faults).",
            _ => Probe.Python("print(sc('userfaultfd', os.O_CLOEXEC | 1))"),
            DefaultRun("EPERM"),
            [new("without seccomp", (b, _) => b.WithoutSeccomp(), X("ok"))]),

        new("io_uring", [L.Seccomp],
            "the filter denies io_uring_setup(2). Without it, a 4-entry ring is set up (kernel.io_uring_disabled is 0 here).",
            _ => Probe.Python("print(sc('io_uring_setup', 4, buf(b'', 120)))"),
            DefaultRun("EPERM"),
            [new("without seccomp", (b, _) => b.WithoutSeccomp(), _ => HostSysctl("kernel.io_uring_disabled") == "0" ? "ok" : "EPERM")],
            Unprovable: () => HostSysctl("kernel.io_uring_disabled") == "0" ? null : "kernel.io_uring_disabled refuses io_uring to the sandbox's user as well"),

        // ---- privileges and terminals ----
        new("setuid binary", [L.Mount, L.NoNewPrivs],
            "a non-root user (uid 1000, full id ranges) runs a setuid copy of id owned by the sandbox's root. Every mount the library makes is nosuid, so it cannot be relaxed from the builder; the runs that relax it let the command mount its own tmpfs without nosuid (CAP_SYS_ADMIN, CAP_CHOWN, CAP_FOWNER, no filter). Each layer alone keeps the euid at 1000; only with both relaxed does it become 0.",
            _ => Probe.Python(Setuid),
            new("default + uid 1000, setuid copy bound at /tmp/suid", (b, h) => SetuidSandbox(b, h), X("uid 1000 ran the setuid copy on a nosuid bind: euid 1000")),
            [
                new("with new privileges (nosuid alone)", (b, h) => SetuidSandbox(b, h).WithNewPrivileges(), X("uid 1000 ran the setuid copy on a nosuid bind: euid 1000")),
                new("own tmpfs without nosuid (no_new_privs alone)", (b, h) => SetuidSandbox(b, h).WithoutSeccomp().WithCapabilities(Capability.SysAdmin, Capability.Chown, Capability.Fowner),
                    X("uid 1000 ran the setuid copy on a tmpfs without nosuid: euid 1000")),
                new("own tmpfs without nosuid, with new privileges", (b, h) => SetuidSandbox(b, h).WithoutSeccomp().WithCapabilities(Capability.SysAdmin, Capability.Chown, Capability.Fowner).WithNewPrivileges(),
                    X("uid 1000 ran the setuid copy on a tmpfs without nosuid: euid 0")),
            ]),

        new("TIOCSTI into the caller's terminal", [L.Seccomp, L.Session],
            "standard input is a terminal that is the controlling terminal of another session (as a caller's shell's is). The filter denies TIOCSTI on any terminal; without the filter, the kernel still refuses it on a terminal that is not the command's controlling terminal, which the caller's never is: the command runs in a session of its own. The session cannot be relaxed; the control is a pty the command makes its own controlling terminal, where TIOCSTI works once the filter is gone.",
            _ => Probe.Python(Tiocsti),
            new("default + the caller's terminal as stdin", (b, h) => b.WithStandardInput(SandboxInput.FromFile(h.TerminalPath)), X("caller's terminal: EPERM; own terminal: EPERM; no input injected into the caller's terminal")),
            [new("without seccomp", (b, h) => b.WithStandardInput(SandboxInput.FromFile(h.TerminalPath)).WithoutSeccomp(), X("caller's terminal: EPERM; own terminal: ok; no input injected into the caller's terminal"))],
            HostState: h => h.TerminalState()),

        new("read the helper binary through /proc/1/exe", [L.Helper],
            "the sandbox's init (the helper) makes itself non-dumpable, so its /proc entries are refused to the command even though they share a uid; the command's own /proc/self/exe, the control, is readable. Nothing to relax.",
            _ => Probe.Python("exe = attempt(lambda: open('/proc/1/exe', 'rb').read(4))\nfds = attempt(lambda: os.listdir('/proc/1/fd'))\nown = attempt(lambda: open('/proc/self/exe', 'rb').read(4))\nprint(f'/proc/1/exe: {exe}; /proc/1/fd: {fds}; own /proc/self/exe: {own}')"),
            DefaultRun("/proc/1/exe: EACCES; /proc/1/fd: EACCES; own /proc/self/exe: ok"),
            [],
            Unprovable: () => "the helper's hardening has no switch; the control is the command's own, dumpable, /proc/self/exe"),
    ];

    private static SandboxBuilder SetuidSandbox(SandboxBuilder b, ContainmentHost h) =>
        b.WithUidMappings(ContainmentHost.FullRange).WithGidMappings(ContainmentHost.FullRange).WithUser(1000, 1000).WithBindMount(h.SetuidDirectory, "/tmp/suid");

    // Each process forks two children, six levels deep (126 processes), and every process waits
    // (on hold) until the first has counted. A process writes '+' when it starts and 'A' for each
    // fork refused with EAGAIN, then closes its copy of done: end of file on done means that every
    // process has finished forking, so the count is complete.
    private const string ForkBomb = """
        count_r, count_w = os.pipe()
        done_r, done_w = os.pipe()
        hold_r, hold_w = os.pipe()
        top = os.getpid()
        def grow(depth):
            for _ in range(2):
                try:
                    pid = os.fork()
                except BlockingIOError:
                    os.write(count_w, b'A')
                    continue
                if pid == 0:
                    os.write(count_w, b'+')
                    if os.getppid() == top:
                        os.close(hold_w)
                    if depth > 1:
                        grow(depth - 1)
                    os.close(done_w)
                    os.read(hold_r, 1)
                    os._exit(0)
        grow(6)
        os.close(done_w)
        os.read(done_r, 1)
        os.set_blocking(count_r, False)
        seen = os.read(count_r, 4096)
        created = seen.count(b'+')
        print(f'EAGAIN after {created} processes' if b'A' in seen else f'{created} processes, no EAGAIN')
        """;

    private const string FillTmp = """
        chunk, written, result = b'\0' * (1 << 20), 0, 'ok'
        with open('/tmp/fill', 'wb', buffering=0) as f:
            while written < 160 and result == 'ok':
                result = attempt(lambda: f.write(chunk))
                written += result == 'ok'
        print(f'{result} after {written} MiB')
        """;

    private const string ChrootEscape = """
        os.makedirs('/tmp/jail/x')
        os.chdir('/tmp/jail')
        r = sc('chroot', buf(b'/tmp/jail'))
        if r != 'ok':
            print(f'chroot {r}')
        else:
            sc('chroot', buf(b'x'))          # the working directory is now outside the root
            for _ in range(32):
                os.chdir('..')
            sc('chroot', buf(b'.'))
            escaped = 'yes' if os.path.isdir('/tmp/jail/x') else 'no'
            print(f"chroot ok; escaped: {escaped}; writing / then: {attempt(lambda: open('/escaped', 'w'))}")
        """;

    private const string NestedUserNamespace = """
        r = sc('unshare', 0x10000000 | 0x00020000)               # CLONE_NEWUSER | CLONE_NEWNS
        if r != 'ok':
            print(f'unshare {r}')
        else:
            remount = sc('mount', 0, buf(b'/'), 0, 0x20 | 0x1000, 0)  # MS_REMOUNT | MS_BIND, without MS_RDONLY
            print(f"unshare ok; remount / read-write {remount}; write /etc: {attempt(lambda: open('/etc/containment-escape', 'w'))}")
        """;

    private const string ByHandle = """
        def by_handle(path, mount):
            handle = buf(struct.pack('Ii', 128, 0), 8 + 128)       # struct file_handle, MAX_HANDLE_SZ
            mount_id = ctypes.c_int()
            r = sc('name_to_handle_at', -100, buf(path), handle, ctypes.addressof(mount_id), 0)
            if r != 'ok':
                return 'name_to_handle_at ' + r
            return sc('open_by_handle_at', os.open(mount, os.O_RDONLY), handle, os.O_RDONLY | os.O_DIRECTORY)
        os.mkdir('/tmp/d')
        print(f"own tmpfs: {by_handle(b'/tmp/d', '/tmp')}; host root: {by_handle(b'/etc', '/')}")
        """;

    private const string NetworkView = """
        interfaces = ' '.join(sorted(os.listdir('/sys/class/net')))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        print(f"interfaces: {interfaces}; route to 198.51.100.1: {attempt(lambda: udp.connect(('198.51.100.1', 9)))}")
        """;

    private const string PerfEvent = """
        attr = bytearray(136)                                       # struct perf_event_attr, PERF_ATTR_SIZE_VER8
        struct.pack_into('IIQ', attr, 0, 1, 136, 0)                 # PERF_TYPE_SOFTWARE, size, PERF_COUNT_SW_CPU_CLOCK
        struct.pack_into('Q', attr, 40, 1 | 1 << 5 | 1 << 6)        # disabled, exclude_kernel, exclude_hv
        print(sc('perf_event_open', buf(bytes(attr), 136), 0, -1, -1, 0))
        """;

    private const string Setuid = """
        import shutil, subprocess
        program, where = '/tmp/suid/id', 'setuid copy on a nosuid bind'
        os.mkdir('/tmp/s')
        if libc.mount(b'none', b'/tmp/s', b'tmpfs', 0, b'mode=0755') == 0:
            shutil.copy(program, '/tmp/s/id')
            os.chown('/tmp/s/id', 0, 0)
            os.chmod('/tmp/s/id', 0o4755)                            # after chown, which clears it
            program, where = '/tmp/s/id', 'setuid copy on a tmpfs without nosuid'
        euid = subprocess.run([program, '-u'], capture_output=True, text=True).stdout.strip()
        print(f'uid {os.getuid()} ran the {where}: euid {euid}')
        """;

    private const string Tiocsti = """
        import fcntl, pty, termios
        def inject(fd):
            return attempt(lambda: fcntl.ioctl(fd, termios.TIOCSTI, b'x'))
        caller = inject(0)
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            master, terminal = pty.openpty()
            attempt(lambda: fcntl.ioctl(terminal, termios.TIOCSCTTY, 0))
            os.write(w, inject(terminal).encode())
            os._exit(0)
        os.wait()
        print(f"caller's terminal: {caller}; own terminal: {os.read(r, 64).decode()}")
        """;
}
