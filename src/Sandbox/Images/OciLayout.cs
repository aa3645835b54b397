using System.Collections.Immutable;
using System.Text.Json;

namespace Sandboxing.Images;

/// <summary>
/// Reads an OCI image layout (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/sha256/…</c>; the
/// OCI image-spec's image-layout.md) into an <see cref="ImagePlan"/>. Every blob read here
/// (indexes, manifests, the config) is checked against its descriptor's digest and size; layer
/// blobs are checked while they stream, by the store.
/// </summary>
internal static class OciLayout
{
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    private const string ContainerdNameAnnotation = "io.containerd.image.name";
    private const int MaxIndexDepth = 4;

    public static ImagePlan Plan(ImageSource source, string? reference)
    {
        using (var layout = ImageMetadata.Parse(source, source.ReadMetadata("oci-layout"), "oci-layout"))
        {
            string? version = layout.RootElement.ValueKind == JsonValueKind.Object && layout.RootElement.TryGetProperty("imageLayoutVersion", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            if (version is null || !version.StartsWith("1.", StringComparison.Ordinal))
                throw new ImageException(source.FilePath, "oci-layout", $"the image layout version is '{version}', not 1.x.", "Only OCI image layout 1.x is supported.");
        }

        List<Descriptor> entries;
        using (var index = ImageMetadata.Parse(source, source.ReadMetadata("index.json"), "index.json"))
            entries = Descriptors(source, index.RootElement, "index.json");
        if (entries.Count == 0)
            throw new ImageException(source.FilePath, "index.json", "the layout holds no image.", "Export an image into it first.");

        var chosen = Select(source, entries, reference);
        return PlanManifest(source, chosen, 0);
    }

    private static Descriptor Select(ImageSource source, List<Descriptor> entries, string? reference)
    {
        var candidates = entries;
        if (reference is not null)
        {
            candidates = entries.Where(e => e.Digest == reference || e.Names.Any(n => ReferenceMatches(n, reference))).ToList();
            if (candidates.Count == 0)
            {
                throw new ImageException(source.FilePath, "index.json", $"no image in the layout is named '{reference}'; it holds {List(entries)}.",
                    "Pass one of those names as the reference.");
            }
        }
        if (candidates.Count > 1)
        {
            // Several entries for one name, or none named: the one for this machine, if just one is.
            var forThisMachine = candidates.Where(e => e.Platform is { } p && PlatformMatches(p)).ToList();
            if (forThisMachine.Count == 1)
                return forThisMachine[0];
            throw new ImageException(source.FilePath, "index.json", $"the layout holds {candidates.Count} images: {List(candidates)}; say which one to import.",
                "Pass a reference: one of the names listed (org.opencontainers.image.ref.name).");
        }
        return candidates[0];
    }

    private static ImagePlan PlanManifest(ImageSource source, Descriptor descriptor, int depth)
    {
        string what = $"blob {descriptor.Digest}";
        byte[] content = ReadBlob(source, descriptor);
        using var document = ImageMetadata.Parse(source, content, what);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw ImageMetadata.Invalid(source, what, "the manifest is not a JSON object");

        string? mediaType = descriptor.MediaType ?? (root.TryGetProperty("mediaType", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null);
        bool isIndex = mediaType is "application/vnd.oci.image.index.v1+json" or "application/vnd.docker.distribution.manifest.list.v2+json"
            || (mediaType is null && root.TryGetProperty("manifests", out _));
        if (isIndex)
        {
            if (depth >= MaxIndexDepth)
                throw ImageMetadata.Invalid(source, what, $"indexes are nested more than {MaxIndexDepth} deep");
            var children = Descriptors(source, root, what);
            var forThisMachine = children.Where(c => c.Platform is { } p && PlatformMatches(p)).ToList();
            if (forThisMachine.Count == 0 && children.Count == 1 && children[0].Platform is null)
                forThisMachine = children;
            if (forThisMachine.Count == 0)
            {
                throw new ImageException(source.FilePath, what, $"the image index has no manifest for linux/{ImageMetadata.Architecture}; it has {List(children)}.",
                    "Export the image for this machine's platform (e.g. skopeo copy --override-arch).");
            }
            return PlanManifest(source, forThisMachine[0], depth + 1);
        }

        if (!root.TryGetProperty("config", out var configElement) || !root.TryGetProperty("layers", out var layersElement) || layersElement.ValueKind != JsonValueKind.Array)
            throw ImageMetadata.Invalid(source, what, "the manifest has no config or no layers");
        var configDescriptor = ToDescriptor(source, configElement, what);
        var layerDescriptors = layersElement.EnumerateArray().Select(l => ToDescriptor(source, l, what)).ToList();

        byte[] configContent = ReadBlob(source, configDescriptor);
        var (config, diffIds) = ImageMetadata.ReadConfig(source, configContent, $"config {configDescriptor.Digest}", layerDescriptors.Count);

        var layers = ImmutableArray.CreateBuilder<LayerPlan>(layerDescriptors.Count);
        for (int i = 0; i < layerDescriptors.Count; i++)
        {
            var layer = layerDescriptors[i];
            string layerWhat = $"layer {i + 1} of {layerDescriptors.Count}, blob {layer.Digest}";
            if (layer.MediaType is { } type && type.Contains("zstd", StringComparison.Ordinal))
            {
                throw new ImageException(source.FilePath, layerWhat, $"the layer is zstd-compressed ({type}); zstd layers aren't supported yet.",
                    "Convert the image to gzip layers, e.g. skopeo copy --dest-compress-format gzip oci:SRC oci:DST.");
            }
            layers.Add(new LayerPlan(source.Canonical(BlobPath(source, layer)), layerWhat, layer.Digest, layer.Size, diffIds?[i], layer.MediaType));
        }
        return new ImagePlan(configDescriptor.Digest, config, layers.MoveToImmutable());
    }

    private static byte[] ReadBlob(ImageSource source, Descriptor descriptor)
    {
        byte[] content = source.ReadMetadata(BlobPath(source, descriptor));
        ImageMetadata.Verify(source, content, descriptor.Digest, descriptor.Size, $"blob {descriptor.Digest}");
        return content;
    }

    private static string BlobPath(ImageSource source, Descriptor descriptor) =>
        "blobs/sha256/" + (Digests.Sha256Hex(descriptor.Digest)
            ?? throw new ImageException(source.FilePath, descriptor.Digest, "only sha256 digests are supported.", "Re-export the image with sha256 digests (the default of every common tool)."));

    private static List<Descriptor> Descriptors(ImageSource source, JsonElement index, string what)
    {
        if (index.ValueKind != JsonValueKind.Object || !index.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
            throw ImageMetadata.Invalid(source, what, "the index has no \"manifests\" array");
        return manifests.EnumerateArray().Select(d => ToDescriptor(source, d, what)).ToList();
    }

    private static Descriptor ToDescriptor(ImageSource source, JsonElement element, string what)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw ImageMetadata.Invalid(source, what, "a descriptor is not a JSON object");
        string? digest = String(element, "digest");
        if (digest is null)
            throw ImageMetadata.Invalid(source, what, "a descriptor has no digest");
        if (Digests.Sha256Hex(digest) is null)
            throw new ImageException(source.FilePath, what, $"the digest '{digest}' is not a sha256 digest; only sha256 is supported.", "Re-export the image with sha256 digests.");
        long? size = element.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long n) ? n : null;
        var names = new List<string>();
        if (element.TryGetProperty("annotations", out var annotations) && annotations.ValueKind == JsonValueKind.Object)
        {
            foreach (var key in new[] { RefNameAnnotation, ContainerdNameAnnotation })
            {
                if (String(annotations, key) is { Length: > 0 } name)
                    names.Add(name);
            }
        }
        Platform? platform = null;
        if (element.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object)
            platform = new Platform(String(p, "os") ?? "", String(p, "architecture") ?? "", String(p, "variant"));
        return new Descriptor(String(element, "mediaType"), digest, size, names, platform);
    }

    private static string? String(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>
    /// Whether annotation <paramref name="name"/> (a bare tag such as "latest", or a full name such
    /// as "docker.io/library/busybox:latest") is what the caller meant by <paramref name="reference"/>.
    /// </summary>
    internal static bool ReferenceMatches(string name, string reference)
    {
        string withTag = reference.LastIndexOf(':') > reference.LastIndexOf('/') ? reference : reference + ":latest";
        return name == reference || name == withTag
            || name.EndsWith("/" + reference, StringComparison.Ordinal) || name.EndsWith("/" + withTag, StringComparison.Ordinal);
    }

    private static bool PlatformMatches(Platform platform) =>
        platform.Os == "linux" && platform.Architecture == ImageMetadata.Architecture
        && (platform.Architecture != "arm64" || platform.Variant is null or "v8");

    private static string List(IEnumerable<Descriptor> descriptors) =>
        string.Join(", ", descriptors.Select(d =>
            (d.Names.Count > 0 ? string.Join(" / ", d.Names) : $"{d.Digest[..19]}… (no name)")
            + (d.Platform is { } p ? $" [{p.Os}/{p.Architecture}{(p.Variant is null ? "" : "/" + p.Variant)}]" : "")));

    private sealed record Descriptor(string? MediaType, string Digest, long? Size, List<string> Names, Platform? Platform);

    private sealed record Platform(string Os, string Architecture, string? Variant);
}
