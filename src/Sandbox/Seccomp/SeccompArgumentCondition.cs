namespace Sandboxing.Seccomp;

/// <summary>
/// A test on one argument of a system call: <c>(args[Index] &amp; Mask) Op Value</c>, unsigned.
/// A rule matches only when all of its conditions hold.
/// </summary>
/// <param name="Index">The argument, 0 to 5.</param>
/// <param name="Op">The comparison.</param>
/// <param name="Value">The value compared with. It must have no bits outside <paramref name="Mask"/>.</param>
/// <param name="Mask">ANDed with the argument before the comparison. All ones (no masking) by default.</param>
/// <param name="Is32Bit">
/// Compare only the low 32 bits, for arguments the kernel declares as <c>int</c> or
/// <c>unsigned int</c> (ioctl's request, socket's family, personality's persona). The kernel
/// ignores the upper half of such an argument, so a 64-bit comparison could be defeated by
/// garbage there: an equality deny rule would miss <c>0xdeadbeef_00005412</c>, which the kernel
/// still runs as request 0x5412 (the CVE-2019-10063 class). <paramref name="Value"/> must then
/// fit in 32 bits.
/// </param>
public sealed record SeccompArgumentCondition(int Index, SeccompComparison Op, ulong Value, ulong Mask = ulong.MaxValue, bool Is32Bit = false)
{
    /// <summary>The number of system call arguments seccomp sees (<c>seccomp_data.args</c>).</summary>
    public const int MaxArguments = 6;

    /// <inheritdoc />
    public override string ToString()
    {
        string arg = Mask == ulong.MaxValue || (Is32Bit && (uint)Mask == uint.MaxValue) ? $"arg{Index}" : $"(arg{Index} & 0x{Mask:x})";
        string op = Op switch
        {
            SeccompComparison.Equal or SeccompComparison.MaskedEqual => "==",
            SeccompComparison.NotEqual => "!=",
            SeccompComparison.GreaterThan => ">",
            SeccompComparison.GreaterOrEqual => ">=",
            SeccompComparison.LessThan => "<",
            SeccompComparison.LessOrEqual => "<=",
            _ => Op.ToString(),
        };
        return $"{arg} {op} 0x{Value:x}{(Is32Bit ? " (32-bit)" : "")}";
    }
}
