using Sandboxing.IO;
using Sandboxing.Interop;

namespace Sandboxing.Helper;

/// <summary>A started sandbox-helper and the library's ends of its channels.</summary>
internal sealed class LaunchedHelper : IDisposable
{
    public required int Pid { get; init; }
    public required SafeFd PidFd { get; init; }
    public required SeqPacketChannel Control { get; init; }
    public FdStream? StandardInput { get; init; }
    public FdStream? StandardOutput { get; init; }
    public FdStream? StandardError { get; init; }

    /// <summary>The master side of the command's terminal, when it has one.</summary>
    public FdStream? Terminal { get; init; }

    public void Dispose()
    {
        Terminal?.Dispose();
        Control.Dispose();
        PidFd.Dispose();
        StandardInput?.Dispose();
        StandardOutput?.Dispose();
        StandardError?.Dispose();
    }
}

/// <summary>
/// Starts sandbox-helper with posix_spawn: the spec in a memfd on fd 3, the control channel
/// on fd 4, the sandbox's stdio on 0-2. posix_spawn rather than System.Diagnostics.Process,
/// because Process would own (and reap) the child and offers no way to place fds at fixed
/// numbers; and never fork() from managed code.
/// </summary>
internal static unsafe partial class HelperLauncher
{
    private const int F_DUPFD_CLOEXEC = 1030;
    private const short PosixSpawnSetsid = 0x80; // glibc 2.26+

    public static LaunchedHelper Launch(string helperPath, byte[] spec, SandboxConfiguration config)
    {
        var owned = new List<SafeFd>(); // child-side fds: closed here once the helper has them
        SafeFd? specFd = null;
        SeqPacketChannel? control = null;
        SafeFd? controlPeer = null;
        FdStream? stdin = null, stdout = null, stderr = null, terminal = null;
        try
        {
            specFd = CreateSpecMemfd(spec);
            owned.Add(specFd);
            control = SeqPacketChannel.CreatePair(out controlPeer);
            owned.Add(controlPeer);
            SafeFd? childIn, childOut, childErr;
            if (config.Terminal is { } size)
            {
                childIn = childOut = childErr = Own(OpenTerminal(size, out terminal), owned);
            }
            else
            {
                childIn = Own(OpenInput(config.StandardInput, out stdin), owned);
                childOut = Own(OpenOutput(config.StandardOutput, "standardOutput", out stdout), owned);
                childErr = Own(OpenOutput(config.StandardError, "standardError", out stderr), owned);
            }

            int pid = Spawn(helperPath, [childIn, childOut, childErr, specFd, controlPeer]);
            // The helper cannot exit before we close the control channel, so this pid is
            // still ours: no reuse race between posix_spawn and pidfd_open.
            int pidfd = LibC.pidfd_open(pid, 0);
            if (pidfd < 0)
            {
                int errno = LibC.LastErrno;
                control.Dispose(); // the helper sees end of file, kills what it started, exits
                LibC.SigInfo info = default;
                LibC.waitid(LibC.P_PID, pid, &info, LibC.WEXITED);
                throw new SandboxException($"Sandbox could not watch its helper (pidfd_open): {LibC.ErrnoText(errno)}.", "pidfd_open", errno,
                    errno == LibC.ENOSYS ? "The library needs Linux 5.12 or newer." : "This process may be out of file descriptors (ulimit -n).");
            }
            return new LaunchedHelper
            {
                Pid = pid,
                PidFd = SafeFd.Adopt(pidfd),
                Control = control,
                StandardInput = stdin,
                StandardOutput = stdout,
                StandardError = stderr,
                Terminal = terminal,
            };
        }
        catch
        {
            control?.Dispose();
            terminal?.Dispose();
            stdin?.Dispose();
            stdout?.Dispose();
            stderr?.Dispose();
            throw;
        }
        finally
        {
            foreach (var fd in owned)
                fd.Dispose();
        }
    }

    private static SafeFd? Own(SafeFd? fd, List<SafeFd> owned)
    {
        if (fd is not null)
            owned.Add(fd);
        return fd;
    }

