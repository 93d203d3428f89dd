using System.Security.Cryptography;
using System.Text;
using CioSegment.Mapping;

namespace CioSegment.UnitTests;

/// <summary>docs/mapping.md, "messageId" and "Timestamps".</summary>
public class MessageIdAndTimeTests
{
    [Fact]
    public void Message_id_is_cio_and_the_event_id()
    {
        Assert.Equal("cio-01E4C4CT6YDC7Y5M7FE1GWWPQJ", (string?)Mapping.Track(Mapping.Webhook().ToJsonString())["messageId"]);
    }

    [Fact]
    public void Without_an_event_id_the_message_id_hashes_the_raw_body_deterministically()
    {
        var webhook = Mapping.Webhook();
        webhook.Remove("event_id");
        var body = webhook.ToJsonString();
        var first = (string?)Mapping.Track(body)["messageId"];
        var again = (string?)Mapping.Track(body)["messageId"];
        var other = (string?)Mapping.Track(body + " ")["messageId"];

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.Equal("cio-h-" + Base32(SHA256.HashData(Encoding.UTF8.GetBytes(body)))[..26], first);
        Assert.Matches("^cio-h-[A-Z2-7]{26}$", first);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("null")]
    [InlineData("{}")]
    public void An_empty_or_unusable_event_id_counts_as_missing(string eventId)
    {
        var body = Body(eventId);
        Assert.Equal("cio-h-" + Base32(SHA256.HashData(Encoding.UTF8.GetBytes(body)))[..26], (string?)Mapping.Track(body)["messageId"]);
    }

    [Fact]
    public void A_numeric_event_id_is_used_as_text()
    {
        Assert.Equal("cio-1234", (string?)Mapping.Track("""{"event_id":1234,"object_type":"email","metric":"sent","data":{"identifiers":{"id":"a"}}}""")["messageId"]);
    }

    [Fact]
    public void An_event_id_too_long_for_segment_dedup_is_hashed_so_the_id_stays_under_100_characters()
    {
        var longId = new string('A', 96);
        var body = Body("\"" + longId + "\"");
        var id = (string?)Mapping.Track(body)["messageId"];
        Assert.Equal("cio-h-" + Base32(SHA256.HashData(Encoding.UTF8.GetBytes(longId)))[..26], id);

        var fits = new string('A', 95);
        Assert.Equal("cio-" + fits, (string?)Mapping.Track(body.Replace(longId, fits, StringComparison.Ordinal))["messageId"]);
    }

    [Theory]
    [InlineData("1623848646", "2021-06-16T13:04:06Z")]
    [InlineData("\"1623848646\"", "2021-06-16T13:04:06Z")]
    [InlineData("1623848646.5", "2021-06-16T13:04:06.500Z")]
    [InlineData("\"1623848646.123\"", "2021-06-16T13:04:06.123Z")]
    [InlineData("1.623848646e9", "2021-06-16T13:04:06Z")]
    [InlineData("253402300799", "9999-12-31T23:59:59Z")]
    [InlineData("1", "1970-01-01T00:00:01Z")]
    public void Timestamp_accepts_numbers_and_numeric_strings(string timestamp, string expected)
    {
        var body = Body("\"e\"", timestamp);
        var (result, track) = Mapping.Map(body);
        Assert.False(result.UsedReceivedTime);
        Assert.Equal(expected, (string?)track!["timestamp"]);
        Assert.Equal(expected, (string?)track["originalTimestamp"]);
    }

    [Theory]
    [InlineData("\"abc\"")]
    [InlineData("\"\"")]
    [InlineData("\" 1623848646\"")]
    [InlineData("\"16238\\u00348646\"")]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("253402300800")]
    [InlineData("1623848646000000")]
    [InlineData("1e400")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[1623848646]")]
    [InlineData("{\"s\":1}")]
    public void A_missing_or_invalid_timestamp_uses_the_received_time_and_says_so(string timestamp)
    {
        var body = Body("\"e\"", timestamp);
        var (result, track) = Mapping.Map(body);
        Assert.True(result.UsedReceivedTime);
        Assert.Equal("2024-03-01T12:00:00.250Z", (string?)track!["timestamp"]);

        var (missing, missingTrack) = Mapping.Map("""{"event_id":"e","object_type":"email","metric":"sent","data":{"identifiers":{"id":"a"}}}""");
        Assert.True(missing.UsedReceivedTime);
        Assert.Equal("2024-03-01T12:00:00.250Z", (string?)missingTrack!["originalTimestamp"]);
    }

    private static string Body(string eventId, string? timestamp = null) =>
        "{\"event_id\":" + eventId + ",\"object_type\":\"email\",\"metric\":\"sent\","
        + (timestamp is null ? "" : "\"timestamp\":" + timestamp + ",")
        + "\"data\":{\"identifiers\":{\"id\":\"a\"}}}";

    private static string Base32(byte[] bytes)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new StringBuilder();
        var bits = new StringBuilder();
        foreach (var b in bytes)
        {
            bits.Append(Convert.ToString(b, 2).PadLeft(8, '0'));
        }

        for (var i = 0; i + 5 <= bits.Length; i += 5)
        {
            sb.Append(alphabet[Convert.ToInt32(bits.ToString(i, 5), 2)]);
        }

        return sb.ToString();
    }
}
