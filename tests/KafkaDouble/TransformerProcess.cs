using System.Diagnostics.Metrics;
using System.Text;
using CioSegment.Contracts;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace CioSegment.KafkaDouble;

/// <summary>
/// One transformer process over a <see cref="KafkaCluster"/>: the production <see cref="TransformerLoop"/>
/// and <see cref="WebhookTransformer"/> with a group consumer, producers and changelog readers from the
/// double, wired as <c>TransformerService</c> wires them. Dropping the object is a crash: nothing is
/// closed or committed, the next process with the same transactional.id takes over.
/// </summary>
internal sealed class TransformerProcess : IDisposable
{
    public const string Raw = "raw";
    public const string Sink = "sink";
    public const string Dlq = "dlq";
    public const string Changelog = "changelog";
    public const string Outcomes = "outcomes";

    /// <summary>The write key of <see cref="DefaultSources"/>' one source.</summary>
    public const string WriteKey = "w";

    private readonly KafkaCluster _cluster;

    public TransformerProcess(KafkaCluster cluster, TransformerOptions options, string transactionalId = "cio-transformer-test", SourceCatalog? sources = null, TimeProvider? time = null, TransformerHealth? health = null)
    {
        _cluster = cluster;
        Options = options;
        Consumer = new ConsumerDouble(cluster, options.GroupId);
        var guarantee = options.ProcessingGuarantee;
        Loop = new TransformerLoop(
            Kafka<byte[]>(Consumer),
            () =>
            {
                ProducersCreated++;
                return new ProducerDouble(cluster, guarantee == ProcessingGuarantee.ExactlyOnce ? transactionalId : null);
            },
            () => new ConsumerDouble(cluster, groupId: null),
            new WebhookTransformer(sources ?? DefaultSources(), options, SinkRecords.Serializer, new Meter("test-" + Guid.NewGuid())),
            options,
            new Meter("test-" + Guid.NewGuid()),
            NullLogger.Instance,
            sleep: _ => { },
            time: time,
            health: health);
        Consumer.PartitionsAssigned = Loop.OnAssigned;
        Consumer.PartitionsRevoked = Loop.OnRevoked;
        Consumer.PartitionsLost = Loop.OnLost;
        Consumer.Subscribe(options.InputTopic);
    }

    public TransformerOptions Options { get; }

    public ConsumerDouble Consumer { get; }

    public TransformerLoop Loop { get; }

    public int ProducersCreated { get; private set; }

    /// <summary>Options for the double: small batches, no waiting.</summary>
    public static TransformerOptions DefaultOptions(ProcessingGuarantee guarantee = ProcessingGuarantee.ExactlyOnce, int commitEvery = 3) => new()
    {
        InputTopic = Raw,
        SinkTopic = Sink,
        DeadLetterTopic = Dlq,
        ChangelogTopic = Changelog,
        OutcomesTopic = Outcomes,
        GroupId = "cio-transformer-test",
        ProcessingGuarantee = guarantee,
        CommitEveryRecords = commitEvery,
        CommitInterval = TimeSpan.FromDays(1),
        KafkaTimeout = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>A cluster with the pipeline's topics, <paramref name="partitions"/> partitions each.</summary>
    public static KafkaCluster Cluster(int partitions = 2)
    {
        var cluster = new KafkaCluster();
        foreach (var topic in new[] { Raw, Sink, Dlq, Changelog, Outcomes })
        {
            cluster.CreateTopic(topic, partitions);
        }

        return cluster;
    }

    /// <summary>Writes webhooks to the raw topic as the ingest does (keyed by person, source and received-at headers).</summary>
    public static void Ingest(KafkaCluster cluster, params (string Body, string Key)[] webhooks)
    {
        using var producer = new ProducerDouble(cluster, faults: false);
        foreach (var (body, key) in webhooks)
        {
            var headers = new Headers
            {
                { HeaderNames.SourceId, "acme"u8.ToArray() },
                { HeaderNames.ReceivedAt, ReceivedAtHeader.Encode(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000)) },
            };
            producer.Produce(Raw, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(key), Value = Encoding.UTF8.GetBytes(body), Headers = headers });
        }

        producer.Flush(TimeSpan.Zero);
    }

    /// <summary>
    /// A crashed producer <paramref name="transactionalId"/> leaves a transaction open in changelog partition
    /// <paramref name="partition"/>: read_committed readers cannot read past it until the coordinator aborts it
    /// (<see cref="KafkaCluster.Fence"/> with the same id, as its timeout or that pod's restart would).
    /// </summary>
    public static void LeaveOpenChangelogTransaction(KafkaCluster cluster, string transactionalId, int partition = 0)
    {
        var crashed = new ProducerDouble(cluster, transactionalId, faults: false);
        crashed.InitTransactions(TimeSpan.Zero);
        crashed.BeginTransaction();
        crashed.Produce(new TopicPartition(Changelog, partition), new Message<byte[]?, byte[]?> { Key = new byte[17], Value = new byte[8] });
    }

    /// <summary>A webhook with this event_id for person <paramref name="person"/>.</summary>
    public static (string Body, string Key) Webhook(string eventId, string person = "cool-person", string metric = "opened") =>
        (
            "{\"event_id\":\"" + eventId + "\",\"object_type\":\"email\",\"metric\":\"" + metric + "\",\"timestamp\":1700000000,"
            + "\"data\":{\"delivery_id\":\"d-" + eventId + "\",\"identifiers\":{\"id\":\"" + person + "\"}}}",
            person);

    /// <summary>Runs the loop until it has consumed everything it can and committed; at most <paramref name="steps"/> steps.</summary>
    public void RunUntilIdle(int steps = 1000)
    {
        for (var i = 0; i < steps; i++)
        {
            Loop.RunOnce(TimeSpan.Zero);
            if (Idle())
            {
                Loop.Commit();
                if (Loop.Uncommitted == 0 && Idle())
                {
                    return;
                }
            }
        }
    }

    /// <summary>The messageIds of the committed sink records, in the order of each partition.</summary>
    public static List<string> CommittedMessageIds(KafkaCluster cluster) =>
        cluster.ReadAll(Sink).Select(r => SinkRecords.Read(r.Entry.Message!.Value!).MessageId).ToList();

    /// <summary>One source, <c>acme</c>, sending every event.</summary>
    public static SourceCatalog DefaultSources() =>
        new([SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = WriteKey })]);

    public void Dispose() => Loop.Dispose();

    private bool Idle() =>
        Consumer.Assignment.Count > 0
        && Consumer.Assignment.All(tp => Consumer.Position(tp).Value >= _cluster.LastStableOffset(tp) || Consumer.Paused.Contains(tp));

    /// <summary>The double is one CLR type for both nullability views of the consumer interface.</summary>
    private static IConsumer<byte[]?, TValue> Kafka<TValue>(ConsumerDouble consumer) => (IConsumer<byte[]?, TValue>)(object)consumer;
}