    internal static SafeFd CreateSpecMemfd(byte[] spec)
    {
        var fd = SafeFd.Adopt(LibC.memfd_create("sandbox-spec", LibC.MFD_CLOEXEC));
        if (fd.IsInvalid)
            throw Failure("create the spec memfd", LibC.LastErrno);
        fixed (byte* p = spec)
        {
            int done = 0;
            while (done < spec.Length)
            {
                nint n = LibC.write(fd.Fd, p + done, spec.Length - done);
                if (n < 0)
                {
                    int errno = LibC.LastErrno;
                    if (errno == LibC.EINTR)
                        continue;
                    fd.Dispose();
                    throw Failure("write the spec memfd", errno);
                }
                done += (int)n;
            }
        }
        return fd;
    }

    /// <summary>A fresh pseudo-terminal: returns the command's side; <paramref name="master"/> is ours.</summary>
    internal static SafeFd OpenTerminal(TerminalSize size, out FdStream master)
    {
        var pty = IO.PseudoTerminal.Open(size);
        master = new FdStream(pty.Master, FileAccess.ReadWrite);
        return pty.Secondary;
    }

    internal static SafeFd? OpenInput(SandboxInput input, out FdStream? parentEnd)
    {
        parentEnd = null;
        switch (input.Kind)
        {
            case SandboxInput.InputKind.Inherit:
                return null;
            case SandboxInput.InputKind.Null:
                return OpenFile("/dev/null", LibC.O_RDONLY, "standardInput");
            case SandboxInput.InputKind.File:
                return OpenFile(input.Path!, LibC.O_RDONLY, "standardInput");
            case SandboxInput.InputKind.Handle:
                return Duplicate(input.Handle!, "standardInput");
            default:
                var (read, write) = CreatePipe();
                write.SetNonBlocking();
                parentEnd = new FdStream(write, FileAccess.Write);
                return read;
        }
    }

    internal static SafeFd? OpenOutput(SandboxOutput output, string setting, out FdStream? parentEnd)
    {
        parentEnd = null;
        switch (output.Kind)
        {
            case SandboxOutput.OutputKind.Inherit:
                return null;
            case SandboxOutput.OutputKind.Null:
                return OpenFile("/dev/null", LibC.O_WRONLY, setting);
            case SandboxOutput.OutputKind.Handle:
                return Duplicate(output.Handle!, setting);
            case SandboxOutput.OutputKind.File:
                return OpenFile(output.Path!, LibC.O_WRONLY | LibC.O_CREAT | (output.Append ? LibC.O_APPEND : LibC.O_TRUNC), setting);
            default:
                var (read, write) = CreatePipe();
                read.SetNonBlocking();
                parentEnd = new FdStream(read, FileAccess.Read);
                return write;
        }
    }

    /// <summary>A close-on-exec duplicate of a caller's descriptor, ours to close once the helper has it.</summary>
    private static SafeFd Duplicate(System.Runtime.InteropServices.SafeHandle handle, string setting)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = SafeFd.Adopt(LibC.fcntl((int)handle.DangerousGetHandle(), F_DUPFD_CLOEXEC, 3));
            if (fd.IsInvalid)
            {
                int errno = LibC.LastErrno;
                throw new SandboxException($"Sandbox could not duplicate the handle given for {setting}: {LibC.ErrnoText(errno)}.", $"open {setting}", errno,
                    "Pass a handle that stays open until the command has started.");
            }
            return fd;
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    private static SafeFd OpenFile(string path, int flags, string setting)
    {
        var fd = SafeFd.Adopt(LibC.open(path, flags | LibC.O_CLOEXEC, 0x1A4 /* 0644 */));
        if (fd.IsInvalid)
        {
            int errno = LibC.LastErrno;
            throw new SandboxException($"Sandbox could not open {path} for {setting}: {LibC.ErrnoText(errno)}.", $"open {setting}", errno,
                "Check that the file (or its directory) exists and that this process may open it.");
        }
        return fd;
    }

