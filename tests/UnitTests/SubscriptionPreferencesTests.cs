using System.Text.Json.Nodes;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>
/// docs/mapping.md, "Subscription preferences": Customer.io reports topic-preference changes as
/// <c>customer</c> / <c>cio_subscription_preferences_changed</c> with the new preferences as a JSON string
/// in <c>data.content</c>; they travel as <c>properties.preferences</c>, whatever the body-content setting.
/// </summary>
public class SubscriptionPreferencesTests
{
    private static string Example => File.ReadAllText(RepositoryPaths.InRoot("examples/webhooks/customer-subscription-preferences-changed.json"));

    private static string Preferences(string metric, JsonNode? content, bool includeContent = true)
    {
        var webhook = new JsonObject
        {
            ["event_id"] = "01HVT6V7QK3M2B7N8XQ0E4F9ZD",
            ["object_type"] = "customer",
            ["metric"] = metric,
            ["timestamp"] = 1713358800,
            ["data"] = new JsonObject { ["identifiers"] = new JsonObject { ["id"] = "cool-person", ["email"] = "cool.person@example.com" } },
        };
        if (includeContent)
        {
            webhook["data"]!["content"] = content;
        }

        return webhook.ToJsonString();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_example_maps_to_customer_subscription_preferences_changed_with_the_parsed_preferences(bool bodyContent)
    {
        var track = Mapping.Track(Example, SourceSettings.ForMapping(bodyContent: bodyContent));

        Assert.Equal("Customer Subscription Preferences Changed", (string?)track["event"]);
        var properties = track["properties"]!.AsObject();
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"topics":{"topic_7":false,"topic_8":true}}"""), properties["preferences"]), properties.ToJsonString());
        Assert.False(properties.ContainsKey("content"));
        Assert.Equal(["preferences", "userId"], properties.Select(p => p.Key).ToArray());
    }

    [Theory]
    [InlineData("cio_subscription_preferences_changed")]
    [InlineData("subscription_preferences_changed")]
    [InlineData("CIO_Subscription_Preferences_Changed")]
    public void Both_spellings_carry_the_preferences(string metric)
    {
        var track = Mapping.Track(Preferences(metric, """{"topics":{"topic_1":true}}"""));
        Assert.Equal("Customer Subscription Preferences Changed", (string?)track["event"]);
        Assert.True((bool)track["properties"]!["preferences"]!["topics"]!["topic_1"]!);
    }

    [Fact]
    public void Escapes_inside_the_string_are_resolved_and_nested_values_keep_their_types()
    {
        var content = """{"topics":{"caf\u00e9":true,"quote\"d":false},"channels":["email",2,null],"note":"line\nbreak"}""";
        var track = Mapping.Track(Preferences("cio_subscription_preferences_changed", content));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(content), track["properties"]!["preferences"]));
    }

    [Fact]
    public void Content_that_already_is_a_json_object_is_sent_as_it_arrived()
    {
        var track = Mapping.Track(Preferences("cio_subscription_preferences_changed", JsonNode.Parse("""{"topics":{"topic_7":false}}""")));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"topics":{"topic_7":false}}"""), track["properties"]!["preferences"]));
        Assert.False(track["properties"]!.AsObject().ContainsKey("content"));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"a string\"")]
    [InlineData("42")]
    [InlineData("{\"topics\":{}} trailing")]
    [InlineData("{\"topics\":{}}{\"again\":1}")]
    [InlineData("{\"topics\":")]
    [InlineData("{'single':'quotes'}")]
    [InlineData("{\"a\":1,}")]
    [InlineData("")]
    public void Content_that_is_not_one_json_object_stays_a_string_in_content(string content)
    {
        foreach (var bodyContent in new[] { false, true })
        {
            var track = Mapping.Track(Preferences("cio_subscription_preferences_changed", content), SourceSettings.ForMapping(bodyContent: bodyContent));
            var properties = track["properties"]!.AsObject();
            Assert.Equal(content, (string?)properties["content"]);
            Assert.False(properties.ContainsKey("preferences"));
        }
    }

    [Theory]
    [InlineData("[\"topic_7\"]")]
    [InlineData("42")]
    [InlineData("true")]
    public void Content_of_another_json_type_is_kept_as_it_arrived(string raw)
    {
        var track = Mapping.Track(Preferences("cio_subscription_preferences_changed", JsonNode.Parse(raw)));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(raw), track["properties"]!["content"]));
    }

    [Fact]
    public void Without_content_there_is_neither_preferences_nor_content()
    {
        foreach (var body in new[] { Preferences("cio_subscription_preferences_changed", null, includeContent: false), Preferences("cio_subscription_preferences_changed", null) })
        {
            var properties = Mapping.Track(body)["properties"]!.AsObject();
            Assert.Equal(["userId"], properties.Select(p => p.Key).ToArray());
        }
    }

    [Fact]
    public void A_lone_surrogate_escape_in_the_string_is_not_text_so_the_string_is_kept()
    {
        // The outer string escapes a lone surrogate: it has no UTF-8 text to parse.
        var body = Preferences("cio_subscription_preferences_changed", "PLACEHOLDER").Replace("PLACEHOLDER", "{\\\"a\\\":\\\"\\ud800\\\"}", StringComparison.Ordinal);
        var (result, json) = new SegmentTrackMapper().MapToString(System.Text.Encoding.UTF8.GetBytes(body), SourceSettings.ForMapping(), Mapping.ReceivedAt);
        Assert.Equal(MapOutcome.Mapped, result.Outcome);
        Assert.Contains("\"content\":\"{\\\"a\\\":\\\"\\ud800\\\"}\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("preferences", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Preferences_deeper_than_the_parser_allows_stay_a_string()
    {
        var deep = new string('[', ReportingWebhookParser.MaxDepth + 1) + new string(']', ReportingWebhookParser.MaxDepth + 1);
        var content = "{\"a\":" + deep + "}";
        var track = Mapping.Track(Preferences("cio_subscription_preferences_changed", content));
        Assert.Equal(content, (string?)track["properties"]!["content"]);
    }

    [Fact]
    public void Only_customer_events_are_preference_changes()
    {
        var body = Preferences("cio_subscription_preferences_changed", """{"topics":{}}""").Replace("\"customer\"", "\"email\"", StringComparison.Ordinal);
        var track = Mapping.Track(body);
        Assert.Equal("Email Subscription Preferences Changed", (string?)track["event"]);
        Assert.False(track["properties"]!.AsObject().ContainsKey("preferences"));
        Assert.Null(track["properties"]!["content"]); // an email event's content rule: null unless sent with body content on
    }

    [Theory]
    [InlineData("customer.subscription_preferences_changed")]
    [InlineData("customer.cio_subscription_preferences_changed")]
    [InlineData("customer.*")]
    [InlineData("*.subscription_preferences_changed")]
    public void Enabled_events_accept_either_spelling(string pattern)
    {
        var settings = SourceSettings.ForMapping(enabledEvents: EnabledEvents.Parse([pattern], "x", [])!);
        foreach (var metric in new[] { "cio_subscription_preferences_changed", "subscription_preferences_changed" })
        {
            Assert.Equal(MapOutcome.Mapped, Mapping.Map(Preferences(metric, "{}"), settings).Result.Outcome);
        }

        Assert.Equal(MapOutcome.Skipped, Mapping.Map(Preferences("subscribed", "{}"), SourceSettings.ForMapping(enabledEvents: EnabledEvents.Parse(["customer.subscription_preferences_changed"], "x", [])!)).Result.Outcome);
    }

    [Fact]
    public void A_reused_mapper_handles_a_large_preferences_document_then_a_small_one()
    {
        var mapper = new SegmentTrackMapper();
        var topics = new JsonObject();
        for (var i = 0; i < 500; i++)
        {
            topics["topic_" + i] = i % 2 == 0;
        }

        var large = new JsonObject { ["topics"] = topics }.ToJsonString();
        var (first, firstJson) = mapper.MapToString(System.Text.Encoding.UTF8.GetBytes(Preferences("cio_subscription_preferences_changed", large)), SourceSettings.ForMapping(), Mapping.ReceivedAt);
        var (second, secondJson) = mapper.MapToString(System.Text.Encoding.UTF8.GetBytes(Preferences("cio_subscription_preferences_changed", """{"topics":{"t":true}}""")), SourceSettings.ForMapping(), Mapping.ReceivedAt);

        Assert.Equal(MapOutcome.Mapped, first.Outcome);
        Assert.Equal(MapOutcome.Mapped, second.Outcome);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(large), JsonNode.Parse(firstJson!)!["properties"]!["preferences"]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"topics":{"t":true}}"""), JsonNode.Parse(secondJson!)!["properties"]!["preferences"]));
    }
}
