namespace Sandboxing.Cgroups;

/// <summary>Path arithmetic on absolute Linux paths ('/' separated, no normalisation of symlinks).</summary>
internal static class CgroupPaths
{
    /// <summary><paramref name="relative"/> (absolute-looking, such as <c>/a/b</c> or <c>/</c>) under <paramref name="directory"/>.</summary>
    public static string Join(string directory, string relative)
    {
        if (relative == "/" || relative.Length == 0)
            return directory;
        string tail = relative.StartsWith('/') ? relative : "/" + relative;
        return directory == "/" ? tail : directory.TrimEnd('/') + tail;
    }

    /// <summary>
    /// <paramref name="path"/> relative to <paramref name="root"/> (<c>/</c> when equal), or
    /// <see langword="null"/> when the path is not at or below the root.
    /// </summary>
    public static string? RelativeTo(string path, string root)
    {
        root = TrimTrailingSlash(root);
        path = TrimTrailingSlash(path);
        if (root == "/")
            return path;
        if (path == root)
            return "/";
        if (path.StartsWith(root, StringComparison.Ordinal) && path[root.Length] == '/')
            return path[root.Length..];
        return null;
    }

    /// <summary>Whether <paramref name="ancestor"/> is <paramref name="path"/> or one of its parent directories.</summary>
    public static bool IsAncestorOrSelf(string ancestor, string path) => RelativeTo(path, ancestor) is not null;

    /// <summary>Whether a path has a <c>..</c> component (a cgroup outside the cgroup namespace root).</summary>
    public static bool HasParentReference(string path) => path.Split('/').Contains("..");

    private static string TrimTrailingSlash(string path)
    {
        string trimmed = path.TrimEnd('/');
        return trimmed.Length == 0 && path.Length > 0 ? "/" : trimmed;
    }
}
