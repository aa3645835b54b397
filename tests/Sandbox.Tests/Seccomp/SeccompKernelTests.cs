using System.Diagnostics;
using System.Text.Json;
using Sandboxing.Seccomp;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests.Seccomp;

/// <summary>
/// The compiled programs on the real kernel. .NET cannot safely fork, so a small Python script
/// installs the filter on itself through ctypes (no_new_privs, then seccomp) and reports what
/// its calls return; the library's helper does the same before execve.
/// </summary>
public class SeccompKernelTests
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import ctypes, json, os, subprocess, sys

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        nr = {"x86_64": {"seccomp": 317, "ioctl": 16, "clone3": 435},
              "aarch64": {"seccomp": 277, "ioctl": 29, "clone3": 435}}[os.uname().machine]

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        program = open(sys.argv[1], "rb").read()
        buffer = ctypes.create_string_buffer(program, len(program))
        fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            sys.exit("prctl: errno %d" % ctypes.get_errno())
        if libc.syscall(ctypes.c_long(nr["seccomp"]), ctypes.c_ulong(1), ctypes.c_ulong(int(sys.argv[2])), ctypes.byref(fprog)) != 0:
            sys.exit("seccomp: errno %d" % ctypes.get_errno())  # SECCOMP_SET_MODE_FILTER
        if sys.argv[3] == "getppid":
            os.getppid()
            sys.exit("getppid returned")

        results = {}
        def errno_of(name, call):
            ctypes.set_errno(0)
            results[name] = 0 if call() >= 0 else ctypes.get_errno()

        errno_of("unshare_user", lambda: libc.unshare(0x10000000))
        errno_of("socket_vsock", lambda: libc.socket(40, 1, 0))
        errno_of("socket_inet", lambda: libc.socket(2, 1, 0))
        errno_of("personality_read_implies_exec", lambda: libc.personality(0x0400000))
        errno_of("personality_query", lambda: libc.personality(0xffffffff))
        char = ctypes.c_char(b"x")
        errno_of("tiocsti", lambda: libc.syscall(ctypes.c_long(nr["ioctl"]), ctypes.c_long(0), ctypes.c_ulong(0x5412), ctypes.byref(char)))
        errno_of("tiocsti_high_garbage", lambda: libc.syscall(ctypes.c_long(nr["ioctl"]), ctypes.c_long(0), ctypes.c_ulong(0xdeadbeef00005412), ctypes.byref(char)))
        errno_of("mount", lambda: libc.mount(b"none", b"/nonexistent-seccomp-test", b"tmpfs", ctypes.c_ulong(0), None))
        errno_of("clone3", lambda: libc.syscall(ctypes.c_long(nr["clone3"]), None, ctypes.c_ulong(0)))
        with open("/etc/hostname") as f:
            results["open_hostname"] = len(f.read()) > 0
        # glibc's posix_spawn tries clone3 first; ENOSYS must send it back to clone.
        results["subprocess"] = subprocess.run(["/bin/true"]).returncode
        print(json.dumps(results))
        """;

    private static async Task<(int ExitCode, string Output, string Errors)> RunFilteredAsync(SeccompPolicy policy, string mode)
    {
        using var dir = new TempDirectory();
        string script = Path.Combine(dir.Path, "filter.py"), program = Path.Combine(dir.Path, "filter.bpf");
        await File.WriteAllTextAsync(script, Script);
        await File.WriteAllBytesAsync(program, SeccompCompiler.Compile(policy));
        var psi = new ProcessStartInfo(Python, [script, program, SeccompCompiler.FilterFlags(policy).ToString(), mode])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return (p.ExitCode, await output, await errors);
    }

    [Fact]
    public async Task The_kernel_accepts_the_default_program_and_enforces_it()
    {
        Assert.True(File.Exists(Python), $"{Python} is needed for this test (apt-get install python3)");
        var (exitCode, output, errors) = await RunFilteredAsync(SeccompPolicy.Default, "probe");
        Assert.True(exitCode == 0, $"python exited {exitCode}: {errors}");
        using var json = JsonDocument.Parse(output);
        var r = json.RootElement;
        Assert.Equal(1, r.GetProperty("unshare_user").GetInt32());            // EPERM
        Assert.Equal(97, r.GetProperty("socket_vsock").GetInt32());           // EAFNOSUPPORT
        Assert.Equal(0, r.GetProperty("socket_inet").GetInt32());
        Assert.Equal(1, r.GetProperty("personality_read_implies_exec").GetInt32());
        Assert.Equal(0, r.GetProperty("personality_query").GetInt32());
        Assert.Equal(1, r.GetProperty("tiocsti").GetInt32());
        Assert.Equal(1, r.GetProperty("tiocsti_high_garbage").GetInt32());
        Assert.Equal(1, r.GetProperty("mount").GetInt32());                   // not ENOENT: the filter answered
        Assert.Equal(38, r.GetProperty("clone3").GetInt32());                 // ENOSYS
        Assert.True(r.GetProperty("open_hostname").GetBoolean());
        Assert.Equal(0, r.GetProperty("subprocess").GetInt32());
    }

    [Fact]
    public async Task A_kill_rule_kills_the_process_with_SIGSYS()
    {
        Assert.True(File.Exists(Python), $"{Python} is needed for this test (apt-get install python3)");
        var policy = SeccompPolicy.Default.Kill("getppid").WithLogDenied();
        var (exitCode, _, errors) = await RunFilteredAsync(policy, "getppid");
        Assert.True(exitCode == 128 + 31, $"python exited {exitCode}, not by SIGSYS: {errors}");
    }
}
