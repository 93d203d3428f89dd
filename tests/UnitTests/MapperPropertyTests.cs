using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;
using FsCheck;
using FsCheck.Fluent;

namespace CioSegment.UnitTests;

/// <summary>
/// Property-based: whatever arrives, the mapper returns an outcome and never throws, and whatever it
/// maps is one valid JSON track event within Segment's limit.
/// </summary>
public class MapperPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(2000).WithQuietOnSuccess(true);

    private static readonly SourceSettings[] SettingsVariants =
    [
        SourceSettings.ForMapping(),
        SourceSettings.ForMapping(bodyContent: true, sendBack: true),
        SourceSettings.ForMapping(version: IntegrationVersion.V1, bodyContent: true),
        SourceSettings.ForMapping(enabledEvents: EnabledEvents.Parse(["email.*", "*.clicked"], "x", [])),
    ];

    // Names the mapper reads, so that random documents hit its code paths, not only the skip path.
    private static readonly string[] Keys =
    [
        "event_id", "object_type", "metric", "timestamp", "data", "identifiers", "id", "email", "cio_id",
        "customer_id", "email_address", "recipient", "recipients", "content", "href", "link_id", "subject",
        "delivery_id", "action_id", "campaign_id", "journey_id", "failure_message", "x", "", "\u00e9", "a\"b",
    ];

    private static readonly string[] Words = ["email", "sms", "push", "sent", "clicked", "opened", "in_app", "customer", "cio_subscription_preferences_changed", "cio_", "_", "", "1623848646", "a@b.c", "\u00e9\u4e2d", "\\", "\"", "\u0000", "\ud83d\ude00"];

    [Fact]
    public void Arbitrary_bytes_never_throw()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes => Outcome(bytes)).Check(Runs);
    }

    [Fact]
    public void Arbitrary_json_never_throws_and_every_mapped_event_is_valid_json()
    {
        Prop.ForAll(Json(depth: 4).ToArbitrary(), node => Outcome(Encoding.UTF8.GetBytes(node?.ToJsonString() ?? "null"))).Check(Runs);
    }

    [Fact]
    public void Webhook_shaped_json_never_throws_and_every_mapped_event_is_valid_json()
    {
        var webhooks =
            from objectType in Scalar()
            from metric in Scalar()
            from timestamp in Scalar()
            from eventId in Scalar()
            from data in Object(depth: 3)
            from identifiers in Object(depth: 1)
            select (JsonNode)new JsonObject
            {
                ["event_id"] = eventId,
                ["object_type"] = objectType,
                ["metric"] = metric,
                ["timestamp"] = timestamp,
                ["data"] = WithIdentifiers(data, identifiers),
            };
        var counts = new int[3];
        Prop.ForAll(webhooks.ToArbitrary(), w => Outcome(Encoding.UTF8.GetBytes(w.ToJsonString()), counts)).Check(Runs);

        // The generator must reach every outcome, or the property says little about the mapping itself.
        Assert.All(counts, c => Assert.True(c > 0, $"outcomes mapped/skipped/failed: {string.Join('/', counts)}"));
    }

    [Fact]
    public void Truncated_and_mutated_webhooks_never_throw()
    {
        var valid = Encoding.UTF8.GetBytes(Mapping.Webhook("email", "clicked", d =>
        {
            d["href"] = "https://x.test";
            d["link_id"] = 1;
            d["content"] = "body";
        }).ToJsonString());
        var mutations =
            from cut in Gen.Choose(0, valid.Length)
            from at in Gen.Choose(0, valid.Length - 1)
            from value in Gen.Choose(0, 255)
            select (cut, at, (byte)value);
        Prop.ForAll(mutations.ToArbitrary(), m =>
        {
            var mutated = (byte[])valid.Clone();
            mutated[m.at] = m.Item3;
            return Outcome(valid.AsSpan(0, m.cut).ToArray()) && Outcome(mutated);
        }).Check(Runs);
    }

    [Fact]
    public void Escape_sequences_spliced_anywhere_never_throw()
    {
        // JSON escapes that System.Text.Json never writes itself, so the JSON generators above miss them.
        string[] escapes = [@"\ud800", @"\udc00", @"\ud83d\ude00", @"\u0000", "\\\"", "\\\\", @"\u00e9", @"\/", @"\x"];
        var valid = Mapping.Webhook("email", "sent", d => d["content"] = "body").ToJsonString();
        var splices =
            from at in Gen.Choose(0, valid.Length)
            from escape in Gen.Elements(escapes)
            select valid.Insert(at, escape);
        Prop.ForAll(splices.ToArbitrary(), body => Outcome(Encoding.UTF8.GetBytes(body))).Check(Runs);
    }

    [Fact]
    public void Preferences_are_the_parsed_object_exactly_when_the_string_is_one_json_object()
    {
        // data.content: a JSON document written as a string (mostly objects), or any string at all, with
        // escapes spliced in; the property compares the event with an independent parse of that string.
        string[] escapes = [@"\ud800", @"\u00e9", "\\\"", "\\\\", @"\n", " ", "}", "{"];
        var contents = Gen.OneOf(
            Object(depth: 3).Select(o => o.ToJsonString()),
            Json(depth: 3).Select(n => n?.ToJsonString() ?? "null"),
            ArbMap.Default.GeneratorFor<string>().Select(t => t ?? ""),
            from o in Object(depth: 2)
            from at in Gen.Choose(0, 1000)
            from escape in Gen.Elements(escapes)
            let text = o.ToJsonString()
            select text.Insert(at % (text.Length + 1), escape));
        Prop.ForAll(contents.ToArbitrary(), content =>
        {
            var body = new JsonObject
            {
                ["event_id"] = "e1",
                ["object_type"] = "customer",
                ["metric"] = "cio_subscription_preferences_changed",
                ["data"] = new JsonObject { ["identifiers"] = new JsonObject { ["id"] = "p" }, ["content"] = content },
            }.ToJsonString();
            if (!Outcome(Encoding.UTF8.GetBytes(body)))
            {
                return false;
            }

            // Raw text, not strings: lone-surrogate escapes are valid JSON but not valid UTF-16 strings.
            var (_, json) = new SegmentTrackMapper().MapToString(Encoding.UTF8.GetBytes(body), SourceSettings.ForMapping(), Mapping.ReceivedAt);
            using var track = JsonDocument.Parse(json!);
            using var webhook = JsonDocument.Parse(body);
            var properties = track.RootElement.GetProperty("properties");
            bool isObject;
            try
            {
                using var parsed = JsonDocument.Parse(content);
                isObject = parsed.RootElement.ValueKind == JsonValueKind.Object;
            }
            catch (JsonException)
            {
                isObject = false;
            }

            return isObject
                ? properties.TryGetProperty("preferences", out var preferences) && preferences.GetRawText() == content.Trim(' ', '\t', '\n', '\r') && !properties.TryGetProperty("content", out _)
                : properties.TryGetProperty("content", out var text) && text.GetRawText() == webhook.RootElement.GetProperty("data").GetProperty("content").GetRawText() && !properties.TryGetProperty("preferences", out _);
        }).Check(Runs);
    }

    private static bool Outcome(byte[] body, int[]? counts = null)
    {
        var mapper = new SegmentTrackMapper();
        if (ReportingWebhookParser.TryParse(body, out var parsed, out _))
        {
            // The ingest keys every parsed webhook: that must never throw either.
            _ = PersonKeys.Of(body, parsed);
        }

        foreach (var settings in SettingsVariants)
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            var result = mapper.Map(body, settings, Mapping.ReceivedAt, output);
            if (counts is not null)
            {
                counts[(int)result.Outcome]++;
            }

            switch (result.Outcome)
            {
                case MapOutcome.Mapped:
                    if (output.WrittenCount != result.BytesWritten || output.WrittenCount > SegmentTrackMapper.MaxEventBytes)
                    {
                        return false;
                    }

                    // Must be exactly one valid JSON object with the track essentials.
                    using (var doc = JsonDocument.Parse(output.WrittenMemory))
                    {
                        // Raw text, not strings: identity values may carry lone-surrogate escapes
                        // exactly as they arrived, which are valid JSON but not valid UTF-16 strings.
                        var root = doc.RootElement;
                        var anonymous = root.TryGetProperty("anonymousId", out var a) ? a.GetRawText() : "\"\"";
                        if (!root.GetProperty("type").ValueEquals("track")
                            || root.GetProperty("event").GetRawText().Length <= 2
                            || root.GetProperty("messageId").GetRawText().Length - 2 > MessageIds.MaxLength
                            || (root.GetProperty("userId").GetRawText() == "\"\"" && anonymous == "\"\""))
                        {
                            return false;
                        }
                    }

                    break;
                case MapOutcome.Failed:
                    if (output.WrittenCount != 0 || string.IsNullOrEmpty(result.Error?.Reason))
                    {
                        return false;
                    }

                    break;
                case MapOutcome.Skipped:
                    if (output.WrittenCount != 0 || result.SkipReason == SkipReason.None)
                    {
                        return false;
                    }

                    break;
            }
        }

        return true;
    }

    private static JsonObject WithIdentifiers(JsonObject data, JsonObject identifiers)
    {
        data["identifiers"] = identifiers;
        return data;
    }

    private static Gen<JsonNode?> Scalar() => Gen.OneOf(
        Gen.Constant<JsonNode?>(null),
        Gen.Elements(Words).Select(w => (JsonNode?)JsonValue.Create(w)),
        ArbMap.Default.GeneratorFor<string>().Select(s => (JsonNode?)JsonValue.Create(s ?? "")),
        ArbMap.Default.GeneratorFor<int>().Select(i => (JsonNode?)JsonValue.Create(i)),
        ArbMap.Default.GeneratorFor<double>().Where(double.IsFinite).Select(d => (JsonNode?)JsonValue.Create(d)),
        ArbMap.Default.GeneratorFor<bool>().Select(b => (JsonNode?)JsonValue.Create(b)));

    private static Gen<JsonObject> Object(int depth) =>
        Gen.ListOf(Gen.Zip(Gen.Elements(Keys), depth <= 0 ? Scalar() : Json(depth - 1)))
            .Select(members =>
            {
                var o = new JsonObject();
                foreach (var (key, value) in members)
                {
                    o[key] = value?.DeepClone();
                }

                return o;
            });

    private static Gen<JsonNode?> Json(int depth) => depth <= 0
        ? Scalar()
        : Gen.OneOf(
            Scalar(),
            Object(depth - 1).Select(o => (JsonNode?)o),
            Gen.ListOf(Json(depth - 1)).Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray())));
}
