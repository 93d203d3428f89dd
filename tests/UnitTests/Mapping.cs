using System.Text;
using System.Text.Json.Nodes;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>Test helpers: run the mapper on a body and look at the result as JSON.</summary>
internal static class Mapping
{
    public static readonly DateTimeOffset ReceivedAt = new(2024, 3, 1, 12, 0, 0, 250, TimeSpan.Zero);

    public static (MapResult Result, JsonObject? Track) Map(string body, SourceSettings? settings = null, DateTimeOffset? receivedAt = null) =>
        Map(Encoding.UTF8.GetBytes(body), settings, receivedAt);

    public static (MapResult Result, JsonObject? Track) Map(byte[] body, SourceSettings? settings = null, DateTimeOffset? receivedAt = null)
    {
        var (result, json) = new SegmentTrackMapper().MapToString(body, settings ?? SourceSettings.ForMapping(), receivedAt ?? ReceivedAt);
        return (result, json is null ? null : JsonNode.Parse(json)!.AsObject());
    }

    /// <summary>Maps and asserts success; returns the track event.</summary>
    public static JsonObject Track(string body, SourceSettings? settings = null)
    {
        var (result, track) = Map(body, settings);
        Assert.True(result.Outcome == MapOutcome.Mapped, $"expected a track event, got {result.Outcome} {result.SkipReason} {result.Error}");
        return track!;
    }

    public static MapError Failure(string body, SourceSettings? settings = null)
    {
        var (result, _) = Map(body, settings);
        Assert.Equal(MapOutcome.Failed, result.Outcome);
        return result.Error!.Value;
    }

    /// <summary>A well-formed webhook: email opened by a person with id and email, unless changed.</summary>
    public static JsonObject Webhook(string objectType = "email", string metric = "opened", Action<JsonObject>? data = null)
    {
        var d = new JsonObject
        {
            ["action_id"] = 16,
            ["campaign_id"] = 1,
            ["delivery_id"] = "dgP6xQb6xQYDAAF6FOl-vmR0E7zoPqTRiAo=",
            ["journey_id"] = "01G2NBFT8N2MYDTT3MHWK7Z6C6",
            ["identifiers"] = new JsonObject { ["id"] = "cool-person", ["email"] = "cool.person@example.com", ["cio_id"] = "d9c106000001" },
        };
        data?.Invoke(d);
        return new JsonObject
        {
            ["event_id"] = "01E4C4CT6YDC7Y5M7FE1GWWPQJ",
            ["object_type"] = objectType,
            ["metric"] = metric,
            ["timestamp"] = 1623848646,
            ["data"] = d,
        };
    }
}
