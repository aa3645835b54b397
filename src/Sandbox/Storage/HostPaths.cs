using Sandboxing.Images;

namespace Sandboxing;

/// <summary>
/// Comparisons of host paths by what they name rather than how they are spelled: a writable
/// overlay directory given as a symlink into a layer is inside that layer, whatever its text.
/// </summary>
internal static class HostPaths
{
    /// <summary>
    /// <paramref name="path"/> with every symlink resolved: realpath(3) of its deepest ancestor
    /// that exists, followed by the components below that do not exist yet (which is where
    /// mkdir -p would create them).
    /// </summary>
    /// <param name="path">An absolute path.</param>
    public static string Resolve(string path)
    {
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int existing = parts.Length; existing >= 0; existing--)
        {
            // realpath fails on the first missing (or unreadable) component, so a shorter
            // prefix is tried until one resolves; "/" always does.
            if (ImageNative.RealPath("/" + string.Join('/', parts[..existing])) is not { } real)
                continue;
            // The rest does not exist, so "." and ".." in it can only be read as text.
            return Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.Join([real, .. parts[existing..]])));
        }
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
    }

    /// <summary>Whether one of two resolved paths is the other or lies below it.</summary>
    public static bool Overlap(string resolvedA, string resolvedB) =>
        IsSameOrBelow(resolvedA, resolvedB) || IsSameOrBelow(resolvedB, resolvedA);

    private static bool IsSameOrBelow(string path, string ancestor) =>
        path == ancestor || path.StartsWith(ancestor == "/" ? "/" : ancestor + "/", StringComparison.Ordinal);
}
