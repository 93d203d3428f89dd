using System.Text;
using CioSegment.Contracts;
using CioSegment.Mapping;

namespace CioSegment.UnitTests;

/// <summary>Unmappable input yields a machine-readable reason (mapping.md, "Errors"), never an exception.</summary>
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
    public void A_track_event_over_32_KB_is_event_too_large_and_nothing_is_written()
    {
        var body = Mapping.Webhook("email", "sent", d => d["content"] = new string('x', SegmentTrackMapper.MaxEventBytes)).ToJsonString();
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var result = new SegmentTrackMapper().Map(Encoding.UTF8.GetBytes(body), CioSegment.Mapping.Settings.SourceSettings.ForMapping(bodyContent: true), Mapping.ReceivedAt, output);
        Assert.Equal(MapOutcome.Failed, result.Outcome);
        Assert.Equal(DeadLetterReasons.EventTooLarge, result.Error!.Value.Reason);
        Assert.Equal(0, output.WrittenCount);

        // The same webhook without body content fits.
        Assert.Equal(MapOutcome.Mapped, Mapping.Map(body).Result.Outcome);
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
