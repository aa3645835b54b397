using System.Collections.Immutable;
using System.Text.Json;

namespace Sandboxing.Images;

/// <summary>
/// The parts of an image's configuration that say how to run it: the <c>config</c> object of an
/// OCI (or docker) image configuration. Fields an image leaves out are empty arrays or null.
/// </summary>
public sealed record ImageConfig
{
    /// <summary>The configuration of an image that has none: a plain root filesystem tar.</summary>
    public static ImageConfig Empty { get; } = new();

    /// <summary>The command's first words (docker's <c>ENTRYPOINT</c>); <see cref="Cmd"/> follows them.</summary>
    public ImmutableArray<string> Entrypoint { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>The default arguments (docker's <c>CMD</c>), replaced by the caller's command when one is given.</summary>
    public ImmutableArray<string> Cmd { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>Environment variables, each <c>NAME=value</c>, in the image's order.</summary>
    public ImmutableArray<string> Env { get; init => field = value.IsDefault ? [] : value; } = [];

    /// <summary>The working directory inside the image, or null for <c>/</c>.</summary>
    public string? WorkingDir { get; init; }

    /// <summary>The user to run as (<c>name</c>, <c>uid</c>, <c>uid:gid</c> or <c>name:group</c>), or null for root.</summary>
    public string? User { get; init; }

    /// <summary>The command an image runs when the caller gives none: <see cref="Entrypoint"/> followed by <see cref="Cmd"/>.</summary>
    public ImmutableArray<string> DefaultCommand => [.. Entrypoint, .. Cmd];

    /// <inheritdoc />
    public bool Equals(ImageConfig? other) =>
        other is not null && Entrypoint.SequenceEqual(other.Entrypoint) && Cmd.SequenceEqual(other.Cmd)
        && Env.SequenceEqual(other.Env) && WorkingDir == other.WorkingDir && User == other.User;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Entrypoint.Length, Cmd.Length, Env.Length, WorkingDir, User);

    /// <summary>
    /// Reads the <c>config</c> object of an image configuration (the same shape is used in the
    /// store's records). Absent or null fields become empty; empty strings become null.
    /// </summary>
    internal static ImageConfig Parse(JsonElement config)
    {
        if (config.ValueKind != JsonValueKind.Object)
            return Empty;
        return new ImageConfig
        {
            Entrypoint = Strings(config, "Entrypoint"),
            Cmd = Strings(config, "Cmd"),
            Env = Strings(config, "Env"),
            WorkingDir = NonEmpty(config, "WorkingDir"),
            User = NonEmpty(config, "User"),
        };
    }

    /// <summary>Writes the object <see cref="Parse"/> reads.</summary>
    internal void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        WriteStrings(writer, "Entrypoint", Entrypoint);
        WriteStrings(writer, "Cmd", Cmd);
        WriteStrings(writer, "Env", Env);
        if (WorkingDir is not null)
            writer.WriteString("WorkingDir", WorkingDir);
        if (User is not null)
            writer.WriteString("User", User);
        writer.WriteEndObject();
    }

    private static ImmutableArray<string> Strings(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Array)
            return [];
        var builder = ImmutableArray.CreateBuilder<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw new JsonException($"\"{name}\" must be an array of strings.");
            builder.Add(item.GetString()!);
        }
        return builder.MoveToImmutable();
    }

    private static string? NonEmpty(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;

    private static void WriteStrings(Utf8JsonWriter writer, string name, ImmutableArray<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
            writer.WriteStringValue(value);
        writer.WriteEndArray();
    }
}
