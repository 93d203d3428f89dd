using System.Text;
using CioSegment.Contracts;
using CioSegment.Mapping;

namespace CioSegment.UnitTests;

/// <summary>Unmappable input yields a machine-readable reason (docs/mapping.md, "Errors"), never an exception.</summary>
public class MapErrorTests
{
    [Theory]
    [InlineData("", "invalid_json")]
    [InlineData("   ", "invalid_json")]
    [InlineData("[]", "invalid_json")]
    [InlineData("\"text\"", "invalid_json")]
    [InlineData("42", "invalid_json")]
    [InlineData("null", "invalid_json")]
    [InlineData("{", "invalid_json")]
    [InlineData("{\"event_id\":\"e\",}", "invalid_json")]
    [InlineData("{} {}", "invalid_json")]
    [InlineData("{}x", "invalid_json")]
    [InlineData("{/*c*/}", "invalid_json")]
    [InlineData("{}", "missing_field:object_type")]
    [InlineData("{\"object_type\":null,\"metric\":\"sent\",\"data\":{}}", "missing_field:object_type")]
    [InlineData("{\"object_type\":5,\"metric\":\"sent\",\"data\":{}}", "invalid_field:object_type")]
    [InlineData("{\"object_type\":\"\",\"metric\":\"sent\",\"data\":{}}", "invalid_field:object_type")]
    [InlineData("{\"object_type\":\"___\",\"metric\":\"sent\",\"data\":{}}", "invalid_field:object_type")]
    [InlineData("{\"object_type\":\"email\",\"data\":{}}", "missing_field:metric")]
    [InlineData("{\"object_type\":\"email\",\"metric\":[\"sent\"],\"data\":{}}", "invalid_field:metric")]
    [InlineData("{\"object_type\":\"email\",\"metric\":\"_\",\"data\":{}}", "invalid_field:metric")]
    [InlineData("{\"object_type\":\"email\",\"metric\":\"sent\"}", "missing_field:data")]
    [InlineData("{\"object_type\":\"email\",\"metric\":\"sent\",\"data\":null}", "missing_field:data")]
    [InlineData("{\"object_type\":\"email\",\"metric\":\"sent\",\"data\":\"x\"}", "invalid_field:data")]
    [InlineData("{\"object_type\":\"email\",\"metric\":\"sent\",\"data\":[]}", "invalid_field:data")]
    [InlineData("{\"object_type\":\"email\",\"metric\":\"sent\",\"data\":{}}", "no_person_identifier")]
    public void Reasons_name_what_is_wrong(string body, string reason)
    {
        var error = Mapping.Failure(body);
        Assert.Equal(reason, error.Reason);
        Assert.False(string.IsNullOrWhiteSpace(error.Detail));
    }

