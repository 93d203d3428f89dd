using System.Text.Json;
using System.Text.Json.Nodes;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>Every object_type × metric of the catalogue in domain.md, and unknown ones.</summary>
public class CatalogueTests
{
    public static TheoryData<string, string, string> Catalogue => new()
    {
        { "customer", "subscribed", "Customer Subscribed" },
        { "customer", "unsubscribed", "Customer Unsubscribed" },
        { "customer", "subscription_preferences_changed", "Customer Subscription Preferences Changed" },
        { "customer", "cio_subscription_preferences_changed", "Customer Subscription Preferences Changed" },
        { "email", "drafted", "Email Drafted" },
        { "email", "attempted", "Email Attempted" },
        { "email", "sent", "Email Sent" },
        { "email", "delivered", "Email Delivered" },
        { "email", "opened", "Email Opened" },
        { "email", "clicked", "Email Link Clicked" },
        { "email", "converted", "Email Converted" },
        { "email", "bounced", "Email Bounced" },
        { "email", "dropped", "Email Dropped" },
        { "email", "deferred", "Email Deferred" },
        { "email", "spammed", "Email Marked as Spam" },
        { "email", "failed", "Email Failed" },
        { "email", "unsubscribed", "Email Unsubscribed" },
        { "email", "undeliverable", "Email Undeliverable" },
        { "push", "drafted", "Push Drafted" },
        { "push", "attempted", "Push Attempted" },
        { "push", "sent", "Push Sent" },
        { "push", "delivered", "Push Delivered" },
        { "push", "opened", "Push Opened" },
        { "push", "clicked", "Push Link Clicked" },
        { "push", "converted", "Push Converted" },
        { "push", "bounced", "Push Bounced" },
        { "push", "dropped", "Push Dropped" },
        { "push", "failed", "Push Failed" },
        { "push", "undeliverable", "Push Undeliverable" },
        { "sms", "drafted", "SMS Drafted" },
        { "sms", "attempted", "SMS Attempted" },
        { "sms", "sent", "SMS Sent" },
        { "sms", "delivered", "SMS Delivered" },
        { "sms", "clicked", "SMS Link Clicked" },
        { "sms", "converted", "SMS Converted" },
        { "sms", "bounced", "SMS Bounced" },
        { "sms", "failed", "SMS Failed" },
        { "sms", "undeliverable", "SMS Undeliverable" },
        { "sms", "dropped", "SMS Dropped" },
        { "sms", "replied", "SMS Replied" },
        { "slack", "drafted", "Slack Drafted" },
        { "slack", "attempted", "Slack Attempted" },
        { "slack", "sent", "Slack Sent" },
        { "slack", "clicked", "Slack Link Clicked" },
        { "slack", "converted", "Slack Converted" },
        { "slack", "failed", "Slack Failed" },
        { "slack", "undeliverable", "Slack Undeliverable" },
        { "webhook", "drafted", "Webhook Drafted" },
        { "webhook", "attempted", "Webhook Attempted" },
        { "webhook", "sent", "Webhook Sent" },
        { "webhook", "clicked", "Webhook Link Clicked" },
        { "webhook", "converted", "Webhook Converted" },
        { "webhook", "failed", "Webhook Failed" },
        { "webhook", "undeliverable", "Webhook Undeliverable" },
        { "in_app", "sent", "In-App Sent" },
        { "in_app", "opened", "In-App Opened" },
        { "in_app", "clicked", "In-App Link Clicked" },
        { "in_app", "converted", "In-App Converted" },
        { "in_app", "drafted", "In-App Drafted" },
        { "in_app", "attempted", "In-App Attempted" },
        { "in_app", "failed", "In-App Failed" },
        { "in_app", "undeliverable", "In-App Undeliverable" },
        { "whatsapp", "sent", "WhatsApp Sent" },
        { "whatsapp", "delivered", "WhatsApp Delivered" },
        { "whatsapp", "read", "WhatsApp Read" },
        { "whatsapp", "clicked", "WhatsApp Link Clicked" },
        { "whatsapp", "failed", "WhatsApp Failed" },
    };

