namespace Sandboxing;

/// <summary>
/// One mount operation inside the sandbox. Mounts are applied in order, after the root, so a
/// later mount can cover an earlier one. Targets are absolute paths inside the sandbox.
/// </summary>
public abstract record SandboxMount
{
    private protected SandboxMount(string target) => Target = target;

    /// <summary>Absolute path inside the sandbox where the mount appears.</summary>
    public string Target { get; }
}

/// <summary>A host file or directory made visible inside the sandbox.</summary>
public sealed record BindMount : SandboxMount
{
    /// <summary>Creates a bind mount of <paramref name="source"/> at <paramref name="target"/>.</summary>
    /// <param name="source">Absolute host path.</param>
    /// <param name="target">Absolute path inside the sandbox.</param>
    /// <param name="readOnly">Whether the sandbox can only read it.</param>
    /// <param name="recursive">Whether mounts below the source come along (rbind).</param>
    /// <param name="optional">Whether a missing source is skipped instead of failing.</param>
    public BindMount(string source, string target, bool readOnly = true, bool recursive = true, bool optional = false)
        : base(target)
    {
        Source = source;
        ReadOnly = readOnly;
        Recursive = recursive;
        Optional = optional;
    }

    /// <summary>Absolute host path.</summary>
    public string Source { get; }

    /// <summary>Whether the sandbox can only read it.</summary>
    public bool ReadOnly { get; }

    /// <summary>Whether mounts below the source come along.</summary>
    public bool Recursive { get; }

    /// <summary>Whether a missing source is skipped instead of failing.</summary>
    public bool Optional { get; }
}

/// <summary>A private in-memory filesystem, gone when the sandbox ends.</summary>
public sealed record TmpfsMount : SandboxMount
{
    /// <summary>Creates a tmpfs at <paramref name="target"/>.</summary>
    /// <param name="target">Absolute path inside the sandbox.</param>
    /// <param name="sizeBytes">Size cap in bytes; <see langword="null"/> for the kernel default (half of RAM).</param>
    /// <param name="mode">Permissions of its root directory (octal 1777 by default, like /tmp).</param>
    public TmpfsMount(string target, long? sizeBytes = null, int mode = 0x3FF /* 01777 */)
        : base(target)
    {
        SizeBytes = sizeBytes;
        Mode = mode;
    }

    /// <summary>Size cap in bytes, or <see langword="null"/> for the kernel default.</summary>
    public long? SizeBytes { get; }

    /// <summary>Permission bits of the mount's root directory.</summary>
    public int Mode { get; }
}

/// <summary>
/// A fresh procfs for the sandbox's PID namespace (nosuid, nodev, noexec). Without a PID
/// namespace the host's /proc is bound instead, because a new procfs cannot be mounted there.
/// </summary>
public sealed record ProcMount : SandboxMount
{
    /// <summary>Creates a proc mount at <paramref name="target"/> (usually /proc).</summary>
    public ProcMount(string target = "/proc") : base(target)
    {
    }
}

/// <summary>
/// A minimal /dev: a tmpfs holding null, zero, full, random, urandom and tty (bound from the
/// host), the fd, stdin, stdout, stderr and ptmx links, a devpts instance of its own at
/// /dev/pts and a private tmpfs at /dev/shm.
/// </summary>
public sealed record DevMount : SandboxMount
{
    /// <summary>Creates a minimal /dev at <paramref name="target"/> (usually /dev).</summary>
    public DevMount(string target = "/dev") : base(target)
    {
    }
}

/// <summary>
/// A read-only sysfs at <see cref="SandboxMount.Target"/> (usually /sys) showing only the
/// sandbox's own network devices. Without a network namespace the host's /sys is bound
/// read-only instead, because a new sysfs cannot be mounted there.
/// </summary>
public sealed record SysfsMount : SandboxMount
{
    /// <summary>Creates a sysfs mount at <paramref name="target"/> (usually /sys).</summary>
    public SysfsMount(string target = "/sys") : base(target)
    {
    }
}

