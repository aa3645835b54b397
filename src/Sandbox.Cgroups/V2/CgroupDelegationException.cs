namespace Sandboxing.Cgroups;

/// <summary>
/// The cgroup a sandbox should be created in cannot give it the controllers it needs: the cgroup
/// has processes of its own (cgroup v2's no-internal-processes rule), is not delegated to this
/// user, or does not offer a controller. The message says which cgroup and controllers, and how
/// to get a delegated cgroup.
/// </summary>
public sealed class CgroupDelegationException : InvalidOperationException
{
    internal CgroupDelegationException(string message, string cgroup, IReadOnlyList<string> controllers, Exception? innerException = null)
        : base(message, innerException)
    {
        Cgroup = cgroup;
        Controllers = controllers;
    }

    /// <summary>The directory of the cgroup that could not enable the controllers (or hold the new cgroup).</summary>
    public string Cgroup { get; }

    /// <summary>The controllers that were wanted there, such as <c>memory</c> and <c>pids</c>.</summary>
    public IReadOnlyList<string> Controllers { get; }
}
