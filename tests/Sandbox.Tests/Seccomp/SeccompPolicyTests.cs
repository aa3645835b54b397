using Sandboxing.Seccomp;
using static Sandboxing.Seccomp.SeccompComparison;

namespace Sandboxing.Tests.Seccomp;

/// <summary>The policy model: immutability, the builder methods, and validation messages.</summary>
public class SeccompPolicyTests
{
    [Fact]
    public void A_new_policy_allows_everything_and_has_no_rules()
    {
        var policy = new SeccompPolicy();
        Assert.Equal(SeccompAction.Allow, policy.DefaultAction);
        Assert.Equal(1, policy.DefaultErrno);
        Assert.Empty(policy.Rules);
        Assert.False(policy.LogDenied);
        Assert.Equal(policy, SeccompPolicy.AllowAll);
        Assert.Empty(new SeccompPolicy { Rules = default }.Rules);
        Assert.Empty(new SeccompRule("read", SeccompAction.Allow) { Conditions = default }.Conditions);
    }

    [Fact]
    public void Builder_methods_return_new_policies_and_leave_the_original_alone()
    {
        var start = SeccompPolicy.AllowAll;
        var changed = start.Deny("mount").Allow("read").Kill("reboot").Deny("clone3", 38).WithLogDenied().WithDefaultAction(SeccompAction.Errno, 38);
        Assert.Empty(start.Rules);
        Assert.False(start.LogDenied);
        Assert.Equal<SeccompRule>(
            [
                new SeccompRule("mount", SeccompAction.Errno),
                new SeccompRule("read", SeccompAction.Allow),
                new SeccompRule("reboot", SeccompAction.KillProcess),
                new SeccompRule("clone3", SeccompAction.Errno) { Errno = 38 },
            ],
            changed.Rules);
        Assert.True(changed.LogDenied);
        Assert.Equal((SeccompAction.Errno, 38), (changed.DefaultAction, changed.DefaultErrno));
    }

    [Fact]
    public void Without_removes_every_rule_for_a_call()
    {
        var policy = SeccompPolicy.Default.Without("personality").Without("io_uring_setup");
        Assert.DoesNotContain(policy.Rules, r => r.Syscall is "personality" or "io_uring_setup");
        Assert.Equal(SeccompPolicy.Default.Rules.Length - 7, policy.Rules.Length);
        Assert.Contains(SeccompPolicy.Default.Rules, r => r.Syscall == "personality");
    }

