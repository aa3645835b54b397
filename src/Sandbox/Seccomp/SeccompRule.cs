using System.Collections.Immutable;
using System.Diagnostics.Contracts;

namespace Sandboxing.Seccomp;

/// <summary>
/// One rule of a <see cref="SeccompPolicy"/>: a system call by name, the action taken when it
/// is called, and optional conditions on its arguments, all of which must hold.
/// </summary>
public sealed record SeccompRule
{
    /// <summary>A rule for <paramref name="syscall"/> with <paramref name="action"/>, when every one of <paramref name="conditions"/> holds.</summary>
    /// <param name="syscall">The system call's name as in the kernel's tables, for example "openat" or "clone3".</param>
    /// <param name="action">What happens when the rule matches.</param>
    /// <param name="conditions">Conditions on the arguments; none means the rule matches every call.</param>
    public SeccompRule(string syscall, SeccompAction action, params IEnumerable<SeccompArgumentCondition> conditions)
    {
        Syscall = syscall;
        Action = action;
        Conditions = [.. conditions];
    }

    /// <summary>The most conditions one rule may have (a classic BPF jump reaches at most 255 instructions, and a rule must fit).</summary>
    public const int MaxConditions = 8;

    /// <summary>
    /// The system call's name. A name that exists on some supported architectures only (for
    /// example "open", which aarch64 lacks) is skipped where it does not exist.
    /// </summary>
    public string Syscall { get; init; }

    /// <summary>What happens when the rule matches.</summary>
    public SeccompAction Action { get; init; }

    /// <summary>The errno the call fails with when <see cref="Action"/> is <see cref="SeccompAction.Errno"/>: 0 to 4095, EPERM (1) by default. 0 makes the call "succeed" without running.</summary>
    public int Errno { get; init; } = SeccompPolicy.Eperm;

    /// <summary>Conditions on the arguments, all of which must hold for the rule to match.</summary>
    public ImmutableArray<SeccompArgumentCondition> Conditions
    {
        get;
        init => field = value.IsDefault ? [] : value;
    }

    /// <summary>This rule with one more condition.</summary>
    [Pure]
    public SeccompRule WithCondition(SeccompArgumentCondition condition) => this with { Conditions = Conditions.Add(condition) };

    /// <inheritdoc />
    public bool Equals(SeccompRule? other) =>
        other is not null && Syscall == other.Syscall && Action == other.Action && Errno == other.Errno
        && Conditions.SequenceEqual(other.Conditions);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Syscall, Action, Errno, Conditions.Length);

    /// <summary>The rule as <c>name(conditions) -> action</c>, for messages and logs.</summary>
    public override string ToString()
    {
        string action = Action == SeccompAction.Errno ? $"Errno({Errno})" : Action.ToString();
        return $"{Syscall}({string.Join(" && ", Conditions)}) -> {action}";
    }
}
