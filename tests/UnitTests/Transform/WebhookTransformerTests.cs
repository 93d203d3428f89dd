using System.Text;
using System.Text.Json.Nodes;
using CioSegment.Contracts;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Transform;
using static CioSegment.UnitTests.Transform.TransformTestKit;

namespace CioSegment.UnitTests.Transform;

public class WebhookTransformerTests
{
    private static readonly JsonObject SeedWebhooks = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", "seed-webhooks.json")))!.AsObject();

    [Fact]
    public void A_mappable_webhook_becomes_one_sink_record_and_its_dedup_state()
    {
        var transformer = Transformer();
        var state = new DedupStore();
        var output = new List<OutboundRecord>();
        var body = SeedWebhooks["Email Opened"]!.ToJsonString();

        Assert.Equal(TransformOutcome.Mapped, transformer.Process(Record(body, partition: 2), state, output));

        var sink = Assert.Single(output, o => o.Topic == "sink");
        Assert.Equal("cool-person", Encoding.UTF8.GetString(sink.Key!));
        Assert.Equal("acme", sink.Header(HeaderNames.SourceId));
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", sink.Header(HeaderNames.TraceParent));
        var record = ReadSink(sink.Value!);
        Assert.Equal("acme", record.SourceId);
        Assert.Equal("cio-1u21CJeZPJX3TdLhPNrzstyAYZa", record.MessageId);
        Assert.Equal("cool-person", record.PersonKey);
        Assert.Equal("Email Opened", record.Event);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000).UtcDateTime, record.ReceivedAt);
        Assert.Equal("Email Opened", (string?)JsonNode.Parse(record.TrackJson)!["event"]);

        // Its dedup key is pending in the input's partition number (the store writes it to the changelog with the commit).
        Assert.DoesNotContain(output, o => o.Topic == "changelog");
        Assert.Equal(2, Assert.Single(state.PendingKeys()).Partition);
    }

    [Fact]
    public void Sink_records_never_carry_the_write_key()
    {
        var sources = new CioSegment.Mapping.Settings.SourceCatalog([SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "signing-key-secret", WriteKey = "write-key-secret" })]);
        var transformer = Transformer(sources);
        var output = new List<OutboundRecord>();
        transformer.Process(Record(SeedWebhooks["SMS Sent"]!.ToJsonString()), new DedupStore(), output);
        Assert.NotEmpty(output);
        foreach (var record in output)
        {
            Assert.DoesNotContain("key-secret", Encoding.UTF8.GetString(record.Value ?? []), StringComparison.Ordinal);
            Assert.All(record.Headers, h => Assert.DoesNotContain("key-secret", Encoding.UTF8.GetString(h.GetValueBytes()), StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_retried_event_id_is_dropped_while_remembered()
    {
        var transformer = Transformer();
        var state = new DedupStore();
        var body = SeedWebhooks["Push Sent"]!.ToJsonString();
        Assert.Equal(TransformOutcome.Mapped, transformer.Process(Record(body), state, []));
        var again = new List<OutboundRecord>();
        Assert.Equal(TransformOutcome.Deduplicated, transformer.Process(Record(body, offset: 1), state, again));
        var outcome = Assert.Single(again);
        Assert.Equal(Topics.TransformOutcomes, outcome.Topic);
        Assert.Contains("\"outcome\":\"deduplicated\",\"reason\":\"event_id\",\"partition\":0,\"offset\":1", Encoding.UTF8.GetString(outcome.Value!), StringComparison.Ordinal);
    }

    [Fact]
    public void Send_frequency_first_passes_only_the_first_delivery_metric()
    {
        var transformer = Transformer(Sources(SendFrequency.First));
        var state = new DedupStore();
        var first = Mapping.Webhook("email", "opened").ToJsonString();
        var again = Mapping.Webhook("email", "opened").ToJsonString().Replace("01E4C4CT6YDC7Y5M7FE1GWWPQJ", "another-open", StringComparison.Ordinal);
        var clicked = Mapping.Webhook("email", "clicked").ToJsonString().Replace("01E4C4CT6YDC7Y5M7FE1GWWPQJ", "a-click", StringComparison.Ordinal);

        Assert.Equal(TransformOutcome.Mapped, transformer.Process(Record(first), state, []));
        Assert.Equal(TransformOutcome.Deduplicated, transformer.Process(Record(again, offset: 1), state, []));
        Assert.Equal(TransformOutcome.Mapped, transformer.Process(Record(clicked, offset: 2), state, []));

        // Under Every, the second open passes.
        var every = Transformer();
        var everyState = new DedupStore();
        Assert.Equal(TransformOutcome.Mapped, every.Process(Record(first), everyState, []));
        Assert.Equal(TransformOutcome.Mapped, every.Process(Record(again, offset: 1), everyState, []));
    }

    [Fact]
    public void Events_the_settings_filter_out_produce_only_their_outcome_record()
    {
        var transformer = Transformer(Sources(enabled: ["sms.*"]));
        var output = new List<OutboundRecord>();
        var record = Record(Mapping.Webhook("email", "opened").ToJsonString(), partition: 2, offset: 41);
        Assert.Equal(TransformOutcome.Filtered, transformer.Process(record, new DedupStore(), output));
        var outcome = Assert.Single(output);
        Assert.Equal(Topics.TransformOutcomes, outcome.Topic);
        Assert.Equal(record.Message.Key, outcome.Key);
        Assert.Equal("""{"source":"acme","outcome":"filtered","reason":"event_not_enabled","partition":2,"offset":41}""", Encoding.UTF8.GetString(outcome.Value!));
    }

    [Fact]
    public void Without_an_outcomes_topic_filtered_events_produce_nothing()
    {
        var transformer = Transformer(Sources(enabled: ["sms.*"]), new TransformerOptions { SinkTopic = "sink", DeadLetterTopic = "dlq", OutcomesTopic = "" });
        var output = new List<OutboundRecord>();
        Assert.Equal(TransformOutcome.Filtered, transformer.Process(Record(Mapping.Webhook("email", "opened").ToJsonString()), new DedupStore(), output));
        Assert.Empty(output);
    }

    [Theory]
    [InlineData("not json", "acme", "invalid_json")]
    [InlineData("""{"event_id":"x","object_type":"email","metric":"sent","data":{}}""", "acme", "no_person_identifier")]
    [InlineData("""{"event_id":"x","metric":"sent","data":{}}""", "acme", "missing_field:object_type")]
    [InlineData("""{"event_id":"x","object_type":"email","metric":"sent","data":{"identifiers":{"id":"a"}}}""", "nobody", "unknown_source")]
    [InlineData("""{"event_id":"x","object_type":"email","metric":"sent","data":{"identifiers":{"id":"a"}}}""", null, "missing_header:cio-source-id")]
    public void Unmappable_records_go_to_the_dead_letter_topic_with_original_bytes_and_reason_headers(string body, string? source, string reason)
    {
        var transformer = Transformer();
        var output = new List<OutboundRecord>();
        var record = Record(body, partition: 4, offset: 77, source: source);

        Assert.Equal(TransformOutcome.DeadLettered, transformer.Process(record, new DedupStore(), output));

        var dlq = Assert.Single(output, o => o.Topic == "dlq");
        Assert.Equal(record.Message.Value, dlq.Value);
        Assert.Equal(record.Message.Key, dlq.Key);
        Assert.Equal(reason, dlq.Header(HeaderNames.DeadLetterReason));
        Assert.Equal("transform", dlq.Header(HeaderNames.DeadLetterStage));
        Assert.Equal("raw", dlq.Header(HeaderNames.DeadLetterSourceTopic));
        Assert.Equal("4", dlq.Header(HeaderNames.DeadLetterSourcePartition));
        Assert.Equal("77", dlq.Header(HeaderNames.DeadLetterSourceOffset));
        Assert.False(string.IsNullOrEmpty(dlq.Header(HeaderNames.DeadLetterDetail)));
        Assert.DoesNotContain(output, o => o.Topic == "sink");
    }

    [Fact]
    public void Events_over_segments_32_KB_limit_go_without_their_content_and_are_counted()
    {
        var sources = new SourceCatalog([SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = "w", BodyContent = "true" })]);
        var meter = new System.Diagnostics.Metrics.Meter("test-" + Guid.NewGuid());
        var omitted = new List<(long Value, string? Source)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "cio.transformer.content_omitted")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? source = null;
            foreach (var tag in tags)
            {
                source = tag.Key == "source" ? tag.Value as string : source;
            }

            omitted.Add((value, source));
        });
        listener.Start();
        var transformer = Transformer(sources, meter: meter);

        var body = Mapping.Webhook("email", "sent", d => d["content"] = new string('x', 40_000)).ToJsonString();
        var output = new List<OutboundRecord>();
        Assert.Equal(TransformOutcome.Mapped, transformer.Process(Record(body), new DedupStore(), output));
        var track = JsonNode.Parse(ReadSink(Assert.Single(output, o => o.Topic == "sink").Value!).TrackJson)!;
        Assert.Null(track["properties"]!["content"]);
        Assert.Equal("event_too_large", (string?)track["properties"]!["content_omitted"]);
        Assert.Equal([(1L, "acme")], omitted);

        // An event over the limit even without content is a dead letter, and not counted as an omission.
        var tooLarge = Mapping.Webhook("email", "sent", d => d["subject"] = new string('s', 40_000)).ToJsonString();
        output.Clear();
        Assert.Equal(TransformOutcome.DeadLettered, transformer.Process(Record(tooLarge, offset: 1), new DedupStore(), output));
        Assert.Equal("event_too_large", Assert.Single(output, o => o.Topic == "dlq").Header(HeaderNames.DeadLetterReason));
        Assert.Single(omitted);
    }

    [Fact]
    public void A_retried_unmappable_event_is_dead_lettered_once()
    {
        var transformer = Transformer();
        var state = new DedupStore();
        const string body = """{"event_id":"x","object_type":"email","metric":"sent","data":{}}""";
        Assert.Equal(TransformOutcome.DeadLettered, transformer.Process(Record(body), state, []));
        Assert.Equal(TransformOutcome.Deduplicated, transformer.Process(Record(body, offset: 1), state, []));
    }
}
