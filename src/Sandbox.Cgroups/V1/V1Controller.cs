using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>
/// One v1 controller's directory in one cgroup: the files it owns, read and written through
/// <see cref="ICgroupFileSystem"/>. Each subclass knows only its own controller's files
/// (runc's fs/ layout: one file per controller).
/// </summary>
internal abstract class V1Controller
{
    protected V1Controller(string directory, ICgroupFileSystem fileSystem)
    {
        Directory = directory;
        FileSystem = fileSystem;
    }

    /// <summary>The kernel's name for the controller (<c>memory</c>, <c>cpu</c>, ...).</summary>
    public abstract string Name { get; }

    /// <summary>The cgroup's directory in the hierarchy serving this controller.</summary>
    public string Directory { get; }

    protected ICgroupFileSystem FileSystem { get; }

    /// <summary>Whether the directory is still there (not yet removed by a destroy).</summary>
    public bool Exists => FileSystem.DirectoryExists(Directory);

    protected string PathOf(string file) => Directory + "/" + file;

    protected bool Has(string file) => FileSystem.FileExists(PathOf(file));

    protected string Read(string file) => FileSystem.ReadAllText(PathOf(file));

    protected long ReadInt64(string file) => V1Files.ParseInt64(Read(file), PathOf(file));

    /// <summary>The file's number, or <see langword="null"/> when this kernel does not have the file.</summary>
    protected long? TryReadInt64(string file) => Has(file) ? ReadInt64(file) : null;

    protected void Write(string file, string value) => FileSystem.WriteControlFile(PathOf(file), value);

    /// <summary>The same failure with a hint appended to its message (the errno and path stay).</summary>
    public static CgroupWriteException WithHint(CgroupWriteException e, string hint)
    {
        string suffix = $" ({e.Path})";
        string message = e.Message.EndsWith(suffix, StringComparison.Ordinal) ? e.Message[..^suffix.Length] : e.Message;
        return new CgroupWriteException(e.Path, e.ErrorNumber, $"{message}; {hint}");
    }

    protected void Write(string file, long value) => Write(file, value.ToString(CultureInfo.InvariantCulture));
}
