using System.Buffers.Binary;

namespace Sandboxing.Tests.Seccomp;

/// <summary>The <c>struct seccomp_data</c> a filter sees for one system call.</summary>
internal sealed record SeccompData(uint Arch, uint Nr, params ulong[] Args)
{
    public const uint AuditArchX86_64 = 0xC000003E, AuditArchAarch64 = 0xC00000B7, AuditArchI386 = 0x40000003;

    public static SeccompData X64(int nr, params ulong[] args) => new(AuditArchX86_64, (uint)nr, args);

    public static SeccompData Arm64(int nr, params ulong[] args) => new(AuditArchAarch64, (uint)nr, args);

    /// <summary>The 64 bytes, laid out as on a little-endian machine.</summary>
    public byte[] ToBytes()
    {
        Assert.True(Args.Length <= 6, "seccomp_data has six arguments");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Nr);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), Arch);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), 0x7f00_dead_beef); // instruction_pointer: never read
        for (int i = 0; i < Args.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16 + 8 * i), Args[i]);
        return bytes;
    }
}

/// <summary>
/// A classic BPF interpreter for exactly the instructions the seccomp compiler emits, which
/// fails the test on any other instruction, and checks a program the way the kernel's
/// <c>bpf_check_classic</c> and <c>seccomp_check_filter</c> do.
/// </summary>
internal static class BpfInterpreter
{
    private const ushort LoadWord = 0x20, AndK = 0x54, Jeq = 0x15, Jgt = 0x25, Jge = 0x35, Jset = 0x45, RetK = 0x06;

    public readonly record struct Instruction(ushort Code, byte Jt, byte Jf, uint K);

    public static Instruction[] Decode(byte[] program)
    {
        Assert.True(program.Length % 8 == 0, $"program length {program.Length} is not a multiple of 8");
        var code = new Instruction[program.Length / 8];
        for (int i = 0; i < code.Length; i++)
        {
            ReadOnlySpan<byte> s = program.AsSpan(i * 8, 8);
            code[i] = new Instruction(BinaryPrimitives.ReadUInt16LittleEndian(s), s[2], s[3], BinaryPrimitives.ReadUInt32LittleEndian(s[4..]));
        }
        return code;
    }

    /// <summary>What the kernel would refuse at load time, and anything outside the compiler's subset.</summary>
    public static void Check(byte[] program)
    {
        Instruction[] code = Decode(program);
        Assert.InRange(code.Length, 1, 4096);
        for (int pc = 0; pc < code.Length; pc++)
        {
            Instruction ins = code[pc];
            switch (ins.Code)
            {
                case LoadWord:
                    Assert.True(ins.K % 4 == 0 && ins.K < 64, $"instruction {pc}: load from offset {ins.K}");
                    break;
                case AndK or RetK:
                    break;
                case Jeq or Jgt or Jge or Jset:
                    Assert.True(pc + 1 + ins.Jt < code.Length && pc + 1 + ins.Jf < code.Length, $"instruction {pc}: jump out of the program");
                    break;
                default:
                    Assert.Fail($"instruction {pc}: opcode 0x{ins.Code:x2} is not one the compiler emits");
                    break;
            }
            if (ins.Code is LoadWord or AndK or RetK)
                Assert.True(ins.Jt == 0 && ins.Jf == 0, $"instruction {pc}: jt/jf set on a non-jump");
        }
        Assert.Equal(RetK, code[^1].Code);
    }

    /// <summary>Runs the program on <paramref name="data"/> and returns its SECCOMP_RET_* verdict.</summary>
    public static uint Run(byte[] program, SeccompData data) => Execute(program, data, stopAtArgumentLoad: false)!.Value;

    /// <summary>
    /// The verdict for <paramref name="data"/>'s number and arch whatever the arguments, or null
    /// when it depends on them: what the kernel's <c>seccomp_is_const_allow</c> works out to
    /// decide whether it may skip the filter for a number.
    /// </summary>
    public static uint? ConstantVerdict(byte[] program, SeccompData data) => Execute(program, data, stopAtArgumentLoad: true);

    private static uint? Execute(byte[] program, SeccompData data, bool stopAtArgumentLoad)
    {
        Check(program);
        Instruction[] code = Decode(program);
        byte[] input = data.ToBytes();
        uint a = 0;
        bool loaded = false;
        for (int pc = 0; pc < code.Length; pc++)
        {
            Instruction ins = code[pc];
            switch (ins.Code)
            {
                case LoadWord:
                    if (stopAtArgumentLoad && ins.K >= 8)
                        return null;
                    a = BinaryPrimitives.ReadUInt32LittleEndian(input.AsSpan((int)ins.K));
                    loaded = true;
                    break;
                case AndK:
                    a &= ins.K;
                    break;
                case RetK:
                    return ins.K;
                default:
                    // Every jump compares A: reading it before any load would be a compiler bug
                    // (the kernel's checker would let it through: A starts at 0).
                    Assert.True(loaded, $"instruction {pc} reads A before any load");
                    bool taken = ins.Code switch
                    {
                        Jeq => a == ins.K,
                        Jgt => a > ins.K,
                        Jge => a >= ins.K,
                        Jset => (a & ins.K) != 0,
                        _ => throw new InvalidOperationException($"opcode 0x{ins.Code:x2}"),
                    };
                    pc += taken ? ins.Jt : ins.Jf;
                    break;
            }
        }
        Assert.Fail("the program ran off its end");
        return 0;
    }
}

/// <summary>The SECCOMP_RET_* values, written out independently of the library's.</summary>
internal static class Verdicts
{
    public const uint Allow = 0x7fff0000, KillProcess = 0x80000000, KillThread = 0, Trap = 0x00030000, Log = 0x7ffc0000;

    public static uint Errno(int errno) => 0x00050000u | (uint)errno;

    public const int Eperm = 1, Enosys = 38, Eafnosupport = 97;
}
