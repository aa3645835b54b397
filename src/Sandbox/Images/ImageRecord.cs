using System.Collections.Immutable;
using System.Text.Json;

namespace Sandboxing.Images;

/// <summary>
/// What the store keeps about an image, as <c>images/&lt;id-hex&gt;.json</c>:
/// <c>{"schemaVersion":1,"id":"sha256:…","layers":["sha256:…",…],"config":{…},"skippedDeviceNodes":0}</c>.
/// The layers are diff ids, bottom first, each naming <c>layers/sha256/&lt;hex&gt;/</c>.
/// Written with Utf8JsonWriter and read with JsonDocument: no reflection, so AOT-safe. The
/// escaping is relaxed (a file, never HTML), so environment values stay readable.
/// </summary>
internal sealed record ImageRecord(string Id, ImmutableArray<string> Layers, ImageConfig Config, int SkippedDeviceNodes)
{
    private const int SchemaVersion = 1;

    public byte[] Serialize()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("schemaVersion", SchemaVersion);
            writer.WriteString("id", Id);
            writer.WriteStartArray("layers");
            foreach (var layer in Layers)
                writer.WriteStringValue(layer);
            writer.WriteEndArray();
            writer.WritePropertyName("config");
            Config.WriteTo(writer);
            writer.WriteNumber("skippedDeviceNodes", SkippedDeviceNodes);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>Reads a record; an <see cref="ImageException"/> naming <paramref name="path"/> when it is damaged.</summary>
    public static ImageRecord Read(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Length > ImageSource.MaxMetadataBytes)
                throw new JsonException("the record is larger than 4 MiB");
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            if (root.GetProperty("schemaVersion").GetInt32() != SchemaVersion)
                throw new JsonException($"schema version {root.GetProperty("schemaVersion")} is not {SchemaVersion}");
            string id = root.GetProperty("id").GetString() ?? "";
            if (Digests.Sha256Hex(id) is null)
                throw new JsonException($"'{id}' is not a sha256 digest");
            var layers = root.GetProperty("layers").EnumerateArray().Select(l => l.GetString() ?? "").ToImmutableArray();
            if (layers.Any(l => Digests.Sha256Hex(l) is null))
                throw new JsonException("a layer is not a sha256 digest");
            var config = ImageConfig.Parse(root.GetProperty("config"));
            int skipped = root.TryGetProperty("skippedDeviceNodes", out var s) ? s.GetInt32() : 0;
            return new ImageRecord(id, layers, config, skipped);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ImageException(path, null, $"the image record is damaged: {e.Message}", "Remove the file and import the image again.", e);
        }
    }
}
