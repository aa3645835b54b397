namespace Sandboxing.Images;

/// <summary>
/// Turns archive entry names into checked relative paths. This is the first of two fences
/// against hostile archives (the second is that every directory is opened with openat2 and
/// RESOLVE_NO_SYMLINKS below the layer root): a name that is absolute, has a <c>..</c>
/// component or contains NUL is refused outright, never "sanitised" into something else.
/// </summary>
internal static class EntryPaths
{
    /// <summary>
    /// The components of <paramref name="name"/> with empty and <c>.</c> components dropped
    /// (<c>./bin//sh</c> is <c>bin/sh</c>); an empty array is the root itself. Returns the
    /// reason instead when the name is not acceptable.
    /// </summary>
    public static string[] Split(string name, out string? problem)
    {
        problem = null;
        if (name.Contains('\0'))
        {
            problem = "the name contains a NUL character";
            return [];
        }
        if (name.StartsWith('/'))
        {
            problem = "the name is an absolute path";
            return [];
        }
        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToArray();
        if (parts.Contains(".."))
        {
            problem = "the name has a '..' component, which could point outside the layer";
            return [];
        }
        return parts;
    }

    /// <summary>The canonical form of a checked path: components joined by '/', "." for the root.</summary>
    public static string Join(ReadOnlySpan<string> parts) => parts.Length == 0 ? "." : string.Join('/', parts.ToArray());

    /// <summary>
    /// Resolves <paramref name="target"/> (a symlink or hard link target in an archive) against
    /// the directory of member <paramref name="from"/>, lexically, without leaving the archive:
    /// null when it would.
    /// </summary>
    public static string? ResolveWithinArchive(string from, string target, bool relativeToRoot)
    {
        if (target.Contains('\0'))
            return null;
        var stack = new List<string>();
        if (!relativeToRoot && !target.StartsWith('/'))
        {
            var fromParts = from.Split('/');
            stack.AddRange(fromParts[..^1]);
        }
        foreach (var part in target.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
                continue;
            if (part == "..")
            {
                if (stack.Count == 0)
                    return null;
                stack.RemoveAt(stack.Count - 1);
                continue;
            }
            stack.Add(part);
        }
        return stack.Count == 0 ? null : string.Join('/', stack);
    }
}
