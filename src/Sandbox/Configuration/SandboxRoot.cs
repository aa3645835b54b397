using System.Collections.Immutable;

namespace Sandboxing;

/// <summary>What the sandbox sees as <c>/</c>.</summary>
public sealed record SandboxRoot
{
    private SandboxRoot(SandboxRootKind kind, string path, bool readOnly, ImmutableArray<string> layers, OverlayUpper? upper)
    {
        Kind = kind;
        Path = path;
        ReadOnly = readOnly;
        Layers = layers;
        Upper = upper;
    }

    /// <summary>
    /// The host's own filesystem, bound recursively and read-only (nosuid, nodev): the default.
    /// Lets a sandbox run the host's python3 or gcc without any image.
    /// </summary>
    public static SandboxRoot HostReadOnly { get; } = new(SandboxRootKind.Host, "/", readOnly: true, [], null);

    /// <summary>
    /// A directory on the host used as the root filesystem, entered with <c>pivot_root</c>;
    /// the old root is detached completely.
    /// </summary>
    /// <param name="path">Absolute host path of the root filesystem directory.</param>
    /// <param name="readOnly">Mount the root read-only.</param>
    public static SandboxRoot FromDirectory(string path, bool readOnly = false) =>
        new(SandboxRootKind.Directory, path, readOnly, [], null);

    /// <summary>
    /// An overlay of read-only layers (an image's, or any directories) with a writable layer on
    /// top, so the sandbox can change its root without changing the layers: many sandboxes can
    /// share one image concurrently.
    /// </summary>
    /// <param name="layers">Absolute host paths of the layer directories, <b>bottom layer first</b>
    /// (the order of an image's layers). Whiteouts (0/0 character devices) and opaque directories
    /// (<c>user.overlay.opaque</c> or <c>trusted.overlay.opaque</c> xattrs) in upper layers hide
    /// what lies below, as overlayfs defines them.</param>
    /// <param name="upper">Where writes go: <see cref="OverlayUpper.Ephemeral"/> (the default: a
    /// tmpfs, gone at exit), <see cref="OverlayUpper.Directory"/> (kept across runs), or
    /// <see cref="OverlayUpper.None"/> for a read-only root.</param>
    public static SandboxRoot Overlay(IEnumerable<string> layers, OverlayUpper? upper = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        upper ??= OverlayUpper.Ephemeral();
        return new(SandboxRootKind.Overlay, "", upper.IsNone, [.. layers], upper);
    }

    /// <summary>Which kind of root this is.</summary>
    public SandboxRootKind Kind { get; }

    /// <summary>Host path of the root filesystem: <c>/</c> for the host, the directory for a directory root, empty for an overlay.</summary>
    public string Path { get; }

    /// <summary>Whether the root is mounted read-only.</summary>
    public bool ReadOnly { get; }

    /// <summary>Whether this is the host's filesystem rather than a separate root directory.</summary>
    public bool IsHost => Kind == SandboxRootKind.Host;

    /// <summary>An overlay root's layer directories, bottom layer first; empty for other roots.</summary>
    public ImmutableArray<string> Layers { get; }

    /// <summary>An overlay root's writable layer; <see langword="null"/> for other roots.</summary>
    public OverlayUpper? Upper { get; }

    /// <inheritdoc />
    public bool Equals(SandboxRoot? other) =>
        other is not null && Kind == other.Kind && Path == other.Path && ReadOnly == other.ReadOnly
        && Layers.SequenceEqual(other.Layers) && Equals(Upper, other.Upper);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Path, ReadOnly, Layers.Length, Upper);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        SandboxRootKind.Host => "host (read-only)",
        SandboxRootKind.Overlay => $"overlay of {Layers.Length} layer(s), {Upper}",
        _ => $"{Path}{(ReadOnly ? " (read-only)" : "")}",
    };
}

/// <summary>The kinds of <see cref="SandboxRoot"/>.</summary>
public enum SandboxRootKind
{
    /// <summary>The host's filesystem, read-only.</summary>
    Host,

    /// <summary>A directory entered with pivot_root.</summary>
    Directory,

    /// <summary>An overlay of read-only layers plus a writable layer.</summary>
    Overlay,
}

/// <summary>The writable layer of an overlay root.</summary>
public sealed record OverlayUpper
{
    private OverlayUpper(string? directory, long? sizeBytes, bool isNone)
    {
        DirectoryPath = directory;
        SizeBytes = sizeBytes;
        IsNone = isNone;
    }

    /// <summary>Size cap of an ephemeral writable layer unless one is given: 256 MiB.</summary>
    public const long DefaultEphemeralSizeBytes = 256L * 1024 * 1024;

    /// <summary>
    /// A tmpfs of the sandbox's own, capped at <paramref name="sizeBytes"/>: writes cost memory
    /// (charged to the sandbox's cgroup) and vanish when the sandbox ends.
    /// </summary>
    /// <param name="sizeBytes">Size cap in bytes; <see cref="DefaultEphemeralSizeBytes"/> when <see langword="null"/>.</param>
    public static OverlayUpper Ephemeral(long? sizeBytes = null) => new(null, sizeBytes ?? DefaultEphemeralSizeBytes, isNone: false);

    /// <summary>
    /// A host directory that keeps the sandbox's changes across runs (a container filesystem).
    /// The library creates <c>upper/</c> and <c>work/</c> in it; one directory serves one
    /// running sandbox at a time (a second fails to start with <see cref="SandboxException"/>).
    /// </summary>
    /// <param name="path">Absolute host path; created when missing.</param>
    public static OverlayUpper Directory(string path) => new(path, null, isNone: false);

    /// <summary>No writable layer: the root is read-only (mount targets are still created).</summary>
    public static OverlayUpper None { get; } = new(null, null, isNone: true);

    /// <summary>The persistent directory, or <see langword="null"/> for a tmpfs or none.</summary>
    public string? DirectoryPath { get; }

    /// <summary>Size cap of an ephemeral layer.</summary>
    public long? SizeBytes { get; }

    /// <summary>Whether the overlay has no writable layer.</summary>
    public bool IsNone { get; }

    /// <inheritdoc />
    public override string ToString() =>
        IsNone ? "read-only" : DirectoryPath is { } d ? $"writes kept in {d}" : $"writes in a {SizeBytes / (1024 * 1024)} MiB tmpfs";
}