    [Theory]
    [MemberData(nameof(Catalogue))]
    public void Every_catalogue_event_maps_to_its_segment_name_and_shape(string objectType, string metric, string expectedName)
    {
        var webhook = Mapping.Webhook(objectType, metric, d =>
        {
            d["recipient"] = objectType == "email" ? "cool.person@customer.io" : "15555555555";
            d["content"] = "the body";
            d["href"] = "https://example.com/a";
            d["link_id"] = 7;
            d["failure_message"] = "mailbox full";
        });

        foreach (var bodyContent in new[] { false, true })
        {
            var track = Mapping.Track(webhook.ToJsonString(), SourceSettings.ForMapping(bodyContent: bodyContent));
            Assert.Equal("track", (string?)track["type"]);
            Assert.Equal(expectedName, (string?)track["event"]);
            Assert.Equal("cool-person", (string?)track["userId"]);
            Assert.Equal("cio-01E4C4CT6YDC7Y5M7FE1GWWPQJ", (string?)track["messageId"]);
            Assert.Equal("2021-06-16T13:04:06Z", (string?)track["timestamp"]);
            Assert.Equal("2.0.0", (string?)track["context"]!["integration"]!["version"]);
            Assert.Equal("cool.person@example.com", (string?)track["context"]!["traits"]!["email"]);

            var properties = track["properties"]!.AsObject();
            Assert.Equal(16, (int)properties["action_id"]!);
            Assert.Equal("mailbox full", (string?)properties["failure_message"]);

            // Content: a body only on sent events with the setting on; the key always on email and sms.
            // Subscription preferences are the event's payload, sent whatever the setting; "the body" is
            // not a JSON object, so it stays a string in content.
            var carriesBody = bodyContent && metric == "sent";
            if (metric.EndsWith("subscription_preferences_changed", StringComparison.Ordinal))
            {
                Assert.Equal("the body", (string?)properties["content"]);
                Assert.False(properties.ContainsKey("preferences"));
            }
            else if (carriesBody)
            {
                Assert.Equal("the body", (string?)properties["content"]);
            }
            else if (objectType is "email" or "sms")
            {
                Assert.True(properties.ContainsKey("content"));
                Assert.Null(properties["content"]);
            }
            else
            {
                Assert.False(properties.ContainsKey("content"));
            }

            // Link: only clicked events carry it.
            if (metric == "clicked")
            {
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"id":7,"url":"https://example.com/a"}"""), properties["link"]));
            }
            else
            {
                Assert.False(properties.ContainsKey("link"));
            }
        }
    }

    [Theory]
    [InlineData("line", "sent", "Line Sent")]
    [InlineData("in_app", "message_dismissed", "In-App Message Dismissed")]
    [InlineData("carrier_pigeon", "landed", "Carrier Pigeon Landed")]
    [InlineData("EMAIL", "OPENED", "Email Opened")]
    [InlineData("email", "Clicked", "Email Link Clicked")]
    [InlineData("push", "spammed", "Push Marked as Spam")]
    [InlineData("customer", "subscription_preferences_changed", "Customer Subscription Preferences Changed")]
    [InlineData("customer", "cio_subscription_preferences_changed", "Customer Subscription Preferences Changed")]
    [InlineData("email", "cio_clicked", "Email Link Clicked")]
    [InlineData("email", "CIO_opened", "Email Opened")]
    [InlineData("email", "cio_", "Email Cio")]
    [InlineData("email", "cio_cio_opened", "Email Cio Opened")]
    [InlineData("x__y_", "a__b", "X Y A B")]
    [InlineData("caf\u00e9_chat", "sent", "Caf\u00e9 Chat Sent")]
    public void Unknown_and_oddly_cased_events_follow_the_naming_rule(string objectType, string metric, string expectedName)
    {
        Assert.Equal(expectedName, EventNames.Of(objectType, metric));
        Assert.Equal(expectedName, (string?)Mapping.Track(Mapping.Webhook(objectType, metric).ToJsonString())["event"]);
    }

    [Fact]
    public void Event_names_are_written_with_json_escaping_when_needed()
    {
        var track = Mapping.Track(Mapping.Webhook("a\"b", "c\\d").ToJsonString());
        Assert.Equal("A\"b C\\d", (string?)track["event"]);
    }

    [Fact]
    public void Customer_events_carry_identity_and_no_message_fields()
    {
        const string body = """
            {"event_id":"01H0","object_type":"customer","metric":"subscribed","timestamp":1700000000,
             "data":{"customer_id":"42","email_address":"p@example.com","identifiers":{"id":"42","email":"p@example.com","cio_id":"c1"}}}
            """;
        var track = Mapping.Track(body);
        Assert.Equal("Customer Subscribed", (string?)track["event"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"userId":"42"}"""), track["properties"]));
        Assert.Equal("p@example.com", (string?)track["context"]!["traits"]!["email"]);
    }

    [Fact]
    public void Output_member_order_is_stable()
    {
        var track = Mapping.Track(Mapping.Webhook().ToJsonString());
        Assert.Equal(
            ["type", "event", "userId", "messageId", "timestamp", "originalTimestamp", "context", "integrations", "properties"],
            track.Select(p => p.Key).ToArray());
        using var doc = JsonDocument.Parse(track.ToJsonString());
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
    }
}
