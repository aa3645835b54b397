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

        Options:
              --bind SRC:DST[:ro|:rw]  Bind mount the host path SRC at DST, read-write unless
                                       ':ro' (repeatable)
                                         --bind "$PWD":/tmp/src:ro
          -e, --env NAME=VALUE         Set an environment variable; '-e NAME' copies NAME from
                                       this shell (repeatable). The command sees only these,
                                       plus PATH and HOME
                                         -e LANG=C.UTF-8 -e TERM
          -h, --help                   Print usage
                                         sandbox run --help
              --hostname NAME          Hostname inside the sandbox (default "sandbox")
                                         --hostname box
              --net MODE               Network: 'none' is a private network with only loopback
                                       (the default), 'host' is the host's network; also
                                       spelled --network
                                         --net host
              --read-only              Mount the --rootfs directory read-only (without
                                       --rootfs, the host's root is always read-only)
                                         --rootfs /srv/alpine --read-only
              --report FILE            Write the outcome to FILE as one JSON object: sandboxId,
                                       exitCode, signal, verdict ("exited", "signaled",
                                       "timedout" or "canceled"), startTime, exitTime,
                                       wallTimeMs, shellExitStatus; or error, step and errno
                                       when the sandbox could not start
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
                    the sandbox: the report's verdict ("timedout") tells the two apart
          130, 143  this program got SIGINT (Ctrl-C) or SIGTERM and killed the sandbox
                    (likewise 129 for SIGHUP and 131 for SIGQUIT)
          125       the options are invalid or the sandbox could not start (reason on stderr)

        Examples:
          sandbox run -- /bin/sh -c 'id; hostname; ls /proc'
          echo hello | sandbox run cat
          sandbox run --timeout 2s --report result.json -- make test
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
