using System.Text.RegularExpressions;
using Sandboxing.Seccomp;
using Xunit.Abstractions;

namespace Sandboxing.Tests.Seccomp;

/// <summary>
/// <see cref="SeccompPolicy.Default"/>'s decisions, by system call number on both
/// architectures. The numbers are copied from asm/unistd_64.h and asm-generic/unistd.h (which
/// aarch64 uses), not taken from the library's table, so a wrong table shows up here.
/// </summary>
public partial class SeccompDefaultPolicyTests(ITestOutputHelper output)
{
    private static readonly byte[] X64Program = SeccompCompiler.Compile(SeccompPolicy.Default, SeccompArchitecture.X64);
    private static readonly byte[] Arm64Program = SeccompCompiler.Compile(SeccompPolicy.Default, SeccompArchitecture.Arm64);

    // (x86_64, aarch64) numbers
    private static readonly (int X64, int Arm64) Clone = (56, 220), Clone3 = (435, 435), Unshare = (272, 97),
        Ioctl = (16, 29), Socket = (41, 198), Personality = (135, 92);

    private static uint X64(int nr, params ulong[] args) => BpfInterpreter.Run(X64Program, SeccompData.X64(nr, args));

    private static uint Arm64(int nr, params ulong[] args) => BpfInterpreter.Run(Arm64Program, SeccompData.Arm64(nr, args));

    /// <summary>Asserts the verdict for one call on both architectures.</summary>
    private static void Both((int X64, int Arm64) nr, uint expected, params ulong[] args)
    {
        Assert.Equal(expected, X64(nr.X64, args));
        Assert.Equal(expected, Arm64(nr.Arm64, args));
    }

    [Theory]
    [InlineData("kexec_load", 246, 104)]
    [InlineData("kexec_file_load", 320, 294)]
    [InlineData("init_module", 175, 105)]
    [InlineData("finit_module", 313, 273)]
    [InlineData("delete_module", 176, 106)]
    [InlineData("reboot", 169, 142)]
    [InlineData("swapon", 167, 224)]
    [InlineData("swapoff", 168, 225)]
    [InlineData("mount", 165, 40)]
    [InlineData("umount2", 166, 39)]
    [InlineData("pivot_root", 155, 41)]
    [InlineData("move_mount", 429, 429)]
    [InlineData("open_tree", 428, 428)]
    [InlineData("open_tree_attr", 467, 467)]
    [InlineData("fsopen", 430, 430)]
    [InlineData("fsconfig", 431, 431)]
    [InlineData("fsmount", 432, 432)]
    [InlineData("fspick", 433, 433)]
    [InlineData("mount_setattr", 442, 442)]
    [InlineData("keyctl", 250, 219)]
    [InlineData("add_key", 248, 217)]
    [InlineData("request_key", 249, 218)]
    [InlineData("bpf", 321, 280)]
    [InlineData("perf_event_open", 298, 241)]
    [InlineData("userfaultfd", 323, 282)]
    [InlineData("io_uring_setup", 425, 425)]
    [InlineData("io_uring_enter", 426, 426)]
    [InlineData("io_uring_register", 427, 427)]
    [InlineData("setns", 308, 268)]
    [InlineData("acct", 163, 89)]
    [InlineData("lookup_dcookie", 212, 18)]
    [InlineData("quotactl", 179, 60)]
    [InlineData("quotactl_fd", 443, 443)]
    [InlineData("nfsservctl", 180, 42)]
    [InlineData("uselib", 134, -1)]
    [InlineData("ustat", 136, -1)]
    [InlineData("sysfs", 139, -1)]
    [InlineData("_sysctl", 156, -1)]
    [InlineData("get_kernel_syms", 177, -1)]
    [InlineData("query_module", 178, -1)]
    [InlineData("create_module", 174, -1)]
    [InlineData("iopl", 172, -1)]
    [InlineData("ioperm", 173, -1)]
    [InlineData("settimeofday", 164, 170)]
    [InlineData("clock_settime", 227, 112)]
    [InlineData("clock_adjtime", 305, 266)]
    [InlineData("adjtimex", 159, 171)]
    [InlineData("syslog", 103, 116)]
    [InlineData("vhangup", 153, 58)]
    [InlineData("open_by_handle_at", 304, 265)]
    [InlineData("mbind", 237, 235)]
    [InlineData("set_mempolicy", 238, 237)]
    [InlineData("set_mempolicy_home_node", 450, 450)]
    [InlineData("migrate_pages", 256, 238)]
    [InlineData("move_pages", 279, 239)]
    [InlineData("fanotify_init", 300, 262)]
    public void Each_default_denial_fails_with_EPERM(string name, int x64, int arm64)
    {
        Assert.Contains(SeccompPolicy.Default.Rules, r => r.Syscall == name && r.Action == SeccompAction.Errno && r.Errno == Verdicts.Eperm && r.Conditions.IsEmpty);
        Assert.Equal(Verdicts.Errno(Verdicts.Eperm), X64(x64, 1, 2, 3));
        if (arm64 >= 0)
            Assert.Equal(Verdicts.Errno(Verdicts.Eperm), Arm64(arm64, 1, 2, 3));
        else
            Assert.False(SeccompSyscalls.TryGetNumber(name, SeccompArchitecture.Arm64, out _), $"{name} exists on aarch64 after all");
    }

