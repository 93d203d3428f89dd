using CioSegment.Mapping.Settings;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CioSegment.Processor.Publish;

/// <summary>
/// The publisher as a hosted service: a consumer in group <see cref="PublisherOptions.GroupId"/> on the
/// sink topic (read_committed, cooperative-sticky, manual commits) and a consumer of the held topic under
/// <see cref="PublisherOptions.HeldGroupId"/> that follows its assignment (<see cref="HeldEvents"/>), driven
/// by <see cref="BatchPublisher"/> on a thread of its own.
/// </summary>
public sealed class PublisherService(
    IOptions<PublisherOptions> options,
    KafkaClientFactory kafka,
    IOptions<SchemaRegistryOptions> registry,
    SourceCatalog sources,
    IHttpClientFactory httpClients,
    ISegmentEndpoints endpoints,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    IOptions<HostOptions> host,
    PublisherHealth health,
    ILogger<PublisherService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        var o = options.Value;
        try
        {
            using var registryClient = registry.Value.CreateClient();
            BatchPublisher? publisher = null;
            using var consumer = kafka.Consumer<byte[]?, SegmentTrackRecordView>("cio-publisher", new ConsumerConfig
            {
                GroupId = o.GroupId,
                EnableAutoCommit = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                IsolationLevel = IsolationLevel.ReadCommitted,
                PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            })
                .SetValueDeserializer(new SegmentTrackRecordViewDeserializer(registryClient))
                .SetPartitionsAssignedHandler((_, partitions) => publisher!.OnAssigned(partitions))
                .SetPartitionsRevokedHandler((_, partitions) => publisher!.OnRevoked(partitions))
                .SetPartitionsLostHandler((_, partitions) => publisher!.OnLost(partitions))
                .Build();
            using var deadLetters = kafka.Producer<byte[]?, byte[]?>("cio-publisher-dlq", new ProducerConfig
            {
                MessageMaxBytes = KafkaLimits.MaxRecordBytes,
                Acks = Acks.All,
                EnableIdempotence = true,
            }).Build();
            using var heldConsumer = kafka.Consumer<byte[]?, SegmentTrackRecordView>("cio-publisher-held", new ConsumerConfig
            {
                GroupId = o.HeldGroupId,
                EnableAutoCommit = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                IsolationLevel = IsolationLevel.ReadCommitted,
            })
                .SetValueDeserializer(new SegmentTrackRecordViewDeserializer(registryClient))
                .Build();
            using var heldProducer = kafka.Producer<byte[]?, byte[]?>("cio-publisher-held", new ProducerConfig
            {
                MessageMaxBytes = KafkaLimits.MaxRecordBytes,
                Acks = Acks.All,
                EnableIdempotence = true,
            }).Build();
            // Metadata through the consumer's own connection: the share of partitions it owns sets its rate budget.
            using var metadata = new DependentAdminClientBuilder(consumer.Handle).Build();
            int? PartitionCount(string topic) =>
                metadata.GetMetadata(topic, TimeSpan.FromSeconds(5)).Topics.SingleOrDefault(t => t.Topic == topic && t.Error.Code == ErrorCode.NoError)?.Partitions.Count;
            var held = new HeldEvents(heldConsumer, heldProducer, new SegmentTrackRecordSerializer(registryClient), o.HeldTopic, o.RequestTimeout);
            var deliveryLog = string.IsNullOrEmpty(o.DeliveriesTopic) ? null : new DeliveryLog(deadLetters, o.DeliveriesTopic, ProcessorTelemetry.Meter);
            var client = new SegmentBatchClient(httpClients.CreateClient(SegmentBatchClient.ClientName), endpoints, time);
            using (publisher = new BatchPublisher(consumer, deadLetters, client, sources, o, ProcessorTelemetry.Meter, logger, time, health: health, held: held, partitionCount: PartitionCount, deliveries: deliveryLog))
            {
                consumer.Subscribe(o.InputTopic);
                logger.LogInformation("Publisher consuming {Input} in group {Group}; batches of up to {Events} events / {Bytes} bytes, linger {Linger}.", o.InputTopic, o.GroupId, o.MaxBatchEvents, o.MaxBatchBytes, o.Linger);
                // Finish in-flight requests within the host's shutdown timeout, keeping a margin to commit and leave.
                publisher.Run(stop, host.Value.ShutdownTimeout - TimeSpan.FromSeconds(2));
            }

            deadLetters.Flush(TimeSpan.FromSeconds(10));
            heldProducer.Flush(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogCritical(e, "The publisher stopped on an error it cannot recover from; stopping the process so that it is restarted.");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }
}
