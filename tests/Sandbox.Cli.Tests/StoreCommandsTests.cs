namespace Sandboxing.Cli.Tests;

/// <summary>Tier 1: the arguments of <c>sandbox image ...</c> and <c>sandbox volume ...</c>, no stores touched.</summary>
public class StoreCommandsTests
{
    private static readonly CallerContext s_caller = new("/home/me", _ => null);

    private static StoreCommands.StoreArguments Parse(StoreCommands.Subcommand subcommand, params string[] args) =>
        StoreCommands.Parse(subcommand, args, s_caller);

    private static CliUsageException ParseError(StoreCommands.Subcommand subcommand, params string[] args) =>
        Assert.Throws<CliUsageException>(() => StoreCommands.Parse(subcommand, args, s_caller));

    [Theory]
    [InlineData("--image-store", "/srv/images", "app.tar")]
    [InlineData("--image-store=/srv/images", "app.tar")]
    [InlineData("app.tar", "--image-store", "/srv/images")]
    [InlineData("--image-store", "images", "--image-store", "/srv/images", "--", "app.tar")]
    public void Image_import_takes_a_path_and_the_store_before_or_after_it(params string[] args)
    {
        var arguments = Parse(StoreCommands.ImageImport, args);

        Assert.Equal("/srv/images", arguments.Store);
        Assert.Equal<string>(["app.tar"], arguments.Operands);
        Assert.Null(arguments.Reference);
        Assert.False(arguments.ShowHelp);
    }

    [Fact]
    public void Image_import_takes_a_reference_and_resolves_the_store_against_the_current_directory()
    {
        var arguments = Parse(StoreCommands.ImageImport, "--image-ref", "alpine:3.20", "--image-store", "store", "images.tar");

        Assert.Equal("alpine:3.20", arguments.Reference);
        Assert.Equal("/home/me/store", arguments.Store);
    }

    [Fact]
    public void A_double_dash_makes_the_rest_operands_even_when_they_look_like_options()
    {
        Assert.Equal<string>(["-weird.tar"], Parse(StoreCommands.ImageImport, "--", "-weird.tar").Operands);
        Assert.Equal<string>(["-"], Parse(StoreCommands.ImageImport, "-").Operands);
    }

    [Theory]
    [InlineData("-q")]
    [InlineData("--quiet")]
    public void Ls_may_be_quiet(string option)
    {
        Assert.True(Parse(StoreCommands.ImageList, option).Quiet);
        Assert.True(Parse(StoreCommands.VolumeList, option, "--volume-store", "/v").Quiet);
        Assert.False(Parse(StoreCommands.VolumeList).Quiet);
    }

    [Fact]
    public void Rm_takes_several_operands()
    {
        Assert.Equal<string>(["a", "b", "c"], Parse(StoreCommands.VolumeRemove, "a", "--volume-store", "/v", "b", "c").Operands);
        Assert.Equal<string>(["3f2a", "sha256:ab"], Parse(StoreCommands.ImageRemove, "3f2a", "sha256:ab").Operands);
    }

    [Theory]
    [InlineData("-h")]
    [InlineData("--help")]
    public void Help_needs_nothing_else(string option)
    {
        Assert.True(Parse(StoreCommands.ImageImport, option).ShowHelp);
        Assert.True(Parse(StoreCommands.VolumeRemove, option).ShowHelp);
    }

    private static StoreCommands.Subcommand Subcommand(string command) =>
        new[] { StoreCommands.ImageImport, StoreCommands.ImageList, StoreCommands.ImageRemove, StoreCommands.VolumeList, StoreCommands.VolumeRemove }
            .Single(s => s.Command == command);

    public static TheoryData<string, string[], string, string> Errors => new()
    {
        { "image import", [], "'sandbox image import' needs PATH", "sandbox image --help" },
        { "image import", ["a.tar", "b.tar"], "'sandbox image import' takes one PATH (got 2)", "sandbox image --help" },
        { "image import", ["--image-store"], "option '--image-store' needs a value", "sandbox image --help" },
        { "image import", ["--image-store=", "a.tar"], "invalid value '' for --image-store: expected a directory", "sandbox image --help" },
        { "image import", ["--image-ref", "", "a.tar"], "invalid value '' for --image-ref: expected the reference of one image, for example alpine:3.20", "sandbox image --help" },
        { "image import", ["--volume-store", "/v", "a.tar"], "unknown option '--volume-store' for 'sandbox image import'", "sandbox image --help" },
        { "image import", ["-q", "a.tar"], "unknown option '-q' for 'sandbox image import'", "sandbox image --help" },
        { "image ls", ["extra"], "'sandbox image ls' takes no arguments (got 'extra')", "sandbox image --help" },
        { "image ls", ["--image-ref", "x"], "unknown option '--image-ref' for 'sandbox image ls'", "sandbox image --help" },
        { "image ls", ["--quiet=yes"], "option '--quiet' takes no value (got 'yes')", "sandbox image --help" },
        { "image rm", [], "'sandbox image rm' needs at least one IMAGE", "sandbox image --help" },
        { "volume ls", ["--image-store", "/i"], "unknown option '--image-store' for 'sandbox volume ls'", "sandbox volume --help" },
        { "volume rm", [], "'sandbox volume rm' needs at least one VOLUME", "sandbox volume --help" },
        { "volume rm", ["--bogus", "x"], "unknown option '--bogus' for 'sandbox volume rm'", "sandbox volume --help" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Mistakes_are_usage_errors_that_point_to_the_commands_help(string command, string[] args, string message, string help)
    {
        var error = ParseError(Subcommand(command), args);

        Assert.Equal(message, error.Message);
        Assert.Equal(help, error.HelpCommand);
    }

    [Theory]
    [InlineData("sha256:3f2a1b4c5d6e7f8091a2b3c4d5e6f708", "3f2a1b4c5d6e")]
    [InlineData("3f2a", "3f2a")]
    public void Short_ids_are_dockers_first_12_hex_digits(string id, string shortId)
    {
        Assert.Equal(shortId, StoreCommands.ShortId(id));
    }

    [Fact]
    public void A_command_is_listed_with_its_arguments_quoted()
    {
        Assert.Equal("[\"/bin/sh\", \"-c\", \"echo \\\"hi\\\" \\\\ there\"]", StoreCommands.Quote(["/bin/sh", "-c", "echo \"hi\" \\ there"]));
        Assert.Equal("-", StoreCommands.Quote([]));
    }

    [Fact]
    public void Every_option_is_documented_in_the_help_of_its_commands()
    {
        foreach (var spellings in StoreCommands.Options)
        {
            foreach (string spelling in spellings)
                Assert.True(HelpText.Image.Contains(spelling, StringComparison.Ordinal) || HelpText.Volume.Contains(spelling, StringComparison.Ordinal), spelling);
        }
        Assert.Contains("--image-ref", HelpText.Image);
        Assert.Contains("--image-store", HelpText.Image);
        Assert.Contains("--volume-store", HelpText.Volume);
    }
}