    private static (SafeFd Read, SafeFd Write) CreatePipe()
    {
        int* fds = stackalloc int[2];
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
            throw Failure("create a pipe", LibC.LastErrno);
        // A pipe belongs to its creator with mode 0600, and "echo > /dev/stdout" reopens it
        // by inode as the sandbox's user (the host's nobody for a root caller). Its inode is
        // reachable only through this process's and the sandbox's /proc/<pid>/fd.
        fchmod(fds[0], 0x1B6 /* 0666 */);
        fchmod(fds[1], 0x1B6);
        return (SafeFd.Adopt(fds[0]), SafeFd.Adopt(fds[1]));
    }

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, int mode);

    /// <summary>posix_spawn the helper with fds[i] placed at fd i (null: inherit fd i as is).</summary>
    private static int Spawn(string helperPath, SafeFd?[] fds)
    {
        void* actions = NativeMemoryZeroed();
        void* attr = NativeMemoryZeroed();
        void* sigset = NativeMemoryZeroed();
        var refs = new List<SafeFd>();
        try
        {
            Check(LibC.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            Check(LibC.posix_spawnattr_init(attr), "posix_spawnattr_init");
            // Sources are dup'ed above every target first, so placing one fd can never
            // clobber the source of another (a source may itself be 0-4 if the app closed stdio).
            int[] sources = new int[fds.Length];
            for (int i = 0; i < fds.Length; i++)
            {
                if (fds[i] is not { } fd)
                {
                    sources[i] = -1;
                    continue;
                }
                bool added = false;
                fd.DangerousAddRef(ref added);
                refs.Add(fd);
                sources[i] = fd.Fd;
            }
            for (int i = 0; i < fds.Length; i++)
                if (sources[i] >= 0 && sources[i] < fds.Length)
                {
                    int high = LibC.fcntl(sources[i], F_DUPFD_CLOEXEC, fds.Length);
                    if (high < 0)
                        throw Failure("duplicate a descriptor", LibC.LastErrno);
                    var moved = SafeFd.Adopt(high);
                    bool added = false;
                    moved.DangerousAddRef(ref added);
                    refs.Add(moved);
                    sources[i] = high;
                }
            for (int i = 0; i < fds.Length; i++)
                if (sources[i] >= 0)
                    Check(LibC.posix_spawn_file_actions_adddup2(actions, sources[i], i), "posix_spawn_file_actions_adddup2");

            // The helper starts with every signal at its default and none blocked: .NET's own
            // handlers and masks must not leak into it.
            LibC.sigemptyset(sigset);
            Check(LibC.posix_spawnattr_setsigmask(attr, sigset), "posix_spawnattr_setsigmask");
            LibC.sigfillset(sigset);
            Check(LibC.posix_spawnattr_setsigdefault(attr, sigset), "posix_spawnattr_setsigdefault");
            // Its own session: a terminal's Ctrl-C goes to the application, which decides what
            // to do with its sandboxes, not straight to every helper in its process group.
            Check(LibC.posix_spawnattr_setflags(attr, LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF | PosixSpawnSetsid), "posix_spawnattr_setflags");

            // argv[0] without the path: /proc/1/cmdline inside the sandbox would tell the host path.
            using var argv = new Utf8StringArray([HelperLocator.FileName]);
            using var envp = new Utf8StringArray([]);
            int pid;
            int rc = LibC.posix_spawn(&pid, helperPath, actions, attr, argv.Pointer, envp.Pointer);
            if (rc != 0)
                throw new SandboxException($"Sandbox could not start {helperPath}: {LibC.ErrnoText(rc)}.", "start sandbox-helper", rc,
                    "Check that the helper exists, is executable, and is not on a noexec mount.");
            return pid;
        }
        finally
        {
            foreach (var fd in refs)
                fd.DangerousRelease();
            foreach (var fd in refs)
                if (Array.IndexOf(fds, fd) < 0)
                    fd.Dispose();
            LibC.posix_spawn_file_actions_destroy(actions);
            LibC.posix_spawnattr_destroy(attr);
            System.Runtime.InteropServices.NativeMemory.Free(actions);
            System.Runtime.InteropServices.NativeMemory.Free(attr);
            System.Runtime.InteropServices.NativeMemory.Free(sigset);
        }
    }

    private static void* NativeMemoryZeroed() => System.Runtime.InteropServices.NativeMemory.AllocZeroed(LibC.OpaqueSize);

    private static void Check(int rc, string what)
    {
        if (rc != 0)
            throw Failure(what, rc);
    }

    private static SandboxException Failure(string what, int errno) =>
        new($"Sandbox could not {what}: {LibC.ErrnoText(errno)}.", what, errno);
}
