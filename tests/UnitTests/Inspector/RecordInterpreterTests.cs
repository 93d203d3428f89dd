using System.Diagnostics.Metrics;
using System.Text;
using CioSegment.Contracts;
using CioSegment.Inspector.Index;
using CioSegment.Inspector.Web;
using CioSegment.KafkaDouble;
using CioSegment.Mapping.Settings;
using CioSegment.Processor;
using CioSegment.Processor.Publish;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using static CioSegment.UnitTests.Transform.TransformTestKit;

namespace CioSegment.UnitTests.Inspector;

/// <summary>The inspector reads what the pipeline writes: the records come from the transformer's and the publisher's own code.</summary>
public sealed class RecordInterpreterTests
{
    private readonly RecordInterpreter _interpreter = new(new Unused());
    private readonly List<WebhookRow> _webhooks = [];
    private readonly List<Fact> _facts = [];
    private readonly List<LiveNote> _notes = [];

    [Fact]
    public void A_raw_webhook_gives_its_search_terms_messageId_and_event_name_as_the_mapper_does()
    {
        var record = Consumed(Topics.RawWebhooks, 3, 17, Mapping.Webhook("email", "opened").ToJsonString(), key: "cool-person");
        record.Message.Headers.Add(HeaderNames.SourceId, "acme"u8.ToArray());
        _interpreter.Interpret(TopicCode.Raw, record, _webhooks, _facts, _notes);

        var w = Assert.Single(_webhooks);
        Assert.Equal((Ids.Webhook(3, 17), "acme", "cool-person", "Email Opened"), (w.Wid, w.Source, w.Person, w.Event));
        Assert.Equal("cio-" + w.EventId, w.MessageId);
        Assert.NotNull(w.Email);
        var mapped = new CioSegment.Mapping.SegmentTrackMapper().MapToString(record.Message.Value, SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = "w" }), DateTimeOffset.UnixEpoch);
        Assert.Contains($"\"messageId\":\"{w.MessageId}\"", mapped.Json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_transformers_outcome_record_names_the_raw_record_it_dropped()
    {
        var output = new List<OutboundRecord>();
        var raw = Record(Mapping.Webhook("email", "opened").ToJsonString(), partition: 5, offset: 99);
        Transformer(Sources(enabled: ["sms.*"])).Process(raw, new DedupStore(), output);
        var outcome = Assert.Single(output);

        _interpreter.Interpret(TopicCode.Outcomes, Consumed(outcome.Topic, 0, 4, outcome.Value!), _webhooks, _facts, _notes);

        var fact = Assert.Single(_facts);
        Assert.Equal((Ids.Webhook(5, 99), FactKind.Filtered, "event_not_enabled"), (fact.Wid, fact.Kind, fact.Reason));
    }

    [Fact]
    public void The_publishers_delivery_log_gives_one_attempt_per_event_with_its_answer()
    {
        var cluster = new KafkaCluster();
        cluster.CreateTopic(Topics.SegmentDeliveries, 1);
        using var producer = new ProducerDouble(cluster, faults: false);
        var log = new DeliveryLog(producer, Topics.SegmentDeliveries, new Meter("test-" + Guid.NewGuid()));
        var at = new DateTimeOffset(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
        log.Record("acme", [Pending("cio-a", Topics.SegmentTrack, 2, 10), Pending("cio-b", Topics.SegmentHeld, 1, 3)], 503, 2, held: true, at);
        var written = Assert.Single(cluster.ReadAll(Topics.SegmentDeliveries)).Entry.Message!;

        _interpreter.Interpret(TopicCode.Deliveries, Consumed(Topics.SegmentDeliveries, 0, 0, written.Value!), _webhooks, _facts, _notes);

        Assert.Equal(0, _interpreter.Unreadable);
        Assert.Equal(
            [(Ids.Message("acme", "cio-a"), 503, 2, TopicCode.Held, 2, 10L, at.ToUnixTimeMilliseconds()), (Ids.Message("acme", "cio-b"), 503, 2, TopicCode.Held, 1, 3L, at.ToUnixTimeMilliseconds())],
            _facts.Select(f => (f.Msg!.Value, f.Status, f.Attempt, f.Topic, f.Partition, f.Offset, f.At)));
    }

    [Theory]
    [InlineData(TopicCode.Deliveries, "not json")]
    [InlineData(TopicCode.Deliveries, """{"status":200,"events":[]}""")]
    [InlineData(TopicCode.Outcomes, """{"source":"acme","outcome":"exploded","partition":1,"offset":2}""")]
    [InlineData(TopicCode.Outcomes, """{"source":"acme","outcome":"filtered"}""")]
    [InlineData(TopicCode.SegmentDeadLetter, """{"event":"no messageId"}""")]
    [InlineData(TopicCode.WebhooksDeadLetter, "a dead letter without its coordinates")]
    public void A_record_it_cannot_read_is_counted_and_skipped(TopicCode topic, string value)
    {
        _interpreter.Interpret(topic, Consumed("t", 0, 0, value), _webhooks, _facts, _notes);
        Assert.Equal(1, _interpreter.Unreadable);
        Assert.Empty(_facts);
    }

    [Theory]
    [InlineData("ann@example.com", "a***@example.com")]
    [InlineData("x@y", "x***@y")]
    [InlineData("no-at-sign", "***")]
    public void Emails_are_masked_when_asked(string email, string masked)
    {
        Assert.Equal(masked, InspectorEndpoints.Email(email, new CioSegment.Inspector.InspectorOptions { MaskEmails = true }));
        Assert.Equal(email, InspectorEndpoints.Email(email, new CioSegment.Inspector.InspectorOptions()));
    }

    [Fact]
    public void With_masking_every_email_in_a_person_id_or_a_body_is_masked_and_nothing_else()
    {
        var masked = new CioSegment.Inspector.InspectorOptions { MaskEmails = true };
        Assert.Equal("a***@example.com", InspectorEndpoints.Mask("ann.lee@example.com", masked));
        Assert.Equal("person-42", InspectorEndpoints.Mask("person-42", masked));
        Assert.Equal("""{"email":"a***@example.com","recipient":"b***@mail.example.org","id":"42"}""",
            InspectorEndpoints.Mask("""{"email":"ann@example.com","recipient":"bob+tag@mail.example.org","id":"42"}""", masked));
        Assert.Equal("ann@example.com", InspectorEndpoints.Mask("ann@example.com", new CioSegment.Inspector.InspectorOptions()));
    }

    private static PendingEvent Pending(string messageId, string topic, int partition, long offset) =>
        new(new TopicPartitionOffset(topic, partition, offset), "acme", messageId, null, [], []);

    private static ConsumeResult<byte[]?, byte[]?> Consumed(string topic, int partition, long offset, string value, string? key = null) =>
        Consumed(topic, partition, offset, Encoding.UTF8.GetBytes(value), key);

    private static ConsumeResult<byte[]?, byte[]?> Consumed(string topic, int partition, long offset, byte[] value, string? key = null) => new()
    {
        Topic = topic,
        Partition = partition,
        Offset = offset,
        Message = new Message<byte[]?, byte[]?> { Key = key is null ? null : Encoding.UTF8.GetBytes(key), Value = value, Headers = [], Timestamp = new Timestamp(DateTimeOffset.UnixEpoch.AddDays(20000)) },
    };

    private sealed class Unused : IDeserializer<SegmentTrackRecordView>
    {
        public SegmentTrackRecordView Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => throw new InvalidDataException("no sink records here");
    }
}
