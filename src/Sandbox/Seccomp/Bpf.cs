using System.Buffers.Binary;

namespace Sandboxing.Seccomp;

/// <summary>
/// The classic BPF encoding the seccomp compiler emits: the opcodes (linux/bpf_common.h), the
/// layout of <c>struct seccomp_data</c> and the <c>SECCOMP_RET_*</c> values (linux/seccomp.h).
/// Only the few instructions the compiler needs are here, so the test interpreter can support
/// exactly these.
/// </summary>
internal static class Bpf
{
    /// <summary><c>BPF_LD | BPF_W | BPF_ABS</c>: A = the 32-bit word of seccomp_data at offset k.</summary>
    public const ushort LoadWord = 0x20;

    /// <summary><c>BPF_ALU | BPF_AND | BPF_K</c>: A &amp;= k.</summary>
    public const ushort AndK = 0x54;

    /// <summary><c>BPF_JMP | BPF_JEQ | BPF_K</c>: jump by jt if A == k, else by jf.</summary>
    public const ushort JumpIfEqual = 0x15;

    /// <summary><c>BPF_JMP | BPF_JGT | BPF_K</c>: jump by jt if A &gt; k (unsigned), else by jf.</summary>
    public const ushort JumpIfGreater = 0x25;

    /// <summary><c>BPF_JMP | BPF_JGE | BPF_K</c>: jump by jt if A &gt;= k (unsigned), else by jf.</summary>
    public const ushort JumpIfGreaterOrEqual = 0x35;

    /// <summary><c>BPF_JMP | BPF_JSET | BPF_K</c>: jump by jt if A &amp; k != 0, else by jf.</summary>
    public const ushort JumpIfAnySet = 0x45;

    /// <summary><c>BPF_RET | BPF_K</c>: the filter's verdict is k.</summary>
    public const ushort ReturnK = 0x06;

    /// <summary>BPF_MAXINSNS: the kernel refuses longer programs.</summary>
    public const int MaxInstructions = 4096;

    /// <summary>The size of one <c>struct sock_filter</c>.</summary>
    public const int InstructionSize = 8;

    /// <summary>The longest conditional jump: jt and jf are one byte each.</summary>
    public const int MaxJump = byte.MaxValue;

    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }.
    public const uint NrOffset = 0, ArchOffset = 4, ArgsOffset = 16, SeccompDataSize = 64;

    /// <summary>
    /// The offset of one 32-bit half of <c>args[index]</c>. Both supported architectures are
    /// little-endian, so the low half comes first.
    /// </summary>
    public static uint ArgumentOffset(int index, bool highHalf) => ArgsOffset + 8 * (uint)index + (highHalf ? 4u : 0u);

    // SECCOMP_RET_* (linux/seccomp.h). The action is in the high 16 bits, its data (an errno) in the low.
    public const uint RetKillProcess = 0x80000000, RetKillThread = 0x00000000, RetTrap = 0x00030000,
        RetErrno = 0x00050000, RetLog = 0x7ffc0000, RetAllow = 0x7fff0000;

    /// <summary>The largest errno SECCOMP_RET_ERRNO carries (the kernel's MAX_ERRNO).</summary>
    public const int MaxErrno = 4095;

    // SECCOMP_FILTER_FLAG_LOG, for seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).
    public const uint FilterFlagLog = 2;
}

/// <summary>One <c>struct sock_filter</c>.</summary>
internal readonly record struct BpfInstruction(ushort Code, byte Jt, byte Jf, uint K);

/// <summary>A label in a <see cref="BpfAssembler"/> program: a jump target, placed with <see cref="BpfAssembler.Mark"/>.</summary>
internal readonly record struct BpfLabel(int Id)
{
    /// <summary>The next instruction: a jump offset of 0.</summary>
    public static BpfLabel Next => new(-1);
}

/// <summary>
/// Builds a program with symbolic jump targets, resolved once the program is complete. Jumps go
/// forward only (classic BPF has no backward jumps) and at most <see cref="Bpf.MaxJump"/>
/// instructions; the compiler keeps every jump inside one rule, so a longer one is a bug.
/// </summary>
internal sealed class BpfAssembler
{
    private readonly List<(ushort Code, uint K, BpfLabel True, BpfLabel False)> _code = [];
    private readonly List<int> _labels = [];

    /// <summary>The number of instructions so far.</summary>
    public int Count => _code.Count;

    /// <summary>A new label, not yet placed.</summary>
    public BpfLabel NewLabel()
    {
        _labels.Add(-1);
        return new BpfLabel(_labels.Count - 1);
    }

    /// <summary>Places <paramref name="label"/> at the next instruction.</summary>
    public void Mark(BpfLabel label) => _labels[label.Id] = _code.Count;

    /// <summary>A = the word of seccomp_data at <paramref name="offset"/>.</summary>
    public void Load(uint offset) => _code.Add((Bpf.LoadWord, offset, BpfLabel.Next, BpfLabel.Next));

    /// <summary>A &amp;= <paramref name="mask"/>.</summary>
    public void And(uint mask) => _code.Add((Bpf.AndK, mask, BpfLabel.Next, BpfLabel.Next));

    /// <summary>Return <paramref name="verdict"/>.</summary>
    public void Return(uint verdict) => _code.Add((Bpf.ReturnK, verdict, BpfLabel.Next, BpfLabel.Next));

    /// <summary>A conditional jump (<see cref="Bpf.JumpIfEqual"/> and its kind) comparing A with <paramref name="k"/>.</summary>
    public void Jump(ushort code, uint k, BpfLabel ifTrue, BpfLabel ifFalse) => _code.Add((code, k, ifTrue, ifFalse));

    /// <summary>The program with every jump resolved.</summary>
    public BpfInstruction[] Resolve()
    {
        var program = new BpfInstruction[_code.Count];
        for (int i = 0; i < program.Length; i++)
        {
            var (code, k, ifTrue, ifFalse) = _code[i];
            program[i] = new BpfInstruction(code, Offset(i, ifTrue), Offset(i, ifFalse), k);
        }
        return program;
    }

    private byte Offset(int from, BpfLabel to)
    {
        if (to == BpfLabel.Next)
            return 0;
        int target = _labels[to.Id];
        int offset = target - from - 1;
        if (target < 0 || offset is < 0 or > Bpf.MaxJump)
            throw new InvalidOperationException($"BPF jump from instruction {from} to label {to.Id} (at {target}) is out of range; this is a bug in the seccomp compiler.");
        return (byte)offset;
    }

    /// <summary>The program as <c>struct sock_filter</c> bytes: u16 code, u8 jt, u8 jf, u32 k, little-endian.</summary>
    public static byte[] Encode(ReadOnlySpan<BpfInstruction> program)
    {
        var bytes = new byte[program.Length * Bpf.InstructionSize];
        for (int i = 0; i < program.Length; i++)
        {
            Span<byte> slot = bytes.AsSpan(i * Bpf.InstructionSize, Bpf.InstructionSize);
            BinaryPrimitives.WriteUInt16LittleEndian(slot, program[i].Code);
            slot[2] = program[i].Jt;
            slot[3] = program[i].Jf;
            BinaryPrimitives.WriteUInt32LittleEndian(slot[4..], program[i].K);
        }
        return bytes;
    }
}
