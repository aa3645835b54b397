using System.Diagnostics;
using System.Text.RegularExpressions;
using Sandboxing.Seccomp;

namespace Sandboxing.Tests.Seccomp;

/// <summary>The library's system call table against the kernel headers installed on this machine.</summary>
public partial class SeccompSyscallTableTests
{
    [GeneratedRegex(@"^#define __NR(3264)?_(\w+) (.+)$", RegexOptions.Multiline)]
    private static partial Regex Define();

    /// <summary>__NR_name -> number, following defines such as <c>__NR_fcntl __NR3264_fcntl</c>.</summary>
    private static Dictionary<string, int> Numbers(string defines)
    {
        var raw = Define().Matches(defines).ToDictionary(m => (m.Groups[1].Success ? "3264_" : "") + m.Groups[2].Value, m => m.Groups[3].Value.Trim());
        int Resolve(string value) => int.TryParse(value, out int n) ? n : Resolve(raw[value.Trim('(', ')')["__NR".Length..].TrimStart('_')]);
        return raw.Where(kv => !kv.Key.StartsWith("3264_") && kv.Key is not ("syscalls" or "arch_specific_syscall"))
            .ToDictionary(kv => kv.Key, kv => Resolve(kv.Value));
    }

    /// <summary>Every __NR_ macro the preprocessor ends up with for <paramref name="source"/>.</summary>
    private static string Preprocess(string source)
    {
        var psi = new ProcessStartInfo("gcc", ["-E", "-dM", "-"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var gcc = Process.Start(psi)!;
        gcc.StandardInput.Write(source);
        gcc.StandardInput.Close();
        string output = gcc.StandardOutput.ReadToEnd();
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        Assert.True(gcc.ExitCode == 0, errors);
        return output;
    }

    private static void AssertTableMatches(Dictionary<string, int> header, SeccompArchitecture arch)
    {
        Assert.True(header.Count > 300, $"only {header.Count} calls in the headers");
        foreach (var (name, number) in header)
        {
            Assert.True(SeccompSyscalls.TryGetNumber(name, arch, out int ours), $"{name} ({number}) is missing for {arch}");
            Assert.True(number == ours, $"{name} is {number} on {arch} in the headers but {ours} in the table");
        }
        // Calls the table has and the headers lack must be newer than the headers.
        int newest = header.Values.Max();
        foreach (string name in SeccompSyscalls.Names.Where(n => !header.ContainsKey(n)))
        {
            if (SeccompSyscalls.TryGetNumber(name, arch, out int nr))
                Assert.True(nr > newest || name is "uretprobe" or "uprobe", $"{name} ({nr}) on {arch} is not in the headers, yet older than their newest call");
        }
    }

    [Fact]
    public void The_x86_64_table_matches_asm_unistd_64_h()
    {
        const string header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
        Assert.True(File.Exists(header), $"{header} is missing (apt-get install linux-libc-dev)");
        AssertTableMatches(Numbers(File.ReadAllText(header)), SeccompArchitecture.X64);
    }

    [Fact]
    public void The_aarch64_table_matches_asm_generic_unistd_h_as_arm64_includes_it()
    {
        // arch/arm64/include/uapi/asm/unistd.h: these wants, then the generic table, 64-bit longs.
        string defines = Preprocess("""
            #define __ARCH_WANT_RENAMEAT
            #define __ARCH_WANT_NEW_STAT
            #define __ARCH_WANT_SET_GET_RLIMIT
            #define __ARCH_WANT_TIME32_SYSCALLS
            #define __ARCH_WANT_SYS_CLONE3
            #define __ARCH_WANT_MEMFD_SECRET
            #include <asm-generic/unistd.h>
            """);
        var numbers = Numbers(defines);
        Assert.Equal(56, numbers["openat"]);
        Assert.Equal(25, numbers["fcntl"]);
        Assert.False(numbers.ContainsKey("open"));
        AssertTableMatches(numbers, SeccompArchitecture.Arm64);
    }

    [Fact]
    public void Calls_added_after_the_unified_numbering_have_the_same_number_on_both()
    {
        // From 424 (pidfd_send_signal, Linux 5.1) every architecture numbers new calls alike.
        foreach (string name in SeccompSyscalls.Names)
        {
            bool onX64 = SeccompSyscalls.TryGetNumber(name, SeccompArchitecture.X64, out int x64);
            bool onArm64 = SeccompSyscalls.TryGetNumber(name, SeccompArchitecture.Arm64, out int arm64);
            Assert.True(onX64 || onArm64, name);
            if (x64 >= 424 || arm64 >= 424)
                Assert.True(x64 == arm64, $"{name}: {x64} on x86_64, {arm64} on aarch64");
        }
    }
}
