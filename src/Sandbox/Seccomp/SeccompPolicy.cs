using System.Collections.Immutable;
using System.Diagnostics.Contracts;

namespace Sandboxing.Seccomp;

/// <summary>
/// A seccomp filter as data: ordered rules, the first match deciding, and a default action for
/// every system call no rule matches. The library compiles it to classic BPF itself (no
/// libseccomp); the sandbox installs it as the last step before <c>execve</c>, so it applies
/// to <c>execve</c> and to everything the command runs. See docs/seccomp.md.
/// </summary>
/// <remarks>
/// Immutable: every method returns a new policy. Rules are appended, and the first matching rule
/// wins, so to lift one of <see cref="Default"/>'s denials use <see cref="Without"/> rather than
/// appending an allow rule.
/// </remarks>
public sealed record SeccompPolicy
{
    internal const int Eperm = 1, Enosys = 38, Eafnosupport = 97;

    /// <summary>A policy with no rules that allows everything: a starting point for deny rules.</summary>
    public static SeccompPolicy AllowAll { get; } = new();

    /// <summary>
    /// The default policy, close to docker's default profile but written as a deny list:
    /// everything is allowed except the calls that reach kernel-wide state, load code into the
    /// kernel, create user namespaces, or expose rarely used attack surface (io_uring, bpf,
    /// exotic socket families). Each denial and its reason is listed in docs/seccomp.md.
    /// </summary>
    public static SeccompPolicy Default { get; } = SeccompDefaultPolicy.Create();

    /// <summary>What happens to a system call that no rule matches. <see cref="SeccompAction.Allow"/> by default.</summary>
    public SeccompAction DefaultAction { get; init; } = SeccompAction.Allow;

    /// <summary>The errno for unmatched calls when <see cref="DefaultAction"/> is <see cref="SeccompAction.Errno"/>: EPERM (1) by default.</summary>
    public int DefaultErrno { get; init; } = Eperm;

    /// <summary>The rules, evaluated in order: the first whose system call and conditions match decides.</summary>
    public ImmutableArray<SeccompRule> Rules
    {
        get;
        init => field = value.IsDefault ? [] : value;
    } = [];

    /// <summary>
    /// Ask the kernel to log the calls the filter does not allow (<c>SECCOMP_FILTER_FLAG_LOG</c>,
    /// Linux 4.14), to the audit log or the kernel log, subject to
    /// <c>/proc/sys/kernel/seccomp/actions_logged</c>. Off by default.
    /// </summary>
    public bool LogDenied { get; init; }

    /// <summary>This policy with <paramref name="action"/> (and <paramref name="errno"/>, for <see cref="SeccompAction.Errno"/>) for unmatched calls.</summary>
    [Pure]
    public SeccompPolicy WithDefaultAction(SeccompAction action, int errno = Eperm) => this with { DefaultAction = action, DefaultErrno = errno };

    /// <summary>This policy with <paramref name="rule"/> appended (it applies after every existing rule).</summary>
    [Pure]
    public SeccompPolicy WithRule(SeccompRule rule) => this with { Rules = Rules.Add(rule) };

    /// <summary>This policy with <paramref name="rules"/> appended, in order.</summary>
    [Pure]
    public SeccompPolicy WithRules(IEnumerable<SeccompRule> rules) => this with { Rules = Rules.AddRange(rules) };

    /// <summary>Appends a rule allowing <paramref name="syscall"/> (when every one of <paramref name="conditions"/> holds).</summary>
    [Pure]
    public SeccompPolicy Allow(string syscall, params IEnumerable<SeccompArgumentCondition> conditions) =>
        WithRule(new SeccompRule(syscall, SeccompAction.Allow, conditions));

    /// <summary>Appends a rule making <paramref name="syscall"/> fail with EPERM (when every one of <paramref name="conditions"/> holds).</summary>
    [Pure]
    public SeccompPolicy Deny(string syscall, params IEnumerable<SeccompArgumentCondition> conditions) =>
        Deny(syscall, Eperm, conditions);

    /// <summary>Appends a rule making <paramref name="syscall"/> fail with <paramref name="errno"/> (when every one of <paramref name="conditions"/> holds).</summary>
    [Pure]
    public SeccompPolicy Deny(string syscall, int errno, params IEnumerable<SeccompArgumentCondition> conditions) =>
        WithRule(new SeccompRule(syscall, SeccompAction.Errno, conditions) { Errno = errno });

    /// <summary>Appends a rule killing the process that calls <paramref name="syscall"/> (when every one of <paramref name="conditions"/> holds).</summary>
    [Pure]
    public SeccompPolicy Kill(string syscall, params IEnumerable<SeccompArgumentCondition> conditions) =>
        WithRule(new SeccompRule(syscall, SeccompAction.KillProcess, conditions));

    /// <summary>
    /// This policy without any rule for <paramref name="syscall"/>, which then gets the default
    /// action: for example <c>SeccompPolicy.Default.Without("io_uring_setup")</c>.
    /// </summary>
    [Pure]
    public SeccompPolicy Without(string syscall) => this with { Rules = Rules.RemoveAll(r => r.Syscall == syscall) };

    /// <summary>This policy with <see cref="LogDenied"/> set.</summary>
    [Pure]
    public SeccompPolicy WithLogDenied(bool logDenied = true) => this with { LogDenied = logDenied };

    /// <inheritdoc />
    public bool Equals(SeccompPolicy? other) =>
        other is not null && DefaultAction == other.DefaultAction && DefaultErrno == other.DefaultErrno
        && LogDenied == other.LogDenied && Rules.SequenceEqual(other.Rules);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(DefaultAction, DefaultErrno, LogDenied, Rules.Length);

    /// <summary>A summary: the default action and the number of rules.</summary>
    public override string ToString() =>
        $"SeccompPolicy {{ DefaultAction = {(DefaultAction == SeccompAction.Errno ? $"Errno({DefaultErrno})" : DefaultAction)}, Rules = {Rules.Length}, LogDenied = {LogDenied} }}";
}
