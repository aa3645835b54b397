using Sandboxing.Tests.Support;

namespace Sandboxing.Tests;

/// <summary>GetProcesses (docker top) lists what runs inside, as the sandbox itself sees it.</summary>
public class TopTests
{
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)] // listed from the cgroup's members, not by walking the process tree
    [InlineData(false, true)]
    public async Task It_lists_the_command_its_children_and_exec_d_commands_with_their_pids_inside(bool pidNamespace, bool cgroup)
    {
        string token = Sandboxes.UniqueSleepToken();
        var builder = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe);
        if (!pidNamespace)
            builder = builder.WithoutNamespaces(SandboxNamespaces.Pid);
        if (cgroup)
            builder = builder.WithCgroup();
        await using var p = await builder.Build().StartAsync(["/bin/sh", "-c", $"sleep {token} & echo $$ $!; exec sleep 1000"]);
        var pids = (await new StreamReader(p.StandardOutput).ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Split(' ').Select(int.Parse).ToArray();
        await using var exec = await p.StartExecAsync(["/bin/sleep", token + "1"]);

        // The shell prints the pids before it execs "sleep 1000", and maybe before the background
        // child has exec'd its sleep: list until both execs have happened (bounded), then check.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var list = p.GetProcesses();
        while (!(list.Any(i => i.CommandLine == "sleep 1000") && list.Any(i => i.CommandLine == $"sleep {token}")
                 && list.Any(i => i.CommandLine == $"/bin/sleep {token}1"))
               && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
            list = p.GetProcesses();
        }
        // What the sandbox's own ps says: the pids inside, and who is whose parent.
        // The parent is the second field after the last ')': the name before it may hold spaces
        // (without a PID namespace this lists the host's processes, which may also exit meanwhile,
        // and whose command lines may hold newlines, backslashes and wildcards: printed verbatim, on one line).
        string ps = (await p.ExecAsync(["/bin/sh", "-c", $"for d in /proc/[0-9]*; do s=$(cat $d/stat 2>/dev/null) || continue; set -- ${{s##*) }}; printf '%s %s %s\\n' ${{d#/proc/}} $2 \"$(tr '\\0\\n' '  ' < $d/cmdline 2>/dev/null)\"; done"])).StandardOutput;
        var inside = ps.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', 3))
            .Where(f => f.Length == 3 && int.TryParse(f[0], out _) && int.TryParse(f[1], out _)) // only well-formed lines
            .ToDictionary(f => int.Parse(f[0]), f => (Parent: int.Parse(f[1]), Command: f[2].Trim()));

        var command = Assert.Single(list, i => i.CommandLine == "sleep 1000");
        var child = Assert.Single(list, i => i.CommandLine == $"sleep {token}");
        var exec1 = Assert.Single(list, i => i.CommandLine == $"/bin/sleep {token}1");
        Assert.Equal(pids[0], command.Pid); // exec'd by the shell, so the shell's $$
        Assert.Equal(pids[1], child.Pid);
        Assert.Equal(p.Pid, command.HostPid);
        Assert.Equal(exec.Pid, exec1.HostPid);
        Assert.Equal(command.Pid, child.ParentPid);
        Assert.Equal(inside[child.Pid].Parent, child.ParentPid);
        Assert.Equal("sleep 1000", inside[command.Pid].Command);
        Assert.Equal($"/bin/sleep {token}1", inside[exec1.Pid].Command);
        if (pidNamespace)
        {
            Assert.Equal(2, command.Pid);
            Assert.Equal(0, exec1.ParentPid); // its parent is outside, as with docker exec
        }
        Assert.All(list, i => Assert.Equal(65534u, i.Uid));
        Assert.All(list, i => Assert.True(i.ResidentBytes > 0 && i.State is 'S' or 'R'));
        Assert.DoesNotContain(list, i => i.CommandLine.Contains("sandbox-helper"));
        await p.KillAsync();
        Assert.Empty(p.GetProcesses());
    }
}
