using System.Globalization;
using System.Text.Json;
using Sandboxing.Interop;
using Sandboxing.IO;

namespace Sandboxing.Cli.Lifecycle;

/// <summary>
/// The verbs that work on a sandbox started with <c>run -d</c>, from any shell: exec, ps, top,
/// stats, logs, inspect, pause, unpause, stop, kill and rm. Each asks the sandbox's monitor over
/// its control socket, or reads the state directory.
/// </summary>
internal static class LifecycleCommands
{
    public static async Task<int> ExecuteAsync(string verb, IReadOnlyList<string> args)
    {
        try
        {
            if (args is ["-h" or "--help", ..])
            {
                await Console.Out.WriteAsync(verb == "exec" ? HelpText.Exec : HelpText.Lifecycle).ConfigureAwait(false);
                return 0;
            }
            var store = StateStore.Open();
            return verb switch
            {
                "exec" => await ExecAsync(store, args).ConfigureAwait(false),
                "ps" => Ps(store, args),
                "top" => await TopAsync(store, One(args, verb)).ConfigureAwait(false),
                "stats" => await StatsAsync(store, args).ConfigureAwait(false),
                "logs" => await LogsAsync(store, args).ConfigureAwait(false),
                "inspect" => await InspectAsync(store, One(args, verb)).ConfigureAwait(false),
                "pause" or "unpause" or "start" => await SimpleAsync(store, One(args, verb), new ControlRequest { Op = verb }).ConfigureAwait(false),
                "stop" => await StopAsync(store, args).ConfigureAwait(false),
                "kill" => await KillAsync(store, args).ConfigureAwait(false),
                "rm" => await RemoveAsync(store, args).ConfigureAwait(false),
                _ => throw new CliUsageException($"unknown command '{verb}'", "sandbox --help"),
            };
        }
        catch (CliUsageException e)
        {
            await Console.Error.WriteLineAsync(e.ToErrorLine()).ConfigureAwait(false);
            return ExitCodes.CannotStart;
        }
    }

    /// <summary>The one SANDBOX argument of a verb without options.</summary>
    private static string One(IReadOnlyList<string> args, string verb) => args is [var id] && !id.StartsWith('-')
        ? id
        : throw new CliUsageException($"'sandbox {verb}' takes one sandbox id", $"sandbox {verb} --help");

    private static async Task<int> SimpleAsync(StateStore store, string idOrPrefix, ControlRequest request)
    {
        string id = store.Resolve(idOrPrefix);
        await ControlChannel.RequestAsync(store, id, request).ConfigureAwait(false);
        await Console.Out.WriteLineAsync(id).ConfigureAwait(false);
        return 0;
    }

