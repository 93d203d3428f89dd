using System.Text.Json.Nodes;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>
/// The six example payloads of Customer.io's documentation of its Segment integration are golden. It does
/// not show the webhooks they came from, so <c>Golden/seed-webhooks.json</c> holds the webhook each one
/// describes, and each case below lists, with its reason, every way our output deliberately differs from the documented payload.
/// Everything not listed must be equal.
/// </summary>
public class GoldenSeedTests
{
    private static readonly JsonObject SeedPayloads = Load("seed-track-payloads.json");
    private static readonly JsonObject SeedWebhooks = Load("seed-webhooks.json");

    public static TheoryData<string> Cases => new("Email Opened", "SMS Sent", "SMS Link Clicked", "Push Sent", "Slack Sent", "Webhook Sent");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Track_event_matches_the_documented_payload_except_for_the_documented_differences(string name)
    {
        var webhook = SeedWebhooks[name]!.ToJsonString();
        var settings = SourceSettings.ForMapping(bodyContent: name == "SMS Sent");
        var actual = Mapping.Track(webhook, settings);

        var expected = SeedPayloads[name]!.DeepClone().AsObject();

        // Set by the sender and by Segment, not part of the event we produce: sentAt is stamped by the
        // publisher when the batch leaves, receivedAt by Segment, and the write key travels in the
        // HTTP Basic auth header, never inside events (docs/mapping.md, "What the publisher adds").
        expected.Remove("sentAt");
        expected.Remove("receivedAt");
        expected.Remove("writeKey");

        // The documented "api-..." messageIds are Customer.io's internal ids; docs/mapping.md makes the id
        // deterministic from the webhook's event_id so every redelivery is dropped by Segment.
        expected["messageId"] = "cio-" + SeedWebhooks[name]!["event_id"]!.GetValue<string>();

        // The documented "timestamp" is Segment's skew-corrected receive time (timestamp = receivedAt -
        // (sentAt - originalTimestamp)); we send the event time in both fields, at the webhook's
        // precision of whole seconds, always written as yyyy-MM-ddTHH:mm:ssZ (the documented SMS Sent writes
        // the same instant as "...02.000Z").
        var eventTime = DateTimeOffset.Parse(expected["originalTimestamp"]!.GetValue<string>()).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        expected["originalTimestamp"] = eventTime;
        expected["timestamp"] = eventTime;

        // The documentation contradicts itself on identity inside properties: its properties.userId is often the
        // email while the top-level userId is the id (SMS Sent even adds an anonymousId beside a userId).
        // docs/mapping.md decides: properties mirror the top-level identity exactly.
        var properties = expected["properties"]!.AsObject();
        properties["userId"] = expected["userId"]!.GetValue<string>();
        properties.Remove("anonymousId");

        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected\n{expected}\nactual\n{actual}");
    }

    [Fact]
    public void Content_is_null_on_email_and_sms_events_unless_body_content_is_on_and_the_event_is_sent()
    {
        // The documented Email Opened and SMS Link Clicked carry "content": null; its Push Sent has no key.
        var opened = Mapping.Track(SeedWebhooks["Email Opened"]!.ToJsonString(), SourceSettings.ForMapping(bodyContent: true));
        Assert.True(opened["properties"]!.AsObject().ContainsKey("content"));
        Assert.Null(opened["properties"]!["content"]);

        var push = Mapping.Track(SeedWebhooks["Push Sent"]!.ToJsonString(), SourceSettings.ForMapping(bodyContent: true));
        Assert.False(push["properties"]!.AsObject().ContainsKey("content"));
    }

    private static JsonObject Load(string file) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", file)))!.AsObject();
}