    [Theory]
    [InlineData("ptrace", 101, 117)]            // allowed as docker does on 4.8+: no capabilities, own PID namespace
    [InlineData("chroot", 161, 51)]             // needs CAP_SYS_CHROOT, which the command lacks
    [InlineData("name_to_handle_at", 303, 264)] // only open_by_handle_at is dangerous
    [InlineData("kcmp", 312, 272)]
    [InlineData("process_vm_readv", 310, 270)]
    [InlineData("process_vm_writev", 311, 271)]
    [InlineData("pidfd_getfd", 438, 438)]
    [InlineData("read", 0, 63)]
    [InlineData("openat", 257, 56)]
    [InlineData("getpid", 39, 172)]
    [InlineData("execve", 59, 221)]
    [InlineData("exit_group", 231, 94)]
    [InlineData("landlock_create_ruleset", 444, 444)]
    [InlineData("memfd_secret", 447, 447)]
    public void Ordinary_and_deliberately_allowed_calls_are_allowed(string name, int x64, int arm64)
    {
        Assert.DoesNotContain(SeccompPolicy.Default.Rules, r => r.Syscall == name);
        Both((x64, arm64), Verdicts.Allow, 0xffff_ffff_ffff_ffff, 7);
    }

    [Fact]
    public void Open_is_allowed_where_it_exists()
    {
        Assert.Equal(Verdicts.Allow, X64(2));
        Assert.Equal(Verdicts.Allow, X64(1000)); // a number from the future: allowed by default
        Assert.Equal(Verdicts.Allow, Arm64(1000));
    }

    [Fact]
    public void The_i386_and_x32_ABIs_are_refused()
    {
        Assert.Equal(Verdicts.KillProcess, BpfInterpreter.Run(X64Program, new SeccompData(SeccompData.AuditArchI386, 20)));
        Assert.Equal(Verdicts.Errno(Verdicts.Enosys), X64(0x40000000 + 39));
        Assert.Equal(Verdicts.KillProcess, BpfInterpreter.Run(Arm64Program, new SeccompData(0x40000028, 20))); // 32-bit arm
    }

