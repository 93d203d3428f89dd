using System.Diagnostics.Metrics;
using CioSegment.Processor;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CioSegment.KafkaDouble;

/// <summary>
/// One publisher process over a <see cref="KafkaCluster"/>: the production <see cref="BatchPublisher"/> with a
/// group consumer of the sink topic (through the production <see cref="SegmentTrackRecordViewDeserializer"/>
/// and a <see cref="RegistryDouble"/>), a dead-letter producer from the double and a
/// <see cref="SegmentDouble"/>, and the held path (a manually assigned consumer of the held topic and a
/// producer parking into it), wired as <c>PublisherService</c> wires them, on a simulated clock. Requests run
/// on the caller's thread and wait on the clock, so a schedule is deterministic. <see cref="Kill"/> is a crash:
/// nothing is committed or closed, the process's timers never fire and its requests never complete.
/// </summary>
internal sealed class PublisherProcess
{
    public const string DeadLetters = "publisher-dlq";

    public const string GroupId = "cio-publisher-test";

    public const string Held = "publisher-held";

    public const string HeldGroupId = "cio-publisher-held-test";

    private readonly ProcessClock _clock;
    private readonly HttpClient _http;
    private bool _alive = true;

    public PublisherProcess(KafkaCluster cluster, PublisherOptions options, SegmentDouble segment, RegistryDouble registry, FakeTimeProvider time, Func<double> jitter, SourceCatalog sources)
    {
        _clock = new ProcessClock(time, () => _alive);
        Consumer = new ConsumerDouble(cluster, options.GroupId);
        HeldConsumer = new ConsumerDouble(cluster, options.HeldGroupId);
        _http = new HttpClient(segment.HandlerFor(() => _alive));
        var held = new HeldEvents(
            new DeserializingConsumer<SegmentTrackRecordView>(HeldConsumer, new SegmentTrackRecordViewDeserializer(registry.Client)),
            new ProducerDouble(cluster),
            new SegmentTrackRecordSerializer(registry.Client),
            options.HeldTopic,
            TimeSpan.FromSeconds(1));
        Publisher = new BatchPublisher(
            new DeserializingConsumer<SegmentTrackRecordView>(Consumer, new SegmentTrackRecordViewDeserializer(registry.Client)),
            new ProducerDouble(cluster),
            new SegmentBatchClient(_http, new ConfiguredSegmentEndpoints(), _clock),
            sources,
            options,
            new Meter("test-" + Guid.NewGuid()),
            NullLogger.Instance,
            _clock,
            jitter,
            start: send => send(),
            held: held,
            partitionCount: topic => cluster.PartitionsOf(topic).Count());
        Consumer.PartitionsAssigned = Publisher.OnAssigned;
        Consumer.PartitionsRevoked = Publisher.OnRevoked;
        Consumer.PartitionsLost = Publisher.OnLost;
        Consumer.Subscribe(options.InputTopic);
    }

    public ConsumerDouble Consumer { get; }

    /// <summary>The held topic's consumer: manual assignment that follows <see cref="Consumer"/>'s.</summary>
    public ConsumerDouble HeldConsumer { get; }

    public BatchPublisher Publisher { get; }

    /// <summary>Options for the double: small batches and buffers, short delays.</summary>
    public static PublisherOptions DefaultOptions(Random random) => new()
    {
        InputTopic = TransformerProcess.Sink,
        DeadLetterTopic = DeadLetters,
        GroupId = GroupId,
        HeldTopic = Held,
        HeldGroupId = HeldGroupId,
        HoldAfter = TimeSpan.FromMilliseconds(300 + random.Next(2700)),
        MaxBufferedBytesPerSource = random.Next(2) == 0 ? 1 << 20 : 500 + random.Next(3000),
        MaxBatchEvents = 1 + random.Next(5),
        MaxInFlightPerSource = 1 + random.Next(3),
        MaxRequestsPerSecondPerSource = random.Next(2) == 0 ? 5 : 1000,
        MaxBufferedEvents = 4 + random.Next(30),
        Linger = TimeSpan.FromMilliseconds(random.Next(1, 200)),
        RequestTimeout = TimeSpan.FromSeconds(1),
        RetryBaseDelay = TimeSpan.FromMilliseconds(50 + random.Next(200)),
        RetryMaxDelay = TimeSpan.FromSeconds(2),
        CommitInterval = TimeSpan.FromMilliseconds(random.Next(1, 500)),
    };

    /// <summary>The process dies: no commit, no close; the group notices when its session times out.</summary>
    public void Kill()
    {
        _alive = false;
        Consumer.Dispose();
        HeldConsumer.Dispose();
    }

    /// <summary>This process's view of the simulated clock: once it is dead, its timers never fire.</summary>
    private sealed class ProcessClock(FakeTimeProvider time, Func<bool> alive) : TimeProvider
    {
        public override long TimestampFrequency => time.TimestampFrequency;

        public override DateTimeOffset GetUtcNow() => time.GetUtcNow();

        public override long GetTimestamp() => time.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            time.CreateTimer(s => { if (alive()) { callback(s); } }, state, dueTime, period);
    }
}
