using System.Text;
using CioSegment.Contracts;

namespace CioSegment.UnitTests;

/// <summary>The <c>cio-received-at</c> header's format: written by the ingest, read by the transformer.</summary>
public class ReceivedAtHeaderTests
{
    [Fact]
    public void Round_trips_to_the_millisecond_as_ascii_unix_milliseconds()
    {
        var at = new DateTimeOffset(2026, 12, 6, 22, 47, 45, 123, TimeSpan.Zero);

        var encoded = ReceivedAtHeader.Encode(at);

        Assert.Equal("1796597265123", Encoding.ASCII.GetString(encoded));
        Assert.True(ReceivedAtHeader.TryDecode(encoded, out var decoded));
        Assert.Equal(at, decoded);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("+5")]
    [InlineData("12a")]
    [InlineData(" 12")]
    [InlineData("253402300799000")]
    [InlineData("99999999999999999999999")]
    public void Anything_else_is_refused(string value) =>
        Assert.False(ReceivedAtHeader.TryDecode(Encoding.ASCII.GetBytes(value), out _));
}
