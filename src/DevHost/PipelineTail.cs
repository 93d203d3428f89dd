using System.Text;
using CioSegment.Contracts;
using CioSegment.Processor;
using CioSegment.Processor.Transform;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Options;

namespace CioSegment.DevHost;

/// <summary>
/// Development aid: logs every record that reaches the raw topic (what the ingest stored), the sink topic
/// (what Segment will receive) and the dead-letter topic (with its reason), so a local run shows the flow.
/// </summary>
public sealed class PipelineTail(
    KafkaClientFactory kafka,
    IOptions<SchemaRegistryOptions> registry,
    ILogger<PipelineTail> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Factory.StartNew(
        () => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        using var registryClient = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Value.Url });
        var sinkDeserializer = new AvroDeserializer<SegmentTrackRecord>(registryClient).AsSyncOverAsync();
        var config = new ConsumerConfig
        {
            GroupId = "cio-devhost-tail-" + Guid.NewGuid().ToString("N")[..8],
            // The embedded broker is new on every run, so everything on it belongs to this run.
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 500,
        };
        using var consumer = kafka.Consumer<byte[]?, byte[]?>("cio-devhost-tail", config).Build();
        consumer.Subscribe([Topics.RawWebhooks, Topics.SegmentTrack, Topics.WebhooksDeadLetter]);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var record = consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (record is null)
                {
                    continue;
                }

                var key = record.Message.Key is { } k ? Encoding.UTF8.GetString(k) : "(none)";
                switch (record.Topic)
                {
                    case Topics.RawWebhooks:
                        logger.LogInformation(
                            "Raw topic {Topic} [{Partition}] @{Offset}: source {SourceId}, person key {Key}, {Bytes} bytes",
                            record.Topic, record.Partition.Value, record.Offset.Value, Header(record, HeaderNames.SourceId), key, record.Message.Value?.Length ?? 0);
                        break;
                    case Topics.SegmentTrack:
                        var track = sinkDeserializer.Deserialize(record.Message.Value, record.Message.Value is null, new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers));
                        logger.LogInformation(
                            "Sink topic {Topic} [{Partition}] @{Offset}: {Event} for {Key}, messageId {MessageId}: {Track}",
                            record.Topic, record.Partition.Value, record.Offset.Value, track.Event, key, track.MessageId, Encoding.UTF8.GetString(track.TrackJson));
                        break;
                    default:
                        logger.LogWarning(
                            "Dead letter {Topic} [{Partition}] @{Offset}: {Reason} ({Detail})",
                            record.Topic, record.Partition.Value, record.Offset.Value, Header(record, HeaderNames.DeadLetterReason), Header(record, HeaderNames.DeadLetterDetail));
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            consumer.Close();
        }
    }

    private static string Header(ConsumeResult<byte[]?, byte[]?> record, string name) =>
        record.Message.Headers.Text(name) ?? "?";
}
