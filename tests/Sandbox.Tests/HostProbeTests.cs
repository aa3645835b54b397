using Sandboxing.Cgroups;
using Sandboxing.Host;
using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>
/// The host report against the host's own facts, read here independently (procfs, sysfs,
/// cgroupfs), and against what really happens when a sandbox runs, as root and as nobody.
/// </summary>
public class HostProbeTests
{
    private static readonly HostReport s_report = SandboxHost.Probe();

    private static long? Sysctl(string path) => File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), out long v) ? v : null;

    [Theory]
    [InlineData("6.1.0-18-amd64", 6, 1, 0)]
    [InlineData("5.15.0-1051-azure", 5, 15, 0)]
    [InlineData("6.18.44-fc-v769", 6, 18, 44)]
    [InlineData("5.4", 5, 4, -1)]
    [InlineData("4.18.0-553.el8_10.x86_64", 4, 18, 0)]
    [InlineData("6.10-rc3", 6, 10, -1)]
    public void A_kernel_release_gives_its_version(string release, int major, int minor, int build)
    {
        var v = KernelRelease.Parse(release)!;
        Assert.Equal((major, minor, build), (v.Major, v.Minor, v.Build));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("linux")]
    [InlineData("6")]
    public void A_release_without_a_version_gives_none(string? release) => Assert.Null(KernelRelease.Parse(release));

    [Fact]
    public void The_report_names_the_running_kernel()
    {
        string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        Assert.Equal(release, s_report.KernelRelease);
        Assert.Equal(KernelRelease.Parse(release), s_report.KernelVersion);
        Assert.Equal(Environment.OSVersion.Version.Major, s_report.KernelVersion!.Major);
        // The suite runs on a kernel new enough for every test, so the kernel item must be fit.
        Assert.True(s_report.Kernel.Supported, s_report.Kernel.ToString());
        Assert.True(s_report.MountApi.Supported && s_report.Pidfd.Supported && s_report.Clone3.Supported && s_report.CloneIntoCgroup.Supported, s_report.ToString());
    }

    [Fact]
    public void Each_namespace_is_supported_exactly_when_proc_has_it_and_no_sysctl_forbids_it()
    {
        var kinds = new (string Feature, string Proc, string Sysctl)[]
        {
            ("ns.user", "user", "user"), ("ns.pid", "pid", "pid"), ("ns.mount", "mnt", "mnt"), ("ns.network", "net", "net"),
            ("ns.uts", "uts", "uts"), ("ns.ipc", "ipc", "ipc"), ("ns.cgroup", "cgroup", "cgroup"), ("ns.time", "time", "time"),
        };
        Assert.Equal(kinds.Select(k => k.Feature), s_report.Namespaces.Select(n => n.Name));
        foreach (var (feature, proc, sysctl) in kinds)
        {
            bool expected = File.Exists($"/proc/self/ns/{proc}") && Sysctl($"/proc/sys/user/max_{sysctl}_namespaces") != 0;
            Assert.True(expected == s_report.Find(feature)!.Supported, s_report.Find(feature)!.ToString());
        }
    }

    [Fact]
    public void User_namespaces_follow_the_sysctls()
    {
        bool any = File.Exists("/proc/self/ns/user") && Sysctl("/proc/sys/user/max_user_namespaces") != 0;
        bool unprivileged = any
            && Sysctl("/proc/sys/kernel/unprivileged_userns_clone") != 0
            && Sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") != 1;
        Assert.Equal(any, s_report.PrivilegedUserNamespaces.Supported);
        Assert.Equal(unprivileged, s_report.UnprivilegedUserNamespaces.Supported);
        Assert.All(s_report.Features.Where(f => !f.Supported), f => Assert.False(string.IsNullOrEmpty(f.Reason)));
    }

    [Fact]
    public async Task The_real_attempt_confirms_a_user_namespace_for_root()
    {
        var report = await SandboxHost.ProbeAsync();
        Assert.Equal(0u, report.EffectiveUid);
        Assert.True(report.PrivilegedUserNamespaces.Supported, report.PrivilegedUserNamespaces.ToString());
        Assert.Contains("Confirmed", report.PrivilegedUserNamespaces.Reason);
        Assert.True(report.CanRunSandboxes, report.ToString());
    }

    [Fact]
    public async Task Rootless_the_report_agrees_with_what_a_rootless_sandbox_does()
    {
        var (code, output, error) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "hostprobe");
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        bool unprivileged = lines.Contains("feature userns.unprivileged yes");
        Assert.Equal(s_report.UnprivilegedUserNamespaces.Supported, unprivileged);

        var (probeCode, probeOutput, probeError) = await TestHostProcess.RunAsync(TestHostProcess.AsNobody, "probe");
        bool ran = probeCode == 0 && probeOutput.Contains("verdict=Exited code=0");
        Assert.True(unprivileged == ran, $"report says unprivileged user namespaces: {unprivileged}; a rootless sandbox ran: {ran}\n{probeOutput}{probeError}");
        Assert.Contains($"canrun {(ran ? "yes" : "no")}", lines);

        // nobody cannot make cgroups in root's: every controller says so.
        var controllers = lines.Where(l => l.StartsWith("controller ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(controllers);
        Assert.All(controllers, l => Assert.EndsWith(" no", l));
    }

    [Fact]
    public void The_cgroup_report_matches_the_detected_layout_and_leaves_nothing_behind()
    {
        var host = CgroupHost.Current;
        Assert.Equal(host.Mode, s_report.CgroupMode);
        Assert.Equal(host.Controllers.Keys.Order(StringComparer.Ordinal), s_report.CgroupControllers.Select(c => c.Name));
        foreach (var c in s_report.CgroupControllers)
        {
            var hierarchy = host.Controllers[c.Name];
            Assert.Equal(hierarchy.Version, c.Version);
            Assert.Equal(hierarchy.Directory, c.Directory);
            // Root may make cgroups in any writable hierarchy; v2 adds the no-internal-processes rule.
            if (c.Version == CgroupVersion.V1 && !hierarchy.IsReadOnly)
                Assert.True(c.CanDelegate, c.ToString());
        }
        // Only this process's probes: the other test processes (the CLI's `sandbox probe` among
        // them) share this cgroup and probe it at the same time, each under its own pid.
        foreach (var dir in host.Hierarchies.Select(h => h.Directory).Distinct())
            Assert.Empty(Directory.GetDirectories(dir, $"sandbox-probe-{Environment.ProcessId}-*"));
    }

    [Fact]
    public void Seccomp_overlayfs_and_the_helper_match_the_host()
    {
        Assert.Equal(File.Exists("/proc/sys/kernel/seccomp/actions_avail"), s_report.Seccomp.Supported);
        bool overlay = File.ReadAllLines("/proc/filesystems").Any(l => l.Split('\t')[^1] == "overlay");
        if (overlay)
            Assert.True(s_report.Overlayfs.Supported && s_report.OverlayfsInUserNamespace.Supported, s_report.ToString());
        Assert.True(s_report.Helper.Supported, s_report.Helper.ToString());
        Assert.Equal(Sandboxing.Helper.HelperLocator.Path, s_report.HelperPath);
    }

    [Fact]
    public async Task The_Landlock_ABI_is_there_exactly_when_a_Landlock_sandbox_runs()
    {
        var sandbox = new SandboxBuilder().WithLandlock(SandboxLandlock.HostProgramRules).Build();
        bool ran;
        try
        {
            ran = (await sandbox.RunAsync(["/bin/true"])).IsSuccess;
        }
        catch (SandboxException)
        {
            ran = false;
        }
        Assert.Equal(ran, s_report.LandlockAbi is > 0);
        Assert.Equal(ran, s_report.Landlock.Supported);
    }

    [Fact]
    public void This_kernel_runs_every_configuration()
    {
        Assert.Null(HostRequirements.Problem(new SandboxConfiguration()));
        _ = new SandboxBuilder().Build(); // does not throw
    }

    private static KernelFacts Kernel(string release, int clone3 = HostNative.EINVAL, int mountSetattr = HostNative.EINVAL, int waitid = HostNative.EBADF,
        SandboxNamespaces disabledBySysctl = SandboxNamespaces.None) => new()
    {
        Release = release,
        Version = KernelRelease.Parse(release),
        Clone3Errno = clone3,
        PidfdOpenErrno = HostNative.EINVAL,
        WaitidPidfdErrno = waitid,
        Openat2Errno = HostNative.EINVAL,
        MountSetattrErrno = mountSetattr,
        Namespaces = SandboxNamespaces.All & ~disabledBySysctl,
        NamespacesDisabledBySysctl = disabledBySysctl,
    };

    [Fact]
    public void A_kernel_without_mount_setattr_refuses_a_mount_namespace_but_not_a_sandbox_without_one()
    {
        var old = Kernel("5.10.0-28-amd64", mountSetattr: HostNative.ENOSYS);
        string problem = HostRequirements.Problem(new SandboxConfiguration(), old)!;
        Assert.Contains("mount_setattr (Linux 5.12)", problem);
        Assert.Contains("Linux 5.10.0-28-amd64 lacks mount_setattr", problem);
        Assert.Contains("WithoutNamespaces(SandboxNamespaces.Mount)", problem);
        Assert.Null(HostRequirements.Problem(new SandboxConfiguration { Namespaces = SandboxNamespaces.All & ~SandboxNamespaces.Mount }, old));
    }

    [Fact]
    public void A_clone3_hidden_by_a_seccomp_filter_is_named_as_such()
    {
        var filtered = Kernel("6.1.0-18-amd64", clone3: HostNative.ENOSYS);
        string problem = HostRequirements.Problem(new SandboxConfiguration { Namespaces = SandboxNamespaces.None }, filtered)!;
        Assert.Contains("clone3 fails with ENOSYS although Linux 6.1.0-18-amd64 has it", problem);
        Assert.Contains("seccomp", problem);
    }

    [Fact]
    public void A_kernel_before_5_4_is_refused_for_every_configuration()
    {
        var old = Kernel("5.3.18", waitid: HostNative.EINVAL);
        Assert.Contains("waitid(P_PIDFD) (Linux 5.4+)", HostRequirements.Problem(new SandboxConfiguration { Namespaces = SandboxNamespaces.None }, old));
    }

    [Fact]
    public void A_namespace_disabled_by_its_sysctl_names_the_sysctl()
    {
        var facts = Kernel("6.1.0", disabledBySysctl: SandboxNamespaces.User);
        string problem = HostRequirements.Problem(new SandboxConfiguration(), facts)!;
        Assert.Contains("user.max_user_namespaces is 0", problem);
        Assert.Contains("WithoutNamespaces(SandboxNamespaces.User)", problem);
    }
}
