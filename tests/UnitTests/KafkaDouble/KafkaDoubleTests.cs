using System.Text;
using CioSegment.KafkaDouble;
using Confluent.Kafka;

namespace CioSegment.UnitTests.KafkaDouble;

/// <summary>
/// The behaviours of the Kafka double that the fault tests rely on, each as librdkafka / Kafka have it:
/// read_committed and the last stable offset (Kafka's transaction design, KIP-98), offsets committed with
/// the transaction (<c>SendOffsetsToTransaction</c>, KIP-98 / MockProducer), fencing by
/// <c>transactional.id</c>, and the error shapes of <c>rdkafka_txnmgr.c</c> (abortable state, resumable
/// commit, <c>__CONFLICT</c>, <c>__STATE</c>, fatal).
/// </summary>
public class KafkaDoubleTests
{
    private static readonly TopicPartition Out0 = new("out", 0);
    private static readonly TopicPartition In0 = new("in", 0);

    private static KafkaCluster Cluster()
    {
        var cluster = new KafkaCluster();
        cluster.CreateTopic("out", 1);
        cluster.CreateTopic("in", 1);
        return cluster;
    }

    private static ProducerDouble Transactional(KafkaCluster cluster, string id = "tx")
    {
        var producer = new ProducerDouble(cluster, id);
        producer.InitTransactions(TimeSpan.Zero);
        producer.BeginTransaction();
        return producer;
    }

    private static Message<byte[]?, byte[]?> Message(string value) => new() { Key = "k"u8.ToArray(), Value = Encoding.UTF8.GetBytes(value) };

    private static List<string> Values(KafkaCluster cluster, IsolationLevel isolation = IsolationLevel.ReadCommitted) =>
        cluster.ReadAll("out", isolation).Select(r => Encoding.UTF8.GetString(r.Entry.Message!.Value!)).ToList();

    [Fact]
    public void Read_committed_sees_committed_records_only_and_stops_at_the_first_open_transaction()
    {
        var cluster = Cluster();
        var aborted = Transactional(cluster, "a");
        aborted.Produce(Out0, Message("aborted"));
        aborted.AbortTransaction();
        var committed = Transactional(cluster, "b");
        committed.Produce(Out0, Message("committed"));
        committed.CommitTransaction();
        var open = Transactional(cluster, "c");
        open.Produce(Out0, Message("open"));
        var later = Transactional(cluster, "d");
        later.Produce(Out0, Message("after-open"));
        later.CommitTransaction();

        Assert.Equal(["committed"], Values(cluster));
        Assert.Equal(["aborted", "committed", "open", "after-open"], Values(cluster, IsolationLevel.ReadUncommitted));

        // Markers take offsets: aborted(0) marker(1) committed(2) marker(3) open(4) after-open(5) marker(6).
        Assert.Equal(4, cluster.LastStableOffset(Out0));
        Assert.Equal(7, cluster.EndOffset(Out0));
        open.CommitTransaction();
        Assert.Equal(["committed", "open", "after-open"], Values(cluster));
    }

