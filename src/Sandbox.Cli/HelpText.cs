using System.Reflection;

namespace Sandboxing.Cli;

/// <summary>The help and version texts, laid out like docker's.</summary>
internal static class HelpText
{
    public const string Main =
        """

        Usage:  sandbox [OPTIONS] COMMAND

        Run Linux processes in sandboxes: namespaces, mounts and user mappings, no daemon.

        Options:
          -h, --help       Print usage
          -v, --version    Print version information and quit

        Commands:
          run         Run a command in a fresh sandbox

        Run 'sandbox COMMAND --help' for more information on a command.

        """;

    public const string Run =
        """

        Usage:  sandbox run [OPTIONS] [--] COMMAND [ARG...]

        Run a command in a fresh sandbox: its own namespaces, a private /proc, /dev and /tmp,
        no network, and the host's filesystem read-only unless --rootfs says otherwise. The
        command shares this process's standard input, output and error, so it works in pipes
        and interactively. The '--' is needed only when COMMAND starts with '-'.

        Without --rootfs, mount points (DST) must exist on the host or lie under /tmp, because
        the host's root is read-only and they cannot be created there.

        The resource limits (--memory, --cpus, --pids-limit, ...) are docker's, enforced through
        a cgroup of the sandbox's own, on cgroup v1 or v2. They need a cgroup the caller may
        create children in: run as root, or in a cgroup delegated to the user. On cgroup v2 a
        cgroup that holds processes cannot hand controllers to children: run the CLI in a
        delegated scope (systemd-run --user --scope -p Delegate=yes sandbox run ...), or give
        --cgroup-move-to-leaf, or --cgroup-parent.

        Options:
              --bind SRC:DST[:ro|:rw]  Bind mount the host path SRC at DST, read-write unless
                                       ':ro' (repeatable)
                                         --bind "$PWD":/tmp/src:ro
              --cgroup                 Give the sandbox a cgroup even without limits, so the
                                       report has its usage (implied by every limit)
                                         --cgroup --report result.json
              --cgroup-move-to-leaf    On cgroup v2, first move this process (only it) into a
                                       leaf cgroup beside the sandboxes, so controllers can be
                                       enabled for them
                                         --memory 64m --cgroup-move-to-leaf
              --cgroup-parent DIR      Create sandbox cgroups under this cgroup v2 directory
                                       instead of under the CLI's own cgroup
                                         --cgroup-parent /sys/fs/cgroup/sandboxes
          -c, --cpu-shares N           Relative CPU weight when CPUs are busy: 2 to 262144,
                                       1024 is normal
                                         --cpu-shares 512
              --cpus N.N               CPU time the sandbox may use, in CPUs: 0.5 is half of
                                       one CPU, 2 is two whole ones
                                         --cpus 1.5
              --cpuset-cpus LIST       CPUs the sandbox may run on: numbers and ranges
                                         --cpuset-cpus 0-1,3
              --cpuset-mems LIST       NUMA memory nodes the sandbox may use
                                         --cpuset-mems 0
              --device-read-bps DEVICE:RATE
                                       Limit reads from the block device DEVICE (a path under
                                       /dev) to RATE bytes per second, with a k, m or g
                                       suffix (repeatable)
                                         --device-read-bps /dev/sda:10m
              --device-read-iops DEVICE:N
                                       Limit reads from DEVICE to N operations per second
                                       (repeatable)
                                         --device-read-iops /dev/sda:1000
              --device-write-bps DEVICE:RATE
                                       Limit writes to DEVICE to RATE bytes per second
                                       (repeatable)
                                         --device-write-bps /dev/nvme0n1:1m
              --device-write-iops DEVICE:N
                                       Limit writes to DEVICE to N operations per second
                                       (repeatable)
                                         --device-write-iops /dev/sda:200
          -e, --env NAME=VALUE         Set an environment variable; '-e NAME' copies NAME from
                                       this shell (repeatable). The command sees only these,
                                       plus PATH and HOME
                                         -e LANG=C.UTF-8 -e TERM
          -h, --help                   Print usage
                                         sandbox run --help
              --hostname NAME          Hostname inside the sandbox (default "sandbox")
                                         --hostname box
          -m, --memory SIZE            Memory limit: bytes, or with a k, m or g suffix (at
                                       least 6m). At the limit the kernel's OOM killer kills
                                       a process; the report's verdict is then
                                       "memorylimitexceeded"
                                         -m 256m
              --memory-reservation SIZE
                                       Soft memory limit, below --memory: memory the sandbox
                                       keeps when the host runs short
                                         --memory-reservation 128m
              --memory-swap SIZE       Memory plus swap, at least --memory (equal: no swap);
                                       -1 for unlimited swap
                                         --memory 256m --memory-swap 512m
              --net MODE               Network: 'none' is a private network with only loopback
                                       (the default), 'host' is the host's network; also
                                       spelled --network
                                         --net host
              --pids-limit N           Most processes and threads at once: forks past N fail
                                       (a fork bomb stops there); -1 for no limit
                                         --pids-limit 100
              --read-only              Mount the --rootfs directory read-only (without
                                       --rootfs, the host's root is always read-only)
                                         --rootfs /srv/alpine --read-only
              --report FILE            Write the outcome to FILE as one JSON object: sandboxId,
                                       exitCode, signal, verdict ("exited", "signaled",
                                       "timedout", "canceled" or "memorylimitexceeded"),
                                       startTime, exitTime, wallTimeMs, shellExitStatus and
                                       usage; or error, step and errno when the sandbox could
                                       not start. usage is null without a cgroup (no limits,
                                       no --cgroup), else cpuUserMs, cpuSystemMs, cpuTotalMs,
                                       memoryPeakBytes, oomKills and limitsHit, a list of
                                       "memory", "pids" and "walltime"
                                         --report result.json
              --rootfs DIR             Use the directory DIR as the root filesystem
                                         --rootfs /srv/alpine
              --timeout DURATION       Kill the whole sandbox after DURATION: 500ms, 2s, 1.5s,
                                       1m or 1h; a bare number is seconds
                                         --timeout 30s
              --tmpfs DST[:OPTIONS]    Mount a private tmpfs at DST (repeatable); OPTIONS are
                                       size=N with a k, m or g suffix, and mode=OCTAL
                                         --tmpfs /run:size=64m,mode=755
          -u, --user UID[:GID]         Numeric user and group inside the sandbox (default 0:0;
                                       GID defaults to 0)
                                         -u 1000:1000
          -v, --volume SRC:DST[:ro|:rw]
                                       Same as --bind
                                         -v /srv/data:/mnt
          -w, --workdir DIR            Working directory inside the sandbox (default /)
                                         -w /tmp

        Exit status:
          N         the command exited with code N
          128+N     signal N killed the command. 137 (SIGKILL) also when --timeout killed
                    the sandbox, or the OOM killer the command at the --memory limit: the
                    report's verdict ("timedout", "memorylimitexceeded") tells them apart
          130, 143  this program got SIGINT (Ctrl-C) or SIGTERM and killed the sandbox
                    (likewise 129 for SIGHUP and 131 for SIGQUIT)
          125       the options are invalid or the sandbox could not start (reason on stderr)

        Examples:
          sandbox run -- /bin/sh -c 'id; hostname; ls /proc'
          echo hello | sandbox run cat
          sandbox run --timeout 2s --report result.json -- make test
          sandbox run --memory 512m --cpus 2 --pids-limit 200 --report result.json -- make -j4
          sandbox run --rootfs /srv/alpine -v "$PWD":/src -w /src -e HOME=/src -- sh

        """;

    /// <summary>
    /// Like "Docker version 27.3.1, build ce12230": the informational version, whose "+commit"
    /// suffix the SDK adds when the build knows the commit.
    /// </summary>
    public static string Version
    {
        get
        {
            var assembly = typeof(HelpText).Assembly;
            string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? assembly.GetName().Version?.ToString()
                ?? "unknown";
            int plus = version.IndexOf('+');
            if (plus < 0)
                return $"sandbox version {version}";
            string build = version[(plus + 1)..];
            return $"sandbox version {version[..plus]}, build {build[..Math.Min(7, build.Length)]}";
        }
    }
}
