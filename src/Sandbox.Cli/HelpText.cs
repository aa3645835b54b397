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
          create      Set up a sandbox in the background without starting its command
          exec        Run a command in a running sandbox (one started with 'run -d')
          image       Import, list and remove the images 'run --image' runs
          inspect     Print a sandbox's state, and its result once it has ended, as JSON
          kill        Kill a running sandbox
          logs        Print the output of a sandbox started with 'run -d'
          pause       Freeze every process of a running sandbox
          probe       Report what this host supports for sandboxes, and why not
          ps          List the sandboxes started with 'run -d'
          rm          Remove an ended sandbox's state and logs
          run         Run a command in a fresh sandbox
          start       Start the command of a sandbox made by 'create'
          stats       Print a running sandbox's resource usage
          stop        Stop a running sandbox: SIGTERM, then SIGKILL after a grace period
          top         List the processes of a running sandbox
          unpause     Let a paused sandbox run again
          volume      List and remove the named volumes 'run -v NAME:DST' mounts

        Sandboxes started with 'run -d' are kept in $SANDBOX_STATE_DIR, else /run/sandbox
        for root and $XDG_RUNTIME_DIR/sandbox (or /tmp/sandbox-UID) for other users.

        Run 'sandbox COMMAND --help' for more information on a command.

        """;

    public const string Run =
        """

        Usage:  sandbox run [OPTIONS] [--] COMMAND [ARG...]
                sandbox run [OPTIONS] --image PATH [[--] COMMAND [ARG...]]

        Run a command in a fresh sandbox: its own namespaces, a private /proc, /dev and /tmp,
        no network, and the host's filesystem read-only unless --rootfs or --image says
        otherwise. The command shares this process's standard input, output and error, so it
        works in pipes and interactively. The '--' is needed only when COMMAND starts with '-'.

        With --image, COMMAND is optional, as in docker run: the image's entrypoint runs with
        COMMAND as its arguments, or with the image's default command when COMMAND is left out.

        Without --rootfs or --image, mount points (DST) must exist on the host or lie under
        /tmp, because the host's root is read-only and they cannot be created there.

        The resource limits (--memory, --cpus, --pids-limit, ...) are docker's, enforced through
        a cgroup of the sandbox's own, on cgroup v1 or v2. They need a cgroup the caller may
        create children in: run as root, or in a cgroup delegated to the user. On cgroup v2 a
        cgroup that holds processes cannot hand controllers to children: run the CLI in a
        delegated scope (systemd-run --user --scope -p Delegate=yes sandbox run ...), or give
        --cgroup-move-to-leaf, or --cgroup-parent.

        Options:
              --bind SRC:DST[:ro|:rw]  Bind mount the host path SRC at DST, read-write unless
                                       ':ro' (repeatable); unlike -v, a relative SRC is a
                                       host path too
                                         --bind "$PWD":/tmp/src:ro
              --cap-add CAP            Let the command keep capability CAP inside its user
                                       namespace (repeatable; none by default): NET_RAW or
                                       CAP_NET_RAW, ALL, or DEFAULT for docker's set
                                         --cap-add DEFAULT --cap-drop NET_RAW
              --cap-drop CAP           Remove CAP from the set kept so far (ALL, DEFAULT too)
                                         --cap-add ALL --cap-drop SYS_ADMIN
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
              --cpu-time DURATION      CPU time all the sandbox's processes together may use;
                                       past it the sandbox is killed (verdict
                                       cputimelimitexceeded; unlike --timeout, waiting costs
                                       nothing)
                                         --cpu-time 2s --timeout 10s
              --output-limit SIZE      Bytes each of stdout and stderr may carry; the first
                                       byte past it kills the sandbox (verdict
                                       outputlimitexceeded). Not with -t
                                         --output-limit 1m
              --cpus N.N               CPU time the sandbox may use, in CPUs: 0.5 is half of
                                       one CPU, 2 is two whole ones
                                         --cpus 1.5
              --cpuset-cpus LIST       CPUs the sandbox may run on: numbers and ranges
                                         --cpuset-cpus 0-1,3
              --cpuset-mems LIST       NUMA memory nodes the sandbox may use
                                         --cpuset-mems 0
          -d, --detach                 Run in the background and print the sandbox's id; its
                                       output goes to 'sandbox logs ID', and 'sandbox exec',
                                       'ps', 'top', 'stats', 'pause', 'stop', 'kill' and
                                       'rm' work on it from any shell
                                         -d -- sleep 1000
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
              --entrypoint PROG        Run PROG in place of the image's entrypoint, with
                                       COMMAND as its arguments; '' clears the entrypoint.
                                       Either way the image's default command is dropped, as
                                       docker does
                                         --image app.tar --entrypoint /bin/sh -- -c 'echo hi'
          -e, --env NAME=VALUE         Set an environment variable; '-e NAME' copies NAME from
                                       this shell (repeatable). The command sees only these,
                                       plus PATH and HOME (and an image's variables)
                                         -e LANG=C.UTF-8 -e TERM
              --group-add GID          A supplementary group inside the sandbox (repeatable;
                                       it must be mapped: root callers only)
                                         --group-add 10
          -h, --help                   Print usage
                                         sandbox run --help
              --hostname NAME          Hostname inside the sandbox (default "sandbox")
                                         --hostname box
              --image PATH             Run an image: a 'docker export' tar (gzipped or not),
                                       a 'docker save' tar or an OCI image layout directory.
                                       It is unpacked into the image store (once per layer)
                                       and becomes an overlay root with a writable layer
                                       (see --overlay-size, --overlay-dir and --read-only);
                                       its environment, working directory, user, entrypoint
                                       and default command apply unless options override them
                                         --image alpine.tar -- cat /etc/os-release
              --image-ref REF          The image to run from an --image archive or layout
                                       that holds several: a name such as alpine:3.20, or
                                       the image's digest
                                         --image images.tar --image-ref alpine:3.20
              --image-store DIR        Where imported images are kept (default
                                       $SANDBOX_IMAGE_STORE, else /var/lib/sandbox/images
                                       for root and ~/.local/share/sandbox/images for others)
                                         --image-store /srv/images
          -i, --interactive            Copy this shell's input to the command's terminal
                                       (with -t); without -t the command always shares it
                                         -it -- /bin/sh
              --landlock PATH:MODE     Confine the command with Landlock: only the paths given
                                       are reachable, with MODE r, w, x or a combination
                                       (repeatable; the program and its libraries must be
                                       covered: see --landlock-programs)
                                         --landlock-programs --landlock /data:rw
              --landlock-programs      Landlock rules for the host's programs: rx beneath /usr,
                                       /bin, /sbin, /lib*, r beneath /etc and /proc, rw
                                       beneath /dev and /tmp
                                         --landlock-programs
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
              --mount SPEC             Mount a filesystem, in docker's syntax (repeatable):
                                       comma-separated KEY=VALUE fields. type is bind,
                                       volume (the default) or tmpfs; source (src) is the
                                       host path or volume name; target (dst, destination)
                                       the mount point; readonly (ro), alone or =true/false.
                                       For bind: bind-recursive=enabled|disabled (default
                                       enabled: mounts below the source come along), and
                                       bind-optional=true to skip a missing source (not in
                                       docker). For tmpfs: tmpfs-size=SIZE (default: half of
                                       RAM) and tmpfs-mode=OCTAL (default 1777). A field
                                       that holds a comma is double-quoted whole
                                         --mount type=bind,src=/srv/data,dst=/data,readonly
                                         --mount type=tmpfs,dst=/scratch,tmpfs-size=64m
                                         --mount type=volume,src=cache,dst=/cache
                                         --mount '"src=/srv/a,b",dst=/b,type=bind'
              --mqueue                 Mount the POSIX message queues of the sandbox's own
                                       IPC namespace at /dev/mqueue
                                         --mqueue
              --net MODE               Network: 'none' is a private network with only loopback
                                       (the default), 'host' is the host's network; also
                                       spelled --network
                                         --net host
              --overlay                With --rootfs: use DIR as the read-only lower layer of
                                       an overlay with a writable layer on top, a tmpfs that
                                       vanishes at exit (see --overlay-size); writes never
                                       reach DIR
                                         --rootfs /srv/alpine --overlay
              --overlay-dir DIR        With --rootfs or --image: keep the writable layer in
                                       DIR (created when missing) instead, so changes persist
                                       from run to run; one running sandbox per DIR. Implies
                                       --overlay
                                         --image alpine.tar --overlay-dir /var/lib/box1
              --overlay-size SIZE      Size cap of the ephemeral writable layer of --overlay
                                       or --image, with a k, m or g suffix (default 256m).
                                       Its files are memory, charged to the sandbox's cgroup
                                         --overlay-size 1g
              --pids-limit N           Most processes and threads at once: forks past N fail
                                       (a fork bomb stops there); -1 for no limit
                                         --pids-limit 100
              --read-only              Mount the --rootfs directory read-only, or give an
                                       --overlay or --image no writable layer (without
                                       --rootfs or --image, the host's root is always
                                       read-only)
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
              --rootfs DIR             Use the directory DIR as the root filesystem (it is
                                       written to unless --read-only or --overlay)
                                         --rootfs /srv/alpine
              --security-opt OPT       no-new-privileges=false lets setuid binaries and file
                                       capabilities grant privileges (no_new_privs is on by
                                       default); seccomp=unconfined installs no seccomp
                                       filter (the default filter is close to docker's)
                                         --security-opt no-new-privileges=false
              --timeout DURATION       Kill the whole sandbox after DURATION: 500ms, 2s, 1.5s,
                                       1m or 1h; a bare number is seconds
                                         --timeout 30s
              --tmpfs DST[:OPTIONS]    Mount a private tmpfs at DST (repeatable); OPTIONS are
                                       size=N with a k, m or g suffix, and mode=OCTAL
                                         --tmpfs /run:size=64m,mode=755
          -t, --tty                    Give the command a terminal of its own, of this
                                       terminal's size (resized with it); with -i this
                                       terminal is put in raw mode and typed into it
                                         -it -- /bin/sh
              --ulimit NAME=SOFT[:HARD]
                                       A per-process resource limit (repeatable): core, cpu,
                                       data, fsize, locks, memlock, msgqueue, nice, nofile,
                                       nproc, rss, rtprio, rttime, sigpending, stack, as;
                                       -1 or 'unlimited' for none (core is 0 by default)
                                         --ulimit nofile=1024:2048 --ulimit core=-1
              --umask OCTAL            The command's umask (default 022)
                                         --umask 077
          -u, --user UID[:GID]         Numeric user and group inside the sandbox (default
                                       65534:65534, nobody; an --image's USER, else 0:0, with
                                       --image; GID defaults to 0)
                                         -u 1000:1000
          -v, --volume SRC:DST[:ro|:rw]
                                       Mount at DST the host path SRC (absolute, or starting
                                       with '.'), or the named volume SRC: a directory in the
                                       volume store, created on first use and kept until
                                       'sandbox volume rm'. Read-write unless ':ro'
                                       (repeatable)
                                         -v /srv/data:/mnt:ro -v cache:/root/.cache
              --volume-store DIR       Where named volumes are kept (default
                                       $SANDBOX_VOLUME_STORE, else /var/lib/sandbox/volumes
                                       for root and $XDG_DATA_HOME/sandbox/volumes or
                                       ~/.local/share/sandbox/volumes for others)
                                         --volume-store /srv/volumes
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
          sandbox run --image alpine.tar -v cache:/cache --overlay-dir ~/box1 -- sh
          sandbox run --rootfs /srv/alpine --overlay --mount type=tmpfs,dst=/run -- sh

        """;

    public const string Exec =
        """

        Usage:  sandbox exec [OPTIONS] SANDBOX [--] COMMAND [ARG...]

        Run a command in a running sandbox (started with 'sandbox run -d'), as docker exec does:
        it joins the sandbox's namespaces and cgroup and runs under its user, capabilities,
        seccomp filter and Landlock rules. Its exit status is the command's. SANDBOX is an id
        or a unique prefix of one.

        Options:
          -e, --env NAME=VALUE     Set an environment variable (repeatable)
          -h, --help               Print usage
          -i, --interactive        With -t: copy this shell's input into the terminal
          -t, --tty                Give the command a terminal of its own
          -u, --user UID[:GID]     Numeric user and group inside the sandbox (it must be mapped)
          -w, --workdir DIR        Working directory inside the sandbox

        """;

    public const string Create =
        """

        Usage:  sandbox create [OPTIONS] [--] COMMAND [ARG...]
                sandbox create [OPTIONS] --image PATH [[--] COMMAND [ARG...]]

        Set up a sandbox in the background, as 'sandbox run -d' does, but do not start its
        command: its namespaces, mounts, id maps and cgroup exist, and its init waits for
        'sandbox start ID'. Print its id. Meanwhile 'exec' runs commands in it, and 'kill',
        'stop' or 'rm -f' end it. The command is looked up when it starts, so a missing program
        makes 'start' fail (and the sandbox end), not 'create'. --timeout counts from the start.

        Options: those of 'sandbox run' (see 'sandbox run --help'), except -d (implied), -i,
        -t and --report.

        Examples:
          id=$(sandbox create --memory 256m -- python3 server.py)
          sandbox exec $id -- cp /tmp/config.json /srv/
          sandbox start $id

        """;

    public const string Lifecycle =
        """

        Usage:  sandbox ps [-a] [-q]
                sandbox start SANDBOX
                sandbox top SANDBOX
                sandbox stats [--no-stream] SANDBOX
                sandbox logs [-t] SANDBOX
                sandbox inspect SANDBOX
                sandbox pause SANDBOX
                sandbox unpause SANDBOX
                sandbox stop [-t SECONDS] SANDBOX
                sandbox kill [-s SIGNAL] SANDBOX
                sandbox rm [-f] SANDBOX

        Manage sandboxes started with 'sandbox run -d' or made by 'sandbox create'. SANDBOX is
        an id or a unique prefix of one. 'ps' lists created and running ones (-a: ended ones
        too; -q: ids alone). 'start' starts a created sandbox's command. 'logs' prints the
        output (-t: each line with the time it arrived). 'stats' prints usage every second
        until interrupted (--no-stream: once). 'stop' sends SIGTERM and kills
        the sandbox after SECONDS (default 10). 'kill' sends SIGKILL, or -s SIGNAL (a number
        or a name such as TERM). 'rm' removes an ended sandbox's state and logs; -f kills a
        running one first. 'pause' and 'stats' need the sandbox's cgroup, which 'run -d' gives
        every sandbox a root caller starts.

        """;

    public const string Image =
        """

        Usage:  sandbox image COMMAND

        Manage the image store: the unpacked layers of the images 'sandbox run --image' runs.
        'run --image' imports by itself; 'image import' does it ahead of time.

        Commands:
          import [OPTIONS] PATH    Import a 'docker export' tar (gzipped or not), a 'docker save'
                                   tar or an OCI image layout directory; print the image's id
          ls [OPTIONS]             List the imported images: id, number of layers and the
                                   command they run by default (also spelled list)
          rm [OPTIONS] IMAGE...    Remove images, by id or a unique beginning of it (also
                                   spelled remove), and the layers no other image uses

        Options:
              --image-ref REF      import: the image to import from an archive or layout that
                                   holds several (alpine:3.20)
              --image-store DIR    The store (default $SANDBOX_IMAGE_STORE, else
                                   /var/lib/sandbox/images for root and
                                   ~/.local/share/sandbox/images for others)
          -q, --quiet              ls: print the ids alone
          -h, --help               Print usage

        Examples:
          sandbox image import alpine.tar
          sandbox image ls -q
          sandbox image rm 3f2a1b4c5d6e

        """;

    public const string Volume =
        """

        Usage:  sandbox volume COMMAND

        Manage named volumes: the directories 'sandbox run -v NAME:DST' mounts. A volume is
        created the first time a sandbox mounts it and kept until it is removed.

        Commands:
          ls [OPTIONS]             List the volumes (also spelled list)
          rm [OPTIONS] VOLUME...   Remove volumes and everything in them (also spelled remove)

        Options:
              --volume-store DIR   The store (default $SANDBOX_VOLUME_STORE, else
                                   /var/lib/sandbox/volumes for root and
                                   $XDG_DATA_HOME/sandbox/volumes or
                                   ~/.local/share/sandbox/volumes for others)
          -q, --quiet              ls: print the names alone
          -h, --help               Print usage

        Examples:
          sandbox volume ls
          sandbox volume rm cache

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
