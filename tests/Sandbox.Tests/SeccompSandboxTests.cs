using Sandboxing.Seccomp;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>The seccomp filter, seen from inside a real sandbox.</summary>
public class SeccompSandboxTests
{
    // Each probe prints "name errno" (0 when the call succeeded), through python's ctypes so that
    // nothing in between rewrites the call.
    private const string Probes = """
        import ctypes, errno, os, socket
        libc = ctypes.CDLL(None, use_errno=True)
        def call(name, nr, *args):
            r = libc.syscall(nr, *[ctypes.c_ulong(a) for a in args])
            print(name, 0 if r >= 0 else ctypes.get_errno())
        call("unshare-user", 272, 0x10000000)                       # unshare(CLONE_NEWUSER)
        call("keyctl", 250, 0, 0, 0, 0, 0)                          # keyctl(KEYCTL_GET_KEYRING_ID)
        call("bpf", 321, 0, 0, 0)
        call("io_uring_setup", 425, 1, 0)
        try:
            socket.socket(40, socket.SOCK_STREAM); print("vsock 0")   # AF_VSOCK
        except OSError as e: print("vsock", e.errno)
        import pty
        m, s = pty.openpty()
        call("tiocsti-high-bits", 16, s, 0x5412 | (1 << 32), ctypes.addressof(ctypes.c_char(b"x")))  # ioctl(TIOCSTI) with the upper half set
        call("getpid", 39)
        """;

    private static async Task<Dictionary<string, int>> ProbeAsync(Sandbox sandbox)
    {
        var r = await sandbox.RunAsync(["/usr/bin/python3", "-c", Probes]);
        Assert.True(r.IsSuccess, $"{r}: {r.StandardError}");
        return r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => int.Parse(p[1]));
    }

    [Fact]
    public async Task The_default_filter_refuses_what_dockers_default_profile_refuses()
    {
        var seen = await ProbeAsync(new SandboxBuilder().Build());
        Assert.Equal(1, seen["unshare-user"]);       // EPERM
        Assert.Equal(1, seen["keyctl"]);
        Assert.Equal(1, seen["bpf"]);
        Assert.Equal(1, seen["io_uring_setup"]);
        Assert.Equal(97, seen["vsock"]);             // EAFNOSUPPORT
        Assert.Equal(1, seen["tiocsti-high-bits"]);
        Assert.Equal(0, seen["getpid"]);
        Assert.Equal("2", await new SandboxBuilder().Build().OutputOfAsync("grep '^Seccomp:' /proc/self/status | cut -f2"));
    }

    [Fact]
    public async Task Without_a_filter_the_same_calls_reach_the_kernel()
    {
        var seen = await ProbeAsync(new SandboxBuilder().WithoutSeccomp().Build());
        Assert.Equal(0, seen["unshare-user"]);       // a nested user namespace needs no privilege
        Assert.NotEqual(1, seen["vsock"]);
        Assert.Equal("0", await new SandboxBuilder().WithoutSeccomp().Build().OutputOfAsync("grep '^Seccomp:' /proc/self/status | cut -f2"));
    }

    [Fact]
    public async Task A_custom_policy_can_deny_with_an_errno_or_kill()
    {
        var policy = SeccompPolicy.Default.Deny("mkdir", 13).Deny("mkdirat", 13).Kill("uname");
        var sandbox = new SandboxBuilder().WithSeccomp(policy).Build();
        var r = await sandbox.ShAsync("mkdir /tmp/x");
        Assert.Contains("Permission denied", r.StandardError);
        r = await sandbox.RunAsync(["/bin/uname"]);
        Assert.Equal(SandboxVerdict.Signaled, r.Verdict);
        Assert.Equal(31, r.Signal); // SIGSYS
    }

    [Fact]
    public async Task An_allow_list_policy_with_a_killing_default_runs_what_it_allows()
    {
        // A policy that must name everything a static busybox `true` needs.
        var policy = SeccompPolicy.AllowAll.WithDefaultAction(SeccompAction.KillProcess)
            .Allow("execve").Allow("exit_group").Allow("exit").Allow("brk").Allow("arch_prctl").Allow("set_tid_address")
            .Allow("getuid").Allow("geteuid").Allow("getgid").Allow("getegid").Allow("getpid").Allow("getppid")
            .Allow("rt_sigaction").Allow("rt_sigprocmask").Allow("prlimit64").Allow("mmap").Allow("munmap").Allow("uname")
            .Allow("readlinkat").Allow("readlink").Allow("prctl").Allow("newfstatat").Allow("setuid").Allow("setgid").Allow("set_robust_list").Allow("rseq").Allow("mprotect").Allow("getrandom");
        var r = await new SandboxBuilder().WithSeccomp(policy).Build().RunAsync(["/bin/busybox", "true"]);
        Assert.True(r.IsSuccess, $"{r}");
        r = await new SandboxBuilder().WithSeccomp(policy).Build().RunAsync(["/bin/busybox", "ls", "/"]);
        Assert.Equal(31, r.Signal); // ls needs openat, getdents64, ...: not allowed
    }

    [Fact]
    public async Task A_filter_works_with_new_privileges_allowed_too()
    {
        var seen = await ProbeAsync(new SandboxBuilder().WithNewPrivileges().Build());
        Assert.Equal(1, seen["unshare-user"]);
        Assert.Equal(0, seen["getpid"]);
    }

    [Fact]
    public void An_unknown_system_call_is_a_configuration_error()
    {
        var e = Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithSeccomp(SeccompPolicy.Default.Deny("opnat")).Build());
        Assert.Contains("seccomp", e.Message);
        Assert.Contains("openat", e.Message);
    }
}
