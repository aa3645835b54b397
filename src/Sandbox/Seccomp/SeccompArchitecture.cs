using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace Sandboxing.Seccomp;

/// <summary>The architectures the seccomp compiler has system call tables for.</summary>
internal enum SeccompArchitecture
{
    /// <summary>x86_64 (the 64-bit ABI; i386 and x32 calls are refused by the filter).</summary>
    X64,

    /// <summary>aarch64, little-endian, which numbers its calls by the asm-generic table.</summary>
    Arm64,
}

/// <summary>Facts about each <see cref="SeccompArchitecture"/>.</summary>
internal static class SeccompArchitectures
{
    // AUDIT_ARCH_* from linux/audit.h: the value of seccomp_data.arch for each ABI.
    public const uint AuditArchX86_64 = 0xC000003E, AuditArchAarch64 = 0xC00000B7, AuditArchI386 = 0x40000003;

    /// <summary>The architecture of the running process.</summary>
    /// <exception cref="PlatformNotSupportedException">Neither x86_64 nor aarch64.</exception>
    public static SeccompArchitecture Native => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => SeccompArchitecture.X64,
        Architecture.Arm64 => SeccompArchitecture.Arm64,
        var other => throw new PlatformNotSupportedException($"Seccomp policies can be compiled for x86_64 and aarch64 only, not {other}."),
    };

    /// <summary>The <c>seccomp_data.arch</c> of the architecture's native ABI.</summary>
    public static uint AuditArch(this SeccompArchitecture arch) => arch switch
    {
        SeccompArchitecture.X64 => AuditArchX86_64,
        SeccompArchitecture.Arm64 => AuditArchAarch64,
        _ => throw new ArgumentOutOfRangeException(nameof(arch), arch, null),
    };

    /// <summary>Every supported architecture.</summary>
    public static ImmutableArray<SeccompArchitecture> All { get; } = [SeccompArchitecture.X64, SeccompArchitecture.Arm64];
}
