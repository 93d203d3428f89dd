using System.Diagnostics.Metrics;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using static CioSegment.UnitTests.Transform.TransformTestKit;

namespace CioSegment.UnitTests.Transform;

/// <summary>The commit protocol against fakes of IConsumer / IProducer (no broker, no timing).</summary>
public class TransformerLoopTests
{
    private static readonly TopicPartition P0 = new(RawTopic, 0);
    private static readonly TopicPartition P1 = new(RawTopic, 1);

    private readonly IConsumer<byte[]?, byte[]> _consumer = Substitute.For<IConsumer<byte[]?, byte[]>>();
    private readonly List<IProducer<byte[]?, byte[]?>> _producers = [];
    private readonly Queue<ConsumeResult<byte[]?, byte[]>?> _records = new();
    private readonly Dictionary<TopicPartition, long> _positions = [];
    private readonly List<(TopicPartition Tp, Offset Offset)> _seeks = [];
    private readonly IConsumer<byte[]?, byte[]?> _changelogReader = Substitute.For<IConsumer<byte[]?, byte[]?>>();
    private readonly List<string> _calls = [];

    public TransformerLoopTests()
    {
        _consumer.Assignment.Returns(_ => _positions.Keys.ToList());
        _consumer.Consume(Arg.Any<TimeSpan>()).Returns(_ =>
        {
            var next = _records.Count > 0 ? _records.Dequeue() : null;
            if (next is not null)
            {
                _positions[next.TopicPartition] = next.Offset.Value + 1;
            }

            return next;
        });
        _consumer.Position(Arg.Any<TopicPartition>()).Returns(c => new Offset(_positions[c.Arg<TopicPartition>()]));
        _consumer.Committed(Arg.Any<IEnumerable<TopicPartition>>(), Arg.Any<TimeSpan>())
            .Returns(c => c.Arg<IEnumerable<TopicPartition>>().Select(tp => new TopicPartitionOffset(tp, new Offset(5))).ToList());
        _consumer.When(c => c.Seek(Arg.Any<TopicPartitionOffset>())).Do(c =>
        {
            var tpo = c.Arg<TopicPartitionOffset>();
            _seeks.Add((tpo.TopicPartition, tpo.Offset));
        });
        _consumer.When(c => c.Commit(Arg.Any<IEnumerable<TopicPartitionOffset>>())).Do(_ => _calls.Add("consumer.Commit"));
        _changelogReader.QueryWatermarkOffsets(Arg.Any<TopicPartition>(), Arg.Any<TimeSpan>()).Returns(new WatermarkOffsets(0, 0));
        _positions[P0] = 5;
        _positions[P1] = 5;
    }

    private TransformerLoop Loop(ProcessingGuarantee guarantee, int commitEvery = 1000, WebhookTransformer? transformer = null, TimeSpan? interval = null)
    {
        var options = new TransformerOptions
        {
            InputTopic = RawTopic,
            SinkTopic = "sink",
            DeadLetterTopic = "dlq",
            ChangelogTopic = "changelog",
            ProcessingGuarantee = guarantee,
            CommitEveryRecords = commitEvery,
            CommitInterval = interval ?? TimeSpan.FromHours(1),
        };
        return new TransformerLoop(_consumer, NewProducer, () => _changelogReader, transformer ?? Transformer(options: options), options, new Meter("test-" + Guid.NewGuid()), NullLogger.Instance);
    }