    [Fact]
    public void Policies_and_rules_compare_by_value()
    {
        var a = SeccompPolicy.AllowAll.Deny("ioctl", new SeccompArgumentCondition(1, Equal, 0x5412, Is32Bit: true));
        var b = SeccompPolicy.AllowAll.Deny("ioctl", new SeccompArgumentCondition(1, Equal, 0x5412, Is32Bit: true));
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, SeccompPolicy.AllowAll.Deny("ioctl", new SeccompArgumentCondition(1, Equal, 0x5412)));
        Assert.NotEqual(a, a.WithLogDenied());
        Assert.Equal(SeccompPolicy.Default, SeccompPolicy.Default.Without("no-such-call"));
    }

    [Fact]
    public void Rules_and_conditions_print_readably()
    {
        var rule = new SeccompRule("ioctl", SeccompAction.Errno, new SeccompArgumentCondition(1, Equal, 0x5412, Is32Bit: true))
            .WithCondition(new SeccompArgumentCondition(0, MaskedEqual, 0x10, Mask: 0x10));
        Assert.Equal("ioctl(arg1 == 0x5412 (32-bit) && (arg0 & 0x10) == 0x10) -> Errno(1)", rule.ToString());
        Assert.Equal("read() -> Allow", new SeccompRule("read", SeccompAction.Allow).ToString());
        Assert.StartsWith("SeccompPolicy { DefaultAction = Allow, Rules = ", SeccompPolicy.Default.ToString());
    }

    private static string Invalid(SeccompPolicy policy) =>
        Assert.Throws<ArgumentException>(() => SeccompCompiler.Validate(policy)).Message;

    [Fact]
    public void An_unknown_call_is_named_with_its_rule_and_a_suggestion()
    {
        string message = Invalid(SeccompPolicy.AllowAll.Allow("read").Deny("opnat"));
        Assert.True(message.Contains("Did you mean 'openat'?"), message);
        Assert.Contains("rule 1", message);
        Assert.Contains("'opnat'", message);
        Assert.Contains("Did you mean 'openat'?", message);
        Assert.Contains("Did you mean 'clone3'?", Invalid(SeccompPolicy.AllowAll.Deny("Clone3")));
        Assert.DoesNotContain("Did you mean", Invalid(SeccompPolicy.AllowAll.Deny("frobnicate_everything")));
        Assert.Throws<ArgumentException>(() => SeccompCompiler.Compile(SeccompPolicy.AllowAll.Deny("opnat"), SeccompArchitecture.X64));
    }

    [Theory]
    [InlineData("umount")]  // i386 only
    [InlineData("vm86")]
    [InlineData("stime")]
    [InlineData("")]
    public void A_call_on_no_supported_architecture_is_an_error(string name) =>
        Assert.Contains("Seccomp rule 0", Invalid(SeccompPolicy.AllowAll.Deny(name)));

    [Fact]
    public void Out_of_range_values_are_refused_with_the_reason()
    {
        Assert.Contains("errno 4096", Invalid(SeccompPolicy.AllowAll.Deny("mount", 4096)));
        Assert.Contains("errno -1", Invalid(SeccompPolicy.AllowAll.Deny("mount", -1)));
        Assert.Contains("default errno 5000", Invalid(SeccompPolicy.AllowAll.WithDefaultAction(SeccompAction.Errno, 5000)));
        Assert.Contains("default action 42", Invalid(SeccompPolicy.AllowAll.WithDefaultAction((SeccompAction)42)));
        Assert.Contains("action 9", Invalid(SeccompPolicy.AllowAll.WithRule(new SeccompRule("read", (SeccompAction)9))));
        Assert.Contains("index 6", Invalid(SeccompPolicy.AllowAll.Deny("read", new SeccompArgumentCondition(6, Equal, 0))));
        Assert.Contains("index -1", Invalid(SeccompPolicy.AllowAll.Deny("read", new SeccompArgumentCondition(-1, Equal, 0))));
        Assert.Contains("comparison 99", Invalid(SeccompPolicy.AllowAll.Deny("read", new SeccompArgumentCondition(0, (SeccompComparison)99, 0))));
        Assert.Contains("does not fit in 32 bits", Invalid(SeccompPolicy.AllowAll.Deny("ioctl", new SeccompArgumentCondition(1, Equal, 0x1_0000_5412, Is32Bit: true))));
        Assert.Contains("outside its mask", Invalid(SeccompPolicy.AllowAll.Deny("clone", new SeccompArgumentCondition(0, MaskedEqual, 0x3, Mask: 0x1))));
        Assert.Contains("at most 8", Invalid(SeccompPolicy.AllowAll.Deny("read", Enumerable.Range(0, 9).Select(i => new SeccompArgumentCondition(0, NotEqual, (ulong)i)))));
        Assert.Contains("is null", Invalid(SeccompPolicy.AllowAll.WithRule(null!)));
        Assert.Contains("null", Invalid(SeccompPolicy.AllowAll.Deny("read", [null!])));

        // Errno values outside the range are fine when the action does not use them.
        SeccompCompiler.Validate(SeccompPolicy.AllowAll.WithRule(new SeccompRule("read", SeccompAction.Allow) { Errno = -5 }));
        SeccompCompiler.Validate(new SeccompPolicy { DefaultErrno = 99999 });
    }

    [Fact]
    public void The_default_policy_is_valid() => SeccompCompiler.Validate(SeccompPolicy.Default);
}
