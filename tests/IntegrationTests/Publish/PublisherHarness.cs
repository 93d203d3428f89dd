using System.Text;
using System.Text.Json.Nodes;
using CioSegment.Contracts;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.DevDoubles.Segment;
using CioSegment.IntegrationTests.Kafka;
using CioSegment.Processor;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CioSegment.IntegrationTests.Publish;

/// <summary>Unique sink and dead-letter topics, a stand-in Segment, and publisher instances configured like production.</summary>
internal sealed class PublisherHarness : IAsyncDisposable
{
    public const int Partitions = 3;
    public const string WriteKey = "acme-write-key";

    private readonly KafkaFixture _kafka;
    private readonly DevSchemaRegistryServer _registry;
    private readonly CachedSchemaRegistryClient _registryClient;
    private readonly SegmentTrackRecordSerializer _serializer;
    private readonly IProducer<byte[]?, byte[]> _producer;
    private readonly List<IHost> _hosts = [];

    private PublisherHarness(KafkaFixture kafka, DevSchemaRegistryServer registry, SegmentStandIn segment)
    {
        _kafka = kafka;
        _registry = registry;
        Segment = segment;
        _registryClient = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url.ToString() });
        _serializer = new SegmentTrackRecordSerializer(_registryClient);
        Sink = kafka.UniqueName("sink");
        Dlq = kafka.UniqueName("segment-dlq");
        Held = kafka.UniqueName("segment-held");
        Deliveries = kafka.UniqueName("segment-deliveries");
        Group = kafka.UniqueName("publisher");
        _producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, Acks = Acks.All, EnableIdempotence = true }).Build();
    }

    public SegmentStandIn Segment { get; }

    public string Sink { get; }

    public string Dlq { get; }

    public string Held { get; }

    public string Deliveries { get; }

    /// <summary>The Schema Registry double's URL.</summary>
    public Uri RegistryUrl => _registry.Url;

    public string Group { get; }

    public static async Task<PublisherHarness> CreateAsync(KafkaFixture kafka)
    {
        var harness = new PublisherHarness(kafka, await DevSchemaRegistryServer.StartAsync(), await SegmentStandIn.StartAsync(new() { KeepRequests = true }));
        await kafka.CreateTopicAsync(harness.Sink, Partitions);
        await kafka.CreateTopicAsync(harness.Dlq, 1);
        await kafka.CreateTopicAsync(harness.Held, Partitions);
        await kafka.CreateTopicAsync(harness.Deliveries, 1);
        return harness;
    }

    public async Task<IHost> StartPublisherAsync(IDictionary<string, string?>? overrides = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing", DisableDefaults = true });
        builder.Logging.ClearProviders();
        var settings = new Dictionary<string, string?>
        {
            ["CioSegment:Kafka:BootstrapServers"] = _kafka.BootstrapServers,
            ["CioSegment:Kafka:Consumer:session.timeout.ms"] = "6000",
            ["CioSegment:Kafka:Consumer:heartbeat.interval.ms"] = "500",
            ["CioSegment:SchemaRegistry:Url"] = _registry.Url.ToString(),
            ["CioSegment:Publisher:InputTopic"] = Sink,
            ["CioSegment:Publisher:DeadLetterTopic"] = Dlq,
            ["CioSegment:Publisher:GroupId"] = Group,
            ["CioSegment:Publisher:HeldTopic"] = Held,
            ["CioSegment:Publisher:DeliveriesTopic"] = Deliveries,
            ["CioSegment:Publisher:HeldGroupId"] = Group + "-held",
            ["CioSegment:Publisher:Linger"] = "00:00:00.050",
            ["CioSegment:Publisher:RetryBaseDelay"] = "00:00:00.050",
            ["CioSegment:Publisher:RetryMaxDelay"] = "00:00:00.500",
            ["CioSegment:Publisher:CommitInterval"] = "00:00:00.050",
            ["CioSegment:Publisher:RequestTimeout"] = "00:00:02",
            ["CioSegment:Sources:acme:WebhookSigningKey"] = "k",
            ["CioSegment:Sources:acme:WriteKey"] = WriteKey,
            ["CioSegment:Sources:acme:SegmentEndpoint"] = Segment.Url.ToString(),
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.AddPublisher();
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        return host;
    }

    /// <summary>Writes a sink record as the transformer does; the track JSON carries <paramref name="messageId"/> and a pad.</summary>
    public void Send(string messageId, string person, int padBytes = 0, string source = "acme")
    {
        var track = new JsonObject
        {
            ["type"] = "track",
            ["event"] = "Email Opened",
            ["userId"] = person,
            ["messageId"] = messageId,
            ["properties"] = new JsonObject { ["pad"] = new string('x', padBytes) },
        };
        var record = new SegmentTrackRecord
        {
            SourceId = source,
            MessageId = messageId,
            PersonKey = person,
            Event = "Email Opened",
            ReceivedAt = DateTime.UtcNow,
            TrackJson = Encoding.UTF8.GetBytes(track.ToJsonString()),
        };
        var headers = new Headers { { HeaderNames.SourceId, Encoding.UTF8.GetBytes(source) } };
        _producer.Produce(Sink, new Message<byte[]?, byte[]>
        {
            Key = Encoding.UTF8.GetBytes(person),
            Value = _serializer.Serialize(record, new SerializationContext(MessageComponentType.Value, Sink, headers)),
            Headers = headers,
        });
    }

    public void Flush() => _producer.Flush(TimeSpan.FromSeconds(10));

    public async Task WaitForDeliveredAsync(int distinct, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Segment.Delivered.Select(e => (string?)e["messageId"]).Distinct().Count() < distinct && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }

    public List<ConsumeResult<byte[]?, byte[]?>> ReadDlq(int expected, TimeSpan timeout) =>
        Ingest.TopicReader.Read(_kafka.BootstrapServers, Dlq, 1, expected, timeout);

    public static async Task StopAsync(IHost host)
    {
        await host.StopAsync();
        host.Dispose();
    }

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
        _registryClient.Dispose();
        await Segment.DisposeAsync();
        await _registry.DisposeAsync();
    }
}
