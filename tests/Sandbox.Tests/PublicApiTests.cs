namespace Sandboxing.Tests;

/// <summary>
/// The public surface of the Sandbox library is reviewed like code: any change shows up as a
/// diff of PublicApi.txt. When the change is intended, copy PublicApi.received.txt (written next
/// to the test binary on failure) over tests/Sandbox.Tests/PublicApi.txt.
/// </summary>
public class PublicApiTests
{
    [Fact]
    public void The_public_API_matches_the_approved_snapshot() =>
        Shared.PublicApiSnapshot.AssertMatches(typeof(Sandbox).Assembly, "PublicApi.txt", "tests/Sandbox.Tests/PublicApi.txt");
}
