using Microsoft.Extensions.Options;

namespace Sandboxing;

/// <summary>
/// Checks <see cref="SandboxOptions"/> when they are first used, naming the configuration key
/// (<c>Sandbox:PidsLimit</c>), so a typo in appsettings.json fails at startup rather than at the
/// first run.
/// </summary>
internal sealed class SandboxOptionsValidator : IValidateOptions<SandboxOptions>
{
    public ValidateOptionsResult Validate(string? name, SandboxOptions options)
    {
        var failures = new List<string>();
        void Absolute(string key, string? path)
        {
            if (path is not null && !Path.IsPathRooted(path))
                failures.Add($"{SandboxOptions.SectionName}:{key} is '{path}', which is not an absolute path.");
        }
        void Positive(string key, double? value, string unit)
        {
            if (value is <= 0)
                failures.Add($"{SandboxOptions.SectionName}:{key} is {value}; it must be a positive number of {unit}, or unset for none.");
        }
        Absolute(nameof(options.HelperPath), options.HelperPath);
        Absolute(nameof(options.CgroupParent), options.CgroupParent);
        Absolute(nameof(options.StateDirectory), options.StateDirectory);
        Absolute(nameof(options.ImageStoreDirectory), options.ImageStoreDirectory);
        Absolute(nameof(options.VolumeStoreDirectory), options.VolumeStoreDirectory);
        Positive(nameof(options.MemoryLimitBytes), options.MemoryLimitBytes, "bytes");
        Positive(nameof(options.PidsLimit), options.PidsLimit, "processes");
        Positive(nameof(options.CpuLimit), options.CpuLimit, "CPUs");
        Positive(nameof(options.Timeout), options.Timeout?.TotalSeconds, "seconds (\"00:00:30\")");
        Positive(nameof(options.CpuTimeLimit), options.CpuTimeLimit?.TotalSeconds, "seconds (\"00:00:30\")");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