    [Fact]
    public void Clone_creating_a_user_namespace_is_refused_and_other_clones_allowed()
    {
        const ulong sigchld = 17, cloneNewUser = 0x10000000, cloneNewNs = 0x00020000, threadFlags = 0x003d0f00;
        Both(Clone, Verdicts.Allow, sigchld);
        Both(Clone, Verdicts.Allow, threadFlags);
        Both(Clone, Verdicts.Allow, cloneNewNs | sigchld); // fails with EPERM anyway without CAP_SYS_ADMIN
        Both(Clone, Verdicts.Errno(Verdicts.Eperm), cloneNewUser | sigchld);
        Both(Clone, Verdicts.Errno(Verdicts.Eperm), cloneNewUser | cloneNewNs);
        Both(Clone, Verdicts.Errno(Verdicts.Eperm), 0xffff_ffff_0000_0000 | cloneNewUser);
        Both(Clone, Verdicts.Allow, 0xffff_ffff_0000_0000 | sigchld);

        Both(Unshare, Verdicts.Errno(Verdicts.Eperm), cloneNewUser);
        Both(Unshare, Verdicts.Errno(Verdicts.Eperm), ulong.MaxValue);
        Both(Unshare, Verdicts.Allow, cloneNewNs);

        // clone3's flags are in memory, out of seccomp's reach: ENOSYS sends glibc back to clone.
        Both(Clone3, Verdicts.Errno(Verdicts.Enosys), 0x7ffd_0000_1000, 88);
        Both(Clone3, Verdicts.Errno(Verdicts.Enosys));
    }

    [Theory]
    [InlineData(0x5412UL)]                  // TIOCSTI
    [InlineData(0x541CUL)]                  // TIOCLINUX
    [InlineData(0xdead_beef_0000_5412UL)]   // TIOCSTI with garbage above: the kernel truncates to 32 bits
    [InlineData(0xffff_ffff_0000_541CUL)]
    [InlineData(0x1_0000_5412UL)]
    public void Terminal_injection_ioctls_are_refused_whatever_the_upper_half(ulong request) =>
        Both(Ioctl, Verdicts.Errno(Verdicts.Eperm), 0, request);

    [Theory]
    [InlineData(0x5401UL)]                  // TCGETS
    [InlineData(0x5413UL)]                  // TIOCGWINSZ
    [InlineData(0x541BUL)]                  // FIONREAD
    [InlineData(0x5412_0000_0000UL)]        // 0x5412 in the upper half only: the kernel sees request 0
    [InlineData(0x8004_5412UL)]
    public void Other_ioctls_are_allowed(ulong request) =>
        Both(Ioctl, Verdicts.Allow, 0, request);

    [Theory]
    [InlineData(8)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(20)]
    [InlineData(23)]
    [InlineData(24)]
    [InlineData(25)]
    [InlineData(26)]
    [InlineData(29)]
    [InlineData(30)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(34)]
    [InlineData(35)]
    [InlineData(36)]
    [InlineData(37)]
    [InlineData(38)]
    [InlineData(39)]
    [InlineData(40)]
    [InlineData(41)]
    [InlineData(42)]
    [InlineData(43)]
    [InlineData(44)]
    [InlineData(45)]
    public void Exotic_socket_families_fail_with_EAFNOSUPPORT(ulong family)
    {
        Both(Socket, Verdicts.Errno(Verdicts.Eafnosupport), family, 1, 0);
        Both(Socket, Verdicts.Errno(Verdicts.Eafnosupport), 0xffff_ffff_0000_0000 | family, 1, 0);
    }

    [Theory]
    [InlineData(1)]     // AF_UNIX
    [InlineData(2)]     // AF_INET
    [InlineData(10)]    // AF_INET6
    [InlineData(16)]    // AF_NETLINK, for ip and iproute2
    [InlineData(46)]    // beyond the list
    public void Ordinary_socket_families_are_allowed(ulong family) =>
        Both(Socket, Verdicts.Allow, family, 1, 0);

