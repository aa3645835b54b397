using System.Collections.Immutable;
using System.Text.Json;

namespace Sandboxing.Images;

/// <summary>
/// Reads a <c>docker save</c> archive into an <see cref="ImagePlan"/>, through its
/// <c>manifest.json</c>: <c>[{"Config": "…", "RepoTags": ["repo:tag"], "Layers": ["…"]}]</c>.
/// That covers both the old layout (<c>&lt;hex&gt;.json</c> configs, <c>&lt;id&gt;/layer.tar</c>
/// layers) and Docker 25's (an OCI layout in the tar, with manifest.json pointing into
/// <c>blobs/sha256/</c> and <c>&lt;id&gt;/layer.tar</c> kept as symlinks to the blobs).
/// </summary>
internal static class DockerArchive
{
    public static ImagePlan Plan(ImageSource source, string? reference)
    {
        var images = new List<(string Config, List<string> Tags, List<string> Layers)>();
        using (var document = ImageMetadata.Parse(source, source.ReadMetadata("manifest.json"), "manifest.json"))
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw ImageMetadata.Invalid(source, "manifest.json", "manifest.json is not a JSON array");
            foreach (var image in document.RootElement.EnumerateArray())
            {
                if (image.ValueKind != JsonValueKind.Object
                    || !image.TryGetProperty("Config", out var configName) || configName.ValueKind != JsonValueKind.String
                    || !image.TryGetProperty("Layers", out var layerNames) || layerNames.ValueKind != JsonValueKind.Array
                    || layerNames.EnumerateArray().Any(l => l.ValueKind != JsonValueKind.String))
                {
                    throw ImageMetadata.Invalid(source, "manifest.json", "an entry lacks \"Config\" or \"Layers\"");
                }
                var tags = image.TryGetProperty("RepoTags", out var t) && t.ValueKind == JsonValueKind.Array
                    ? t.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
                    : [];
                images.Add((configName.GetString()!, tags, layerNames.EnumerateArray().Select(l => l.GetString()!).ToList()));
            }
        }
        if (images.Count == 0)
            throw new ImageException(source.FilePath, "manifest.json", "the archive holds no image.", "Save an image into it (docker save IMAGE -o FILE).");

        var chosen = Select(source, images, reference);
        string configPath = CheckedPath(source, chosen.Config, "manifest.json");
        byte[] configContent = source.ReadMetadata(configPath);
        string id = Digests.Of(configContent);
        // The config's name is its digest in both layouts: <hex>.json, or blobs/sha256/<hex>.
        string canonicalConfig = source.Canonical(configPath);
        string? namedHex = NamedDigest(canonicalConfig) ?? NamedDigest(configPath);
        if (namedHex is not null && id != Digests.Sha256Prefix + namedHex)
        {
            throw new ImageException(source.FilePath, configPath, $"the config's digest is {id}, but its name says sha256:{namedHex}.",
                "The archive has been modified or corrupted; save the image again.");
        }
        var (config, diffIds) = ImageMetadata.ReadConfig(source, configContent, configPath, chosen.Layers.Count);

        var layers = ImmutableArray.CreateBuilder<LayerPlan>(chosen.Layers.Count);
        for (int i = 0; i < chosen.Layers.Count; i++)
        {
            string path = source.Canonical(CheckedPath(source, chosen.Layers[i], "manifest.json"));
            // Docker 25's blobs are named by digest; the old <id>/layer.tar is checked through diff_ids alone.
            string? blobDigest = path.StartsWith("blobs/sha256/", StringComparison.Ordinal) && Digests.IsSha256Hex(path.AsSpan("blobs/sha256/".Length))
                ? Digests.Sha256Prefix + path["blobs/sha256/".Length..]
                : null;
            layers.Add(new LayerPlan(path, $"layer {i + 1} of {chosen.Layers.Count}, member {chosen.Layers[i]}", blobDigest, null, diffIds?[i], null));
        }
        return new ImagePlan(id, config, layers.MoveToImmutable());
    }

    private static (string Config, List<string> Tags, List<string> Layers) Select(
        ImageSource source, List<(string Config, List<string> Tags, List<string> Layers)> images, string? reference)
    {
        if (reference is null)
        {
            if (images.Count == 1)
                return images[0];
            throw new ImageException(source.FilePath, "manifest.json", $"the archive holds {images.Count} images: {List(images)}; say which one to import.",
                "Pass a reference: one of the repo:tag names listed.");
        }
        var matches = images.Where(i => i.Tags.Any(t => OciLayout.ReferenceMatches(Normalize(t), Normalize(reference)))).ToList();
        if (matches.Count == 0)
        {
            throw new ImageException(source.FilePath, "manifest.json", $"no image in the archive is tagged '{reference}'; it holds {List(images)}.",
                "Pass one of the repo:tag names listed.");
        }
        return matches[0];
    }

    // docker.io/library/busybox:latest and busybox:latest are the same image to docker.
    private static string Normalize(string name) =>
        name.StartsWith("docker.io/library/", StringComparison.Ordinal) ? name["docker.io/library/".Length..]
        : name.StartsWith("docker.io/", StringComparison.Ordinal) ? name["docker.io/".Length..]
        : name;

    private static string List(List<(string Config, List<string> Tags, List<string> Layers)> images) =>
        string.Join(", ", images.Select(i => i.Tags.Count > 0 ? string.Join(" / ", i.Tags) : $"{i.Config} (untagged)"));

    private static string CheckedPath(ImageSource source, string path, string what)
    {
        string[] parts = EntryPaths.Split(path, out string? problem);
        if (problem is not null || parts.Length == 0)
            throw new ImageException(source.FilePath, what, $"refused: the path '{path}' is not acceptable: {problem ?? "it is empty"}.", "The archive is corrupt or hostile.");
        return EntryPaths.Join(parts);
    }

    private static string? NamedDigest(string path)
    {
        if (path.StartsWith("blobs/sha256/", StringComparison.Ordinal) && Digests.IsSha256Hex(path.AsSpan("blobs/sha256/".Length)))
            return path["blobs/sha256/".Length..];
        if (!path.Contains('/') && path.EndsWith(".json", StringComparison.Ordinal) && Digests.IsSha256Hex(path.AsSpan(0, path.Length - 5)))
            return path[..^5];
        return null;
    }
}
