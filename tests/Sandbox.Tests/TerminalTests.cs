using System.Text;

namespace Sandboxing.Tests;

/// <summary>
/// A terminal of the sandbox's own (docker run -t / exec -t), proven from inside: the command's
/// stdio is a terminal that is its controlling terminal, of the size asked, resized with SIGWINCH.
/// </summary>
public class TerminalTests
{
    private const string TerminalView =
        "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo stdio-is-a-terminal; stty size; echo via-dev-tty > /dev/tty; " +
        "[ \"$(cut -d' ' -f6 /proc/self/stat)\" = $$ ] && echo session-leader";

    /// <summary>Reads the terminal until end of file (the command and everything holding the terminal have ended).</summary>
    private static async Task<string> ReadAllAsync(Stream terminal)
    {
        var text = await new StreamReader(terminal, Encoding.UTF8).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return text.Replace("\r", "");
    }

    private static async Task<string> ReadUntilAsync(Stream terminal, string marker)
    {
        var seen = new StringBuilder();
        var buffer = new byte[256];
        while (!seen.ToString().Replace("\r", "").Contains(marker))
        {
            int n = await terminal.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(n > 0, $"the terminal ended before '{marker}'; it said: {seen}");
            seen.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        return seen.ToString().Replace("\r", "");
    }

    [Fact]
    public async Task The_command_gets_a_terminal_of_its_own_as_stdio_and_controlling_terminal()
    {
        var sandbox = new SandboxBuilder().WithTerminal(new TerminalSize(132, 43)).Build();
        await using var p = await sandbox.StartAsync(["/bin/sh", "-c", TerminalView]);
        string output = await ReadAllAsync(p.Terminal);
        var r = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(r.IsSuccess, r.ToString() + output);
        Assert.Equal("stdio-is-a-terminal\n43 132\nvia-dev-tty\nsession-leader\n", output);
    }

    [Fact]
    public async Task Input_written_to_the_terminal_reaches_the_command_and_a_resize_sends_SIGWINCH()
    {
        var sandbox = new SandboxBuilder().WithTerminal().Build();
        await using var p = await sandbox.StartAsync(["/bin/sh", "-c",
            "trap 'echo resized $(stty size)' WINCH; echo ready; read line; echo got:$line; while :; do sleep 0.05; done"]);
        await ReadUntilAsync(p.Terminal, "ready\n");
        await p.Terminal.WriteAsync(Encoding.UTF8.GetBytes("hello\n"));
        await ReadUntilAsync(p.Terminal, "got:hello\n");
        p.ResizeTerminal(new TerminalSize(100, 30));
        await ReadUntilAsync(p.Terminal, "resized 30 100\n");
        Assert.Equal(SandboxVerdict.Canceled, (await p.KillAsync()).Verdict);
    }

    [Fact]
    public async Task An_exec_d_command_gets_a_terminal_of_its_own()
    {
        var sandbox = new SandboxBuilder().WithStandardOutput(SandboxOutput.Pipe).Build();
        await using var p = await sandbox.StartAsync(["/bin/sh", "-c", "echo ready; exec sleep 1000"]);
        Assert.Equal("ready", await new StreamReader(p.StandardOutput).ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        await using var exec = await p.StartExecAsync(["/bin/sh", "-c", TerminalView], new SandboxExecOptions { Terminal = new TerminalSize(90, 20) });
        string output = await ReadAllAsync(exec.Terminal);
        var r = await exec.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(r.IsSuccess, r.ToString() + output);
        Assert.Equal("stdio-is-a-terminal\n20 90\nvia-dev-tty\nsession-leader\n", output);
    }

    [Fact]
    public async Task Without_a_terminal_there_is_none_and_bad_sizes_are_refused()
    {
        var sandbox = new SandboxBuilder().WithStandardInput(SandboxInput.Pipe).Build();
        await using var p = await sandbox.StartAsync(["/bin/sh", "-c", "[ -t 0 ] || echo no-terminal; cat > /dev/tty 2>/dev/null || echo no-controlling-terminal"]);
        p.StandardInput.Dispose();
        var r = await p.WaitForExitAsync();
        Assert.Equal("no-terminal\nno-controlling-terminal\n", r.StandardOutput);
        Assert.Throws<InvalidOperationException>(() => p.Terminal);
        Assert.Throws<SandboxConfigurationException>(() => new SandboxBuilder().WithTerminal(new TerminalSize(0, 24)).Build());
    }
}
