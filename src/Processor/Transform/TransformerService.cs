using CioSegment.Contracts;
using CioSegment.Mapping.Settings;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CioSegment.Processor.Transform;

/// <summary>
/// The transformer as a hosted service: one consumer in group <see cref="TransformerOptions.GroupId"/> on
/// the raw topic (cooperative-sticky, read_committed), driven by <see cref="TransformerLoop"/> on a thread
/// of its own. A failure it cannot recover from stops the process, so that it is restarted.
/// </summary>
public sealed class TransformerService(
    IOptions<TransformerOptions> options,
    KafkaClientFactory kafka,
    IOptions<SchemaRegistryOptions> registry,
    SourceCatalog sources,
    IHostApplicationLifetime lifetime,
    TransformerHealth health,
    ILogger<TransformerService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        var o = options.Value;
        try
        {
            using var registryClient = registry.Value.CreateClient();
            var serializer = new SegmentTrackRecordSerializer(registryClient);
            var transformer = new WebhookTransformer(sources, o, serializer, ProcessorTelemetry.Meter);

            TransformerLoop? loop = null;
            using var consumer = kafka.Consumer<byte[]?, byte[]>("cio-transformer", ConsumerConfig(o))
                .SetPartitionsAssignedHandler((_, partitions) => loop!.OnAssigned(partitions))
                .SetPartitionsRevokedHandler((_, partitions) => loop!.OnRevoked(partitions))
                .SetPartitionsLostHandler((_, partitions) => loop!.OnLost(partitions))
                .Build();
            using (loop = new TransformerLoop(consumer, () => CreateProducer(o), () => CreateChangelogReader(o), transformer, o, ProcessorTelemetry.Meter, logger, health: health))
            {
                consumer.Subscribe(o.InputTopic);
                logger.LogInformation(
                    "Transformer consuming {Input} in group {Group} with {Guarantee} processing; output to {Sink}, dead letters to {Dlq}, state in {Changelog}.",
                    o.InputTopic, o.GroupId, o.ProcessingGuarantee, o.SinkTopic, o.DeadLetterTopic, o.ChangelogTopic);
                loop.Run(stop);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogCritical(e, "The transformer stopped on an error it cannot recover from; stopping the process so that it is restarted.");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    private static ConsumerConfig ConsumerConfig(TransformerOptions o) => new()
    {
        GroupId = o.GroupId,
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        IsolationLevel = IsolationLevel.ReadCommitted,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
    };

    private IProducer<byte[]?, byte[]?> CreateProducer(TransformerOptions o)
    {
        var config = new ProducerConfig
        {
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
            MessageMaxBytes = KafkaLimits.MaxRecordBytes,

            // In a transaction no record needs a delivery report: a record that fails makes the commit fail
            // (abortable), and the loop aborts and rewinds (librdkafka counts failed records for
            // commit_transaction whether or not it reports them: rd_kafka_dr_msgq0 in rdkafka_broker.c).
            // At least once, the loop reads only a report's error: not marshalling key, value, headers and
            // timestamp back into .NET saves CPU per event (docs/benchmarks.md, "CPU per event").
            EnableDeliveryReports = o.ProcessingGuarantee != ProcessingGuarantee.ExactlyOnce,
            DeliveryReportFields = "status",
        };
        if (o.ProcessingGuarantee == ProcessingGuarantee.ExactlyOnce)
        {
            config.TransactionalId = o.EffectiveTransactionalId;
            config.TransactionTimeoutMs = 60_000;
        }

        return kafka.Producer<byte[]?, byte[]?>("cio-transformer", config).Build();
    }

    private IConsumer<byte[]?, byte[]?> CreateChangelogReader(TransformerOptions o) =>
        kafka.Consumer<byte[]?, byte[]?>("cio-transformer-restore", new ConsumerConfig
        {
            GroupId = o.GroupId + "-restore",
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
}
