using System.Text.Json.Nodes;
using CioSegment.Contracts;

namespace CioSegment.UnitTests;

/// <summary>docs/mapping.md, "Identity": userId / anonymousId / cio_id / no identifier.</summary>
public class IdentityTests
{
    [Fact]
    public void A_person_id_becomes_the_user_id_with_no_anonymous_id()
    {
        var track = Mapping.Track(Mapping.Webhook().ToJsonString());
        Assert.Equal("cool-person", (string?)track["userId"]);
        Assert.False(track.ContainsKey("anonymousId"));
        Assert.Equal("cool-person", (string?)track["properties"]!["userId"]);
        Assert.False(track["properties"]!.AsObject().ContainsKey("anonymousId"));
    }

    [Fact]
    public void Customer_id_is_the_fallback_for_a_missing_or_empty_identifiers_id()
    {
        foreach (var id in new JsonNode?[] { null, "", JsonValue.Create(true) })
        {
            var track = Mapping.Track(Mapping.Webhook(data: d =>
            {
                d["identifiers"]!["id"] = id;
                d["customer_id"] = "legacy-7";
            }).ToJsonString());
            Assert.Equal("legacy-7", (string?)track["userId"]);
        }
    }

    [Fact]
    public void Numeric_ids_become_strings()
    {
        var track = Mapping.Track(Mapping.Webhook(data: d => d["identifiers"]!["id"] = 12345).ToJsonString());
        Assert.Equal("12345", (string?)track["userId"]);
        Assert.Equal("12345", (string?)track["properties"]!["userId"]);

        var legacy = Mapping.Track(Mapping.Webhook(data: d =>
        {
            d.Remove("identifiers");
            d["customer_id"] = 77;
        }).ToJsonString());
        Assert.Equal("77", (string?)legacy["userId"]);
    }

    [Fact]
    public void Without_an_id_the_email_is_the_anonymous_id_and_user_id_is_empty()
    {
        var track = Mapping.Track(Mapping.Webhook(data: d => d["identifiers"]!["id"] = null).ToJsonString());
        Assert.Equal("", (string?)track["userId"]);
        Assert.Equal("cool.person@example.com", (string?)track["anonymousId"]);
        Assert.Equal("cool.person@example.com", (string?)track["properties"]!["anonymousId"]);
        Assert.False(track["properties"]!.AsObject().ContainsKey("userId"));
        Assert.Equal("cool.person@example.com", (string?)track["context"]!["traits"]!["email"]);
    }

    [Theory]
    [InlineData("email", "older@example.com")]
    [InlineData("sms", "older@example.com")]
    public void Email_address_is_the_fallback_for_identifiers_email(string objectType, string expected)
    {
        var track = Mapping.Track(Mapping.Webhook(objectType, data: d =>
        {
            d["identifiers"] = new JsonObject { ["cio_id"] = "c1" };
            d["email_address"] = "older@example.com";
            d["recipient"] = "recipient@example.com";
        }).ToJsonString());
        Assert.Equal(expected, (string?)track["anonymousId"]);
    }

    [Fact]
    public void Recipient_is_an_email_only_for_email_events()
    {
        var email = Mapping.Track(Mapping.Webhook("email", data: d =>
        {
            d["identifiers"] = new JsonObject { ["cio_id"] = "c1" };
            d["recipient"] = "recipient@example.com";
        }).ToJsonString());
        Assert.Equal("recipient@example.com", (string?)email["anonymousId"]);
        Assert.Equal("recipient@example.com", (string?)email["context"]!["traits"]!["email"]);

        // An SMS recipient is a phone number: not an email, so the cio_id addresses the event.
        var sms = Mapping.Track(Mapping.Webhook("sms", data: d =>
        {
            d["identifiers"] = new JsonObject { ["cio_id"] = "c1" };
            d["recipient"] = "15555555555";
        }).ToJsonString());
        Assert.Equal("cio_c1", (string?)sms["anonymousId"]);
        Assert.False(sms["context"]!.AsObject().ContainsKey("traits"));
    }

    [Fact]
    public void Without_id_and_email_the_cio_id_is_the_anonymous_id()
    {
        var track = Mapping.Track(Mapping.Webhook("push", "sent", d => d["identifiers"] = new JsonObject { ["id"] = null, ["email"] = null, ["cio_id"] = "d9c1" }).ToJsonString());
        Assert.Equal("", (string?)track["userId"]);
        Assert.Equal("cio_d9c1", (string?)track["anonymousId"]);
        Assert.Equal("cio_d9c1", (string?)track["properties"]!["anonymousId"]);
        Assert.False(track["context"]!.AsObject().ContainsKey("traits"));

        var numeric = Mapping.Track(Mapping.Webhook("push", "sent", d => d["identifiers"] = new JsonObject { ["cio_id"] = 99 }).ToJsonString());
        Assert.Equal("cio_99", (string?)numeric["anonymousId"]);
    }

    [Fact]
    public void With_no_identifier_at_all_the_event_is_a_dead_letter()
    {
        var error = Mapping.Failure(Mapping.Webhook("push", "sent", d =>
        {
            d["identifiers"] = new JsonObject { ["id"] = "", ["email"] = "", ["cio_id"] = null };
            d["recipient"] = "someone@example.com"; // not an email for push
        }).ToJsonString());
        Assert.Equal(DeadLetterReasons.NoPersonIdentifier, error.Reason);
        Assert.Contains("identifiers.cio_id", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Identifiers_that_are_not_an_object_are_ignored()
    {
        var track = Mapping.Track(Mapping.Webhook(data: d =>
        {
            d["identifiers"] = "cool-person";
            d["customer_id"] = "c-9";
        }).ToJsonString());
        Assert.Equal("c-9", (string?)track["userId"]);
    }

    [Fact]
    public void Escaped_identity_values_stay_valid_and_equal_after_mapping()
    {
        const string body = """
            {"event_id":"e\u00e9","object_type":"email","metric":"sent","timestamp":1,
             "data":{"identifiers":{"email":"a\"b@example.com","cio_id":"x\\y"}}}
            """;
        var track = Mapping.Track(body);
        Assert.Equal("a\"b@example.com", (string?)track["anonymousId"]);
        Assert.Equal("cio-e\u00e9", (string?)track["messageId"]);

        var cio = Mapping.Track("""{"event_id":"e","object_type":"email","metric":"sent","data":{"identifiers":{"cio_id":"x\\y\u00e9"}}}""");
        Assert.Equal("cio_x\\y\u00e9", (string?)cio["anonymousId"]);
    }
}
