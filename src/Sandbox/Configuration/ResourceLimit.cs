namespace Sandboxing;

/// <summary>Per-process resource limits (setrlimit(2)), numbered as Linux numbers them.</summary>
public enum ResourceLimit
{
    /// <summary>RLIMIT_CPU: CPU seconds of one process (SIGXCPU at the soft limit, SIGKILL at the hard one).</summary>
    Cpu = 0,
    /// <summary>RLIMIT_FSIZE: largest file a process may write, in bytes (SIGXFSZ beyond).</summary>
    Fsize = 1,
    /// <summary>RLIMIT_DATA: data segment size in bytes.</summary>
    Data = 2,
    /// <summary>RLIMIT_STACK: stack size in bytes.</summary>
    Stack = 3,
    /// <summary>RLIMIT_CORE: core dump size in bytes (0 by default in a sandbox).</summary>
    Core = 4,
    /// <summary>RLIMIT_RSS: ignored by Linux.</summary>
    Rss = 5,
    /// <summary>RLIMIT_NPROC: processes of the same (host) user.</summary>
    Nproc = 6,
    /// <summary>RLIMIT_NOFILE: open file descriptors.</summary>
    Nofile = 7,
    /// <summary>RLIMIT_MEMLOCK: locked memory in bytes.</summary>
    Memlock = 8,
    /// <summary>RLIMIT_AS: address space in bytes.</summary>
    As = 9,
    /// <summary>RLIMIT_LOCKS: file locks.</summary>
    Locks = 10,
    /// <summary>RLIMIT_SIGPENDING: queued signals.</summary>
    Sigpending = 11,
    /// <summary>RLIMIT_MSGQUEUE: bytes in POSIX message queues.</summary>
    Msgqueue = 12,
    /// <summary>RLIMIT_NICE: ceiling of the nice value (as 20 - nice).</summary>
    Nice = 13,
    /// <summary>RLIMIT_RTPRIO: real-time priority ceiling.</summary>
    Rtprio = 14,
    /// <summary>RLIMIT_RTTIME: microseconds of real-time CPU without a blocking call.</summary>
    Rttime = 15,
}

/// <summary>A soft and a hard limit; <see cref="Unlimited"/> for none.</summary>
/// <param name="Soft">What the kernel enforces; the process may raise it up to <paramref name="Hard"/>.</param>
/// <param name="Hard">The ceiling, which an unprivileged process can only lower.</param>
public readonly record struct ResourceLimitValue(ulong Soft, ulong Hard)
{
    /// <summary>RLIM_INFINITY.</summary>
    public const ulong Unlimited = ulong.MaxValue;

    /// <summary>The same soft and hard limit.</summary>
    public static ResourceLimitValue Of(ulong limit) => new(limit, limit);

    /// <summary>docker's <c>--ulimit</c> name of <paramref name="limit"/>: <c>nofile</c>, <c>nproc</c>, ...</summary>
    public static string NameOf(ResourceLimit limit) => limit.ToString().ToLowerInvariant();

    /// <summary>Parses a docker <c>--ulimit</c> name (<c>nofile</c>, <c>core</c>, <c>as</c>, ...).</summary>
    public static bool TryParseName(string name, out ResourceLimit limit) =>
        Enum.TryParse(name, ignoreCase: true, out limit) && Enum.IsDefined(limit) && !name.Any(char.IsDigit);

    /// <inheritdoc />
    public override string ToString() => $"{Format(Soft)}:{Format(Hard)}";

    private static string Format(ulong v) => v == Unlimited ? "unlimited" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