    [Fact]
    public void Offsets_sent_to_a_transaction_are_committed_with_it_and_discarded_with_an_abort()
    {
        var cluster = Cluster();
        var consumer = new ConsumerDouble(cluster, "g");
        consumer.Subscribe("in");
        consumer.Consume(TimeSpan.Zero);
        var producer = Transactional(cluster);

        producer.SendOffsetsToTransaction([new TopicPartitionOffset(In0, 7)], consumer.ConsumerGroupMetadata, TimeSpan.Zero);
        Assert.Equal(Offset.Unset, cluster.Committed("g", In0));
        producer.AbortTransaction();
        Assert.Equal(Offset.Unset, cluster.Committed("g", In0));

        producer.BeginTransaction();
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(In0, 9)], consumer.ConsumerGroupMetadata, TimeSpan.Zero);
        producer.CommitTransaction();
        Assert.Equal(new Offset(9), cluster.Committed("g", In0));
    }

    [Fact]
    public void A_twin_with_the_same_transactional_id_aborts_the_open_transaction_and_fences_the_old_producer()
    {
        var cluster = Cluster();
        var old = Transactional(cluster);
        old.Produce(Out0, Message("zombie"));

        var twin = Transactional(cluster);

        Assert.Empty(Values(cluster));
        Assert.Equal(2, cluster.LastStableOffset(Out0));   // the zombie's record and its abort marker
        var e = Assert.Throws<KafkaException>(() => old.CommitTransaction());
        Assert.Equal(ErrorCode.Local_Fenced, e.Error.Code);
        Assert.True(e.Error.IsFatal);
        var produce = Assert.Throws<ProduceException<byte[]?, byte[]?>>(() => old.Produce(Out0, Message("more")));
        Assert.Equal(ErrorCode.Local_Fatal, produce.Error.Code);
        twin.Produce(Out0, Message("twin"));
        twin.CommitTransaction();
        Assert.Equal(["twin"], Values(cluster));
    }

    [Fact]
    public void An_abortable_error_refuses_produce_with_state_and_commit_with_requires_abort_until_aborted()
    {
        var cluster = Cluster();
        var producer = Transactional(cluster);
        producer.Produce(Out0, Message("before"));
        cluster.Faults.Add(FaultPoint.Produce, FaultKind.Abortable);

        var first = Assert.Throws<ProduceException<byte[]?, byte[]?>>(() => producer.Produce(Out0, Message("x")));
        var second = Assert.Throws<ProduceException<byte[]?, byte[]?>>(() => producer.Produce(Out0, Message("y")));
        Assert.All([first, second], e => Assert.Equal(ErrorCode.Local_State, e.Error.Code));
        Assert.Throws<KafkaTxnRequiresAbortException>(() => producer.CommitTransaction());
        Assert.Throws<KafkaTxnRequiresAbortException>(() => producer.SendOffsetsToTransaction([], new GroupMetadataDouble("g", "m", 1), TimeSpan.Zero));

        producer.AbortTransaction();
        producer.BeginTransaction();
        producer.Produce(Out0, Message("after"));
        producer.CommitTransaction();
        Assert.Equal(["after"], Values(cluster));
    }

    [Fact]
    public void A_commit_that_timed_out_is_resumed_by_calling_it_again_and_an_abort_meanwhile_is_a_conflict()
    {
        var cluster = Cluster();
        var producer = Transactional(cluster);
        producer.Produce(Out0, Message("a"));
        cluster.Faults.Add(FaultPoint.CommitTransaction, FaultKind.Retriable);

        Assert.Throws<KafkaRetriableException>(() => producer.CommitTransaction());
        var conflict = Assert.Throws<KafkaRetriableException>(() => producer.AbortTransaction());
        Assert.Equal(ErrorCode.Local_Conflict, conflict.Error.Code);
        Assert.Throws<KafkaRetriableException>(() => producer.BeginTransaction());
        Assert.Empty(Values(cluster));

        producer.CommitTransaction();
        Assert.Equal(["a"], Values(cluster));
        producer.BeginTransaction();
    }

    [Fact]
    public void A_commit_can_complete_at_the_coordinator_although_the_client_saw_a_timeout_or_a_fatal_error()
    {
        var cluster = Cluster();
        var consumer = new ConsumerDouble(cluster, "g");
        consumer.Subscribe("in");
        consumer.Consume(TimeSpan.Zero);
        var producer = Transactional(cluster);
        producer.Produce(Out0, Message("timed-out"));
        cluster.Faults.Add(FaultPoint.CommitTransaction, FaultKind.RetriableCompleted);
        Assert.Throws<KafkaRetriableException>(() => producer.CommitTransaction());
        Assert.Equal(["timed-out"], Values(cluster));
        producer.CommitTransaction();

        producer.BeginTransaction();
        producer.Produce(Out0, Message("unknown"));
        producer.SendOffsetsToTransaction([new TopicPartitionOffset(In0, 3)], consumer.ConsumerGroupMetadata, TimeSpan.Zero);
        cluster.Faults.Add(FaultPoint.CommitTransaction, FaultKind.UnknownOutcome);
        var e = Assert.Throws<KafkaException>(() => producer.CommitTransaction());
        Assert.True(e.Error.IsFatal);
        Assert.Equal(["timed-out", "unknown"], Values(cluster));
        Assert.Equal(new Offset(3), cluster.Committed("g", In0));
        Assert.Throws<KafkaException>(() => producer.BeginTransaction());
    }

    [Fact]
    public void Cooperative_rebalance_revokes_before_it_assigns_and_an_expelled_member_loses_its_partitions_and_its_offsets()
    {
        var cluster = new KafkaCluster();
        cluster.CreateTopic("in", 2);
        var events = new List<string>();
        ConsumerDouble Member(string name)
        {
            var c = new ConsumerDouble(cluster, "g");
            c.PartitionsAssigned = ps => events.Add($"{name} assigned {string.Join(",", ps.Select(p => p.Partition.Value))}");
            c.PartitionsRevoked = ps => events.Add($"{name} revoked {string.Join(",", ps.Select(p => p.Partition.Value))}");
            c.PartitionsLost = ps => events.Add($"{name} lost {string.Join(",", ps.Select(p => p.Partition.Value))}");
            c.Subscribe("in");
            return c;
        }

        var a = Member("a");
        a.Consume(TimeSpan.Zero);
        var b = Member("b");
        b.Consume(TimeSpan.Zero);   // partition 1 is still a's: nothing yet
        a.Consume(TimeSpan.Zero);
        b.Consume(TimeSpan.Zero);
        Assert.Equal(["a assigned 0,1", "a revoked 1", "b assigned 1"], events);

        var stale = a.ConsumerGroupMetadata;
        a.Expel();
        b.Consume(TimeSpan.Zero);
        Assert.Equal("b assigned 0", events[^1]);
        var producer = Transactional(cluster);
        Assert.Throws<KafkaTxnRequiresAbortException>(() => producer.SendOffsetsToTransaction([new TopicPartitionOffset(In0, 1)], stale, TimeSpan.Zero));
        a.Consume(TimeSpan.Zero);
        Assert.Contains("a lost 0", events);
    }
}
