namespace Sandboxing.Seccomp;

/// <summary>
/// How a <see cref="SeccompArgumentCondition"/> compares an argument, after the argument is
/// ANDed with the condition's mask. Every comparison is unsigned, as classic BPF's are.
/// </summary>
public enum SeccompComparison
{
    /// <summary><c>(arg &amp; Mask) == Value</c>.</summary>
    Equal,

    /// <summary><c>(arg &amp; Mask) != Value</c>.</summary>
    NotEqual,

    /// <summary>
    /// <c>(arg &amp; Mask) == Value</c>, named after libseccomp's <c>SCMP_CMP_MASKED_EQ</c>: for
    /// testing flags, with <see cref="SeccompArgumentCondition.Mask"/> set to the flags of interest.
    /// </summary>
    MaskedEqual,

    /// <summary><c>(arg &amp; Mask) &gt; Value</c>.</summary>
    GreaterThan,

    /// <summary><c>(arg &amp; Mask) &gt;= Value</c>.</summary>
    GreaterOrEqual,

    /// <summary><c>(arg &amp; Mask) &lt; Value</c>.</summary>
    LessThan,

    /// <summary><c>(arg &amp; Mask) &lt;= Value</c>.</summary>
    LessOrEqual,
}
