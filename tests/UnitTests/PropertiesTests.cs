using System.Text.Json.Nodes;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>docs/mapping.md, "Properties": which data fields are copied, with their original JSON types.</summary>
public class PropertiesTests
{
    [Fact]
    public void Every_listed_field_is_copied_with_its_original_json_type_and_text()
    {
        var track = Mapping.Track("""
            {"event_id":"e1","object_type":"email","metric":"bounced","timestamp":1623848646,
             "data":{
               "action_id":"n18","campaign_id":1.50,"broadcast_id":3,"newsletter_id":null,"content_id":12,
               "trigger_id":"t-1","transactional_message_id":9007199254740993,"parent_action_id":4,
               "delivery_id":"d","journey_id":"01G2","subject":"Hi \u00e9 \"you\"","recipient":"p@example.com",
               "recipients":[{"device_id":"x","device_platform":"ios","failure_message":null}],
               "failure_message":"550 no such user",
               "identifiers":{"id":"p1"}}}
            """);
        var expected = JsonNode.Parse("""
            {"action_id":"n18","campaign_id":1.50,"broadcast_id":3,"newsletter_id":null,"content_id":12,
             "trigger_id":"t-1","transactional_message_id":9007199254740993,"parent_action_id":4,
             "delivery_id":"d","journey_id":"01G2","subject":"Hi \u00e9 \"you\"","recipient":"p@example.com",
             "recipients":[{"device_id":"x","device_platform":"ios","failure_message":null}],
             "failure_message":"550 no such user","content":null,"userId":"p1"}
            """);
        Assert.True(JsonNode.DeepEquals(expected, track["properties"]), track["properties"]!.ToJsonString());
    }

    [Fact]
    public void Numbers_keep_their_exact_digits()
    {
        var json = new CioSegment.Mapping.SegmentTrackMapper().MapToString(
            System.Text.Encoding.UTF8.GetBytes("""{"event_id":"e","object_type":"email","metric":"sent","data":{"campaign_id":1.50,"action_id":9007199254740993,"identifiers":{"id":1e3}}}"""),
            SourceSettings.ForMapping(),
            Mapping.ReceivedAt).Json!;
        Assert.Contains("\"campaign_id\":1.50", json, StringComparison.Ordinal);
        Assert.Contains("\"action_id\":9007199254740993", json, StringComparison.Ordinal);
        Assert.Contains("\"userId\":\"1e3\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_2_drops_names_and_duplicates_and_unknown_fields_are_not_copied()
    {
        var track = Mapping.Track(Mapping.Webhook(data: d =>
        {
            d["email_id"] = "dup";
            d["email_subject"] = "old";
            d["action_name"] = "a";
            d["campaign_name"] = "c";
            d["newsletter_name"] = "n";
            d["transactional_message_name"] = "t";
            d["customer_id"] = "cool-person";
            d["email_address"] = "x@example.com";
            d["something_new"] = new JsonObject { ["deep"] = 1 };
        }).ToJsonString());
        var keys = track["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["action_id", "campaign_id", "content", "delivery_id", "journey_id", "userId"], keys);
    }

    [Theory]
    [InlineData(false, """{"Customer.io":false}""")]
    [InlineData(true, """{"Customer.io":true}""")]
    public void Send_back_flag_sets_the_customer_io_integration(bool sendBack, string expected)
    {
        var track = Mapping.Track(Mapping.Webhook().ToJsonString(), SourceSettings.ForMapping(sendBack: sendBack));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), track["integrations"]));
    }

    [Fact]
    public void Clicked_events_carry_whatever_link_parts_are_present()
    {
        var hrefOnly = Mapping.Track(Mapping.Webhook("push", "clicked", d => d["href"] = "https://x.test/?a=1&b=<2>").ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"url":"https://x.test/?a=1&b=<2>"}"""), hrefOnly["properties"]!["link"]));

        var none = Mapping.Track(Mapping.Webhook("push", "clicked").ToJsonString());
        Assert.False(none["properties"]!.AsObject().ContainsKey("link"));
    }

    [Fact]
    public void Repeated_members_take_the_last_value_as_json_parse_does()
    {
        var track = Mapping.Track("""{"event_id":"e","object_type":"sms","metric":"x","data":{"action_id":1,"action_id":"n2","identifiers":{"id":"a"},"identifiers":{"id":"b"}},"metric":"sent"}""");
        Assert.Equal("n2", (string?)track["properties"]!["action_id"]);
        Assert.Equal("b", (string?)track["userId"]);
        Assert.Equal("SMS Sent", (string?)track["event"]);
    }
}
