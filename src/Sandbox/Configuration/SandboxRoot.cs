namespace Sandboxing;

/// <summary>What the sandbox sees as <c>/</c>.</summary>
public sealed record SandboxRoot
{
    private SandboxRoot(string path, bool readOnly, bool isHost)
    {
        Path = path;
        ReadOnly = readOnly;
        IsHost = isHost;
    }

    /// <summary>
    /// The host's own filesystem, bound recursively and read-only (nosuid, nodev): the default.
    /// Lets a sandbox run the host's python3 or gcc without any image.
    /// </summary>
    public static SandboxRoot HostReadOnly { get; } = new("/", readOnly: true, isHost: true);

    /// <summary>
    /// A directory on the host used as the root filesystem, entered with <c>pivot_root</c>;
    /// the old root is detached completely.
    /// </summary>
    /// <param name="path">Absolute host path of the root filesystem directory.</param>
    /// <param name="readOnly">Mount the root read-only.</param>
    public static SandboxRoot FromDirectory(string path, bool readOnly = false) => new(path, readOnly, isHost: false);

    /// <summary>Host path of the root filesystem (<c>/</c> for the host).</summary>
    public string Path { get; }

    /// <summary>Whether the root is mounted read-only.</summary>
    public bool ReadOnly { get; }

    /// <summary>Whether this is the host's filesystem rather than a separate root directory.</summary>
    public bool IsHost { get; }

    /// <inheritdoc />
    public override string ToString() => IsHost ? "host (read-only)" : $"{Path}{(ReadOnly ? " (read-only)" : "")}";
}
