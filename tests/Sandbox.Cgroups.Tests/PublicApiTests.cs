namespace Sandboxing.Cgroups.Tests;

/// <summary>
/// The public surface of Sandbox.Cgroups is reviewed like code: any change shows up as a diff of
/// PublicApi.txt. When the change is intended, copy PublicApi.received.txt (written next to the
/// test binary on failure) over tests/Sandbox.Cgroups.Tests/PublicApi.txt.
/// </summary>
public class PublicApiTests
{
    [Fact]
    public void The_public_API_matches_the_approved_snapshot() =>
        Sandboxing.Tests.Shared.PublicApiSnapshot.AssertMatches(typeof(CgroupHost).Assembly, "PublicApi.txt", "tests/Sandbox.Cgroups.Tests/PublicApi.txt");
}
