namespace Sandboxing.Cgroups;

/// <summary>
/// Every read of cgroupfs and procfs the library makes goes through this interface, so that
/// detection and, later, the controllers can be tested against a fake tree of files with
/// realistic contents instead of the machine the tests happen to run on.
/// </summary>
/// <remarks>
/// Paths are absolute Linux paths as the calling process sees them (<c>/proc/self/cgroup</c>,
/// <c>/sys/fs/cgroup/memory/memory.max</c>). The real implementation is
/// <see cref="LinuxCgroupFileSystem"/>.
/// </remarks>
public interface ICgroupFileSystem
{
    /// <summary>Reads a whole text file (procfs and cgroupfs files report size 0: read to EOF).</summary>
    /// <param name="path">Absolute path of the file.</param>
    /// <returns>The file's contents.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">A directory on the path does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Another error while reading.</exception>
    string ReadAllText(string path);

    /// <summary>Whether a regular file exists at <paramref name="path"/>.</summary>
    /// <param name="path">Absolute path.</param>
    /// <returns><see langword="true"/> when the file exists.</returns>
    bool FileExists(string path);

    /// <summary>Whether a directory exists at <paramref name="path"/>.</summary>
    /// <param name="path">Absolute path.</param>
    /// <returns><see langword="true"/> when the directory exists.</returns>
    bool DirectoryExists(string path);

    /// <summary>The names (not paths) of the subdirectories of a directory, in no particular order.</summary>
    /// <param name="path">Absolute path of the directory.</param>
    /// <returns>The subdirectory names; in a cgroup directory, the child cgroups.</returns>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="IOException">Another error while listing.</exception>
    IReadOnlyList<string> GetDirectories(string path);

    /// <summary>
    /// The type of the filesystem <paramref name="path"/> lives on, as statfs(2) reports it in
    /// <c>f_type</c>: compare with <see cref="CgroupFilesystem.CgroupV1Magic"/> and
    /// <see cref="CgroupFilesystem.CgroupV2Magic"/>.
    /// </summary>
    /// <param name="path">Absolute path of an existing file or directory.</param>
    /// <returns>The filesystem magic number.</returns>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">Search permission denied on the path.</exception>
    /// <exception cref="IOException">Another statfs error.</exception>
    long GetFileSystemType(string path);

    /// <summary>
    /// Writes <paramref name="content"/> to an existing cgroup control file in one write(2)
    /// (cgroupfs acts on each write: "+memory +pids" must not be split).
    /// </summary>
    /// <param name="path">Absolute path of the control file.</param>
    /// <param name="content">What to write, usually one line without a newline.</param>
    /// <exception cref="CgroupWriteException">The kernel refused the write; carries the errno.</exception>
    void WriteControlFile(string path, string content);

    /// <summary>Creates one directory (mkdir(2); in a cgroup hierarchy, a child cgroup).</summary>
    /// <param name="path">Absolute path of the new directory; its parent must exist.</param>
    /// <exception cref="CgroupWriteException">mkdir failed (EEXIST, EACCES, ...); carries the errno.</exception>
    void CreateDirectory(string path);

    /// <summary>Removes one empty directory (rmdir(2); in a cgroup hierarchy, an empty cgroup).</summary>
    /// <param name="path">Absolute path of the directory.</param>
    /// <exception cref="CgroupWriteException">rmdir failed (EBUSY while processes remain, ENOENT, ...); carries the errno.</exception>
    void RemoveDirectory(string path);
}

/// <summary>A write to cgroupfs (or a mkdir/rmdir there) failed; <see cref="ErrorNumber"/> says why.</summary>
public sealed class CgroupWriteException : IOException
{
    /// <summary>Creates the exception.</summary>
    public CgroupWriteException(string path, int errorNumber, string message)
        : base($"{message} ({path})", errorNumber)
    {
        Path = path;
        ErrorNumber = errorNumber;
    }

    /// <summary>The file or directory the operation was on.</summary>
    public string Path { get; }

    /// <summary>The errno the kernel returned (EBUSY = 16, EINVAL = 22, EACCES = 13, ENOENT = 2, EOPNOTSUPP = 95, ...).</summary>
    public int ErrorNumber { get; }
}