    private IProducer<byte[]?, byte[]?> NewProducer()
    {
        var producer = Substitute.For<IProducer<byte[]?, byte[]?>>();
        var index = _producers.Count;
        producer.When(p => p.Produce(Arg.Any<string>(), Arg.Any<Message<byte[]?, byte[]?>>(), Arg.Any<Action<DeliveryReport<byte[]?, byte[]?>>>()))
            .Do(c => _calls.Add($"p{index}.Produce {c.Arg<string>()}"));
        producer.When(p => p.Produce(Arg.Any<TopicPartition>(), Arg.Any<Message<byte[]?, byte[]?>>(), Arg.Any<Action<DeliveryReport<byte[]?, byte[]?>>>()))
            .Do(c => _calls.Add($"p{index}.Produce {c.Arg<TopicPartition>().Topic}"));
        producer.When(p => p.CommitTransaction(Arg.Any<TimeSpan>())).Do(_ => _calls.Add($"p{index}.CommitTransaction"));
        producer.When(p => p.AbortTransaction(Arg.Any<TimeSpan>())).Do(_ => _calls.Add($"p{index}.AbortTransaction"));
        producer.When(p => p.BeginTransaction()).Do(_ => _calls.Add($"p{index}.BeginTransaction"));
        producer.When(p => p.InitTransactions(Arg.Any<TimeSpan>())).Do(_ => _calls.Add($"p{index}.InitTransactions"));
        producer.Flush(Arg.Any<TimeSpan>()).Returns(_ =>
        {
            _calls.Add($"p{index}.Flush");
            return 0;
        });
        _producers.Add(producer);
        return producer;
    }

    private void Enqueue(int partition, long offset, string eventId = "e") =>
        _records.Enqueue(Record(Mapping.Webhook().ToJsonString().Replace("01E4C4CT6YDC7Y5M7FE1GWWPQJ", eventId, StringComparison.Ordinal), partition, offset));

    [Fact]
    public void Exactly_once_commits_output_state_and_positions_in_one_transaction_every_n_records()
    {
        using var loop = Loop(ProcessingGuarantee.ExactlyOnce, commitEvery: 2);
        Enqueue(0, 5, "a");
        Enqueue(1, 5, "b");

        loop.RunOnce(TimeSpan.Zero);
        Assert.DoesNotContain("p0.CommitTransaction", _calls);
        loop.RunOnce(TimeSpan.Zero);

        var producer = _producers.Single();
        producer.Received(1).SendOffsetsToTransaction(
            Arg.Is<IEnumerable<TopicPartitionOffset>>(o => o.Count() == 2 && o.All(x => x.Offset.Value == 6)),
            Arg.Any<IConsumerGroupMetadata>(),
            Arg.Any<TimeSpan>());
        Assert.Equal(["p0.InitTransactions", "p0.BeginTransaction"], _calls.Take(2));
        Assert.Equal("p0.BeginTransaction", _calls[^1]);
        Assert.Equal("p0.CommitTransaction", _calls[^2]);
        Assert.Equal(2, loop.State.Count);
        Assert.Equal(0, loop.Uncommitted);
        _ = _consumer.Received(1).ConsumerGroupMetadata;
    }

    [Fact]
    public void A_partial_batch_is_committed_once_the_interval_has_passed()
    {
        using var loop = Loop(ProcessingGuarantee.ExactlyOnce, interval: TimeSpan.FromMilliseconds(20));
        Enqueue(0, 5, "a");
        loop.RunOnce(TimeSpan.Zero);
        Thread.Sleep(50);   // only ensures the interval has passed; nothing asserts how fast anything is
        loop.RunOnce(TimeSpan.Zero);
        Assert.Contains("p0.CommitTransaction", _calls);
        Assert.Equal(1, loop.State.Count);
    }

    [Fact]
    public void Nothing_is_committed_without_new_records()
    {
        using var loop = Loop(ProcessingGuarantee.ExactlyOnce);
        loop.Commit();
        _producers.Single().DidNotReceive().CommitTransaction(Arg.Any<TimeSpan>());
    }

    [Fact]
    public void Revoked_partitions_are_committed_then_forgotten()
    {
        using var loop = Loop(ProcessingGuarantee.ExactlyOnce);
        Enqueue(0, 5, "a");
        loop.RunOnce(TimeSpan.Zero);

        loop.OnRevoked([new TopicPartitionOffset(P0, Offset.Unset)]);

        Assert.Contains("p0.CommitTransaction", _calls);
        Assert.Equal(0, loop.State.Count);
        Assert.DoesNotContain(0, loop.State.Partitions);
    }

