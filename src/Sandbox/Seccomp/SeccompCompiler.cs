namespace Sandboxing.Seccomp;

/// <summary>
/// Compiles a <see cref="SeccompPolicy"/> to the classic BPF program that
/// <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> installs. The program, in order:
/// <list type="number">
/// <item>kills the process unless <c>seccomp_data.arch</c> is the native ABI's (this refuses
/// i386 calls made through <c>int 0x80</c> on x86_64, whose numbers mean other calls);</item>
/// <item>on x86_64, fails x32 calls (<c>nr &amp; __X32_SYSCALL_BIT</c>) with ENOSYS;</item>
/// <item>tries each rule in order, the first match deciding;</item>
/// <item>returns the default action.</item>
/// </list>
/// Each rule is a block that starts with a test of the call's number and jumps only within
/// itself, so no jump is longer than one rule however many rules there are, and calls that no
/// conditional rule names never load an argument: the kernel (5.11+) then proves them constant
/// and skips the filter for them entirely (seccomp's action cache).
/// </summary>
internal static class SeccompCompiler
{
    /// <summary>__X32_SYSCALL_BIT: x32 calls are numbered from here on x86_64.</summary>
    public const uint X32SyscallBit = 0x40000000;

    /// <summary>The program for the running process's architecture, as <c>struct sock_filter</c> bytes.</summary>
    /// <exception cref="ArgumentException">The policy is invalid, or compiles to more than 4096 instructions.</exception>
    /// <exception cref="PlatformNotSupportedException">The process is neither x86_64 nor aarch64.</exception>
    public static byte[] Compile(SeccompPolicy policy) => Compile(policy, SeccompArchitectures.Native);

    /// <summary>The program for <paramref name="arch"/>, as <c>struct sock_filter</c> bytes.</summary>
    /// <exception cref="ArgumentException">The policy is invalid, or compiles to more than 4096 instructions.</exception>
    internal static byte[] Compile(SeccompPolicy policy, SeccompArchitecture arch)
    {
        BpfInstruction[] program = Assemble(policy, arch);
        if (program.Length > Bpf.MaxInstructions)
            throw new ArgumentException($"The seccomp policy compiles to {program.Length} BPF instructions on {arch}; the kernel accepts at most {Bpf.MaxInstructions}. Use fewer rules.");
        return BpfAssembler.Encode(program);
    }

    /// <summary>The flags for <c>seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)</c>: <c>SECCOMP_FILTER_FLAG_LOG</c> when <see cref="SeccompPolicy.LogDenied"/> is set.</summary>
    public static uint FilterFlags(SeccompPolicy policy) => policy.LogDenied ? Bpf.FilterFlagLog : 0;

    /// <summary>
    /// Checks everything the compiler relies on, for every supported architecture at once, so a
    /// policy that is valid on one machine is valid on all. Each message names the rule.
    /// </summary>
    /// <exception cref="ArgumentException">The first problem found.</exception>
    public static void Validate(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (!Enum.IsDefined(policy.DefaultAction))
            throw new ArgumentException($"The seccomp policy's default action {(int)policy.DefaultAction} is not a SeccompAction.");
        if (policy.DefaultAction == SeccompAction.Errno && policy.DefaultErrno is < 0 or > Bpf.MaxErrno)
            throw new ArgumentException($"The seccomp policy's default errno {policy.DefaultErrno} is outside 0-{Bpf.MaxErrno}.");
        for (int i = 0; i < policy.Rules.Length; i++)
            ValidateRule(i, policy.Rules[i]);
    }

