using System.Collections.Immutable;
using System.Text.Json;

namespace Sandboxing.Images;

/// <summary>What an import must do, read from an image's manifest and config before any layer is touched.</summary>
/// <param name="Id">The image id, <c>sha256:&lt;hex&gt;</c>.</param>
/// <param name="Config">The image's run configuration.</param>
/// <param name="Layers">The layers, bottom first.</param>
internal sealed record ImagePlan(string Id, ImageConfig Config, ImmutableArray<LayerPlan> Layers);

/// <summary>One layer of an <see cref="ImagePlan"/>.</summary>
/// <param name="SourcePath">The canonical path of the layer's blob in the <see cref="ImageSource"/>; null when the imported file itself is the layer (a root filesystem tar).</param>
/// <param name="Description">How messages name it: "blob sha256:…" or "member abc/layer.tar".</param>
/// <param name="BlobDigest">The digest the blob as stored must have, when the manifest says.</param>
/// <param name="BlobSize">The size the blob as stored must have, when the manifest says.</param>
/// <param name="DiffId">The digest of the uncompressed layer (the config's <c>rootfs.diff_ids</c>), when known.</param>
/// <param name="MediaType">The manifest's media type for the layer, when it has one.</param>
internal sealed record LayerPlan(string? SourcePath, string Description, string? BlobDigest, long? BlobSize, string? DiffId, string? MediaType);

/// <summary>Helpers shared by the OCI layout and docker save readers.</summary>
internal static class ImageMetadata
{
    /// <summary>Parses a metadata file, turning a syntax error into an <see cref="ImageException"/>.</summary>
    public static JsonDocument Parse(ImageSource source, byte[] content, string what)
    {
        try
        {
            return JsonDocument.Parse(content, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ImageException(source.FilePath, what, $"the file is not valid JSON: {e.Message}", "The image is corrupt; export it again.", e);
        }
    }

    /// <summary>
    /// Reads an image config: the id (its digest) and the run configuration, and the diff ids,
    /// which must be as many as <paramref name="layerCount"/> when present.
    /// </summary>
    public static (ImageConfig Config, ImmutableArray<string>? DiffIds) ReadConfig(ImageSource source, byte[] content, string what, int layerCount)
    {
        using var document = Parse(source, content, what);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw Invalid(source, what, "the image config is not a JSON object");
        ImageConfig config;
        try
        {
            config = root.TryGetProperty("config", out var c) ? ImageConfig.Parse(c) : ImageConfig.Empty;
        }
        catch (JsonException e)
        {
            throw Invalid(source, what, e.Message);
        }

        ImmutableArray<string>? diffIds = null;
        if (root.TryGetProperty("rootfs", out var rootfs) && rootfs.ValueKind == JsonValueKind.Object
            && rootfs.TryGetProperty("diff_ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
        {
            var builder = ImmutableArray.CreateBuilder<string>();
            foreach (var id in ids.EnumerateArray())
            {
                string? text = id.ValueKind == JsonValueKind.String ? id.GetString() : null;
                if (Digests.Sha256Hex(text) is null)
                    throw Invalid(source, what, $"rootfs.diff_ids holds '{text}', which is not a sha256 digest");
                builder.Add(text!);
            }
            if (builder.Count != layerCount)
                throw Invalid(source, what, $"rootfs.diff_ids lists {builder.Count} layers but the manifest has {layerCount}");
            diffIds = builder.ToImmutable();
        }
        return (config, diffIds);
    }

    /// <summary>An <see cref="ImageException"/> for metadata that parses but makes no sense.</summary>
    public static ImageException Invalid(ImageSource source, string what, string problem) =>
        new(source.FilePath, what, $"{problem}.", "The image is corrupt; export it again.");

    /// <summary>Checks that content matches its digest (and size, when given).</summary>
    public static void Verify(ImageSource source, byte[] content, string digest, long? size, string what)
    {
        if (size is { } expected && expected != content.Length)
            throw new ImageException(source.FilePath, what, $"the blob has {content.Length} bytes but its descriptor says {expected}.", "The image has been modified or corrupted; export it again.");
        string actual = Digests.Of(content);
        if (actual != digest)
            throw new ImageException(source.FilePath, what, $"the content's digest is {actual}, not {digest}.", "The image has been modified or corrupted; export it again.");
    }

    /// <summary>The GOARCH name of the machine, as OCI platforms spell it.</summary>
    public static string Architecture => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        var other => other.ToString().ToLowerInvariant(),
    };
}
