using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Kafka;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.DevHost;
using CioSegment.Inspector;
using CioSegment.Inspector.Index;
using CioSegment.Processor;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CioSegment.IntegrationTests.Inspector;

/// <summary>
/// The indexer against a Kafka protocol server (the embedded broker) and the registry double: every topic's
/// records become the right outcomes; a restart on the same index goes on where it ended (nothing indexed
/// twice, nothing missed); a new index starts <see cref="InspectorOptions.Retention"/> back.
/// </summary>
public sealed class IndexerTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cio-indexer-" + Guid.NewGuid().ToString("N"));
    private EmbeddedKafkaBroker _broker = null!;
    private DevSchemaRegistryServer _registry = null!;

    public async ValueTask InitializeAsync()
    {
        _broker = EmbeddedKafkaBroker.Start();
        _broker.CreatePipelineTopics(3);
        _registry = await DevSchemaRegistryServer.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _registry.DisposeAsync();
        _broker.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Every_topic_is_indexed_once_across_a_restart_and_a_new_index_starts_a_retention_back()
    {
        var cancel = TestContext.Current.CancellationToken;
        var now = DateTimeOffset.UtcNow;
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url.ToString() });
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, Acks = Acks.All }).Build();
        var sink = new SegmentTrackRecordSerializer(registry);

        // Two days old: outside a one-day retention. Then 30 fresh webhooks, each with its fate.
        var old = await RawAsync(producer, "old-0", now.AddDays(-2));
        var raw = new List<DeliveryResult<byte[]?, byte[]?>>();
        for (var i = 0; i < 30; i++)
        {
            raw.Add(await RawAsync(producer, $"e{i}", now));
        }

        await Fate(producer, sink, raw[0], "mapped", now);
        await Fate(producer, sink, raw[1], "delivered", now);
        await Fate(producer, sink, raw[2], "filtered", now);
        await Fate(producer, sink, raw[3], "dead_lettered", now);

        var file = Path.Combine(_directory, "index.db");
        await using (var first = Indexer(file, registry))
        {
            await first.WaitForAsync(30, cancel);
        }

        // More while it is down; then the same index again.
        for (var i = 30; i < 40; i++)
        {
            raw.Add(await RawAsync(producer, $"e{i}", now));
        }

        await Fate(producer, sink, raw[35], "delivered", now);
        await using (var second = Indexer(file, registry))
        {
            await second.WaitForAsync(40, cancel);
            await Task.Delay(1500, cancel);
            Assert.Equal(40, second.Index.WebhookCount);
            using var read = second.Index.Read();
            string Outcome(string id) => Assert.Single(read.Search(new EventQuery(id))).Outcome;
            Assert.Equal(Outcomes.Mapped, Outcome("e0"));
            Assert.Equal(Outcomes.Delivered, Outcome("e1"));
            Assert.Equal(Outcomes.Filtered, Outcome("e2"));
            Assert.Equal(Outcomes.DeadLettered, Outcome("e3"));
            Assert.Equal(Outcomes.Stored, Outcome("e4"));
            Assert.Equal(Outcomes.Delivered, Outcome("e35"));
            Assert.Empty(read.Search(new EventQuery("old-0")));
            Assert.Equal(0, second.Interpreter.Unreadable);
        }

        Assert.True(old.Offset.Value >= 0);
    }

    [Fact]
    public async Task A_schema_registry_outage_delays_sink_records_but_skips_none_and_repeats_none()
    {
        var cancel = TestContext.Current.CancellationToken;
        var now = DateTimeOffset.UtcNow;
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url.ToString() });
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, Acks = Acks.All }).Build();
        var sink = new SegmentTrackRecordSerializer(registry);
        var raw = new List<DeliveryResult<byte[]?, byte[]?>>();
        for (var i = 0; i < 20; i++)
        {
            raw.Add(await RawAsync(producer, $"r{i}", now));
            await Fate(producer, sink, raw[^1], i % 2 == 0 ? "delivered" : "mapped", now);
        }

        // The first eight sink records meet a registry that does not answer.
        var flaky = new FlakyRecords(new SegmentTrackRecordViewDeserializer(registry), failures: 8);
        await using var indexer = Indexer(Path.Combine(_directory, "flaky.db"), flaky);
        await indexer.WaitForAsync(20, cancel);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            using var read = indexer.Index.Read();
            if (Enumerable.Range(0, 20).All(i => read.Search(new EventQuery($"r{i}")) is [var e] && e.Outcome == (i % 2 == 0 ? Outcomes.Delivered : Outcomes.Mapped)))
            {
                break;
            }

            await Task.Delay(250, cancel);
        }

        Assert.Equal(8, flaky.Failed);
        using var final = indexer.Index.Read();
        for (var i = 0; i < 20; i++)
        {
            var trail = final.Trail(Assert.Single(final.Search(new EventQuery($"r{i}"))).Webhook);
            Assert.Equal(i % 2 == 0 ? Outcomes.Delivered : Outcomes.Mapped, trail.Summary.Outcome);
            Assert.Single(trail.Facts, f => f.Kind == FactKind.Mapped);
        }

        Assert.Equal(0, indexer.Interpreter.Unreadable);
    }

    [Fact]
    public async Task A_record_that_fails_for_good_is_counted_and_skipped_without_stalling_the_index()
    {
        var cancel = TestContext.Current.CancellationToken;
        var now = DateTimeOffset.UtcNow;
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url.ToString() });
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, Acks = Acks.All }).Build();
        var sink = new SegmentTrackRecordSerializer(registry);
        for (var i = 0; i < 5; i++)
        {
            await Fate(producer, sink, await RawAsync(producer, $"x{i}", now), "mapped", now);
        }

        var broken = new FlakyRecords(new SegmentTrackRecordViewDeserializer(registry), failures: 1, () => new InvalidCastException("a bug, not a fault that passes"));
        await using var indexer = Indexer(Path.Combine(_directory, "broken.db"), broken);
        await indexer.WaitForAsync(5, cancel);
        var clock = Stopwatch.StartNew();
        while (indexer.Interpreter.Unreadable == 0 && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100, cancel);
        }

        await Task.Delay(1000, cancel);
        Assert.Equal(1, indexer.Interpreter.Unreadable);
        using var read = indexer.Index.Read();
        Assert.Equal(4, Enumerable.Range(0, 5).Count(i => read.Search(new EventQuery($"x{i}")).Single().Outcome == Outcomes.Mapped));
    }

    /// <summary>A sink record reader whose first reads fail: by default as a Schema Registry that does not answer makes them fail.</summary>
    private sealed class FlakyRecords(IDeserializer<SegmentTrackRecordView> inner, int failures, Func<Exception>? failure = null) : IDeserializer<SegmentTrackRecordView>
    {
        public int Failed { get; private set; }

        public SegmentTrackRecordView Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
        {
            if (Failed < failures)
            {
                Failed++;
                throw failure?.Invoke() ?? new HttpRequestException("Connection refused (schema registry)");
            }

            return inner.Deserialize(data, isNull, context);
        }
    }

    private static async Task<DeliveryResult<byte[]?, byte[]?>> RawAsync(IProducer<byte[]?, byte[]?> producer, string eventId, DateTimeOffset at) =>
        await producer.ProduceAsync(Topics.RawWebhooks, new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes("person-" + eventId),
            Value = Encoding.UTF8.GetBytes($$"""{"event_id":"{{eventId}}","object_type":"email","metric":"opened","timestamp":1700000000,"data":{"identifiers":{"id":"person-{{eventId}}"} } }"""),
            Timestamp = new Timestamp(at),
            Headers = new Headers { { HeaderNames.SourceId, "acme"u8.ToArray() }, { HeaderNames.ReceivedAt, ReceivedAtHeader.Encode(at) } },
        });

    /// <summary>Writes what the pipeline writes for a webhook with this fate.</summary>
    private static async Task Fate(IProducer<byte[]?, byte[]?> producer, ISerializer<SegmentTrackRecord> sink, DeliveryResult<byte[]?, byte[]?> raw, string fate, DateTimeOffset at)
    {
        var eventId = System.Text.Json.Nodes.JsonNode.Parse(raw.Message.Value!)!["event_id"]!.GetValue<string>();
        var messageId = "cio-" + eventId;
        switch (fate)
        {
            case "filtered":
                await producer.ProduceAsync(Topics.TransformOutcomes, new Message<byte[]?, byte[]?>
                {
                    Key = raw.Message.Key,
                    Value = Encoding.UTF8.GetBytes($$"""{"source":"acme","outcome":"filtered","reason":"event_not_enabled","partition":{{raw.Partition.Value}},"offset":{{raw.Offset.Value}} }"""),
                });
                break;
            case "dead_lettered":
                await producer.ProduceAsync(Topics.WebhooksDeadLetter, new Message<byte[]?, byte[]?>
                {
                    Key = raw.Message.Key,
                    Value = raw.Message.Value,
                    Headers = DeadLetters.Headers(raw.Message.Headers, "missing_field:object_type", "object_type is missing", "transform", raw.TopicPartitionOffset),
                });
                break;
            default:
                var record = new SegmentTrackRecord { SourceId = "acme", MessageId = messageId, PersonKey = "person-" + eventId, Event = "Email Opened", ReceivedAt = at.UtcDateTime, TrackJson = Encoding.UTF8.GetBytes("{\"messageId\":\"" + messageId + "\"}") };
                var written = await producer.ProduceAsync(Topics.SegmentTrack, new Message<byte[]?, byte[]?> { Key = raw.Message.Key, Value = sink.Serialize(record, new SerializationContext(MessageComponentType.Value, Topics.SegmentTrack)) });
                if (fate == "delivered")
                {
                    await producer.ProduceAsync(Topics.SegmentDeliveries, new Message<byte[]?, byte[]?>
                    {
                        Key = "acme"u8.ToArray(),
                        Value = Encoding.UTF8.GetBytes($$"""{"source":"acme","status":200,"attempt":0,"path":"sink","at":"{{at.UtcDateTime:O}}","events":[{"messageId":"{{messageId}}","topic":"{{Topics.SegmentTrack}}","partition":{{written.Partition.Value}},"offset":{{written.Offset.Value}} }]}"""),
                    });
                }

                break;
        }
    }

    private RunningIndexer Indexer(string file, ISchemaRegistryClient registry) => Indexer(file, new SegmentTrackRecordViewDeserializer(registry));

    private RunningIndexer Indexer(string file, IDeserializer<SegmentTrackRecordView> sinkRecords)
    {
        var options = new InspectorOptions { DatabasePath = file, Retention = TimeSpan.FromDays(1), BatchInterval = TimeSpan.FromMilliseconds(100) };
        var index = new EventIndex(file, options.Retention, options.MaxWebhooks);
        var interpreter = new RecordInterpreter(sinkRecords);
        var indexer = new Indexer(index, new LiveFeed(), new KafkaClientFactory(new KafkaOptions { BootstrapServers = _broker.BootstrapServers }), interpreter,
            Options.Create(options), new Meter("test-" + Guid.NewGuid()), NullLogger<Indexer>.Instance);
        return new RunningIndexer(index, indexer, interpreter);
    }

    private sealed class RunningIndexer : IAsyncDisposable
    {
        public RunningIndexer(EventIndex index, Indexer indexer, RecordInterpreter interpreter)
        {
            Index = index;
            Interpreter = interpreter;
            _indexer = indexer;
            _indexer.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        private readonly Indexer _indexer;

        public EventIndex Index { get; }

        public RecordInterpreter Interpreter { get; }

        public async Task WaitForAsync(long webhooks, CancellationToken cancel)
        {
            var clock = Stopwatch.StartNew();
            while (Index.WebhookCount < webhooks && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100, cancel);
            }

            Assert.Equal(webhooks, Index.WebhookCount);
        }

        public async ValueTask DisposeAsync()
        {
            await _indexer.StopAsync(CancellationToken.None);
            _indexer.Dispose();
            Index.Dispose();
        }
    }
}
