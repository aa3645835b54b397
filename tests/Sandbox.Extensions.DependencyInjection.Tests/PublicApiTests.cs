namespace Sandboxing.Extensions.DependencyInjection.Tests;

/// <summary>
/// The public surface of Sandbox.Extensions.DependencyInjection, reviewed like code. When a
/// change is intended, copy PublicApi.received.txt (written next to the test binary on failure)
/// over tests/Sandbox.Extensions.DependencyInjection.Tests/PublicApi.txt.
/// </summary>
public class PublicApiTests
{
    [Fact]
    public void The_public_API_matches_the_approved_snapshot() =>
        Sandboxing.Tests.Shared.PublicApiSnapshot.AssertMatches(typeof(SandboxOptions).Assembly, "PublicApi.txt",
            "tests/Sandbox.Extensions.DependencyInjection.Tests/PublicApi.txt");
}