    [Fact]
    public void Lost_partitions_abort_and_the_rest_rewinds_to_committed_offsets()
    {
        using var loop = Loop(ProcessingGuarantee.ExactlyOnce);
        Enqueue(0, 5, "a");
        Enqueue(1, 5, "b");
        loop.RunOnce(TimeSpan.Zero);
        loop.RunOnce(TimeSpan.Zero);

        loop.OnLost([new TopicPartitionOffset(P0, Offset.Unset)]);

        Assert.Contains("p0.AbortTransaction", _calls);
        Assert.DoesNotContain("p0.CommitTransaction", _calls);
        Assert.Equal([(P1, new Offset(5))], _seeks);
        Assert.Equal(0, loop.State.Count);
        Assert.Equal(0, loop.Uncommitted);
    }

    [Fact]
    public void Requires_abort_aborts_rewinds_and_forgets_pending_state_so_the_records_are_processed_again()
    {
        using var loop = Loop(ProcessingGuarantee.ExactlyOnce, commitEvery: 1);
        var producer = _producers.Single();
        var failCommit = true;
        producer.When(p => p.CommitTransaction(Arg.Any<TimeSpan>())).Do(_ =>
        {
            if (failCommit)
            {
                throw new KafkaTxnRequiresAbortException(new Error(ErrorCode.InvalidTxnState, "abort"));
            }
        });
        Enqueue(0, 5, "a");

        loop.RunOnce(TimeSpan.Zero);

        Assert.Contains("p0.AbortTransaction", _calls);
        Assert.Contains((P0, new Offset(5)), _seeks);
        Assert.Equal(0, loop.State.Count);

        // Replayed after the rewind, the same event is processed again, not taken for a duplicate.
        failCommit = false;
        _calls.Clear();
        Enqueue(0, 5, "a");
        loop.RunOnce(TimeSpan.Zero);
        Assert.Contains("p0.Produce sink", _calls);
        Assert.Equal(1, loop.State.Count);
    }

    [Fact]
    public void A_fatal_error_leaves_the_loop_without_starting_a_second_producer()
    {
        // A new producer with the same transactional.id would fence its twin, which would fence it back;
        // the process stops instead and its restart restores state and offsets from one transaction.
        using var loop = Loop(ProcessingGuarantee.ExactlyOnce, commitEvery: 1);
        _producers.Single().When(p => p.CommitTransaction(Arg.Any<TimeSpan>())).Do(_ => throw new KafkaException(new Error(ErrorCode.Local_Fenced, "fenced", isFatal: true)));
        Enqueue(0, 5, "a");

        var e = Assert.Throws<KafkaException>(() => loop.RunOnce(TimeSpan.Zero));

        Assert.True(e.Error.IsFatal);
        Assert.Single(_producers);
        Assert.DoesNotContain("p0.AbortTransaction", _calls);
    }

    [Fact]
    public void At_least_once_flushes_output_then_writes_the_changelog_then_commits_offsets()
    {
        using var loop = Loop(ProcessingGuarantee.AtLeastOnce, commitEvery: 1);
        Enqueue(0, 5, "a");

        loop.RunOnce(TimeSpan.Zero);

        Assert.Equal(["p0.Produce sink", "p0.Flush", "p0.Produce changelog", "p0.Flush", "consumer.Commit"], _calls);
        _producers.Single().DidNotReceive().InitTransactions(Arg.Any<TimeSpan>());
        Assert.Equal(1, loop.State.Count);
    }

    [Fact]
    public void At_least_once_does_not_commit_offsets_when_a_delivery_failed()
    {
        using var loop = Loop(ProcessingGuarantee.AtLeastOnce, commitEvery: 1);
        _producers.Single().Flush(Arg.Any<TimeSpan>()).Returns(3);
        Enqueue(0, 5, "a");

        loop.RunOnce(TimeSpan.Zero);

        Assert.DoesNotContain("consumer.Commit", _calls);
        Assert.DoesNotContain(_calls, c => c.EndsWith("Produce changelog", StringComparison.Ordinal));
        Assert.Contains((P0, new Offset(5)), _seeks);
        Assert.Equal(0, loop.State.Count);
    }
}
