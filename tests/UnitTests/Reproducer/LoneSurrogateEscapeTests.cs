using System.Text;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests.Reproducer;

/// <summary>
/// Bug: JSON may escape a lone UTF-16 surrogate (<c>"\ud800"</c>), which has no UTF-8 form, and
/// unescaping it threw InvalidOperationException out of the mapper and the parser (and would have
/// failed the ingest's person key with a 500). Found by the spliced-escapes property.
/// </summary>
public class LoneSurrogateEscapeTests
{
    [Theory]
    [InlineData("object_type", """{"event_id":"x","object_type":"\ud800x","metric":"sent","data":{"identifiers":{"id":"a"}}}""")]
    [InlineData("metric", """{"event_id":"x","object_type":"email","metric":"\udc00","data":{"identifiers":{"id":"a"}}}""")]
    public void In_event_name_parts_it_is_an_invalid_field_not_an_exception(string field, string body)
    {
        Assert.Equal("invalid_field:" + field, Mapping.Failure(body).Reason);
    }

    [Fact]
    public void In_member_names_the_member_is_ignored()
    {
        const string body = """{"event_id":"x","object_type":"email","metric":"sent","t\udc00imestamp":5,"data":{"identifi\udc00ers":{"id":"nope"},"subj\ud800":1,"identifiers":{"i\ud800d":"no","id":"yes"}}}""";
        var track = Mapping.Track(body);
        Assert.Equal("yes", (string?)track["userId"]);
        Assert.False(track["properties"]!.AsObject().ContainsKey("subject"));
    }

    [Fact]
    public void In_identity_values_it_is_copied_as_escaped_and_keyed_consistently()
    {
        var body = Encoding.UTF8.GetBytes("""{"event_id":"\ud800","object_type":"email","metric":"sent","data":{"identifiers":{"id":"p\udc00"}}}""");
        var (result, json) = new SegmentTrackMapper().MapToString(body, SourceSettings.ForMapping(), Mapping.ReceivedAt);
        Assert.Equal(MapOutcome.Mapped, result.Outcome);
        // A messageId must be readable as a string by strict JSON readers: the event_id is hashed instead.
        Assert.Matches("\"messageId\":\"cio-h-[A-Z2-7]{26}\"", json);
        Assert.Contains("\"userId\":\"p\\udc00\"", json, StringComparison.Ordinal);

        Assert.True(ReportingWebhookParser.TryParse(body, out var parsed, out _));
        Assert.Equal("p\\udc00", PersonKeys.TextOf(body, parsed));
    }
}
