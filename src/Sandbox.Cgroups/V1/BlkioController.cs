using System.Globalization;

namespace Sandboxing.Cgroups;

/// <summary>
/// The v1 blkio controller's throttling policy (Documentation/admin-guide/cgroup-v1/blkio-controller.rst):
/// per-device bytes and operations per second, and the I/O the policy has seen.
/// </summary>
internal sealed class BlkioController(string directory, ICgroupFileSystem fileSystem) : V1Controller(directory, fileSystem)
{
    public const string ControllerName = "blkio";
    private const string ServiceBytes = "blkio.throttle.io_service_bytes";
    private const string Serviced = "blkio.throttle.io_serviced";

    public override string Name => ControllerName;

    public static string? Needed(CgroupLimits limits) => limits.IoThrottles.IsDefaultOrEmpty ? null : nameof(CgroupLimits.IoThrottles);

    public static string FileFor(IoThrottleKind kind) => kind switch
    {
        IoThrottleKind.ReadBytesPerSecond => "blkio.throttle.read_bps_device",
        IoThrottleKind.WriteBytesPerSecond => "blkio.throttle.write_bps_device",
        IoThrottleKind.ReadOperationsPerSecond => "blkio.throttle.read_iops_device",
        IoThrottleKind.WriteOperationsPerSecond => "blkio.throttle.write_iops_device",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown I/O throttle kind"),
    };

    public static void Validate(CgroupLimits limits)
    {
        if (limits.IoThrottles.IsDefaultOrEmpty)
            return;
        foreach (var throttle in limits.IoThrottles)
            _ = FileFor(throttle.Kind);
    }

    public void Apply(CgroupLimits limits)
    {
        if (limits.IoThrottles.IsDefaultOrEmpty)
            return;
        foreach (var throttle in limits.IoThrottles)
        {
            // One rule per write, "MAJ:MIN value"; 0 removes the device's rule.
            string rule = string.Create(CultureInfo.InvariantCulture, $"{throttle.Major}:{throttle.Minor} {throttle.Value}");
            try
            {
                Write(FileFor(throttle.Kind), rule);
            }
            catch (CgroupWriteException e)
            {
                throw WithHint(e, $"device {throttle.Major}:{throttle.Minor} must be a whole block device (not a partition) that exists (see /proc/partitions)");
            }
        }
    }

    public CgroupStats AddStats(CgroupStats stats)
    {
        var (readBytes, writeBytes) = V1Files.ParseBlkioReadWrite(Read(ServiceBytes));
        var (readOps, writeOps) = V1Files.ParseBlkioReadWrite(Read(Serviced));
        return stats with { IoReadBytes = readBytes, IoWriteBytes = writeBytes, IoReadOperations = readOps, IoWriteOperations = writeOps };
    }
}