/// <summary>
/// The POSIX message queues of the sandbox's IPC namespace (<c>mq_open</c> names), usually at
/// /dev/mqueue. Needs <see cref="SandboxNamespaces.Ipc"/>.
/// </summary>
public sealed record MqueueMount : SandboxMount
{
    /// <summary>Creates an mqueue mount at <paramref name="target"/> (usually /dev/mqueue).</summary>
    public MqueueMount(string target = "/dev/mqueue") : base(target)
    {
    }
}

/// <summary>
/// A named volume: a directory the library keeps in a <see cref="VolumeStore"/> and binds
/// read-write (or read-only) into the sandbox; its contents outlive the sandbox. Created on
/// first use, owned by the user the sandbox's command runs as.
/// </summary>
public sealed record VolumeMount : SandboxMount
{
    /// <summary>Creates a mount of volume <paramref name="name"/> at <paramref name="target"/>.</summary>
    /// <param name="name">Volume name: letters, digits, '.', '_' and '-', starting with a letter or digit.</param>
    /// <param name="target">Absolute path inside the sandbox.</param>
    /// <param name="readOnly">Whether the sandbox can only read it.</param>
    /// <param name="store">Where volumes live; <see cref="VolumeStore.Default"/> when <see langword="null"/>.</param>
    public VolumeMount(string name, string target, bool readOnly = false, VolumeStore? store = null) : base(target)
    {
        Name = name;
        ReadOnly = readOnly;
        Store = store ?? VolumeStore.Default;
    }

    /// <summary>The volume's name.</summary>
    public string Name { get; }

    /// <summary>Whether the sandbox can only read it.</summary>
    public bool ReadOnly { get; }

    /// <summary>The store that holds the volume.</summary>
    public VolumeStore Store { get; }
}

/// <summary>
/// A symbolic link created inside the sandbox, in order with the mounts (so it can land on a
/// tmpfs mounted before it). Its parent is resolved inside the root; the link itself is never
/// followed.
/// </summary>
public sealed record SymlinkEntry : SandboxMount
{
    /// <summary>Creates a symlink at <paramref name="target"/> pointing to <paramref name="linkText"/>.</summary>
    /// <param name="linkText">What the link points to (absolute or relative, resolved inside the sandbox).</param>
    /// <param name="target">Absolute path of the link inside the sandbox.</param>
    public SymlinkEntry(string linkText, string target) : base(target) => LinkText = linkText;

    /// <summary>What the link points to.</summary>
    public string LinkText { get; }
}

/// <summary>
/// A directory (with missing parents) created inside the sandbox, in order with the mounts. An
/// existing directory is left as it is.
/// </summary>
public sealed record DirectoryEntry : SandboxMount
{
    /// <summary>Creates a directory at <paramref name="target"/>.</summary>
    /// <param name="target">Absolute path inside the sandbox.</param>
    /// <param name="mode">Permission bits (octal 0755 by default); the umask does not narrow them.</param>
    public DirectoryEntry(string target, int mode = 0x1ED /* 0755 */) : base(target) => Mode = mode;

    /// <summary>Permission bits.</summary>
    public int Mode { get; }
}

/// <summary>
/// A file created (or replaced) inside the sandbox with the given content, in order with the
/// mounts: a configuration file, a script, a submission. At most 128 KiB, without NUL bytes;
/// bind a host file for anything larger.
/// </summary>
public sealed record FileEntry : SandboxMount
{
    /// <summary>Creates a file at <paramref name="target"/> holding <paramref name="content"/> (UTF-8).</summary>
    /// <param name="target">Absolute path inside the sandbox.</param>
    /// <param name="content">The file's text.</param>
    /// <param name="mode">Permission bits (octal 0644 by default; 0755 for a script).</param>
    public FileEntry(string target, string content, int mode = 0x1A4 /* 0644 */) : base(target)
    {
        Content = content;
        Mode = mode;
    }

    /// <summary>The file's text.</summary>
    public string Content { get; }

    /// <summary>Permission bits.</summary>
    public int Mode { get; }
}