    private static void ValidateRule(int index, SeccompRule? rule)
    {
        if (rule is null)
            throw new ArgumentException($"Seccomp rule {index} is null.");
        string where = $"Seccomp rule {index} ({rule})";
        if (string.IsNullOrEmpty(rule.Syscall))
            throw new ArgumentException($"{where}: the system call name is empty.");
        if (!SeccompSyscalls.IsKnown(rule.Syscall))
        {
            string? suggestion = SeccompSyscalls.Suggest(rule.Syscall);
            throw new ArgumentException($"{where}: '{rule.Syscall}' is not a system call on x86_64 or aarch64.{(suggestion is null ? "" : $" Did you mean '{suggestion}'?")}");
        }
        if (!Enum.IsDefined(rule.Action))
            throw new ArgumentException($"{where}: action {(int)rule.Action} is not a SeccompAction.");
        if (rule.Action == SeccompAction.Errno && rule.Errno is < 0 or > Bpf.MaxErrno)
            throw new ArgumentException($"{where}: errno {rule.Errno} is outside 0-{Bpf.MaxErrno}.");
        if (rule.Conditions.Length > SeccompRule.MaxConditions)
            throw new ArgumentException($"{where}: {rule.Conditions.Length} conditions; a rule may have at most {SeccompRule.MaxConditions}.");
        foreach (SeccompArgumentCondition? c in rule.Conditions)
        {
            if (c is null)
                throw new ArgumentException($"{where}: a condition is null.");
            if (c.Index is < 0 or >= SeccompArgumentCondition.MaxArguments)
                throw new ArgumentException($"{where}: argument index {c.Index} is outside 0-{SeccompArgumentCondition.MaxArguments - 1}.");
            if (!Enum.IsDefined(c.Op))
                throw new ArgumentException($"{where}: comparison {(int)c.Op} is not a SeccompComparison.");
            if (c.Is32Bit && c.Value > uint.MaxValue)
                throw new ArgumentException($"{where}: the 32-bit condition on arg{c.Index} compares with 0x{c.Value:x}, which does not fit in 32 bits.");
            // A value with bits the mask clears can never equal the masked argument: surely a mistake.
            if ((c.Value & ~c.Mask) != 0)
                throw new ArgumentException($"{where}: the condition on arg{c.Index} compares with 0x{c.Value:x}, which has bits outside its mask 0x{c.Mask:x}.");
        }
    }

    private static BpfInstruction[] Assemble(SeccompPolicy policy, SeccompArchitecture arch)
    {
        Validate(policy);
        var asm = new BpfAssembler();

        var nativeAbi = asm.NewLabel();
        asm.Load(Bpf.ArchOffset);
        asm.Jump(Bpf.JumpIfEqual, arch.AuditArch(), nativeAbi, BpfLabel.Next);
        asm.Return(Bpf.RetKillProcess);
        asm.Mark(nativeAbi);

        asm.Load(Bpf.NrOffset);
        if (arch == SeccompArchitecture.X64)
        {
            // x32 shares AUDIT_ARCH_X86_64 and is told apart only by this bit. ENOSYS rather than
            // a kill: it is what a kernel without x32 support (most distributions' default)
            // answers, so a program probing for x32 behaves as it would there.
            var notX32 = asm.NewLabel();
            asm.Jump(Bpf.JumpIfAnySet, X32SyscallBit, BpfLabel.Next, notX32);
            asm.Return(Bpf.RetErrno | SeccompPolicy.Enosys);
            asm.Mark(notX32);
        }

        // Invariant between rules: A holds the call's number.
        foreach (SeccompRule rule in policy.Rules)
        {
            if (SeccompSyscalls.TryGetNumber(rule.Syscall, arch, out int nr))
                EmitRule(asm, rule, (uint)nr);
        }
        asm.Return(Verdict(policy.DefaultAction, policy.DefaultErrno));
        return asm.Resolve();
    }

    private static void EmitRule(BpfAssembler asm, SeccompRule rule, uint nr)
    {
        var nextRule = asm.NewLabel();
        asm.Jump(Bpf.JumpIfEqual, nr, BpfLabel.Next, nextRule);
        if (rule.Conditions.IsEmpty)
        {
            asm.Return(Verdict(rule.Action, rule.Errno));
            asm.Mark(nextRule);
            return;
        }
        var failed = asm.NewLabel();
        foreach (SeccompArgumentCondition condition in rule.Conditions)
            EmitCondition(asm, condition, failed);
        asm.Return(Verdict(rule.Action, rule.Errno));
        asm.Mark(failed);
        asm.Load(Bpf.NrOffset); // the conditions overwrote A
        asm.Mark(nextRule);
    }

