using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Sandboxing.Extensions.DependencyInjection.Tests;

/// <summary>A real container and configuration, and real sandboxes from the factory they produce.</summary>
public class AddSandboxingTests
{
    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    [Fact]
    public async Task Options_bound_from_configuration_shape_every_sandbox_the_factory_builds()
    {
        var config = Configuration(
            ("Sandbox:PidsLimit", "16"),
            ("Sandbox:MemoryLimitBytes", "67108864"),
            ("Sandbox:Timeout", "00:00:07"),
            ("Sandbox:ImageStoreDirectory", "/tmp/sandbox-di-images"),
            ("Sandbox:StateDirectory", "/tmp/sandbox-di-state"));
        await using var provider = new ServiceCollection()
            .AddSandboxing(config.GetSection(SandboxOptions.SectionName))
            .BuildServiceProvider();
        var factory = provider.GetRequiredService<ISandboxFactory>();

        var sandbox = factory.CreateBuilder().Build();
        Assert.Equal(16, sandbox.Configuration.Resources!.PidsMax);
        Assert.Equal(64L << 20, sandbox.Configuration.Resources.MemoryBytes);
        Assert.Equal(TimeSpan.FromSeconds(7), sandbox.Configuration.Timeout);
        Assert.Equal("/tmp/sandbox-di-images", factory.Images.RootDirectory);
        Assert.Equal("/tmp/sandbox-di-state", factory.StateDirectory);

        // A real run: the pids limit is enforced by the sandbox's own cgroup.
        var result = await sandbox.RunAsync(["/bin/sh", "-c", "for i in $(seq 40); do sleep 2 & done; wait; echo done"]);
        Assert.NotNull(result.Usage);
        Assert.True(result.Usage.LimitsHit.HasFlag(SandboxLimits.Pids), $"{result}\n{result.StandardError}");
    }

    [Fact]
    public async Task Code_overrides_configuration_and_builders_can_be_specialised()
    {
        var config = Configuration(("Sandbox:Timeout", "00:00:07"), ("Sandbox:CpuLimit", "0.5"));
        await using var provider = new ServiceCollection()
            .AddSandboxing(config.GetSection("Sandbox"), o => o.Timeout = TimeSpan.FromSeconds(3))
            .BuildServiceProvider();
        var builder = provider.GetRequiredService<ISandboxFactory>().CreateBuilder();

        Assert.Equal(TimeSpan.FromSeconds(3), builder.Configuration.Timeout);
        Assert.Equal(0.5, builder.Configuration.Resources!.Cpus);
        var result = await builder.WithHostname("di").Build().RunAsync(["/bin/hostname"]);
        Assert.Equal("di\n", result.StandardOutput);
    }

    [Fact]
    public async Task Without_options_the_factory_builds_the_default_sandbox()
    {
        await using var provider = new ServiceCollection().AddSandboxing().BuildServiceProvider();
        var factory = provider.GetRequiredService<ISandboxFactory>();
        Assert.Same(factory, provider.GetRequiredService<ISandboxFactory>());

        var builder = factory.CreateBuilder();
        var c = builder.Configuration;
        Assert.Equal((null, null, null, null, null), (c.Resources, c.Timeout, c.CpuTimeLimit, c.CgroupPlacement, c.HelperPath));
        Assert.True((await builder.Build().RunAsync(["/bin/true"])).IsSuccess);
        Assert.Equal(VolumeStore.Default.RootDirectory, factory.Volumes.RootDirectory);
    }

    [Fact]
    public async Task Sandboxes_log_through_the_applications_logger_factory()
    {
        var provider = new CapturingProvider();
        await using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(provider).SetMinimumLevel(LogLevel.Information))
            .AddSandboxing()
            .BuildServiceProvider();
        var result = await services.GetRequiredService<ISandboxFactory>().CreateBuilder().Build().RunAsync(["/bin/true"]);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!provider.Events.Any(e => e.Name == "SandboxExited") && DateTime.UtcNow < deadline)
            await Task.Delay(10); // the exit event comes from a continuation
        Assert.Contains(provider.Events, e => e is { Category: "Sandboxing.Sandbox", Name: "SandboxStarted" } && e.Message.Contains(result.SandboxId, StringComparison.Ordinal));
        Assert.Contains(provider.Events, e => e is { Category: "Sandboxing.Sandbox", Name: "SandboxExited" } && e.Message.Contains(result.SandboxId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_helper_path_option_chooses_the_helper()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"sandbox-helper-di-{Environment.ProcessId}");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "sandbox-helper"), copy, overwrite: true);
        try
        {
            await using var provider = new ServiceCollection().AddSandboxing(o => o.HelperPath = copy).BuildServiceProvider();
            var sandbox = provider.GetRequiredService<ISandboxFactory>().CreateBuilder().Build();
            Assert.Equal(copy, sandbox.Configuration.HelperPath);
            Assert.True((await sandbox.RunAsync(["/bin/true"])).IsSuccess);

            await using var missing = new ServiceCollection().AddSandboxing(o => o.HelperPath = copy + "-missing").BuildServiceProvider();
            var e = await Assert.ThrowsAnyAsync<SandboxException>(() => missing.GetRequiredService<ISandboxFactory>().CreateBuilder().Build().RunAsync(["/bin/true"]));
            Assert.Contains(copy + "-missing", e.Message);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public async Task Invalid_options_fail_naming_the_configuration_key()
    {
        var config = Configuration(("Sandbox:PidsLimit", "0"), ("Sandbox:ImageStoreDirectory", "images"));
        await using var provider = new ServiceCollection().AddSandboxing(config.GetSection("Sandbox")).BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ISandboxFactory>().CreateBuilder());
        Assert.Contains("Sandbox:PidsLimit is 0", e.Message);
        Assert.Contains("Sandbox:ImageStoreDirectory is 'images', which is not an absolute path", e.Message);
    }

    private sealed record Logged(string Category, string? Name, string Message);

    private sealed class CapturingProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<Logged> _events = new();

        public IReadOnlyList<Logged> Events => [.. _events];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _events);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<Logged> events) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                events.Enqueue(new Logged(category, eventId.Name, formatter(state, exception)));
        }
    }
}
