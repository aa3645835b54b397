namespace Sandboxing.Images;

/// <summary>
/// An image could not be imported, listed or removed. The message names the file at fault, the
/// archive entry or blob inside it (when there is one), what is wrong and, where one is known,
/// what to do about it. A refused archive has written nothing outside the store's work area,
/// and nothing half-written is left in the store.
/// </summary>
public sealed class ImageException : Exception
{
    internal ImageException(string file, string? entry, string problem, string? hint = null, Exception? inner = null)
        : base(Format(file, entry, problem, hint), inner)
    {
        FilePath = file;
        Entry = entry;
        Hint = hint;
    }

    /// <summary>The file or directory at fault: the archive or layout being imported, or a file of the store.</summary>
    public string FilePath { get; }

    /// <summary>
    /// Where inside <see cref="FilePath"/>: an archive member, a blob digest, or a layer and
    /// the entry inside it (for example <c>blob sha256:ab12…, entry etc/passwd</c>); null when the whole file is at fault.
    /// </summary>
    public string? Entry { get; }

    /// <summary>What is likely to fix the problem, when known.</summary>
    public string? Hint { get; }

    private static string Format(string file, string? entry, string problem, string? hint) =>
        $"{file}{(entry is null ? "" : $" ({entry})")}: {problem}{(hint is null ? "" : $" Hint: {hint}")}";
}