    private static int Ps(StateStore store, IReadOnlyList<string> args)
    {
        bool all = args.Contains("-a") || args.Contains("--all"), quiet = args.Contains("-q") || args.Contains("--quiet");
        if (args.FirstOrDefault(a => a is not ("-a" or "--all" or "-q" or "--quiet")) is { } unknown)
            throw new CliUsageException($"unknown option '{unknown}'", "sandbox ps --help");
        var rows = new List<string[]>();
        foreach (var record in store.List())
        {
            string status = StatusOf(store, record);
            if (!all && status.StartsWith("exited", StringComparison.Ordinal))
                continue;
            if (quiet)
                Console.WriteLine(record.Id);
            else
                rows.Add([record.Id, Truncate(string.Join(' ', record.Command), 30), record.Created.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), status]);
        }
        if (!quiet)
            PrintTable(["SANDBOX ID", "COMMAND", "CREATED", "STATUS"], rows);
        return 0;
    }

    /// <summary>running or paused (its monitor answers), exited (N) with the result, or exited (unknown) when the monitor died.</summary>
    private static string StatusOf(StateStore store, SandboxRecord record)
    {
        if (record.Result is { } result)
            return $"exited ({result.ShellExitStatus}, {result.Verdict})";
        if (record.Error is not null)
            return "exited (failed: see inspect)";
        using var channel = ControlChannel.TryConnect(store, record.Id);
        return channel is null ? "exited (unknown: its monitor is gone)" : record.Status;
    }

    private static async Task<int> TopAsync(StateStore store, string idOrPrefix)
    {
        string id = store.Resolve(idOrPrefix);
        var response = await ControlChannel.RequestAsync(store, id, new ControlRequest { Op = "top" }).ConfigureAwait(false);
        PrintTable(["PID", "HOST PID", "PPID", "UID", "S", "TIME", "RSS", "COMMAND"],
            (response.Processes ?? []).Select(p => new[]
            {
                p.Pid.ToString(CultureInfo.InvariantCulture), p.HostPid.ToString(CultureInfo.InvariantCulture), p.ParentPid.ToString(CultureInfo.InvariantCulture),
                p.Uid?.ToString(CultureInfo.InvariantCulture) ?? "-", p.State, TimeSpan.FromSeconds(p.CpuSeconds).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture),
                Units.FormatBytes(p.ResidentBytes), p.Command,
            }).ToList());
        return 0;
    }

    private static async Task<int> StatsAsync(StateStore store, IReadOnlyList<string> args)
    {
        bool once = args.Contains("--no-stream");
        var ids = args.Where(a => a != "--no-stream").ToList();
        if (ids is not [var idOrPrefix] || idOrPrefix.StartsWith('-'))
            throw new CliUsageException("'sandbox stats' takes one sandbox id", "sandbox stats --help");
        string id = store.Resolve(idOrPrefix);
        using var interrupts = new Interrupts();
        double? lastCpu = null;
        var lastTime = DateTime.UtcNow;
        while (true)
        {
            ControlResponse response;
            try
            {
                response = await ControlChannel.RequestAsync(store, id, new ControlRequest { Op = "stats" }).ConfigureAwait(false);
            }
            catch (CliUsageException) when (lastCpu is not null)
            {
                return 0; // it ended while we watched
            }
            var s = response.Stats!;
            var now = DateTime.UtcNow;
            string cpuPercent = lastCpu is { } before && s.CpuSeconds is { } after
                ? $"{100 * (after - before) / Math.Max(1e-6, (now - lastTime).TotalSeconds):0.00}%"
                : "-";
            lastCpu = s.CpuSeconds ?? 0;
            lastTime = now;
            PrintTable(["SANDBOX ID", "CPU %", "CPU TIME", "MEM USAGE", "MEM PEAK", "PIDS", "BLOCK I/O"],
            [[
                id, cpuPercent, s.CpuSeconds is { } cpu ? $"{cpu:0.000}s" : "-",
                s.MemoryBytes is { } m ? Units.FormatBytes(m) : "-", s.MemoryPeakBytes is { } p ? Units.FormatBytes(p) : "-",
                s.Pids?.ToString(CultureInfo.InvariantCulture) ?? "-",
                $"{(s.IoReadBytes is { } r ? Units.FormatBytes(r) : "-")} / {(s.IoWriteBytes is { } w ? Units.FormatBytes(w) : "-")}",
            ]]);
            if (once)
                return 0;
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), interrupts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
        }
    }

    /// <summary>The command's output as it arrived; every line carries its arrival time, shown with -t.</summary>
    private static async Task<int> LogsAsync(StateStore store, IReadOnlyList<string> args)
    {
        bool timestamps = args.Contains("-t") || args.Contains("--timestamps");
        string directory = store.DirectoryOf(store.Resolve(One([.. args.Where(a => a is not ("-t" or "--timestamps"))], "logs")));
        await using (var stdout = Console.OpenStandardOutput())
            await CopyLogAsync(Path.Combine(directory, StateStore.StdoutLog), stdout, timestamps).ConfigureAwait(false);
        await using (var stderr = Console.OpenStandardError())
            await CopyLogAsync(Path.Combine(directory, StateStore.StderrLog), stderr, timestamps).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Streams a log (of any size) to <paramref name="destination"/>, without the stamps unless asked.</summary>
    private static async Task CopyLogAsync(string path, Stream destination, bool timestamps)
    {
        await using var log = File.OpenRead(path);
        if (timestamps)
        {
            await log.CopyToAsync(destination).ConfigureAwait(false);
            return;
        }
        // Each line is "TIMESTAMP " then the line as written; the last may lack its newline.
        await using var output = new BufferedStream(destination, 1 << 16);
        var buffer = new byte[1 << 16];
        bool inStamp = true;
        int n;
        while ((n = await log.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            for (int i = 0; i < n;)
            {
                if (inStamp)
                {
                    int space = Array.IndexOf(buffer, (byte)' ', i, n - i);
                    if (space < 0)
                        break; // the stamp goes on in the next read
                    inStamp = false;
                    i = space + 1;
                    continue;
                }
                int newline = Array.IndexOf(buffer, (byte)'\n', i, n - i);
                int end = newline < 0 ? n : newline + 1;
                await output.WriteAsync(buffer.AsMemory(i, end - i)).ConfigureAwait(false);
                inStamp = newline >= 0;
                i = end;
            }
        }
    }

    private static async Task<int> InspectAsync(StateStore store, string idOrPrefix)
    {
        string id = store.Resolve(idOrPrefix);
        var record = store.TryRead(id) ?? throw new CliUsageException($"the state of sandbox {id} is unreadable");
        await Console.Out.WriteLineAsync(JsonSerializer.Serialize(record with { Status = StatusOf(store, record) }, StateJson.Relaxed.SandboxRecord)).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> StopAsync(StateStore store, IReadOnlyList<string> args)
    {
        double grace = 10;
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] is "-t" or "--time" && i + 1 < args.Count)
                grace = double.TryParse(args[++i], NumberStyles.Float, CultureInfo.InvariantCulture, out double g) && g >= 0
                    ? g : throw new CliUsageException($"invalid value '{args[i]}' for -t: expected seconds, such as 10 or 0.5");
            else
                rest.Add(args[i]);
        }
        return await SimpleAsync(store, One(rest, "stop"), new ControlRequest { Op = "stop", GraceSeconds = grace }).ConfigureAwait(false);
    }

    private static async Task<int> KillAsync(StateStore store, IReadOnlyList<string> args)
    {
        int signal = 9;
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] is "-s" or "--signal" && i + 1 < args.Count)
                signal = ParseSignal(args[++i]);
            else
                rest.Add(args[i]);
        }
        return await SimpleAsync(store, One(rest, "kill"), new ControlRequest { Op = "kill", Signal = signal }).ConfigureAwait(false);
    }

    private static readonly Dictionary<string, int> s_signals = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["KILL"] = 9, ["USR1"] = 10, ["USR2"] = 12, ["ALRM"] = 14, ["TERM"] = 15, ["CONT"] = 18, ["WINCH"] = 28,
    };

    private static int ParseSignal(string value) =>
        int.TryParse(value, out int n) && (n == 9 || Array.IndexOf(Helper.HelperProtocol.ForwardedSignals, n) >= 0) ? n
        : s_signals.TryGetValue(value.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? value[3..] : value, out n) ? n
        : throw new CliUsageException($"invalid signal '{value}': one of {string.Join(", ", s_signals.Keys)} (or their numbers)");

    private static async Task<int> RemoveAsync(StateStore store, IReadOnlyList<string> args)
    {
        bool force = args.Contains("-f") || args.Contains("--force");
        string id = store.Resolve(One([.. args.Where(a => a is not ("-f" or "--force"))], "rm"));
        using (var channel = ControlChannel.TryConnect(store, id))
        {
            // A monitor that holds its lock but does not answer yet (or any more) is starting or ending.
            if (channel is null && !force && !MonitorGone(store.DirectoryOf(id)))
                throw new CliUsageException($"the monitor of sandbox {id} is still starting or ending; wait for it, or give -f");
            if (channel is not null)
            {
                if (!force)
                    throw new CliUsageException($"sandbox {id} is running; stop it first, or give -f to kill it");
                ControlChannel.Send(channel, new ControlRequest { Op = "kill" });
                await ControlChannel.ReceiveAsync(channel).ConfigureAwait(false);
            }
        }
        // The monitor removes its socket and writes the result as it exits; wait for its exit, so
        // the directory is not pulled from under it.
        string directory = store.DirectoryOf(id);
        if (!await MonitorExitedAsync(directory).ConfigureAwait(false))
            await Console.Error.WriteLineAsync($"sandbox: the monitor of {id} (pid {store.TryRead(id)?.MonitorPid}) has not exited after {MonitorExitTimeout.TotalSeconds:0} s; removing its directory anyway").ConfigureAwait(false);
        Directory.Delete(directory, recursive: true);
        await Console.Out.WriteLineAsync(id).ConfigureAwait(false);
        return 0;
    }

    private static readonly TimeSpan MonitorExitTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Whether the monitor's lock (<see cref="StateStore.MonitorLock"/>) became free within the bound.</summary>
    private static async Task<bool> MonitorExitedAsync(string directory)
    {
        var deadline = DateTime.UtcNow + MonitorExitTimeout;
        while (!MonitorGone(directory))
        {
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(10).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>Whether nobody holds the monitor's lock: its monitor has ended (or another rm is removing it).</summary>
    private static bool MonitorGone(string directory)
    {
        try
        {
            using var free = Images.FileLock.TryAcquire(Path.Combine(directory, StateStore.MonitorLock), exclusive: true);
            return free is not null;
        }
        catch (Images.ImageException)
        {
            return true; // the directory is gone (another rm) or unreadable: no monitor to wait for
        }
    }

    /// <summary>docker exec: the command's exit status is ours; 126 and 127 when it cannot be executed or found.</summary>
    private static async Task<int> ExecAsync(StateStore store, IReadOnlyList<string> args)
    {
        bool interactive = false, tty = false;
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        string? workdir = null;
        uint? uid = null, gid = null;
        int i = 0;
        for (; i < args.Count && args[i].StartsWith('-') && args[i] != "--"; i++)
        {
            string a = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new CliUsageException($"option '{a}' needs a value");
            switch (a)
            {
                case "-i" or "--interactive": interactive = true; break;
                case "-t" or "--tty": tty = true; break;
                case "-it" or "-ti": interactive = tty = true; break;
                case "-e" or "--env":
                    string pair = Value();
                    int eq = pair.IndexOf('=');
                    if (eq > 0)
                        env[pair[..eq]] = pair[(eq + 1)..];
                    else if (Environment.GetEnvironmentVariable(pair) is { } inherited)
                        env[pair] = inherited;
                    break;
                case "-w" or "--workdir": workdir = Value(); break;
                case "-u" or "--user":
                    var parts = Value().Split(':');
                    uid = uint.TryParse(parts[0], out uint u) ? u : throw new CliUsageException($"invalid value '{parts[0]}' for {a}: expected a numeric uid");
                    gid = parts.Length > 1 ? (uint.TryParse(parts[1], out uint g) ? g : throw new CliUsageException($"invalid value '{parts[1]}' for {a}: expected a numeric gid")) : null;
                    break;
                default: throw new CliUsageException($"unknown option '{a}'", "sandbox exec --help");
            }
        }
        if (i < args.Count && args[i] == "--")
            i++;
        if (i >= args.Count)
            throw new CliUsageException("'sandbox exec' needs a sandbox id and a command", "sandbox exec --help");
        string id = store.Resolve(args[i++]);
        if (i < args.Count && args[i] == "--")
            i++;
        if (i >= args.Count)
            throw new CliUsageException("'sandbox exec' needs a command to run", "sandbox exec --help");

        var size = TerminalSession.CurrentSize();
        var request = new ControlRequest
        {
            Op = "exec",
            Command = [.. args.Skip(i)],
            Environment = env,
            WorkingDirectory = workdir,
            Uid = uid,
            Gid = gid,
            Tty = tty,
            Columns = size.Columns,
            Rows = size.Rows,
        };
        using var channel = ControlChannel.TryConnect(store, id) ?? throw new CliUsageException($"sandbox {id} is not running");
        using var interrupts = new Interrupts();
        if (tty)
        {
            ControlChannel.Send(channel, request);
        }
        else
        {
            // Without -i the command reads /dev/null, as docker exec's does.
            int input = interactive ? 0 : LibC.open("/dev/null", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
            ControlChannel.Send(channel, request, input, 1, 2);
            if (input != 0)
                LibC.close(input);
        }
        var fds = new List<SafeFd>();
        ControlResponse? started;
        try
        {
            started = await ControlChannel.ReceiveAsync(channel, fds, interrupts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (interrupts.Signal is int signal)
        {
            // Interrupted while it starts (a paused sandbox holds it until unpaused): leaving
            // closes our connection, and the monitor kills the command once it runs.
            return 128 + signal;
        }
        if (started is not { Ok: true })
        {
            await Console.Error.WriteLineAsync("sandbox: " + (started?.Error ?? $"sandbox {id} ended")).ConfigureAwait(false);
            return started?.Step switch { "find the command" => 127, "execute the command" => 126, _ => ExitCodes.CannotStart };
        }
        using var forwardInterrupt = interrupts.Token.Register(() => ControlChannel.Send(channel, new ControlRequest { Op = "signal", Signal = interrupts.Signal ?? 2 }));
        Task pump = Task.CompletedTask;
        TerminalSession? session = null;
        if (tty && fds is [var master, ..])
        {
            var terminal = new FdStream(master, FileAccess.ReadWrite);
            session = TerminalSession.Start(interactive, s => PseudoTerminal.Resize(master, s));
            pump = TerminalSession.PumpAsync(terminal, interactive);
        }
        try
        {
            var final = await ControlChannel.ReceiveAsync(channel).ConfigureAwait(false);
            await pump.ConfigureAwait(false);
            if (final?.Result is not { } result)
            {
                await Console.Error.WriteLineAsync($"sandbox: sandbox {id} ended before the command did").ConfigureAwait(false);
                return 128 + 9;
            }
            return result.ShellExitStatus;
        }
        finally
        {
            session?.Dispose();
        }
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    /// <summary>What a sandboxed program controls (its command line) never reaches our terminal as control characters.</summary>
    private static string Printable(string text) => string.Concat(text.Select(c => char.IsControl(c) ? '?' : c));

    private static void PrintTable(string[] header, IReadOnlyList<string[]> rows)
    {
        rows = [.. rows.Select(r => r.Select(Printable).ToArray())];
        var widths = header.Select((h, c) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[c].Length))).ToArray();
        Console.WriteLine(string.Join("   ", header.Select((h, c) => c == header.Length - 1 ? h : h.PadRight(widths[c]))));
        foreach (var row in rows)
            Console.WriteLine(string.Join("   ", row.Select((v, c) => c == row.Length - 1 ? v : v.PadRight(widths[c]))));
    }
}
