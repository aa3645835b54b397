using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sandboxing;

// The namespace of IServiceCollection, as for every AddXyz: found without another using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Sandbox with a service collection.</summary>
public static class SandboxServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ISandboxFactory"/> (a singleton) and <see cref="SandboxOptions"/>,
    /// validated on first use. Calling it again only adds <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options in code; applied after any configuration binding.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddSandboxing(this IServiceCollection services, Action<SandboxOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<SandboxOptions>();
        if (configure is not null)
            services.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SandboxOptions>, SandboxOptionsValidator>());
        services.TryAddSingleton<ISandboxFactory>(sp => new SandboxFactory(
            sp.GetRequiredService<IOptionsMonitor<SandboxOptions>>(),
            sp.GetService<ILoggerFactory>()));
        return services;
    }

    /// <summary>
    /// <see cref="AddSandboxing(IServiceCollection, Action{SandboxOptions}?)"/>, binding the options
    /// from <paramref name="configuration"/>, usually <c>builder.Configuration.GetSection("Sandbox")</c>
    /// (<see cref="SandboxOptions.SectionName"/>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section whose keys are <see cref="SandboxOptions"/>'s property names.</param>
    /// <param name="configure">Sets options in code, after the binding.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddSandboxing(this IServiceCollection services, IConfiguration configuration, Action<SandboxOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SandboxOptions>().Bind(configuration);
        return services.AddSandboxing(configure);
    }
}
