using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sandboxing.Cgroups;
using Sandboxing.Images;

namespace Sandboxing;

/// <summary>The <see cref="ISandboxFactory"/> that <c>AddSandboxing</c> registers.</summary>
internal sealed class SandboxFactory(IOptionsMonitor<SandboxOptions> options, ILoggerFactory? loggerFactory) : ISandboxFactory
{
    // One logger for every sandbox: the category is the type that logs ("Sandboxing.Sandbox").
    private readonly ILogger _logger = loggerFactory?.CreateLogger<Sandbox>() ?? NullLogger<Sandbox>.Instance;

    public SandboxBuilder CreateBuilder()
    {
        var o = options.CurrentValue;
        var builder = new SandboxBuilder().WithLogger(_logger);
        if (o.HelperPath is { } helper)
            builder = builder.WithHelperPath(helper);
        if (o.CgroupParent is not null || o.CgroupMoveToLeaf)
            builder = builder.WithCgroupPlacement(new CgroupPlacement { ParentDirectory = o.CgroupParent, MoveCallerToLeaf = o.CgroupMoveToLeaf });
        if (o.MemoryLimitBytes is { } memory)
            builder = builder.WithMemoryLimit(memory);
        if (o.PidsLimit is { } pids)
            builder = builder.WithPidsLimit(pids);
        if (o.CpuLimit is { } cpus)
            builder = builder.WithCpuLimit(cpus);
        if (o.Timeout is { } timeout)
            builder = builder.WithTimeout(timeout);
        if (o.CpuTimeLimit is { } cpuTime)
            builder = builder.WithCpuTimeLimit(cpuTime);
        return builder;
    }

    public ImageStore Images => new(options.CurrentValue.ImageStoreDirectory ?? ImageStore.DefaultRootDirectory);

    public VolumeStore Volumes => options.CurrentValue.VolumeStoreDirectory is { } dir ? new VolumeStore(dir) : VolumeStore.Default;

    public string? StateDirectory => options.CurrentValue.StateDirectory;
}