    [Theory]
    [InlineData(0x0UL, true)]                   // PER_LINUX
    [InlineData(0x8UL, true)]                   // PER_LINUX32
    [InlineData(0x20000UL, true)]               // UNAME26
    [InlineData(0x20008UL, true)]               // PER_LINUX32 | UNAME26
    [InlineData(0xffffffffUL, true)]            // query
    [InlineData(0xffff_ffff_ffff_ffffUL, true)] // personality(-1) through an int: the kernel sees 0xffffffff
    [InlineData(0x0040000UL, false)]            // ADDR_NO_RANDOMIZE
    [InlineData(0x0400000UL, false)]            // READ_IMPLIES_EXEC
    [InlineData(0x1UL, false)]
    [InlineData(0x1_0040_0000UL, false)]
    public void Personality_allows_only_dockers_values(ulong persona, bool allowed) =>
        Both(Personality, allowed ? Verdicts.Allow : Verdicts.Errno(Verdicts.Eperm), persona);

    [Fact]
    public void The_default_program_fits_comfortably()
    {
        int x64 = X64Program.Length / 8, arm64 = Arm64Program.Length / 8;
        output.WriteLine($"SeccompPolicy.Default: {SeccompPolicy.Default.Rules.Length} rules, {x64} BPF instructions on x86_64, {arm64} on aarch64");
        Assert.InRange(x64, 100, 512);
        Assert.InRange(arm64, 100, x64);
        BpfInterpreter.Check(X64Program);
        BpfInterpreter.Check(Arm64Program);
    }

    [Fact]
    public void Calls_without_conditional_rules_have_a_constant_verdict_the_kernel_can_cache()
    {
        // seccomp's action cache (Linux 5.11) emulates the filter for each number with the
        // arguments unknown, and skips the filter for numbers that are always allowed. It gives
        // up at any load other than nr and arch, so rules with conditions must not make every
        // other call load an argument.
        string[] conditional = ["clone", "ioctl", "personality", "socket", "unshare"];
        Assert.Equal(conditional, SeccompPolicy.Default.Rules.Where(r => !r.Conditions.IsEmpty).Select(r => r.Syscall).Distinct().Order(StringComparer.Ordinal));
        foreach (var (arch, program, auditArch) in new[]
        {
            (SeccompArchitecture.X64, X64Program, SeccompData.AuditArchX86_64),
            (SeccompArchitecture.Arm64, Arm64Program, SeccompData.AuditArchAarch64),
        })
        {
            var conditionalNumbers = conditional.Select(n => SeccompSyscalls.TryGetNumber(n, arch, out int nr) ? nr : -1).ToHashSet();
            for (int nr = 0; nr < 600; nr++)
            {
                uint? constant = BpfInterpreter.ConstantVerdict(program, new SeccompData(auditArch, (uint)nr));
                if (conditionalNumbers.Contains(nr))
                    Assert.Null(constant);
                else
                    Assert.True(constant is Verdicts.Allow or 0x00050001u or 0x00050026u, $"{arch} call {nr}: {constant:x}");
            }
        }
    }

    [GeneratedRegex(@"^\| `(\w+)` \|", RegexOptions.Multiline)]
    private static partial Regex DocumentedCall();

    [Fact]
    public void Every_denial_is_documented_in_docs_seccomp_md()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "docs", "seccomp.md")))
            dir = Path.GetDirectoryName(dir);
        Assert.True(dir is not null, "docs/seccomp.md not found above the test binary");
        string doc = File.ReadAllText(Path.Combine(dir, "docs", "seccomp.md"));
        var documented = DocumentedCall().Matches(doc).Select(m => m.Groups[1].Value).ToHashSet();
        var denied = SeccompPolicy.Default.Rules.Where(r => r.Action != SeccompAction.Allow).Select(r => r.Syscall).ToHashSet();
        Assert.Empty(denied.Except(documented));
        Assert.Empty(documented.Except(denied).Except(["ptrace", "chroot", "name_to_handle_at", "kcmp", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "umount", "stime", "vm86", "vm86old", "lsm_set_self_attr"]));
    }
}