    /// <summary>
    /// Falls through when the condition holds and jumps to <paramref name="failed"/> otherwise.
    /// A 64-bit comparison decides on the high halves first and looks at the low halves only
    /// when those are equal. With <see cref="SeccompArgumentCondition.Is32Bit"/>, or a mask with
    /// an empty high half (the value's high half is then 0 too), only the low half is compared.
    /// </summary>
    private static void EmitCondition(BpfAssembler asm, SeccompArgumentCondition c, BpfLabel failed)
    {
        uint lowValue = (uint)c.Value, highValue = (uint)(c.Value >> 32);
        uint lowMask = (uint)c.Mask, highMask = c.Is32Bit ? 0 : (uint)(c.Mask >> 32);
        var passed = asm.NewLabel();
        var next = BpfLabel.Next;

        if (highMask != 0)
        {
            LoadArgument(asm, c.Index, highHalf: true, highMask);
            switch (c.Op)
            {
                case SeccompComparison.Equal or SeccompComparison.MaskedEqual:
                    asm.Jump(Bpf.JumpIfEqual, highValue, next, failed);
                    break;
                case SeccompComparison.NotEqual:
                    asm.Jump(Bpf.JumpIfEqual, highValue, next, passed);
                    break;
                case SeccompComparison.GreaterThan or SeccompComparison.GreaterOrEqual:
                    asm.Jump(Bpf.JumpIfGreater, highValue, passed, next);
                    asm.Jump(Bpf.JumpIfEqual, highValue, next, failed);
                    break;
                case SeccompComparison.LessThan or SeccompComparison.LessOrEqual:
                    asm.Jump(Bpf.JumpIfGreater, highValue, failed, next);
                    asm.Jump(Bpf.JumpIfEqual, highValue, next, passed);
                    break;
            }
        }

        LoadArgument(asm, c.Index, highHalf: false, lowMask);
        switch (c.Op)
        {
            case SeccompComparison.Equal or SeccompComparison.MaskedEqual:
                asm.Jump(Bpf.JumpIfEqual, lowValue, next, failed);
                break;
            case SeccompComparison.NotEqual:
                asm.Jump(Bpf.JumpIfEqual, lowValue, failed, next);
                break;
            case SeccompComparison.GreaterThan:
                asm.Jump(Bpf.JumpIfGreater, lowValue, next, failed);
                break;
            case SeccompComparison.GreaterOrEqual:
                asm.Jump(Bpf.JumpIfGreaterOrEqual, lowValue, next, failed);
                break;
            case SeccompComparison.LessThan:
                asm.Jump(Bpf.JumpIfGreaterOrEqual, lowValue, failed, next);
                break;
            case SeccompComparison.LessOrEqual:
                asm.Jump(Bpf.JumpIfGreater, lowValue, failed, next);
                break;
        }
        asm.Mark(passed);
    }

    private static void LoadArgument(BpfAssembler asm, int index, bool highHalf, uint mask)
    {
        asm.Load(Bpf.ArgumentOffset(index, highHalf));
        if (mask != uint.MaxValue)
            asm.And(mask);
    }

    /// <summary>The SECCOMP_RET_* value of an action.</summary>
    internal static uint Verdict(SeccompAction action, int errno) => action switch
    {
        SeccompAction.Allow => Bpf.RetAllow,
        SeccompAction.Errno => Bpf.RetErrno | (uint)errno,
        SeccompAction.KillProcess => Bpf.RetKillProcess,
        SeccompAction.KillThread => Bpf.RetKillThread,
        SeccompAction.Trap => Bpf.RetTrap,
        SeccompAction.Log => Bpf.RetLog,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };
}
