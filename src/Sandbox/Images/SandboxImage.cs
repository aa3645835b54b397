using System.Collections.Immutable;

namespace Sandboxing.Images;

/// <summary>
/// An image in an <see cref="ImageStore"/>: its read-only layer directories, ready to be the
/// lower layers of an overlay mount, and how to run it.
/// </summary>
public sealed record SandboxImage
{
    /// <summary>
    /// <c>sha256:&lt;hex&gt;</c> of the image's configuration blob (docker's image id), or, for a
    /// plain root filesystem tar, of the tar's uncompressed content.
    /// </summary>
    public required string Id { get; init; }

    /// <summary>
    /// Absolute paths of the layer directories in the store, <b>bottom layer first</b> (the
    /// image's order; overlayfs wants the top layer leftmost in <c>lowerdir</c>). Each is in
    /// overlayfs's format (whiteouts are 0/0 character devices, opaque directories carry the
    /// <c>user.overlay.opaque</c> xattr and, for a root caller, <c>trusted.overlay.opaque</c>)
    /// and must never be modified. A layer that occurs twice in an image is listed once, at its
    /// topmost position: the lower occurrence is hidden by the upper one anyway.
    /// </summary>
    public required ImmutableArray<string> LayerDirectories { get; init => field = value.IsDefault ? [] : value; }

    /// <summary>The image's configuration (<see cref="ImageConfig.Empty"/> for a plain root filesystem tar).</summary>
    public required ImageConfig Config { get; init; }

    /// <summary>
    /// The uncompressed digests (OCI "diff ids") of <see cref="LayerDirectories"/>, in the same
    /// order: <c>sha256:&lt;hex&gt;</c>, where hex is also the directory's name.
    /// </summary>
    public ImmutableArray<string> LayerDigests { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>
    /// Device nodes (character or block devices other than whiteouts) that the layers contain
    /// but that were not created, because the store was written by a caller other than root,
    /// which may not create them. Always 0 for a root caller.
    /// </summary>
    public int SkippedDeviceNodes { get; init; }

    /// <inheritdoc />
    public bool Equals(SandboxImage? other) =>
        other is not null && Id == other.Id && LayerDirectories.SequenceEqual(other.LayerDirectories)
        && Config.Equals(other.Config) && LayerDigests.SequenceEqual(other.LayerDigests)
        && SkippedDeviceNodes == other.SkippedDeviceNodes;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Id, LayerDirectories.Length);
}
