using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Sandboxing.Interop;
using Sandboxing.IO;

namespace Sandboxing.Cli.Lifecycle;

/// <summary>
/// <c>run -d</c>. The CLI starts a copy of itself as the sandbox's monitor (what containerd's
/// shim is to a container): in a session of its own, it runs the sandbox, keeps its output in
/// the state directory, answers the other verbs on a control socket (SOCK_SEQPACKET, one JSON
/// message per request, stdio descriptors passed with SCM_RIGHTS), records the result when the
/// sandbox ends, and exits. The sandbox's helper kills the sandbox if the monitor ever dies.
/// </summary>
internal static partial class Monitor
{
    public const string Verb = "__monitor";
    /// <summary>The monitor of 'sandbox create': it creates the sandbox and starts it on request.</summary>
    public const string CreateVerb = "__monitor-created";
    private const string Started = "started ", Failed = "failed ";

    /// <summary>The CLI's side: start the monitor, wait for its one line, print the id.</summary>
    public static async Task<int> DetachAsync(IReadOnlyList<string> runArgs, bool create)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Under "dotnet Sandbox.Cli.dll" the process is dotnet, and the dll its first argument.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        start.ArgumentList.Add(create ? CreateVerb : Verb);
        foreach (var arg in runArgs)
            start.ArgumentList.Add(arg);
        using var monitor = Process.Start(start)!;
        string? line = await monitor.StandardOutput.ReadLineAsync().ConfigureAwait(false);
        if (line is not null && line.StartsWith(Started, StringComparison.Ordinal))
        {
            await Console.Out.WriteLineAsync(line[Started.Length..]).ConfigureAwait(false);
            return 0;
        }
        string error = line is not null && line.StartsWith(Failed, StringComparison.Ordinal)
            ? line[Failed.Length..]
            : $"the sandbox's monitor ended without starting it: {(await monitor.StandardError.ReadToEndAsync().ConfigureAwait(false)).Trim()}";
        await Console.Error.WriteLineAsync("sandbox: " + error).ConfigureAwait(false);
        return ExitCodes.CannotStart;
    }

    /// <summary>The monitor's lock (<see cref="StateStore.MonitorLock"/>), held for the rest of the process.</summary>
    private static Images.FileLock? s_alive;

    /// <summary>The monitor itself.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> runArgs, bool create)
    {
        setsid(); // no terminal of the caller's, no signals from it
        StateStore store;
        SandboxProcess process;
        string directory;
        RunOptions options;
        FileStream? stdoutLog = null, stderrLog = null;
        try
        {
            options = RunOptionsParser.Parse(runArgs, CallerContext.Current, create);
            store = StateStore.Open();
            var image = options.ImagePath is { } imagePath ? await RunCommand.OpenImageStore(options.ImageStoreDirectory).ImportAsync(imagePath, options.ImageReference).ConfigureAwait(false) : null;
            var builder = RunCommand.CreateBuilder(options, image: image);
            // pause, stats and a kill that reaches every process need the sandbox's cgroup, which
            // a root caller can always have.
            if (LibC.geteuid() == 0 && !builder.Configuration.HasCgroup)
                builder = builder.WithCgroup();
            string staging = store.CreateStaging();
            // Never released by us: the kernel drops it when this process ends, after everything.
            s_alive = Images.FileLock.Acquire(Path.Combine(staging, StateStore.MonitorLock), exclusive: true, CancellationToken.None);
            // Through us rather than straight into the files, so that every line carries the
            // time it arrived ('sandbox logs -t').
            stdoutLog = OpenLog(Path.Combine(staging, StateStore.StdoutLog));
            stderrLog = OpenLog(Path.Combine(staging, StateStore.StderrLog));
            // --output-limit keeps a chatty sandbox from filling the state directory (a tmpfs in /run).
            builder = builder.WithStandardInput(SandboxInput.Null)
                .WithStandardOutput(RunCommand.ToStream(stdoutLog, timestamps: true, options))
                .WithStandardError(RunCommand.ToStream(stderrLog, timestamps: true, options));
            try
            {
                var sandbox = builder.Build();
                process = create
                    ? await sandbox.CreateAsync(options.Command).ConfigureAwait(false)
                    : await sandbox.StartAsync(options.Command).ConfigureAwait(false);
            }
            catch
            {
                stdoutLog.Dispose();
                stderrLog.Dispose();
                Directory.Delete(staging, recursive: true);
                throw;
            }
            directory = store.DirectoryOf(process.Id);
            try
            {
                Directory.Move(staging, directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Nothing of a sandbox nobody can find may stay: neither it nor its logs.
                await process.DisposeAsync().ConfigureAwait(false);
                stdoutLog.Dispose();
                stderrLog.Dispose();
                Directory.Delete(staging, recursive: true);
                throw;
            }
        }
        catch (Exception e) when (e is SandboxException or CliUsageException or Images.ImageException or IOException or UnauthorizedAccessException)
        {
            Console.WriteLine(Failed + WithoutSandboxPrefix(e.Message).ReplaceLineEndings(" "));
            return ExitCodes.CannotStart;
        }

        await using (process)
        {
            var record = new SandboxRecord
            {
                Id = process.Id,
                Status = create ? "created" : "running",
                Created = process.CreateTime,
                MonitorPid = Environment.ProcessId,
                Pid = process.Pid,
                Command = [.. options.Command],
            };
            StateStore.Write(directory, record);
            using var listener = SeqPacketChannel.Listen(Path.Combine(directory, StateStore.SocketFile));
            Console.WriteLine(Started + process.Id);
            Console.Out.Flush();
            DetachStdio();

            using var stopAccepting = new CancellationTokenSource();
            var server = new Server(process, create, directory, record, stopAccepting.Token);
            var accepting = server.AcceptAsync(listener);
            SandboxResult? result = null;
            string? error = null;
            try
            {
                result = await process.WaitForExitAsync().ConfigureAwait(false);
            }
            catch (SandboxException e)
            {
                error = e.Message; // the helper died without a report; nothing of the sandbox is left
            }
            stdoutLog!.Dispose();
            stderrLog!.Dispose();
            stopAccepting.Cancel();
            File.Delete(Path.Combine(directory, StateStore.SocketFile));
            server.WriteFinal(r => r with { Status = "exited", Pid = process.Pid, Result = result is null ? null : RunReport.From(result), Error = error });
            await server.DrainAsync().ConfigureAwait(false);
            try
            {
                await accepting.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return 0;
    }

    /// <summary>"Sandbox could not ..." reads as "sandbox: could not ..." after the CLI's own prefix.</summary>
    private static string WithoutSandboxPrefix(string message) =>
        message.StartsWith("Sandbox ", StringComparison.Ordinal) ? message["Sandbox ".Length..] : message;

    private static FileStream OpenLog(string path) =>
        new(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 0, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });

    /// <summary>The caller's stdio is not ours to hold: its pipe would stay open, its terminal attached.</summary>
    private static void DetachStdio()
    {
        int devNull = LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (devNull < 0)
            return;
        for (int fd = 0; fd <= 2; fd++)
            dup2(devNull, fd);
        LibC.close(devNull);
    }

    /// <summary>Answers requests on the control socket, each connection in its own task.</summary>
    private sealed class Server(SandboxProcess process, bool created, string directory, SandboxRecord record, CancellationToken ended)
    {
        private bool _final; // the exited record is written: nothing overwrites it
        private readonly HashSet<Task> _connections = [];
        private readonly Lock _recordLock = new();

        public SandboxRecord Record { get; private set; } = record;

        public async Task AcceptAsync(SafeFd listener)
        {
            while (true)
            {
                var channel = await SeqPacketChannel.AcceptAsync(listener, ended).ConfigureAwait(false);
                var serving = ServeAsync(channel);
                lock (_connections)
                    _connections.Add(serving);
                // Forgotten once done: a monitor polled by 'ps' or 'stats' for days must not grow.
                _ = serving.ContinueWith(t =>
                {
                    lock (_connections)
                        _connections.Remove(t);
                }, TaskScheduler.Default);
            }
        }

        /// <summary>Waits for the connections still being answered (each ends with the sandbox; none throws).</summary>
        public Task DrainAsync()
        {
            lock (_connections)
                return Task.WhenAll(_connections);
        }

        private async Task ServeAsync(SeqPacketChannel channel)
        {
            using (channel)
            {
                var fds = new List<SafeFd>();
                byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ControlChannel.MaxMessage);
                try
                {
                    // A client that never asks anything must not keep the monitor once the sandbox is gone.
                    int n = await channel.ReceiveAsync(buffer, fds, ended).ConfigureAwait(false);
                    if (n == 0)
                        return;
                    var request = JsonSerializer.Deserialize(buffer.AsSpan(0, n), StateJson.Default.ControlRequest)
                        ?? throw new InvalidOperationException("the request is not a JSON object");
                    var response = request.Op switch
                    {
                        "exec" => await ExecAsync(channel, request, fds).ConfigureAwait(false),
                        _ => await HandleAsync(request).ConfigureAwait(false),
                    };
                    if (response is not null)
                        ControlChannel.Send(channel, response);
                }
                catch (OperationCanceledException)
                {
                    // The sandbox ended before this client asked anything.
                }
                catch (Exception e)
                {
                    // Whatever a client sends, the monitor answers and goes on.
                    try
                    {
                        ControlChannel.Send(channel, new ControlResponse { Error = WithoutSandboxPrefix(e.Message), Step = (e as SandboxException)?.Step });
                    }
                    catch (Exception)
                    {
                        // The client is gone.
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    foreach (var fd in fds)
                        fd.Dispose();
                }
            }
        }

        private async Task<ControlResponse> HandleAsync(ControlRequest request)
        {
            switch (request.Op)
            {
                case "state":
                    return new ControlResponse { Ok = true, State = Record };
                case "top":
                    return new ControlResponse
                    {
                        Ok = true,
                        Processes = [.. process.GetProcesses().Select(p => new ProcessRow(p.Pid, p.HostPid, p.ParentPid, p.Uid, p.State.ToString(), p.CpuTime.TotalSeconds, p.ResidentBytes, p.CommandLine))],
                    };
                case "stats":
                    var stats = process.GetStats() ?? throw new InvalidOperationException("this sandbox has no cgroup, so nothing accounts for its usage (give it a limit or --cgroup)");
                    return new ControlResponse { Ok = true, Stats = new StatsRow(stats.CpuTotal?.TotalSeconds, stats.MemoryCurrentBytes, stats.MemoryPeakBytes, stats.PidsCurrent, stats.IoReadBytes, stats.IoWriteBytes) };
                case "pause":
                    await process.PauseAsync().ConfigureAwait(false);
                    SetStatus("paused");
                    return new ControlResponse { Ok = true };
                case "unpause":
                    await process.ResumeAsync().ConfigureAwait(false);
                    SetStatus(process.State == SandboxState.Created ? "created" : "running");
                    return new ControlResponse { Ok = true };
                case "start":
                    // In the CLI's words: the library's name its own calls.
                    if (!created)
                        throw new InvalidOperationException("it was started by 'sandbox run -d'; only a sandbox made by 'sandbox create' waits for 'sandbox start'");
                    if (process.State == SandboxState.Paused)
                        throw new InvalidOperationException("it is paused, and its command cannot start until 'sandbox unpause'");
                    if (process.State != SandboxState.Created)
                        throw new InvalidOperationException(process.HasExited ? "it has ended" : "it has been started already; a sandbox starts once");
                    await process.StartAsync().ConfigureAwait(false);
                    Update(r => r with { Status = process.State == SandboxState.Paused ? "paused" : "running", Pid = process.Pid });
                    return new ControlResponse { Ok = true, Pid = process.Pid };
                case "stop":
                    var stopped = await process.StopAsync(TimeSpan.FromSeconds(Math.Clamp(double.IsFinite(request.GraceSeconds) ? request.GraceSeconds : 0, 0, 86400))).ConfigureAwait(false);
                    return new ControlResponse { Ok = true, Result = RunReport.From(stopped) };
                case "kill":
                    if (request.Signal is 0 or 9)
                        return new ControlResponse { Ok = true, Result = RunReport.From(await process.KillAsync().ConfigureAwait(false)) };
                    if (process.State == SandboxState.Created)
                        throw new InvalidOperationException("it has not been started, so there is no command to signal; 'sandbox start' it, or 'sandbox kill' it without -s");
                    process.Signal(request.Signal);
                    return new ControlResponse { Ok = true };
                default:
                    throw new InvalidOperationException($"unknown request '{request.Op}'");
            }
        }

        private void SetStatus(string status) => Update(r => r with { Status = status });

        private void Update(Func<SandboxRecord, SandboxRecord> change)
        {
            lock (_recordLock)
            {
                if (_final)
                    return; // a request answered as the sandbox ended must not undo its end
                Record = change(Record);
                StateStore.Write(directory, Record);
            }
        }

        /// <summary>The sandbox has ended: its last record, which nothing changes afterwards.</summary>
        public void WriteFinal(Func<SandboxRecord, SandboxRecord> change)
        {
            lock (_recordLock)
            {
                Record = change(Record);
                StateStore.Write(directory, Record);
                _final = true;
            }
        }

        /// <summary>
        /// Starts the command with the client's stdio (or a terminal, whose master side goes back
        /// to the client), then waits for it while the client may send signals; the client
        /// going away kills it.
        /// </summary>
        private async Task<ControlResponse?> ExecAsync(SeqPacketChannel channel, ControlRequest request, List<SafeFd> fds)
        {
            if (!request.Tty && fds.Count != 3)
                throw new InvalidOperationException("exec needs the client's stdin, stdout and stderr");
            var env = System.Collections.Immutable.ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, request.Environment ?? []);
            var options = new SandboxExecOptions
            {
                Environment = env,
                WorkingDirectory = request.WorkingDirectory,
                Uid = request.Uid,
                Gid = request.Gid,
                StandardInput = request.Tty ? SandboxInput.Null : SandboxInput.FromHandle(fds[0]),
                StandardOutput = request.Tty ? SandboxOutput.Null : SandboxOutput.ToHandle(fds[1]),
                StandardError = request.Tty ? SandboxOutput.Null : SandboxOutput.ToHandle(fds[2]),
                Terminal = request.Tty ? new TerminalSize(Math.Max(1, request.Columns), Math.Max(1, request.Rows)) : null,
            };
            await using var exec = await process.StartExecAsync(request.Command ?? [], options).ConfigureAwait(false);
            foreach (var fd in fds)
                fd.Dispose(); // the command has its own copies
            fds.Clear();
            var started = new ControlResponse { Ok = true, Pid = exec.Pid };
            if (request.Tty)
                ControlChannel.Send(channel, started, ((FdStream)exec.Terminal).Descriptor.Fd);
            else
                ControlChannel.Send(channel, started);

            var exited = exec.WaitForExitAsync();
            var buffer = new byte[ControlChannel.MaxSignalMessage]; // only signals follow the request
            while (true)
            {
                var next = channel.ReceiveAsync(buffer).AsTask();
                if (await Task.WhenAny(exited, next).ConfigureAwait(false) == exited)
                    break;
                int n = await next.ConfigureAwait(false);
                if (n == 0)
                {
                    await exec.KillAsync().ConfigureAwait(false); // the client is gone
                    return null;
                }
                var message = JsonSerializer.Deserialize(buffer.AsSpan(0, n), StateJson.Default.ControlRequest);
                if (message is { Op: "signal" })
                    exec.Signal(message.Signal);
            }
            return new ControlResponse { Ok = true, Result = RunReport.From(await exited.ConfigureAwait(false)) };
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int from, int to);
}

/// <summary>Messages on a monitor's control socket: JSON, with descriptors when they carry some.</summary>
internal static class ControlChannel
{
    public const int MaxMessage = 1 << 20;
    public const int MaxSignalMessage = 4096;

    public static void Send(SeqPacketChannel channel, ControlResponse response, params ReadOnlySpan<int> fds) =>
        channel.TrySend(JsonSerializer.SerializeToUtf8Bytes(response, StateJson.Default.ControlResponse), fds);

    public static void Send(SeqPacketChannel channel, ControlRequest request, params ReadOnlySpan<int> fds) =>
        channel.TrySend(JsonSerializer.SerializeToUtf8Bytes(request, StateJson.Default.ControlRequest), fds);

    public static async Task<ControlResponse?> ReceiveAsync(SeqPacketChannel channel, List<SafeFd>? fds = null, CancellationToken cancellationToken = default)
    {
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(MaxMessage);
        try
        {
            int n = fds is null
                ? await channel.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false)
                : await channel.ReceiveAsync(buffer, fds, cancellationToken).ConfigureAwait(false);
            return n == 0 ? null : JsonSerializer.Deserialize(buffer.AsSpan(0, n), StateJson.Default.ControlResponse);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Connects to a running sandbox's monitor; null when it is not running.</summary>
    public static SeqPacketChannel? TryConnect(StateStore store, string id)
    {
        try
        {
            return SeqPacketChannel.Connect(Path.Combine(store.DirectoryOf(id), StateStore.SocketFile));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>One request, one answer; throws a usage error naming the sandbox when it is not running or the request failed.</summary>
    public static async Task<ControlResponse> RequestAsync(StateStore store, string id, ControlRequest request)
    {
        using var channel = TryConnect(store, id) ?? throw new CliUsageException($"sandbox {id} is not running");
        Send(channel, request);
        var response = await ReceiveAsync(channel).ConfigureAwait(false) ?? throw new CliUsageException($"sandbox {id} ended while it was asked to {request.Op}");
        // What the monitor reports is a failure of the request, not of the command line: no help suffix.
        return response.Ok ? response : throw new CliUsageException(response.Error ?? $"{request.Op} failed", helpCommand: null);
    }
}
