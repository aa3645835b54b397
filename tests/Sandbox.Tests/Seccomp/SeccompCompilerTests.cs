using Sandboxing.Seccomp;
using static Sandboxing.Seccomp.SeccompComparison;

namespace Sandboxing.Tests.Seccomp;

/// <summary>The compiled programs, run through <see cref="BpfInterpreter"/>.</summary>
public class SeccompCompilerTests
{
    private const int X64Read = 0, X64Getpid = 39, X64Ioctl = 16, X64Write = 1, X64ExitGroup = 231;
    private const int Arm64Read = 63, Arm64Getpid = 172;

    private static uint Run(SeccompPolicy policy, SeccompData data, SeccompArchitecture arch = SeccompArchitecture.X64) =>
        BpfInterpreter.Run(SeccompCompiler.Compile(policy, arch), data);

    [Fact]
    public void The_smallest_program_checks_the_architecture_and_the_x32_bit_then_allows()
    {
        byte[] program = SeccompCompiler.Compile(SeccompPolicy.AllowAll, SeccompArchitecture.X64);
        Assert.Equal(
            new BpfInterpreter.Instruction[]
            {
                new(0x20, 0, 0, 4),             // ld [arch]
                new(0x15, 1, 0, 0xC000003E),    // jeq AUDIT_ARCH_X86_64
                new(0x06, 0, 0, 0x80000000),    // ret KILL_PROCESS
                new(0x20, 0, 0, 0),             // ld [nr]
                new(0x45, 0, 1, 0x40000000),    // jset __X32_SYSCALL_BIT
                new(0x06, 0, 0, 0x00050026),    // ret ERRNO(ENOSYS)
                new(0x06, 0, 0, 0x7fff0000),    // ret ALLOW
            },
            BpfInterpreter.Decode(program));
        // struct sock_filter, little-endian: u16 code, u8 jt, u8 jf, u32 k.
        Assert.Equal(new byte[] { 0x15, 0x00, 0x01, 0x00, 0x3E, 0x00, 0x00, 0xC0 }, program[8..16]);
    }

    [Fact]
    public void Compile_without_an_architecture_targets_the_running_process()
    {
        var expected = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64
            ? SeccompArchitecture.Arm64 : SeccompArchitecture.X64;
        Assert.Equal(SeccompCompiler.Compile(SeccompPolicy.Default, expected), SeccompCompiler.Compile(SeccompPolicy.Default));
    }

