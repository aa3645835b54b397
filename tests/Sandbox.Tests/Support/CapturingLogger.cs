using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sandboxing.Tests.Support;

/// <summary>One log event as a sink sees it: the level, the id, the structured fields and the text.</summary>
internal sealed record LoggedEvent(LogLevel Level, EventId Id, IReadOnlyDictionary<string, object?> Fields, string Message, Exception? Exception)
{
    public object? this[string field] => Fields.TryGetValue(field, out var value) ? value : throw new KeyNotFoundException($"event {Id.Name} has no field {field}: {string.Join(", ", Fields.Keys)}");
}

/// <summary>An <see cref="ILogger"/> that keeps every event, with its structured fields, for assertions.</summary>
internal sealed class CapturingLogger(LogLevel minimum = LogLevel.Trace) : ILogger
{
    private readonly ConcurrentQueue<LoggedEvent> _events = new();
    private readonly SemaphoreSlim _logged = new(0);

    public IReadOnlyList<LoggedEvent> Events => [.. _events];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var fields = state is IEnumerable<KeyValuePair<string, object?>> pairs
            ? pairs.ToDictionary(p => p.Key, p => p.Value)
            : new Dictionary<string, object?>();
        _events.Enqueue(new LoggedEvent(logLevel, eventId, fields, formatter(state, exception), exception));
        _logged.Release();
    }

    /// <summary>The first event named <paramref name="name"/>, waiting for it (exit events come from a continuation).</summary>
    public async Task<LoggedEvent> WaitForAsync(string name, string? sandboxId = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var found = _events.FirstOrDefault(e => e.Id.Name == name && (sandboxId is null || Equals(e.Fields.GetValueOrDefault("SandboxId"), sandboxId)));
            if (found is not null)
                return found;
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero, $"no {name} event; logged: {string.Join("; ", _events.Select(e => e.Id.Name))}");
            await _logged.WaitAsync(left);
        }
    }
}
