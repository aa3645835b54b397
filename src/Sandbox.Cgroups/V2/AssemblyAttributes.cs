using System.Runtime.CompilerServices;

// The backends (V2Cgroup, and the v1 one) are internal: the Sandbox library composes them through
// ISandboxCgroup, and the tests drive them directly against a fake cgroupfs.
[assembly: InternalsVisibleTo("Sandbox")]
[assembly: InternalsVisibleTo("Sandbox.Cgroups.Tests")]