    [Fact]
    public void Only_the_native_architecture_gets_past_the_first_check()
    {
        var policy = SeccompPolicy.AllowAll;
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Read)));
        // i386 through int 0x80 on x86_64: number 20 is getpid there, and would dodge x86_64 rules.
        Assert.Equal(Verdicts.KillProcess, Run(policy, new SeccompData(SeccompData.AuditArchI386, 20)));
        Assert.Equal(Verdicts.KillProcess, Run(policy, SeccompData.Arm64(Arm64Read)));

        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.Arm64(Arm64Read), SeccompArchitecture.Arm64));
        Assert.Equal(Verdicts.KillProcess, Run(policy, SeccompData.X64(X64Read), SeccompArchitecture.Arm64));
        Assert.Equal(Verdicts.KillProcess, Run(policy, new SeccompData(0x40000028 /* AUDIT_ARCH_ARM */, 20), SeccompArchitecture.Arm64));
    }

    [Theory]
    [InlineData(0x40000000u)]           // x32 read
    [InlineData(0x40000000u + 39)]      // x32 getpid
    [InlineData(0x40000000u + 514)]     // x32 ioctl, numbered apart
    [InlineData(0xffffffffu)]           // -1, as a tracer skipping a call sets it
    public void X32_calls_fail_with_ENOSYS_on_x86_64_whatever_the_rules(uint nr)
    {
        var policy = SeccompPolicy.AllowAll.WithDefaultAction(SeccompAction.KillProcess).Allow("read").Allow("getpid");
        Assert.Equal(Verdicts.Errno(Verdicts.Enosys), Run(policy, new SeccompData(SeccompData.AuditArchX86_64, nr)));
        // aarch64 has no such ABI: the bit is just part of an unknown number there.
        Assert.Equal(Verdicts.KillProcess, Run(policy, new SeccompData(SeccompData.AuditArchAarch64, nr), SeccompArchitecture.Arm64));
    }

    [Fact]
    public void A_default_kill_policy_allows_only_its_rules()
    {
        var policy = new SeccompPolicy { DefaultAction = SeccompAction.KillProcess }
            .Allow("read").Allow("write").Allow("exit_group");
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Read)));
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Write)));
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64ExitGroup)));
        Assert.Equal(Verdicts.KillProcess, Run(policy, SeccompData.X64(X64Getpid)));
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.Arm64(Arm64Read), SeccompArchitecture.Arm64));
        Assert.Equal(Verdicts.KillProcess, Run(policy, SeccompData.Arm64(Arm64Getpid), SeccompArchitecture.Arm64));
    }

    [Theory]
    [InlineData(SeccompAction.Allow, 0, Verdicts.Allow)]
    [InlineData(SeccompAction.Errno, 13, 0x0005000Du)]
    [InlineData(SeccompAction.Errno, 0, 0x00050000u)]
    [InlineData(SeccompAction.Errno, 4095, 0x00050FFFu)]
    [InlineData(SeccompAction.KillProcess, 0, Verdicts.KillProcess)]
    [InlineData(SeccompAction.KillThread, 0, Verdicts.KillThread)]
    [InlineData(SeccompAction.Trap, 0, Verdicts.Trap)]
    [InlineData(SeccompAction.Log, 0, Verdicts.Log)]
    public void Each_action_returns_its_kernel_value_from_a_rule_and_as_the_default(SeccompAction action, int errno, uint expected)
    {
        var asRule = SeccompPolicy.AllowAll.WithRule(new SeccompRule("getpid", action) { Errno = errno });
        Assert.Equal(expected, Run(asRule, SeccompData.X64(X64Getpid)));
        Assert.Equal(Verdicts.Allow, Run(asRule, SeccompData.X64(X64Read)));

        var asDefault = SeccompPolicy.AllowAll.WithDefaultAction(action, errno).Allow("read");
        Assert.Equal(expected, Run(asDefault, SeccompData.X64(X64Getpid)));
        Assert.Equal(Verdicts.Allow, Run(asDefault, SeccompData.X64(X64Read)));
    }

    [Fact]
    public void The_first_matching_rule_wins()
    {
        var denyFirst = SeccompPolicy.AllowAll.Deny("getpid", 5).Allow("getpid");
        var allowFirst = SeccompPolicy.AllowAll.Allow("getpid").Deny("getpid", 5);
        Assert.Equal(Verdicts.Errno(5), Run(denyFirst, SeccompData.X64(X64Getpid)));
        Assert.Equal(Verdicts.Allow, Run(allowFirst, SeccompData.X64(X64Getpid)));

        // A rule whose conditions fail passes the call on to the next rule.
        var conditional = new SeccompPolicy { DefaultAction = SeccompAction.KillProcess }
            .Allow("ioctl", new SeccompArgumentCondition(1, Equal, 1))
            .Deny("ioctl", 7, new SeccompArgumentCondition(1, Equal, 2))
            .Deny("ioctl", 8)
            .Allow("getpid");
        Assert.Equal(Verdicts.Allow, Run(conditional, SeccompData.X64(X64Ioctl, 0, 1)));
        Assert.Equal(Verdicts.Errno(7), Run(conditional, SeccompData.X64(X64Ioctl, 0, 2)));
        Assert.Equal(Verdicts.Errno(8), Run(conditional, SeccompData.X64(X64Ioctl, 0, 3)));
        Assert.Equal(Verdicts.Allow, Run(conditional, SeccompData.X64(X64Getpid)));
        Assert.Equal(Verdicts.KillProcess, Run(conditional, SeccompData.X64(X64Read)));
    }

    [Fact]
    public void Conditions_of_one_rule_are_ANDed()
    {
        var policy = SeccompPolicy.AllowAll.Deny("ioctl", 9,
            new SeccompArgumentCondition(0, Equal, 3),
            new SeccompArgumentCondition(2, GreaterThan, 10),
            new SeccompArgumentCondition(2, LessOrEqual, 20));
        Assert.Equal(Verdicts.Errno(9), Run(policy, SeccompData.X64(X64Ioctl, 3, 0, 15)));
        Assert.Equal(Verdicts.Errno(9), Run(policy, SeccompData.X64(X64Ioctl, 3, 0, 20)));
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Ioctl, 4, 0, 15)));
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Ioctl, 3, 0, 10)));
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Ioctl, 3, 0, 21)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void A_condition_reads_the_argument_it_names(int index)
    {
        var policy = SeccompPolicy.AllowAll.Deny("getpid", new SeccompArgumentCondition(index, Equal, 0x1234_5678_9abc_def0));
        var args = new ulong[6];
        Array.Fill(args, 0x1234_5678_9abc_def0UL ^ 1);
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Getpid, args)));
        args[index] = 0x1234_5678_9abc_def0;
        Assert.Equal(Verdicts.Errno(Verdicts.Eperm), Run(policy, SeccompData.X64(X64Getpid, args)));
    }

    [Theory]
    [InlineData(Equal, 0x1_0000_0005UL, 0x1_0000_0005UL, true)]
    [InlineData(Equal, 0x1_0000_0005UL, 0x2_0000_0005UL, false)]
    [InlineData(Equal, 0x5UL, 0xffff_ffff_0000_0005UL, false)]
    [InlineData(NotEqual, 0x1_0000_0005UL, 0x2_0000_0005UL, true)]
    [InlineData(NotEqual, 0x1_0000_0005UL, 0x1_0000_0005UL, false)]
    [InlineData(GreaterThan, 0x1_0000_0000UL, 0x0_ffff_ffffUL, false)]
    [InlineData(GreaterThan, 0x1_0000_0000UL, 0x1_0000_0001UL, true)]
    [InlineData(GreaterThan, 0x1_0000_0005UL, 0x2_0000_0000UL, true)]
    [InlineData(GreaterOrEqual, 0x2_0000_0000UL, 0x1_ffff_ffffUL, false)]
    [InlineData(LessThan, 0x1_0000_0000UL, 0x0_ffff_ffffUL, true)]
    [InlineData(LessThan, 0x1_0000_0005UL, 0x2_0000_0000UL, false)]
    [InlineData(LessOrEqual, 0x1_0000_0005UL, 0x1_0000_0005UL, true)]
    [InlineData(LessOrEqual, 0x1_0000_0005UL, 0x1_0000_0006UL, false)]
    public void Sixty_four_bit_comparisons_look_at_both_halves(SeccompComparison op, ulong value, ulong argument, bool matches)
    {
        var policy = SeccompPolicy.AllowAll.Deny("getpid", new SeccompArgumentCondition(0, op, value));
        Assert.Equal(matches ? Verdicts.Errno(Verdicts.Eperm) : Verdicts.Allow, Run(policy, SeccompData.X64(X64Getpid, argument)));
    }

    [Fact]
    public void A_32_bit_condition_ignores_the_upper_half()
    {
        var policy = SeccompPolicy.AllowAll.Deny("ioctl", new SeccompArgumentCondition(1, Equal, 0x5412, Is32Bit: true));
        Assert.Equal(Verdicts.Errno(Verdicts.Eperm), Run(policy, SeccompData.X64(X64Ioctl, 0, 0x5412)));
        Assert.Equal(Verdicts.Errno(Verdicts.Eperm), Run(policy, SeccompData.X64(X64Ioctl, 0, 0xdead_beef_0000_5412)));
        Assert.Equal(Verdicts.Allow, Run(policy, SeccompData.X64(X64Ioctl, 0, 0x5412_0000_0000)));

        // Without Is32Bit, garbage in the upper half gets an int argument past an equality test.
        var naive = SeccompPolicy.AllowAll.Deny("ioctl", new SeccompArgumentCondition(1, Equal, 0x5412));
        Assert.Equal(Verdicts.Allow, Run(naive, SeccompData.X64(X64Ioctl, 0, 0xdead_beef_0000_5412)));
    }

    /// <summary>
    /// Every comparison, masked or not, 32 or 64 bits, against a plain C# evaluation, on values
    /// chosen to sit on the boundaries of each half.
    /// </summary>
    [Fact]
    public void Every_comparison_agrees_with_a_reference_evaluation()
    {
        ulong[] interesting =
        [
            0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, 0x1_ffff_ffff,
            0x2_0000_0000, 0x8000_0000_0000_0000, 0xffff_ffff_0000_0000, 0xffff_ffff_ffff_fffe, ulong.MaxValue,
            0x1234_5678_9abc_def0, 0x0000_5412, 0xdead_beef_0000_5412,
        ];
        ulong[] masks = [ulong.MaxValue, 0xffff_ffff, 0xffff_ffff_0000_0000, 0x1000_0000, 0x0f0f_0f0f_0f0f_0f0f];
        var random = new Random(20240229);
        var arguments = interesting.Concat(Enumerable.Range(0, 40).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63))).ToArray();
        int checkedCases = 0;
        foreach (SeccompComparison op in Enum.GetValues<SeccompComparison>())
        foreach (bool is32Bit in new[] { false, true })
        foreach (ulong mask in masks)
        foreach (ulong rawValue in interesting)
        {
            ulong value = rawValue & mask & (is32Bit ? 0xffff_ffffUL : ulong.MaxValue);
            var condition = new SeccompArgumentCondition(3, op, value, mask, is32Bit);
            byte[] program = SeccompCompiler.Compile(SeccompPolicy.AllowAll.Deny("getpid", condition), SeccompArchitecture.X64);
            foreach (ulong argument in arguments)
            {
                bool expected = Evaluate(op, argument, value, mask, is32Bit);
                uint verdict = BpfInterpreter.Run(program, SeccompData.X64(X64Getpid, 0, 0, 0, argument));
                Assert.True((expected ? Verdicts.Errno(Verdicts.Eperm) : Verdicts.Allow) == verdict,
                    $"{condition} with arg3 = 0x{argument:x}: expected {(expected ? "a match" : "no match")}");
                checkedCases++;
            }
        }
        Assert.True(checkedCases > 20_000);
    }

    private static bool Evaluate(SeccompComparison op, ulong argument, ulong value, ulong mask, bool is32Bit)
    {
        ulong a = argument & mask;
        if (is32Bit)
            a &= 0xffff_ffff;
        return op switch
        {
            Equal or MaskedEqual => a == value,
            NotEqual => a != value,
            GreaterThan => a > value,
            GreaterOrEqual => a >= value,
            LessThan => a < value,
            LessOrEqual => a <= value,
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    [Fact]
    public void Five_hundred_conditional_rules_still_decide_correctly()
    {
        var policy = new SeccompPolicy { DefaultAction = SeccompAction.KillProcess }.Allow("read");
        for (int i = 0; i < 500; i++)
            policy = policy.Deny("ioctl", i + 1, new SeccompArgumentCondition(1, Equal, (ulong)i * 3, Is32Bit: true));
        policy = policy.Allow("getpid");
        byte[] program = SeccompCompiler.Compile(policy, SeccompArchitecture.X64);
        int length = program.Length / 8;
        Assert.InRange(length, 2000, 4096); // far past one jump's reach of 255

        Assert.Equal(Verdicts.Allow, BpfInterpreter.Run(program, SeccompData.X64(X64Read)));
        Assert.Equal(Verdicts.Allow, BpfInterpreter.Run(program, SeccompData.X64(X64Getpid)));
        for (int i = 0; i < 500; i += 7)
            Assert.Equal(Verdicts.Errno(i + 1), BpfInterpreter.Run(program, SeccompData.X64(X64Ioctl, 0, (ulong)i * 3)));
        Assert.Equal(Verdicts.Errno(500), BpfInterpreter.Run(program, SeccompData.X64(X64Ioctl, 0, 499 * 3)));
        Assert.Equal(Verdicts.KillProcess, BpfInterpreter.Run(program, SeccompData.X64(X64Ioctl, 0, 1)));
        Assert.Equal(Verdicts.KillProcess, BpfInterpreter.Run(program, SeccompData.X64(X64Write)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_rule_for_every_known_call_gives_each_its_own_errno(bool x64)
    {
        var arch = x64 ? SeccompArchitecture.X64 : SeccompArchitecture.Arm64;
        var names = SeccompSyscalls.Names.Order(StringComparer.Ordinal).ToArray();
        var policy = new SeccompPolicy { DefaultAction = SeccompAction.KillProcess };
        policy = policy.WithRules(names.Select((name, i) => new SeccompRule(name, SeccompAction.Errno) { Errno = i + 1 }));
        byte[] program = SeccompCompiler.Compile(policy, arch);
        uint auditArch = arch == SeccompArchitecture.X64 ? SeccompData.AuditArchX86_64 : SeccompData.AuditArchAarch64;
        int present = 0;
        for (int i = 0; i < names.Length; i++)
        {
            if (!SeccompSyscalls.TryGetNumber(names[i], arch, out int nr))
                continue;
            present++;
            Assert.Equal(Verdicts.Errno(i + 1), BpfInterpreter.Run(program, new SeccompData(auditArch, (uint)nr)));
        }
        Assert.True(present > 300);
        Assert.Equal(Verdicts.KillProcess, BpfInterpreter.Run(program, new SeccompData(auditArch, 1000)));
    }

    [Fact]
    public void A_policy_too_large_for_the_kernel_is_refused()
    {
        var policy = SeccompPolicy.AllowAll.WithRules(Enumerable.Range(0, 1000).Select(i =>
            new SeccompRule("ioctl", SeccompAction.Errno, new SeccompArgumentCondition(1, Equal, (ulong)i))));
        var e = Assert.Throws<ArgumentException>(() => SeccompCompiler.Compile(policy, SeccompArchitecture.X64));
        Assert.Contains("4096", e.Message);
    }

    [Fact]
    public void A_call_missing_on_one_architecture_is_skipped_there()
    {
        var policy = SeccompPolicy.AllowAll.Deny("open").Deny("iopl");
        Assert.Equal(SeccompCompiler.Compile(SeccompPolicy.AllowAll, SeccompArchitecture.Arm64), SeccompCompiler.Compile(policy, SeccompArchitecture.Arm64));
        Assert.Equal(Verdicts.Errno(Verdicts.Eperm), Run(policy, SeccompData.X64(2)));
        Assert.Equal(Verdicts.Errno(Verdicts.Eperm), Run(policy, SeccompData.X64(172)));
    }

    [Fact]
    public void LogDenied_becomes_the_log_flag_and_leaves_the_program_alone()
    {
        Assert.Equal(0u, SeccompCompiler.FilterFlags(SeccompPolicy.Default));
        Assert.Equal(2u, SeccompCompiler.FilterFlags(SeccompPolicy.Default.WithLogDenied())); // SECCOMP_FILTER_FLAG_LOG
        Assert.Equal(SeccompCompiler.Compile(SeccompPolicy.Default, SeccompArchitecture.X64),
            SeccompCompiler.Compile(SeccompPolicy.Default.WithLogDenied(), SeccompArchitecture.X64));
    }
}
