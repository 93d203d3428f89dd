using CioSegment.ServiceDefaults;
using System.Text;
using CioSegment.Contracts;
using CioSegment.Ingest;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace CioSegment.DevHost;

/// <summary>Development aid: logs every record that reaches the raw topic, so a local run shows what the ingest stored.</summary>
public sealed class RawTopicTail(IOptions<KafkaOptions> kafka, IOptions<IngestOptions> ingest, ILogger<RawTopicTail> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Factory.StartNew(
        () => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = kafka.Value.BootstrapServers,
            GroupId = "cio-devhost-tail-" + Guid.NewGuid().ToString("N")[..8],
            AutoOffsetReset = AutoOffsetReset.Latest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 500,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(config).Build();
        consumer.Subscribe(ingest.Value.Topic);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var record = consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (record is null)
                {
                    continue;
                }

                var source = record.Message.Headers.TryGetLastBytes(HeaderNames.SourceId, out var s) ? Encoding.UTF8.GetString(s) : "?";
                var key = record.Message.Key is { } k ? Encoding.UTF8.GetString(k) : "(none)";
                logger.LogInformation(
                    "Raw topic {Topic} [{Partition}] @{Offset}: source {SourceId}, person key {Key}, {Bytes} bytes",
                    record.Topic, record.Partition.Value, record.Offset.Value, source, key, record.Message.Value.Length);
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
}
