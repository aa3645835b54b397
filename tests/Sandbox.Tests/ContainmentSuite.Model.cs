using System.Text.RegularExpressions;
using Sandboxing.Seccomp;

namespace Sandboxing.Tests;

/// <summary>The layers of a sandbox that can stop an attack.</summary>
public enum ContainmentLayer
{
    /// <summary>The command has no capabilities (or not the one the kernel asks for, in the namespace it asks for it).</summary>
    Capability,

    /// <summary>The default seccomp filter denies the system call before the kernel looks at it.</summary>
    Seccomp,

    /// <summary>A namespace (pid, net, mount, user, ipc, uts) leaves the target out of sight or out of reach.</summary>
    Namespace,

    /// <summary>A mount is read-only, masked, nosuid, private or locked.</summary>
    Mount,

    /// <summary>A cgroup limit, an rlimit, the wall-clock timeout or a tmpfs size cap.</summary>
    Limit,

    /// <summary><c>no_new_privs</c>: exec never grants privileges.</summary>
    NoNewPrivs,

    /// <summary>The command runs in a session of its own, without a controlling terminal.</summary>
    Session,

    /// <summary>The helper's own hardening (its init is not dumpable); nothing to relax.</summary>
    Helper,
}

/// <summary>
/// One run of a case: a sandbox built from <c>new SandboxBuilder()</c> by <see cref="Configure"/>,
/// and what its evidence must match.
/// </summary>
/// <param name="Label">What differs from the default sandbox ("default" for the default run).</param>
/// <param name="Configure">Builds the sandbox; gets the host the attacks aim at.</param>
/// <param name="Expected">A regular expression the whole evidence must match.</param>
public sealed record ContainmentRun(string Label, Func<SandboxBuilder, ContainmentHost, SandboxBuilder> Configure, Func<ContainmentHost, string> Expected);

/// <summary>
/// An attack, run inside a default sandbox (plus the limits the case names), the layers that
/// stop it, and the runs that prove it: the same attack with those layers relaxed must get
/// further (succeed, or fail differently).
/// </summary>
/// <param name="Name">The case's name, also a row of docs/containment.md.</param>
/// <param name="StoppedBy">The layers that stop it, in the order the attack meets them.</param>
/// <param name="Why">How they stop it, and what the relaxed runs showed, in a sentence or two.</param>
/// <param name="Command">The attack, as a command line.</param>
/// <param name="Default">The default run (the default sandbox with the case's limits or binds).</param>
/// <param name="Relaxed">Runs with one or more of the stopping layers relaxed.</param>
/// <param name="Evidence">What a run showed, from its result (by default the last line of its output).</param>
/// <param name="HostState">What the host shows after each run, appended to the evidence.</param>
/// <param name="Unprovable">Why, on this host, no relaxed run can get further (null: it must).</param>
public sealed record ContainmentCase(
    string Name,
    IReadOnlyList<ContainmentLayer> StoppedBy,
    string Why,
    Func<ContainmentHost, IReadOnlyList<string>> Command,
    ContainmentRun Default,
    IReadOnlyList<ContainmentRun> Relaxed,
    Func<SandboxResult, string>? Evidence = null,
    Func<ContainmentHost, Task<string>>? HostState = null,
    Func<string?>? Unprovable = null)
{
    public override string ToString() => Name;

    /// <summary>"Seccomp + Capability": the layers in the order the attack meets them.</summary>
    public string StoppedByText => string.Join(" + ", StoppedBy);
}

/// <summary>What one run showed.</summary>
public sealed record ContainmentObservation(ContainmentRun Run, string Evidence, SandboxResult Result, string Expected)
{
    public bool AsExpected => Regex.IsMatch(Evidence, $"^(?:{Expected})$");

    public string Describe() =>
        $"{Run.Label}: '{Evidence}' (expected /{Expected}/)\n  {Result}\n  stdout: {Result.StandardOutput.Trim()}\n  stderr: {Result.StandardError.Trim()}";
}

/// <summary>Every run of one case, the default first.</summary>
public sealed record ContainmentOutcome(ContainmentCase Case, ContainmentObservation Default, IReadOnlyList<ContainmentObservation> Relaxed, string? Unprovable)
{
    /// <summary>The relaxed runs whose evidence differs from the default run's: the proof.</summary>
    public IEnumerable<ContainmentObservation> GotFurther => Relaxed.Where(r => r.Evidence != Default.Evidence);
}

/// <summary>Scripts for the cases: python with a small prelude, so each system call is made exactly as written.</summary>
internal static class Probe
{
    private static readonly string[] Calls =
    [
        "mount", "umount2", "pivot_root", "chroot", "unshare", "ptrace", "open_by_handle_at", "name_to_handle_at",
        "finit_module", "init_module", "reboot", "keyctl", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    ];

    // sc(name, args...) makes the call through libc's syscall() and answers "ok" or the errno's
    // name; attempt(f) does the same for a python call; buf(bytes) keeps a C buffer alive.
    private static readonly string Prelude = $$"""
        import ctypes, errno, os, socket, struct, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        NR = {{{string.Join(", ", Calls.Select(c => $"'{c}': {Number(c)}"))}}}
        _keep = []
        def buf(data, size=None):
            b = ctypes.create_string_buffer(data, size) if size else ctypes.create_string_buffer(data)
            _keep.append(b)
            return ctypes.addressof(b)
        def sc(name, *args):
            r = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_ulong(a & 0xFFFFFFFFFFFFFFFF) for a in args])
            return 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()]
        def attempt(f):
            try:
                f()
                return 'ok'
            except OSError as e:
                return errno.errorcode.get(e.errno, str(e.errno))

        """;

    private static int Number(string call) =>
        SeccompSyscalls.TryGetNumber(call, SeccompArchitectures.Native, out int nr) ? nr : throw new InvalidOperationException($"no number for {call}");

    /// <summary>python3 -c PRELUDE + body.</summary>
    public static IReadOnlyList<string> Python(string body) => ["/usr/bin/python3", "-c", Prelude + body];
}
