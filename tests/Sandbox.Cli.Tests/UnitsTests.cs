namespace Sandboxing.Cli.Tests;

public class UnitsTests
{
    [Theory]
    [InlineData("1", 1L)]
    [InlineData("4096", 4096L)]
    [InlineData("10b", 10L)]
    [InlineData("1k", 1024L)]
    [InlineData("1K", 1024L)]
    [InlineData("1kb", 1024L)]
    [InlineData("1KiB", 1024L)]
    [InlineData("64m", 64L << 20)]
    [InlineData("64MB", 64L << 20)]
    [InlineData("2g", 2L << 30)]
    [InlineData("1t", 1L << 40)]
    [InlineData("1.5k", 1536L)]
    [InlineData("0.5m", 512L * 1024)]
    [InlineData("1.9", 1L)]
    public void A_size_is_a_number_with_an_optional_binary_suffix(string text, long bytes)
    {
        Assert.True(Units.TryParseSize(text, out long parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("0")]
    [InlineData("0k")]
    [InlineData("0.1")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("1.")]
    [InlineData(".5m")]
    [InlineData("1e3")]
    [InlineData(" 1")]
    [InlineData("1 m")]
    [InlineData("12q")]
    [InlineData("1mm")]
    [InlineData("1,5k")]
    [InlineData("9999999t")]
    [InlineData("99999999999999999999999999999999")]
    public void A_malformed_or_non_positive_size_is_rejected(string text)
    {
        Assert.False(Units.TryParseSize(text, out _));
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2s", 2_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("1m", 60_000)]
    [InlineData("1.5m", 90_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("30", 30_000)]
    [InlineData("0.5", 500)]
    public void A_duration_is_a_number_with_one_unit_and_a_bare_number_is_seconds(string text, long milliseconds)
    {
        Assert.True(Units.TryParseDuration(text, out var parsed));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), parsed);
    }

    [Fact]
    public void A_duration_keeps_sub_millisecond_precision()
    {
        Assert.True(Units.TryParseDuration("0.5ms", out var parsed));
        Assert.Equal(TimeSpan.FromTicks(5_000), parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("0")]
    [InlineData("0s")]
    [InlineData("0.00000001s")]
    [InlineData("-1s")]
    [InlineData("1e3")]
    [InlineData("1.s")]
    [InlineData(".5s")]
    [InlineData("1S")]
    [InlineData("5d")]
    [InlineData("1m30s")]
    [InlineData("1 s")]
    [InlineData("99999999999999h")]
    public void A_malformed_or_non_positive_duration_is_rejected(string text)
    {
        Assert.False(Units.TryParseDuration(text, out _));
    }
}
