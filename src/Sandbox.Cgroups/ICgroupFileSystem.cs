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
}