    [Fact]
    public void Invalid_utf8_is_invalid_json_even_inside_a_string()
    {
        var body = Encoding.UTF8.GetBytes("""{"object_type":"email","metric":"sent","data":{"subject":"AB","identifiers":{"id":"a"}}}""");
        var at = Array.IndexOf(body, (byte)'A');
        body[at] = 0xC3;
        body[at + 1] = 0x28;
        var (result, _) = Mapping.Map(body);
        Assert.Equal(DeadLetterReasons.InvalidJson, result.Error!.Value.Reason);
        Assert.Contains("UTF-8", result.Error.Value.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_invalid_json()
    {
        var deep = new string('[', ReportingWebhookParser.MaxDepth + 1) + new string(']', ReportingWebhookParser.MaxDepth + 1);
        var error = Mapping.Failure("{\"object_type\":\"email\",\"metric\":\"sent\",\"data\":{\"x\":" + deep + "}}");
        Assert.Equal(DeadLetterReasons.InvalidJson, error.Reason);
    }

    [Fact]
    public void Overlong_event_names_are_refused_by_field()
    {
        var error = Mapping.Failure("{\"object_type\":\"" + new string('a', EventNames.MaxPartBytes + 1) + "\",\"metric\":\"sent\",\"data\":{}}");
        Assert.Equal("invalid_field:object_type", error.Reason);
    }

    [Fact]
    public void A_track_event_over_32_KB_with_content_is_sent_without_it()
    {
        var body = Mapping.Webhook("email", "sent", d => d["content"] = new string('x', SegmentTrackMapper.MaxEventBytes)).ToJsonString();
        var (result, track) = Mapping.Map(body, CioSegment.Mapping.Settings.SourceSettings.ForMapping(bodyContent: true));

        Assert.Equal(MapOutcome.Mapped, result.Outcome);
        Assert.True(result.ContentOmitted);
        Assert.True(result.BytesWritten <= SegmentTrackMapper.MaxEventBytes);
        var properties = track!["properties"]!.AsObject();
        Assert.True(properties.ContainsKey("content"));
        Assert.Null(properties["content"]);
        Assert.Equal("event_too_large", (string?)properties["content_omitted"]);

        // Everything else is what the event is without body content, plus the marker.
        var (plain, plainTrack) = Mapping.Map(body);
        Assert.False(plain.ContentOmitted);
        properties.Remove("content_omitted");
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(plainTrack, track), $"{plainTrack}\n{track}");
    }

    [Fact]
    public void The_large_html_example_is_sent_without_its_body()
    {
        var body = File.ReadAllBytes(RepositoryPaths.InRoot("examples/webhooks/email-sent-large-html.json"));
        Assert.True(body.Length > 40_000);
        var (result, track) = Mapping.Map(body, CioSegment.Mapping.Settings.SourceSettings.ForMapping(bodyContent: true));
        Assert.Equal(MapOutcome.Mapped, result.Outcome);
        Assert.True(result.ContentOmitted);
        Assert.Equal("Email Sent", (string?)track!["event"]);
        Assert.Null(track["properties"]!["content"]);
        Assert.Equal("event_too_large", (string?)track["properties"]!["content_omitted"]);
        Assert.Equal("Spring sale: 40 picks for you", (string?)track["properties"]!["subject"]);
    }

    [Fact]
    public void Without_body_content_a_large_body_is_never_sent_so_nothing_is_omitted()
    {
        var body = Mapping.Webhook("email", "sent", d => d["content"] = new string('x', 2 * SegmentTrackMapper.MaxEventBytes)).ToJsonString();
        var (result, track) = Mapping.Map(body);
        Assert.Equal(MapOutcome.Mapped, result.Outcome);
        Assert.False(result.ContentOmitted);
        Assert.False(track!["properties"]!.AsObject().ContainsKey("content_omitted"));
    }

    [Fact]
    public void A_track_event_still_over_32_KB_without_content_is_event_too_large_and_nothing_is_written()
    {
        foreach (var withContent in new[] { false, true })
        {
            var body = Mapping.Webhook("email", "sent", d =>
            {
                d["subject"] = new string('s', SegmentTrackMapper.MaxEventBytes);
                if (withContent)
                {
                    d["content"] = new string('x', SegmentTrackMapper.MaxEventBytes);
                }
            }).ToJsonString();
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            var result = new SegmentTrackMapper().Map(Encoding.UTF8.GetBytes(body), CioSegment.Mapping.Settings.SourceSettings.ForMapping(bodyContent: true), Mapping.ReceivedAt, output);
            Assert.Equal(MapOutcome.Failed, result.Outcome);
            Assert.Equal(DeadLetterReasons.EventTooLarge, result.Error!.Value.Reason);
            Assert.Contains(withContent ? "without properties.content" : "bytes; Segment accepts at most 32768", result.Error.Value.Detail, StringComparison.Ordinal);
            Assert.Equal(0, output.WrittenCount);
        }
    }

    [Fact]
    public void Preferences_are_not_a_message_body_so_oversize_preferences_are_event_too_large()
    {
        // A preferences object over the limit cannot be dropped (it is the event); a non-object string in
        // content can, as any content.
        var topics = new System.Text.Json.Nodes.JsonObject();
        for (var i = 0; i < 2500; i++)
        {
            topics["topic_" + i] = true;
        }

        string Body(string content) => """{"event_id":"e1","object_type":"customer","metric":"cio_subscription_preferences_changed","timestamp":1713358800,"data":{"identifiers":{"id":"p"},"content":CONTENT}}"""
            .Replace("CONTENT", System.Text.Json.JsonSerializer.Serialize(content), StringComparison.Ordinal);

        var large = new System.Text.Json.Nodes.JsonObject { ["topics"] = topics }.ToJsonString();
        Assert.True(large.Length > SegmentTrackMapper.MaxEventBytes);
        Assert.Equal(DeadLetterReasons.EventTooLarge, Mapping.Failure(Body(large)).Reason);

        var (result, track) = Mapping.Map(Body("not an object " + new string('x', SegmentTrackMapper.MaxEventBytes)));
        Assert.Equal(MapOutcome.Mapped, result.Outcome);
        Assert.True(result.ContentOmitted);
        Assert.Null(track!["properties"]!["content"]);
        Assert.Equal("event_too_large", (string?)track["properties"]!["content_omitted"]);
    }

    [Fact]
    public void After_an_omission_the_same_mapper_sends_content_again()
    {
        var mapper = new SegmentTrackMapper();
        var settings = CioSegment.Mapping.Settings.SourceSettings.ForMapping(bodyContent: true);
        var large = Encoding.UTF8.GetBytes(Mapping.Webhook("email", "sent", d => d["content"] = new string('x', SegmentTrackMapper.MaxEventBytes)).ToJsonString());
        var small = Encoding.UTF8.GetBytes(Mapping.Webhook("email", "sent", d => d["content"] = "<p>hi</p>").ToJsonString());
        Assert.True(mapper.MapToString(large, settings, Mapping.ReceivedAt).Result.ContentOmitted);
        var (result, json) = mapper.MapToString(small, settings, Mapping.ReceivedAt);
        Assert.False(result.ContentOmitted);
        Assert.Equal("<p>hi</p>", (string?)System.Text.Json.Nodes.JsonNode.Parse(json!)!["properties"]!["content"]);
        Assert.DoesNotContain("content_omitted", json, StringComparison.Ordinal);
    }

    [Fact]
    public void An_event_just_under_the_limit_is_mapped()
    {
        var small = Mapping.Webhook("email", "sent", d => d["content"] = "").ToJsonString();
        var baseSize = Mapping.Map(small, CioSegment.Mapping.Settings.SourceSettings.ForMapping(bodyContent: true)).Track!.ToJsonString().Length;
        var body = Mapping.Webhook("email", "sent", d => d["content"] = new string('x', SegmentTrackMapper.MaxEventBytes - baseSize)).ToJsonString();
        var (result, _) = Mapping.Map(body, CioSegment.Mapping.Settings.SourceSettings.ForMapping(bodyContent: true));
        Assert.Equal(MapOutcome.Mapped, result.Outcome);
        Assert.Equal(SegmentTrackMapper.MaxEventBytes, result.BytesWritten);
    }

    [Fact]
    public void A_mapper_recovers_after_failures_and_keeps_outputs_independent()
    {
        var mapper = new SegmentTrackMapper();
        var settings = CioSegment.Mapping.Settings.SourceSettings.ForMapping();
        var good = Encoding.UTF8.GetBytes(Mapping.Webhook().ToJsonString());
        var first = mapper.MapToString(good, settings, Mapping.ReceivedAt).Json;
        Assert.Equal(MapOutcome.Failed, mapper.Map("{"u8, settings, Mapping.ReceivedAt, new System.Buffers.ArrayBufferWriter<byte>()).Outcome);
        Assert.Equal(first, mapper.MapToString(good, settings, Mapping.ReceivedAt).Json);
        Assert.Equal("Email Opened", Encoding.UTF8.GetString(mapper.LastEventName));
        Assert.Equal("cio-01E4C4CT6YDC7Y5M7FE1GWWPQJ", Encoding.UTF8.GetString(mapper.LastMessageId));
    }
}
