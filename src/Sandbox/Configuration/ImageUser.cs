using Sandboxing.Images;

namespace Sandboxing;

/// <summary>
/// Resolves an image's USER (<c>name</c>, <c>uid</c>, <c>uid:gid</c>, <c>name:group</c>) to ids
/// the way docker does: names through the image's own /etc/passwd and /etc/group, read from the
/// topmost layer that has them; a numeric uid that has no passwd entry runs with gid 0.
/// </summary>
internal static class ImageUser
{
    public static (uint Uid, uint Gid) Resolve(SandboxImage image, string user)
    {
        string userPart = user, groupPart = "";
        int colon = user.IndexOf(':');
        if (colon >= 0)
        {
            userPart = user[..colon];
            groupPart = user[(colon + 1)..];
        }
        var passwd = ReadDatabase(image, "etc/passwd");
        uint uid, gid = 0;
        if (uint.TryParse(userPart, out uid))
        {
            if (passwd.FirstOrDefault(e => e.Length > 3 && e[2] == userPart) is { } entry && uint.TryParse(entry[3], out uint primary))
                gid = primary;
        }
        else
        {
            var entry = passwd.FirstOrDefault(e => e.Length > 3 && e[0] == userPart)
                ?? throw new SandboxConfigurationException("image.user", $"the image runs as user '{userPart}', which its /etc/passwd does not list.",
                    "Set the user with WithUser(uid, gid) after WithImage, or use an image whose /etc/passwd names it.");
            if (!uint.TryParse(entry[2], out uid) || !uint.TryParse(entry[3], out gid))
                throw new SandboxConfigurationException("image.user", $"the image's /etc/passwd entry for '{userPart}' has no numeric ids.");
        }
        if (groupPart.Length > 0 && !uint.TryParse(groupPart, out gid))
        {
            var group = ReadDatabase(image, "etc/group").FirstOrDefault(e => e.Length > 2 && e[0] == groupPart)
                ?? throw new SandboxConfigurationException("image.user", $"the image runs as group '{groupPart}', which its /etc/group does not list.",
                    "Set the user with WithUser(uid, gid) after WithImage.");
            if (!uint.TryParse(group[2], out gid))
                throw new SandboxConfigurationException("image.user", $"the image's /etc/group entry for '{groupPart}' has no numeric id.");
        }
        return (uid, gid);
    }

    /// <summary>Lines of a colon-separated database from the topmost layer that has the file; none when a whiteout hides it.</summary>
    private static List<string[]> ReadDatabase(SandboxImage image, string relativePath)
    {
        for (int i = image.LayerDirectories.Length - 1; i >= 0; i--)
        {
            var info = new FileInfo(Path.Combine(image.LayerDirectories[i], relativePath));
            if (info.LinkTarget is not null)
                return []; // a symlink would resolve on the host here; docker images never need one
            if (!info.Exists)
            {
                if (Directory.Exists(info.FullName) || IsWhiteout(info.FullName))
                    return [];
                continue;
            }
            if (info.Length > 4 * 1024 * 1024)
                return [];
            return [.. File.ReadLines(info.FullName).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split(':'))];
        }
        return [];
    }

    private static bool IsWhiteout(string path)
    {
        try
        {
            return (File.GetAttributes(path) & FileAttributes.Device) != 0;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
