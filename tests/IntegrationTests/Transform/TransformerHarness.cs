using System.Text;
using CioSegment.Contracts;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.IntegrationTests.Kafka;
using CioSegment.Processor;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CioSegment.IntegrationTests.Transform;

/// <summary>
/// Unique topics for one test, a way to write raw webhooks as the ingest does, to run processor
/// instances (real hosts with the transformer, configured like production) and to read what they wrote.
/// </summary>
internal sealed class TransformerHarness : IAsyncDisposable
{
    public const int Partitions = 3;

    private readonly KafkaFixture _kafka;
    private readonly DevSchemaRegistryServer _registry;
    private readonly IProducer<byte[]?, byte[]> _producer;
    private readonly List<IHost> _hosts = [];

    private TransformerHarness(KafkaFixture kafka, DevSchemaRegistryServer registry)
    {
        _kafka = kafka;
        _registry = registry;
        Raw = kafka.UniqueName("raw");
        Sink = kafka.UniqueName("sink");
        Dlq = kafka.UniqueName("dlq");
        Changelog = kafka.UniqueName("changelog");
        Group = kafka.UniqueName("transformer");
        _producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, Acks = Acks.All, EnableIdempotence = true }).Build();
    }

    public string Raw { get; }

    public string Sink { get; }

    public string Dlq { get; }

    public string Changelog { get; }

    public string Group { get; }

    public Uri RegistryUrl => _registry.Url;

    public static async Task<TransformerHarness> CreateAsync(KafkaFixture kafka)
    {
        var harness = new TransformerHarness(kafka, await DevSchemaRegistryServer.StartAsync());
        await kafka.CreateTopicAsync(harness.Raw, Partitions);
        await kafka.CreateTopicAsync(harness.Sink, Partitions);
        await kafka.CreateTopicAsync(harness.Dlq, 1);
        await kafka.CreateTopicAsync(harness.Changelog, Partitions, compacted: true);
        return harness;
    }

    /// <summary>Starts a processor instance; <paramref name="sendFrequency"/> is the acme source's setting.</summary>
    public async Task<IHost> StartProcessorAsync(string instance = "a", string sendFrequency = "Every", string guarantee = "AtLeastOnce")
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing", DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CioSegment:Kafka:BootstrapServers"] = _kafka.BootstrapServers,
            ["CioSegment:Kafka:Consumer:session.timeout.ms"] = "6000",
            ["CioSegment:Kafka:Consumer:heartbeat.interval.ms"] = "500",
            ["CioSegment:SchemaRegistry:Url"] = _registry.Url.ToString(),
            ["CioSegment:Transformer:InputTopic"] = Raw,
            ["CioSegment:Transformer:SinkTopic"] = Sink,
            ["CioSegment:Transformer:DeadLetterTopic"] = Dlq,
            ["CioSegment:Transformer:ChangelogTopic"] = Changelog,
            ["CioSegment:Transformer:GroupId"] = Group,
            ["CioSegment:Transformer:TransactionalId"] = Group + "-" + instance,
            ["CioSegment:Transformer:ProcessingGuarantee"] = guarantee,
            ["CioSegment:Transformer:CommitInterval"] = "00:00:00.050",
            ["CioSegment:Sources:acme:WebhookSigningKey"] = "k",
            ["CioSegment:Sources:acme:WriteKey"] = "w",
            ["CioSegment:Sources:acme:SendFrequency"] = sendFrequency,
            ["CioSegment:Sources:acme:BodyContent"] = "true",
        });
        builder.AddTransformer();
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        return host;
    }

    public static async Task StopAsync(IHost host)
    {
        await host.StopAsync();
        host.Dispose();
    }

    /// <summary>Writes a raw webhook as the ingest does: key = person, headers = source and received-at.</summary>
    public void Send(string body, string person, string source = "acme")
    {
        _producer.Produce(Raw, new Message<byte[]?, byte[]>
        {
            Key = Encoding.UTF8.GetBytes(person),
            Value = Encoding.UTF8.GetBytes(body),
            Headers = new Headers
            {
                { HeaderNames.SourceId, Encoding.UTF8.GetBytes(source) },
                { HeaderNames.ReceivedAt, ReceivedAtHeader.Encode(DateTimeOffset.UtcNow) },
            },
        });
    }

    public void Flush() => _producer.Flush(TimeSpan.FromSeconds(10));

    /// <summary>Reads sink records (Avro through the registry double) until <paramref name="expected"/> arrived and a quiet period passed.</summary>
    public List<(ConsumeResult<byte[]?, byte[]?> Record, SegmentTrackRecord Track)> ReadSink(int expected, TimeSpan timeout)
    {
        using var registryClient = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url.ToString() });
        var deserializer = new AvroDeserializer<SegmentTrackRecord>(registryClient).AsSyncOverAsync();
        return Ingest.TopicReader.Read(_kafka.BootstrapServers, Sink, Partitions, expected, timeout)
            .Select(r => (r, deserializer.Deserialize(r.Message.Value, false, new SerializationContext(MessageComponentType.Value, Sink, r.Message.Headers))))
            .ToList();
    }

    /// <summary>
    /// Sink records until <paramref name="distinct"/> different messageIds are there: at-least-once may write
    /// a tail twice around a rebalance, so a count of records can be reached before every event is.
    /// </summary>
    public List<(ConsumeResult<byte[]?, byte[]?> Record, SegmentTrackRecord Track)> ReadSinkDistinct(int distinct, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var expected = distinct;
        while (true)
        {
            var sink = ReadSink(expected, deadline - DateTime.UtcNow is { Ticks: > 0 } left ? left : TimeSpan.Zero);
            var seen = sink.Select(s => s.Track.MessageId).Distinct().Count();
            if (seen >= distinct || DateTime.UtcNow >= deadline)
            {
                return sink;
            }

            expected = sink.Count + (distinct - seen);
        }
    }

    /// <summary>Sink records as a read_uncommitted reader sees them: those of aborted and open transactions too.</summary>
    public List<ConsumeResult<byte[]?, byte[]?>> ReadSinkUncommitted(int atLeast, TimeSpan timeout) =>
        Ingest.TopicReader.Read(_kafka.BootstrapServers, Sink, Partitions, atLeast, timeout, IsolationLevel.ReadUncommitted);

    /// <summary>
    /// The transformer group's committed offsets and the raw topic's end offsets, per partition (read, never
    /// joining the group). A partition without a committed offset counts as 0: nothing of it was read.
    /// </summary>
    public async Task<(long[] Committed, long[] End)> RawOffsetsAsync()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _kafka.BootstrapServers }).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(Raw, p)).ToList();
        var listed = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(Group, partitions)]);
        var committed = partitions.Select(tp => listed.Single().Partitions.Single(p => p.TopicPartition == tp).Offset.Value).Select(o => Math.Max(o, 0)).ToArray();
        using var reader = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "offsets-" + Guid.NewGuid().ToString("N") }).Build();
        var end = partitions.Select(tp => reader.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High.Value).ToArray();
        return (committed, end);
    }

    public List<ConsumeResult<byte[]?, byte[]?>> ReadDlq(int expected, TimeSpan timeout) => Ingest.TopicReader.Read(_kafka.BootstrapServers, Dlq, 1, expected, timeout);

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            try
            {
                await host.StopAsync();
            }
            catch (ObjectDisposedException)
            {
            }

            host.Dispose();
        }

        _producer.Dispose();
        await _registry.DisposeAsync();
    }
}
