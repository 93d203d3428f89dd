using System.Text.Json.Nodes;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>docs/mapping.md, "Version 1 (legacy)", and Customer.io's documented "Differences between versions 1.0 and 2.0".</summary>
public class Version1Tests
{
    private static readonly SourceSettings V1 = SourceSettings.ForMapping(version: IntegrationVersion.V1, bodyContent: true);

    [Fact]
    public void Email_events_take_the_legacy_shape()
    {
        var track = Mapping.Track(Mapping.Webhook("email", "sent", d =>
        {
            d["subject"] = "Test Subject";
            d["content"] = "<p>hi</p>";
            d["action_name"] = "Welcome email";
            d["campaign_name"] = "Onboarding";
            d["newsletter_name"] = "Weekly";
            d["transactional_message_name"] = "Receipt";
        }).ToJsonString(), V1);

        Assert.Equal("1.0.0", (string?)track["context"]!["integration"]!["version"]);
        var expected = JsonNode.Parse("""
            {"action_id":16,"campaign_id":1,"delivery_id":"dgP6xQb6xQYDAAF6FOl-vmR0E7zoPqTRiAo=",
             "email_id":"dgP6xQb6xQYDAAF6FOl-vmR0E7zoPqTRiAo=","journey_id":"01G2NBFT8N2MYDTT3MHWK7Z6C6",
             "email_subject":"Test Subject","action_name":"Welcome email","campaign_name":"Onboarding",
             "newsletter_name":"Weekly","transactional_message_name":"Receipt","content":"<p>hi</p>","userId":"cool-person"}
            """);
        Assert.True(JsonNode.DeepEquals(expected, track["properties"]), track["properties"]!.ToJsonString());
    }

    [Fact]
    public void Content_rule_is_the_same_as_version_2()
    {
        var opened = Mapping.Track(Mapping.Webhook("email", "opened", d => d["content"] = "x").ToJsonString(), V1);
        Assert.True(opened["properties"]!.AsObject().ContainsKey("content"));
        Assert.Null(opened["properties"]!["content"]);
    }

    [Theory]
    [InlineData("sms")]
    [InlineData("push")]
    [InlineData("customer")]
    [InlineData("whatsapp")]
    public void Non_email_events_are_skipped(string objectType)
    {
        var (result, track) = Mapping.Map(Mapping.Webhook(objectType, "sent").ToJsonString(), V1);
        Assert.Equal(MapOutcome.Skipped, result.Outcome);
        Assert.Equal(SkipReason.Version1NonEmail, result.SkipReason);
        Assert.Equal("version1_non_email", result.SkipReason.Code());
        Assert.Null(track);
    }

    [Fact]
    public void People_without_an_id_are_skipped_even_with_an_email()
    {
        var (result, _) = Mapping.Map(Mapping.Webhook(data: d => d["identifiers"]!["id"] = null).ToJsonString(), V1);
        Assert.Equal(SkipReason.Version1NoPersonId, result.SkipReason);

        var (nobody, _) = Mapping.Map(Mapping.Webhook(data: d => d.Remove("identifiers")).ToJsonString(), V1);
        Assert.Equal(SkipReason.Version1NoPersonId, nobody.SkipReason);
    }
}
