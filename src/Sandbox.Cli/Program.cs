using Sandboxing.Cli;

// Dispatch on the first argument, docker style: global options, then one command.
return args switch
{
    [] or ["-h" or "--help", ..] or ["help"] => await PrintAsync(HelpText.Main),
    ["help", "run"] => await PrintAsync(HelpText.Run),
    ["help", "image"] => await PrintAsync(HelpText.Image),
    ["help", "volume"] => await PrintAsync(HelpText.Volume),
    ["help", "probe"] => await PrintAsync(ProbeCommand.Help),
    ["-v" or "--version", ..] => await PrintAsync(HelpText.Version + "\n"),
    ["help", "create"] => await PrintAsync(HelpText.Create),
    ["run", .. var rest] => await RunCommand.ExecuteAsync(rest),
    ["create", .. var rest] => await RunCommand.ExecuteAsync(rest, create: true),
    [Sandboxing.Cli.Lifecycle.Monitor.Verb, .. var rest] => await Sandboxing.Cli.Lifecycle.Monitor.RunAsync(rest, create: false),
    [Sandboxing.Cli.Lifecycle.Monitor.CreateVerb, .. var rest] => await Sandboxing.Cli.Lifecycle.Monitor.RunAsync(rest, create: true),
    ["help", "exec"] => await PrintAsync(HelpText.Exec),
    ["help", "ps" or "start" or "top" or "stats" or "logs" or "inspect" or "pause" or "unpause" or "stop" or "kill" or "rm"] => await PrintAsync(HelpText.Lifecycle),
    [var verb and ("exec" or "ps" or "start" or "top" or "stats" or "logs" or "inspect" or "pause" or "unpause" or "stop" or "kill" or "rm"), .. var rest] =>
        await Sandboxing.Cli.Lifecycle.LifecycleCommands.ExecuteAsync(verb, rest),
    ["image", .. var rest] => await StoreCommands.ImageAsync(rest),
    ["volume", .. var rest] => await StoreCommands.VolumeAsync(rest),
    ["probe", .. var rest] => await ProbeCommand.ExecuteAsync(rest),
    ["help", var command, ..] => await UsageErrorAsync(new CliUsageException($"unknown command '{command}'", "sandbox --help")),
    [var first, ..] => await UsageErrorAsync(first.StartsWith('-')
        ? new CliUsageException($"unknown option '{first}'", "sandbox --help")
        : new CliUsageException($"unknown command '{first}'", "sandbox --help")),
};

static async Task<int> PrintAsync(string text)
{
    await Console.Out.WriteAsync(text).ConfigureAwait(false);
    return 0;
}

static async Task<int> UsageErrorAsync(CliUsageException error)
{
    await Console.Error.WriteLineAsync(error.ToErrorLine()).ConfigureAwait(false);
    return ExitCodes.CannotStart;
}
