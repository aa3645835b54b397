namespace Sandboxing;

/// <summary>
/// Application-wide sandbox settings, bindable from configuration (the <c>"Sandbox"</c> section
/// by convention): where the helper, cgroups, state and stores live, and the limits every
/// sandbox from <see cref="ISandboxFactory.CreateBuilder"/> starts with. Everything is optional;
/// unset means the library's default.
/// </summary>
/// <example>
/// <code>
/// "Sandbox": {
///   "MemoryLimitBytes": 268435456,
///   "PidsLimit": 128,
///   "Timeout": "00:00:30",
///   "ImageStoreDirectory": "/srv/sandbox/images"
/// }
/// </code>
/// </example>
public sealed class SandboxOptions
{
    /// <summary>The configuration section <c>AddSandboxing(configuration)</c> users usually bind: <c>"Sandbox"</c>.</summary>
    public const string SectionName = "Sandbox";

    /// <summary>Absolute path of sandbox-helper; unset: next to the application, or <c>SANDBOX_HELPER_PATH</c>.</summary>
    public string? HelperPath { get; set; }

    /// <summary>
    /// cgroup v2 only: an existing cgroup directory, delegated to this service, under which
    /// sandbox cgroups are made (<see cref="Cgroups.CgroupPlacement.ParentDirectory"/>); unset:
    /// under this process's own cgroup.
    /// </summary>
    public string? CgroupParent { get; set; }

    /// <summary>cgroup v2 only: move this process into a leaf cgroup first (<see cref="Cgroups.CgroupPlacement.MoveCallerToLeaf"/>).</summary>
    public bool CgroupMoveToLeaf { get; set; }

    /// <summary>
    /// Absolute path of a directory for the application's sandbox state (records of long-lived
    /// sandboxes); exposed through <see cref="ISandboxFactory.StateDirectory"/>. Runs themselves
    /// keep no state on disk.
    /// </summary>
    public string? StateDirectory { get; set; }

    /// <summary>Absolute path of the image store; unset: <see cref="Images.ImageStore.DefaultRootDirectory"/>.</summary>
    public string? ImageStoreDirectory { get; set; }

    /// <summary>Absolute path of the volume store; unset: <see cref="VolumeStore.Default"/>'s.</summary>
    public string? VolumeStoreDirectory { get; set; }

    /// <summary>Default memory limit in bytes (docker's --memory).</summary>
    public long? MemoryLimitBytes { get; set; }

    /// <summary>Default limit of processes and threads (docker's --pids-limit).</summary>
    public long? PidsLimit { get; set; }

    /// <summary>Default CPU limit in CPUs (docker's --cpus; 0.5 is half of one CPU).</summary>
    public double? CpuLimit { get; set; }

    /// <summary>Default wall-clock limit (<c>"00:00:30"</c> in configuration).</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Default CPU-time limit of the whole sandbox.</summary>
    public TimeSpan? CpuTimeLimit { get; set; }
}
