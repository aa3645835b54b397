using Sandboxing.Images;

namespace Sandboxing;

/// <summary>
/// Creates sandboxes configured from <see cref="SandboxOptions"/>, logging through the
/// application's <c>ILoggerFactory</c>. Registered by <c>services.AddSandboxing()</c> as a
/// singleton; thread-safe.
/// </summary>
public interface ISandboxFactory
{
    /// <summary>
    /// A builder with the options applied (helper path, cgroup placement, default limits) and the
    /// application's logger; specialise it further as usual. Reads the options as they are now,
    /// so reloaded configuration applies to builders created afterwards.
    /// </summary>
    /// <returns>A new builder.</returns>
    SandboxBuilder CreateBuilder();

    /// <summary>The image store at <see cref="SandboxOptions.ImageStoreDirectory"/> (or the default).</summary>
    ImageStore Images { get; }

    /// <summary>The volume store at <see cref="SandboxOptions.VolumeStoreDirectory"/> (or the default); pass it to <see cref="SandboxBuilder.WithVolume"/>.</summary>
    VolumeStore Volumes { get; }

    /// <summary>The configured <see cref="SandboxOptions.StateDirectory"/>, or <see langword="null"/>.</summary>
    string? StateDirectory { get; }
}
