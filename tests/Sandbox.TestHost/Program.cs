using Sandboxing;

// Modes:
//   probe            run a default sandbox that prints what it sees; print the result
//   hostprobe        print SandboxHost.ProbeAsync's report, one fact a line
//   hold TOKEN [nopid|limits]  start `sleep TOKEN` in a sandbox, print "ready <pid>", wait forever
//   statuses         run commands with known outcomes; print one line per result
//   limits           run with a memory limit; print the verdict or the error
//   exec SCRIPT      exec SCRIPT into a running sandbox; print both views and the verdicts
switch (args.FirstOrDefault())
{
    case "probe":
    {
        var result = await new SandboxBuilder().Build().RunAsync(
            ["/bin/sh", "-c", "id -u; id -g; cat /proc/self/uid_map; hostname; echo pid=$$; touch /usr/probe 2>/dev/null && echo usr-writable || echo usr-readonly"]);
        Console.Write(result.StandardOutput);
        Console.WriteLine($"verdict={result.Verdict} code={result.ExitCode}");
        return 0;
    }
    case "hostprobe":
    {
        // The host report as this process sees it (after one real user namespace attempt), one
        // fact a line: "feature NAME yes|no", "controller NAME vN yes|no", "canrun yes|no".
        var report = await SandboxHost.ProbeAsync();
        foreach (var f in report.Features)
            Console.WriteLine($"feature {f.Name} {(f.Supported ? "yes" : "no")}");
        foreach (var c in report.CgroupControllers)
            Console.WriteLine($"controller {c.Name} v{(int)c.Version} {(c.CanDelegate ? "yes" : "no")}");
        Console.WriteLine($"canrun {(report.CanRunSandboxes ? "yes" : "no")}");
        return 0;
    }
    case "limits":
    {
        try
        {
            var result = await new SandboxBuilder().WithMemoryLimit(64L << 20).Build().RunAsync(["/bin/true"]);
            Console.WriteLine($"ran verdict={result.Verdict}");
        }
        catch (SandboxException e)
        {
            Console.WriteLine($"error step={e.Step}: {e.Message}");
        }
        return 0;
    }
    case "hold":
    {
        var builder = new SandboxBuilder();
        if (args.Length > 2 && args[2] == "nopid")
            builder = builder.WithoutNamespaces(SandboxNamespaces.Pid);
        if (args.Length > 2 && args[2] == "limits")
            builder = builder.WithMemoryLimit(64L << 20).WithPidsLimit(16);
        var process = await builder.Build().StartAsync(["/bin/sleep", args[1]]);
        Console.WriteLine($"ready {process.Pid} {process.Id}");
        Console.Out.Flush();
        await Task.Delay(Timeout.Infinite);
        return 0;
    }
    case "statuses":
    {
        var sandbox = new SandboxBuilder().Build();
        string[][] commands = [["/bin/sh", "-c", "exit 0"], ["/bin/sh", "-c", "exit 7"], ["/bin/sh", "-c", "kill -TERM $$"], ["/bin/sh", "-c", "kill -9 $$"]];
        // Concurrently, so a reap-all SIGCHLD handler has every chance to race with us.
        var results = await Task.WhenAll(Enumerable.Range(0, 5).SelectMany(_ => commands).Select(c => sandbox.RunAsync(c)));
        foreach (var r in results)
            Console.WriteLine($"{r.Verdict} {r.ExitCode?.ToString() ?? "-"} {r.Signal?.ToString() ?? "-"}");
        return 0;
    }
    case "overlay":
    {
        // overlay SCRIPT LAYER... : run SCRIPT in an overlay of the layers (bottom first) with an
        // ephemeral writable layer; print its output and verdict, or the setup error.
        try
        {
            var result = await new SandboxBuilder().WithOverlayRoot(args.Skip(2)).WithUser(0, 0).Build().RunAsync(["/bin/sh", "-c", args[1]]);
            Console.Write(result.StandardOutput);
            Console.Write(result.StandardError);
            Console.WriteLine($"verdict={result.Verdict} code={result.ExitCode}");
        }
        catch (SandboxException e)
        {
            Console.WriteLine($"error step={e.Step}: {e.Message}");
        }
        return 0;
    }
    case "image":
    {
        // image STORE PATH SCRIPT : import PATH into the store at STORE, run SCRIPT in it (through
        // the image's entrypoint when it has one); print the output and verdict, or the error.
        try
        {
            var image = await new Sandboxing.Images.ImageStore(args[1]).ImportAsync(args[2]);
            var result = await new SandboxBuilder().WithImage(image).WithEntrypoint().Build().RunAsync(["/bin/sh", "-c", args[3]]);
            Console.Write(result.StandardOutput);
            Console.Write(result.StandardError);
            Console.WriteLine($"skipped-devices={image.SkippedDeviceNodes} verdict={result.Verdict} code={result.ExitCode}");
        }
        catch (Exception e) when (e is SandboxException or Sandboxing.Images.ImageException)
        {
            Console.WriteLine($"error: {e.Message}");
        }
        return 0;
    }
    case "hold-exec":
    {
        // hold-exec TOKEN [paused] : a sandbox with a cgroup running `sleep TOKEN`, and an exec'd
        // `sleep TOKEN` in it (then paused); print "ready <command pid> <exec pid> <id>", wait forever.
        var sandbox = new SandboxBuilder().WithCgroup().Build();
        var process = await sandbox.StartAsync(["/bin/sleep", args[1]]);
        var exec = await process.StartExecAsync(["/bin/sleep", args[1]]);
        if (args.Length > 2 && args[2] == "paused")
            await process.PauseAsync();
        Console.WriteLine($"ready {process.Pid} {exec.Pid} {process.Id}");
        Console.Out.Flush();
        await Task.Delay(Timeout.Infinite);
        return 0;
    }
    case "exec":
    {
        // exec SCRIPT : start a long-lived sandbox, exec SCRIPT into it (and a missing program);
        // print the sandbox command's and the exec'd command's views, then the verdicts.
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var process = await sandbox.StartAsync(["/bin/sh", "-c", $"{args[1]}; echo ready; exec sleep 1000"]);
        var reader = new StreamReader(process.StandardOutput);
        var main = new List<string>();
        while (await reader.ReadLineAsync() is { } line && line != "ready")
            main.Add(line);
        var exec = await process.ExecAsync(["/bin/sh", "-c", args[1]]);
        Console.WriteLine($"main:\n{string.Join('\n', main)}\nexec:\n{exec.StandardOutput.TrimEnd('\n')}\nexec-verdict={exec.Verdict} code={exec.ExitCode}");
        try
        {
            await process.ExecAsync(["no-such-program"]);
        }
        catch (SandboxException e)
        {
            Console.WriteLine($"error step={e.Step}");
        }
        var result = await process.KillAsync();
        Console.WriteLine($"sandbox-verdict={result.Verdict}");
        return 0;
    }
    case "create":
    {
        // create SCRIPT : create a sandbox for SCRIPT, exec SCRIPT into it, then start it; print the
        // state before the start, both views and the verdict; then a created sandbox whose program is missing.
        var sandbox = new SandboxBuilder().Build();
        await using var process = await sandbox.CreateAsync(["/bin/sh", "-c", args[1]]);
        Console.WriteLine($"state={process.State} pid={process.Pid}");
        var exec = await process.ExecAsync(["/bin/sh", "-c", args[1]]);
        Console.WriteLine($"exec:\n{exec.StandardOutput}started:");
        await process.StartAsync();
        var result = await process.WaitForExitAsync();
        Console.WriteLine($"{result.StandardOutput}verdict={result.Verdict} code={result.ExitCode}");
        await using var missing = await sandbox.CreateAsync(["no-such-program"]);
        try
        {
            await missing.StartAsync();
        }
        catch (SandboxException e)
        {
            Console.WriteLine($"error step={e.Step} state={missing.State}");
        }
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: Sandbox.TestHost probe | hold TOKEN [nopid] | statuses | limits | overlay SCRIPT LAYER... | image STORE PATH SCRIPT | exec SCRIPT | create SCRIPT");
        return 2;
}
