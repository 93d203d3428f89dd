using CioSegment.KafkaDouble;
using Confluent.Kafka;
using static CioSegment.KafkaDouble.TransformerProcess;

namespace CioSegment.UnitTests.Reproducer;

/// <summary>
/// The transformer's exactly-once loop against librdkafka's transactional error classes, on the Kafka
/// double. Each test failed on the loop as it was before these faults were handled: a retriable commit was
/// aborted (librdkafka refuses that with __CONFLICT, and the exception stopped the service); an abortable
/// error raised by Produce between commits stopped the service; a fatal error after a commit whose outcome
/// was unknown kept running with the pending dedup keys thrown away, so a retry was mapped again; a fenced
/// producer was replaced by a new one with the same transactional.id, which fenced its twin in turn.
/// </summary>
public class TransformerTransactionFaultTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_commit_that_times_out_is_resumed_not_aborted(bool completedAtTheCoordinator)
    {
        var cluster = Cluster();
        Ingest(cluster, Webhook("a"), Webhook("b"), Webhook("c"));
        var fault = completedAtTheCoordinator ? FaultKind.RetriableCompleted : FaultKind.Retriable;
        cluster.Faults.Add(FaultPoint.CommitTransaction, fault).Add(FaultPoint.CommitTransaction, FaultKind.Retriable);
        using var process = new TransformerProcess(cluster, DefaultOptions());

        process.RunUntilIdle();

        Assert.Equal(["cio-a", "cio-b", "cio-c"], CommittedMessageIds(cluster));
        Assert.Equal(0, cluster.Faults.Injected(FaultPoint.AbortTransaction, FaultKind.None));
        AssertCaughtUp(cluster, process);
    }

    [Fact]
    public void An_abortable_error_raised_by_produce_between_commits_aborts_and_rewinds()
    {
        var cluster = Cluster();
        Ingest(cluster, Webhook("a"), Webhook("b"), Webhook("c"), Webhook("d"));
        cluster.Faults.Add(FaultPoint.Produce, FaultKind.None).Add(FaultPoint.Produce, FaultKind.Abortable);
        using var process = new TransformerProcess(cluster, DefaultOptions(commitEvery: 10));

        process.RunUntilIdle();

        Assert.Equal(["cio-a", "cio-b", "cio-c", "cio-d"], CommittedMessageIds(cluster));
        Assert.Equal(1, cluster.Faults.Injected(FaultPoint.Produce, FaultKind.Abortable));
        AssertCaughtUp(cluster, process);
    }

    [Fact]
    public void After_a_commit_whose_outcome_is_unknown_a_retry_is_still_recognised()
    {
        // Customer.io retries "a" (it saw no answer in time): same event_id, right behind the first batch.
        var cluster = Cluster();
        Ingest(cluster, Webhook("a"), Webhook("b"), Webhook("c"), Webhook("a"));
        cluster.Faults.Add(FaultPoint.CommitTransaction, FaultKind.UnknownOutcome);

        var restarts = RunWithRestarts(cluster);

        Assert.Equal(["cio-a", "cio-b", "cio-c"], CommittedMessageIds(cluster));
        Assert.Equal(1, restarts);
    }

    [Fact]
    public void A_fenced_producer_stops_its_process_instead_of_fencing_its_twin_back()
    {
        // A second process with the same transactional.id (a copy of a pod that should be gone) starts while
        // the first has a transaction open: its InitTransactions aborts that transaction and fences the first.
        var cluster = Cluster();
        Ingest(cluster, Enumerable.Range(0, 8).Select(i => Webhook("e" + i, "person-" + i)).ToArray());
        var options = DefaultOptions(commitEvery: 100);
        using var first = new TransformerProcess(cluster, options);
        for (var i = 0; i < 4; i++)
        {
            first.Loop.RunOnce(TimeSpan.Zero);
        }

        using var twin = new TransformerProcess(cluster, options);

        // The commit's first call to the producer meets the fatal error (librdkafka: __FATAL on produce, or the
        // fencing error itself on the transaction calls), and it leaves the loop.
        var stopped = Assert.ThrowsAny<KafkaException>(first.Loop.Commit);
        Assert.True(stopped.Error.IsFatal);
        Assert.Contains("fenced", stopped.Error.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, first.ProducersCreated);

        // The twin carries on alone, unfenced, and delivers everything exactly once.
        first.Consumer.Dispose();
        twin.RunUntilIdle();
        Assert.Equal(1, twin.ProducersCreated);
        Assert.Equal(8, CommittedMessageIds(cluster).Distinct().Count());
        Assert.Equal(8, CommittedMessageIds(cluster).Count);
    }

    [Fact]
    public void Reading_the_committed_offsets_after_an_abort_is_retried_when_the_coordinator_times_out()
    {
        var cluster = Cluster();
        Ingest(cluster, Webhook("a"), Webhook("b"), Webhook("c"));
        cluster.Faults.Add(FaultPoint.Produce, FaultKind.None).Add(FaultPoint.Produce, FaultKind.Abortable);
        cluster.Faults.Add(FaultPoint.Committed, FaultKind.Retriable).Add(FaultPoint.Committed, FaultKind.Retriable);
        using var process = new TransformerProcess(cluster, DefaultOptions());

        process.RunUntilIdle();

        Assert.Equal(["cio-a", "cio-b", "cio-c"], CommittedMessageIds(cluster));
        Assert.Equal(2, cluster.Faults.Injected(FaultPoint.Committed, FaultKind.Retriable));
    }

    [Fact]
    public void A_partition_whose_changelog_cannot_be_read_to_its_end_stays_paused_instead_of_running_on_part_of_its_state()
    {
        var cluster = Cluster(partitions: 1);
        var p0 = new TopicPartition(Raw, 0);
        var first = new TransformerProcess(cluster, DefaultOptions(commitEvery: 1), "pod-0");
        Ingest(cluster, Webhook("a"));
        first.RunUntilIdle();

        // A crashed producer's transaction stays open in the changelog (until its transaction times out):
        // read_committed readers cannot read past it, also not the keys committed after it.
        LeaveOpenChangelogTransaction(cluster, "pod-crashed");
        Ingest(cluster, Webhook("b"));
        first.RunUntilIdle();
        first.Consumer.Dispose();   // the pod dies; another takes the partition

        Ingest(cluster, Webhook("b"));   // Customer.io's retry of "b"
        using var second = new TransformerProcess(cluster, DefaultOptions(commitEvery: 1), "pod-1");
        for (var i = 0; i < 20; i++)
        {
            second.Loop.RunOnce(TimeSpan.Zero);
        }

        Assert.Contains(p0, second.Loop.RestoringPartitions);
        Assert.Contains(p0, second.Consumer.Paused);
        Assert.Equal(["cio-a", "cio-b"], CommittedMessageIds(cluster));   // the retry of "b" is not mapped again

        // The coordinator aborts the crashed producer's transaction (its timeout, or a restart of that pod).
        cluster.Fence("pod-crashed");
        second.RunUntilIdle();

        Assert.Empty(second.Loop.RestoringPartitions);
        Assert.DoesNotContain(p0, second.Consumer.Paused);
        Assert.Equal(["cio-a", "cio-b"], CommittedMessageIds(cluster));
    }

    [Fact]
    public void Work_in_progress_is_committed_before_newly_assigned_partitions_are_restored()
    {
        var cluster = Cluster();
        var options = DefaultOptions(commitEvery: 100);
        using var first = new TransformerProcess(cluster, options, "pod-0");
        first.Loop.RunOnce(TimeSpan.Zero);
        var other = new TransformerProcess(cluster, options, "pod-1");
        first.Loop.RunOnce(TimeSpan.Zero);   // revokes one partition to the new member
        other.Loop.RunOnce(TimeSpan.Zero);
        var kept = Assert.Single(first.Consumer.Assignment);
        var persons = Enumerable.Range(0, 50).Select(i => "person-" + i).Where(p => cluster.PartitionFor(Raw, System.Text.Encoding.UTF8.GetBytes(p)) == kept.Partition.Value).Take(2).ToList();
        Ingest(cluster, Webhook("a", persons[0]), Webhook("b", persons[1]));
        first.Loop.RunOnce(TimeSpan.Zero);
        first.Loop.RunOnce(TimeSpan.Zero);
        Assert.Equal(2, first.Loop.Uncommitted);

        other.Consumer.Close();   // its partition comes back to the first member
        first.Loop.RunOnce(TimeSpan.Zero);

        Assert.Equal(2, first.Consumer.Assignment.Count);
        Assert.Equal(["cio-a", "cio-b"], CommittedMessageIds(cluster));
        other.Dispose();
    }

    [Fact]
    public void Keys_found_expired_on_restore_are_tombstoned_so_compaction_can_drop_them()
    {
        // Bug: the restore skipped expired keys without a tombstone, so the compacted changelog kept every key
        // it ever held, and each restore read them all again.
        var cluster = Cluster(partitions: 1);
        var changelog = new TopicPartition(Changelog, 0);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var expired = Key(1);
        var live = Key(2);
        var renewed = Key(3);
        using (var writer = new ProducerDouble(cluster, faults: false))
        {
            writer.Produce(changelog, Entry(expired, now - 1000));
            writer.Produce(changelog, Entry(live, now + 3_600_000));
            writer.Produce(changelog, Entry(renewed, now - 1000));
            writer.Produce(changelog, Entry(renewed, now + 3_600_000));
        }

        using var process = new TransformerProcess(cluster, DefaultOptions());
        process.RunUntilIdle();

        var latest = cluster.CommittedEntries(changelog).GroupBy(e => Convert.ToHexString(e.Message!.Key!)).ToDictionary(g => g.Key, g => g.Last().Message!.Value);
        Assert.Null(latest[Convert.ToHexString(expired)]);
        Assert.NotNull(latest[Convert.ToHexString(live)]);
        Assert.NotNull(latest[Convert.ToHexString(renewed)]);
        Assert.Equal(2, process.Loop.State.Count);
    }

    [Fact]
    public void A_tombstone_for_an_evicted_key_is_written_again_after_an_aborted_transaction()
    {
        // Bug: keys evicted from memory had their tombstone produced in the transaction of the moment; when it
        // aborted, the key was gone from memory and its tombstone was never written again.
        var cluster = Cluster(partitions: 1);
        var time = new ManualTime(DateTimeOffset.UtcNow);
        using var process = new TransformerProcess(cluster, DefaultOptions(commitEvery: 1), time: time);
        Ingest(cluster, Webhook("a"));
        process.RunUntilIdle();
        var changelog = new TopicPartition(Changelog, 0);
        var key = Assert.Single(cluster.CommittedEntries(changelog)).Message!.Key!;

        time.Now = time.Now.AddDays(8);   // past the 7-day retry horizon
        cluster.Faults.Add(FaultPoint.CommitTransaction, FaultKind.Abortable);
        process.Loop.Commit();
        Assert.Single(cluster.CommittedEntries(changelog));   // the first tombstone was aborted
        process.Loop.Commit();

        var last = cluster.CommittedEntries(changelog).Last();
        Assert.Equal(key, last.Message!.Key);
        Assert.Null(last.Message.Value);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Dedup_memory_is_bounded_per_partition_oldest_keys_first(bool sameSecond)
    {
        // Bug: the dedup state grew without bound (and its table's size arithmetic overflowed int near 4e8 keys).
        var store = new Processor.Transform.DedupStore(maxKeysPerPartition: 1000);
        for (var i = 0; i < 1500; i++)
        {
            store.Add(3, Processor.Transform.DedupKey.ForEvent("acme", System.Text.Encoding.UTF8.GetBytes("e" + i)), expiresAtMs: 1_000_000 + (sameSecond ? 0 : i * 1000L));
            store.CommitPending();
        }

        Assert.InRange(store.Count, 980, 1000);
        var evicted = store.TakeEvictedEarly();
        Assert.Equal(1500 - store.Count, evicted.Count);
        Assert.All(evicted, e => Assert.Equal(3, e.Partition));
        if (!sameSecond)
        {
            // The oldest went: the first keys added (earliest expiries), never the latest.
            Assert.Contains(evicted, e => e.Key == Processor.Transform.DedupKey.ForEvent("acme", "e0"u8));
            Assert.True(store.Contains(3, Processor.Transform.DedupKey.ForEvent("acme", "e1499"u8), nowMs: 0));
        }
    }

    [Fact]
    public void Keys_evicted_at_the_bound_are_tombstoned_in_the_changelog()
    {
        var cluster = Cluster(partitions: 1);
        var options = DefaultOptions(commitEvery: 50);
        options.MaxKeysPerPartition = 1000;
        using var process = new TransformerProcess(cluster, options);
        Ingest(cluster, Enumerable.Range(0, 1100).Select(i => Webhook("k" + i)).ToArray());

        process.RunUntilIdle(steps: 5000);

        Assert.Equal(1100, CommittedMessageIds(cluster).Count);
        Assert.InRange(process.Loop.State.Count, 900, 1000);
        var latest = cluster.CommittedEntries(new TopicPartition(Changelog, 0)).GroupBy(e => Convert.ToHexString(e.Message!.Key!)).Select(g => g.Last()).ToList();
        Assert.Equal(1100, latest.Count);
        Assert.Equal(process.Loop.State.Count, latest.Count(e => e.Message!.Value is not null));
    }

    private static byte[] Key(byte n)
    {
        var key = new byte[16];   // a DedupKey: a 128-bit hash
        key[0] = 0x45;
        key[15] = n;
        return key;
    }

    private static Message<byte[]?, byte[]?> Entry(byte[] key, long expiresAtMs)
    {
        var value = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(value, expiresAtMs);
        return new Message<byte[]?, byte[]?> { Key = key, Value = value };
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>Runs a transformer process until it is idle; one that stops on a fatal error is replaced (a pod restart). Returns the restarts.</summary>
    private static int RunWithRestarts(KafkaCluster cluster, int maxRestarts = 5)
    {
        for (var restarts = 0; restarts <= maxRestarts; restarts++)
        {
            var process = new TransformerProcess(cluster, DefaultOptions());
            try
            {
                process.RunUntilIdle();
                process.Consumer.Close();
                process.Dispose();
                return restarts;
            }
            catch (KafkaException e) when (e.Error.IsFatal)
            {
                process.Consumer.Dispose();
                process.Dispose();
            }
        }

        throw new InvalidOperationException($"Still failing after {maxRestarts} restarts.");
    }

    private static void AssertCaughtUp(KafkaCluster cluster, TransformerProcess process)
    {
        foreach (var tp in cluster.PartitionsOf(Raw))
        {
            var committed = cluster.Committed(process.Options.GroupId, tp);
            Assert.True(cluster.ReadNext(tp, Math.Max(0, committed.Value), IsolationLevel.ReadCommitted, out _) is null, $"{tp}: records after the committed offset {committed}");
        }

        Assert.False(cluster.HasOpenTransaction("cio-transformer-test") && process.Loop.Uncommitted > 0);
    }
}
