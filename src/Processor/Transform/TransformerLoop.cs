using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace CioSegment.Processor.Transform;

/// <summary>
/// The transformer's consume–transform–produce loop and its commit protocol, on one thread.
/// <para>
/// ExactlyOnce: one transactional producer per consumer; sink records, dead letters, changelog records
/// and the input offsets (<c>Position</c>, with fresh <c>ConsumerGroupMetadata</c>) commit in one
/// transaction every <see cref="TransformerOptions.CommitEveryRecords"/> records or
/// <see cref="TransformerOptions.CommitInterval"/>. Revoked → commit; lost → abort. librdkafka's error
/// classes decide the rest (<c>rdkafka_txnmgr.c</c>):
/// <list type="bullet">
/// <item>retriable (<see cref="KafkaRetriableException"/>, e.g. a commit that timed out): the same call is
/// made again until it succeeds, needs an abort or turns fatal. A timed-out commit is resumable and any
/// other call (an abort) would be refused with <c>Local_Conflict</c>; it may also have completed already.</item>
/// <item>abortable (<see cref="KafkaTxnRequiresAbortException"/>, or a produce refused with
/// <c>Local_State</c> between commits): abort, then rewind to the committed offsets.</item>
/// <item>fatal (<c>Error.IsFatal</c>: fenced by a twin with the same transactional.id, or a commit whose
/// outcome is unknown): the exception leaves the loop and the process stops, to be restarted. A new
/// producer in the same process would fence its twin in turn, and state kept across an unknown outcome
/// could disagree with what was committed; a restart restores state and offsets from one transaction.</item>
/// </list>
/// </para>
/// <para>
/// AtLeastOnce (for brokers without faithful transactions, such as the embedded development broker):
/// flush the output and wait for every ack, then write the changelog and wait again, then commit the
/// offsets. A crash in between repeats output (same messageIds, dropped by Segment) but loses nothing.
/// </para>
/// In both modes the dedup state and its changelog (<see cref="ChangeLoggedDedupStore"/>) follow the commit:
/// its changes are written with it, and its pending keys become state only once the commit succeeded.
/// </summary>
public sealed class TransformerLoop : IDisposable
{
    private readonly IConsumer<byte[]?, byte[]> _consumer;
    private readonly Func<IProducer<byte[]?, byte[]?>> _createProducer;
    private readonly WebhookTransformer _transformer;
    private readonly TransformerOptions _options;
    private readonly ILogger _logger;
    private readonly ChangeLoggedDedupStore _store;
    private readonly List<OutboundRecord> _outputs = [];

    // ExactlyOnce: records produced in the open transaction, by topic, counted as sent when it commits
    // (the transactional producer has no delivery reports).
    private readonly Dictionary<string, long> _inTransaction = [];
    private readonly TimeProvider _time;
    private readonly Stopwatch _sinceCommit = Stopwatch.StartNew();
    private readonly Counter<long> _commits;
    private readonly Counter<long> _aborts;
    private readonly bool _exactlyOnce;
    private readonly Action<TimeSpan> _sleep;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly Action<DeliveryReport<byte[]?, byte[]?>> _onDelivered;
    private readonly TransformerHealth _health;
    private CancellationToken _stop;
    private int _uncommitted;
    private Error? _deliveryError;

    public TransformerLoop(
        IConsumer<byte[]?, byte[]> consumer,
        Func<IProducer<byte[]?, byte[]?>> createProducer,
        Func<IConsumer<byte[]?, byte[]?>> createChangelogReader,
        WebhookTransformer transformer,
        TransformerOptions options,
        Meter meter,
        ILogger logger,
        Action<TimeSpan>? sleep = null,
        TimeProvider? time = null,
        TransformerHealth? health = null)
    {
        _sleep = sleep ?? Thread.Sleep;
        _time = time ?? TimeProvider.System;
        _store = new ChangeLoggedDedupStore(consumer, createChangelogReader, options, meter, logger, _time);
        _health = health ?? new TransformerHealth(_time);
        _consumer = consumer;
        _createProducer = createProducer;
        _transformer = transformer;
        _options = options;
        _logger = logger;
        _exactlyOnce = options.ProcessingGuarantee == ProcessingGuarantee.ExactlyOnce;
        _commits = meter.CreateCounter<long>("cio.transformer.commits", "{commit}", "Transactions (or offset commits) that succeeded.");
        _aborts = meter.CreateCounter<long>("cio.transformer.aborts", "{abort}", "Transactions aborted and rewound.");
        _aborts.Add(0);   // present from the start, so that the first abort counts in increase()
        _onDelivered = OnDelivered;
        _producer = StartProducer();
    }

    public DedupStore State => _store.State;

    /// <summary>Records processed since the last commit.</summary>
    public int Uncommitted => _uncommitted;

    /// <summary>Consumes at most one record, transforms it, and commits when the batch or the interval is full.</summary>
    public void RunOnce(TimeSpan pollTimeout)
    {
        // What the restores' readers fetched meanwhile, without waiting: the poll below is the loop's wait.
        _store.ContinueRestoring();
        _health.Beat(_store.Restoring.Count);
        var record = _consumer.Consume(pollTimeout);
        if (record is { IsPartitionEOF: false, Message: not null } && _store.IsRestoring(record.TopicPartition))
        {
            // Fetched before the pause took effect: not processed until the partition's state is whole.
            _consumer.Seek(record.TopicPartitionOffset);
            _store.PauseRestoring();
            record = null;
        }

        if (record is { IsPartitionEOF: false, Message: not null })
        {
            _outputs.Clear();
            var started = Stopwatch.GetTimestamp();
            MessagingTelemetry.Consumed(record.Topic, _options.GroupId);
            using (var activity = MessagingTelemetry.StartProcess(ProcessorTelemetry.ActivitySource, record, _options.GroupId))
            {
                var outcome = _transformer.Process(record, _store.State, _outputs);
                activity?.SetTag("cio.outcome", WebhookTransformer.OutcomeName(outcome));
            }

            MessagingTelemetry.Processed(record.Topic, _options.GroupId, Stopwatch.GetElapsedTime(started));
            try
            {
                foreach (var output in _outputs)
                {
                    Produce(output);
                }
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (_exactlyOnce && e.Error.Code == ErrorCode.Local_State && !e.Error.IsFatal)
            {
                // The transaction hit an abortable error in the background; librdkafka refuses every produce
                // (__STATE) until it is aborted.
                _logger.LogWarning(e, "The transaction needs an abort ({Reason}); rewinding to the committed offsets.", e.Error.Reason);
                AbortAndRewind(null);
                return;
            }

            _uncommitted++;
        }

        if (_uncommitted >= _options.CommitEveryRecords || (_uncommitted > 0 && _sinceCommit.Elapsed >= _options.CommitInterval))
        {
            Commit();
        }
    }

    public void Run(CancellationToken stop)
    {
        _stop = stop;
        while (!stop.IsCancellationRequested)
        {
            RunOnce(TimeSpan.FromMilliseconds(100));
        }

        // Deliver and commit what was processed, then leave the group (revokes without a rebalance wait).
        Commit();
        _consumer.Close();
    }

    /// <summary>Partitions whose dedup state is still being restored: they are paused until it is whole.</summary>
    public IReadOnlyCollection<TopicPartition> RestoringPartitions => _store.Restoring;

    /// <summary>
    /// Partitions were assigned: their dedup state is restored from the changelog, all of them at once,
    /// before any of their records is processed. What does not finish within <see cref="TransformerOptions.KafkaTimeout"/>
    /// continues a slice at a time between polls, the partition paused meanwhile (a changelog that cannot be
    /// read to its end, such as one held behind another producer's open transaction, keeps it paused).
    /// </summary>
    public void OnAssigned(IReadOnlyCollection<TopicPartition> partitions)
    {
        // The work in progress first: a restore can take a while, and the open transaction's timeout
        // (transaction.timeout.ms) keeps running meanwhile.
        Commit();
        _health.OnAssigned();
        _store.Restore(partitions, _options.KafkaTimeout < DedupRestore.InitialBudget ? _options.KafkaTimeout : DedupRestore.InitialBudget);
        _health.Beat(_store.Restoring.Count);
    }

    /// <summary>Partitions are being revoked (we still own them): commit, then forget their state.</summary>
    public void OnRevoked(IReadOnlyCollection<TopicPartitionOffset> partitions)
    {
        Commit();
        Forget(partitions);
    }

    /// <summary>Partitions were lost (someone else may own them already): nothing may be committed for them.</summary>
    public void OnLost(IReadOnlyCollection<TopicPartitionOffset> partitions)
    {
        _logger.LogWarning("Lost {Count} partition(s); aborting the open work and rewinding.", partitions.Count);
        Forget(partitions);
        AbortAndRewind(partitions.Select(p => p.TopicPartition).ToHashSet());
    }

    private void Forget(IReadOnlyCollection<TopicPartitionOffset> partitions)
    {
        foreach (var tp in partitions)
        {
            _store.Forget(tp.TopicPartition);
        }
    }

    /// <summary>Makes everything processed so far durable, or rewinds so that it is processed again.</summary>
    public void Commit()
    {
        var changes = _store.Changes(_time.GetUtcNow().ToUnixTimeMilliseconds());
        if (_uncommitted == 0 && changes.Count == 0)
        {
            _sinceCommit.Restart();
            return;
        }

        var started = Stopwatch.GetTimestamp();
        string? failure = "fatal";   // unless it commits or aborts: the exception leaves the loop
        try
        {
            if (_exactlyOnce)
            {
                // The changelog goes in the same transaction as the output and the offsets.
                ProduceAll(changes);
                var positions = Positions();
                Retrying("SendOffsetsToTransaction", () => _producer.SendOffsetsToTransaction(positions, _consumer.ConsumerGroupMetadata, _options.KafkaTimeout));

                // A commit that timed out is resumed by calling it again (it may have completed meanwhile).
                Retrying("CommitTransaction", () => _producer.CommitTransaction(_options.KafkaTimeout));
            }
            else
            {
                // The changelog only once the output is stored, the offsets only once both are.
                FlushOrThrow();
                ProduceAll(changes);
                FlushOrThrow();
                var offsets = Positions();
                if (offsets.Count > 0)
                {
                    _consumer.Commit(offsets);
                }
            }

            _store.Committed();
            foreach (var (topic, count) in _inTransaction)
            {
                MessagingTelemetry.Sent(topic, count);
            }

            _inTransaction.Clear();
            if (_exactlyOnce)
            {
                _producer.BeginTransaction();
            }

            _uncommitted = 0;
            _commits.Add(1);
            failure = null;
        }
        catch (KafkaTxnRequiresAbortException e)
        {
            _logger.LogWarning(e, "Transaction needs an abort ({Code}); rewinding to the committed offsets.", e.Error.Code);
            failure = "aborted";
            AbortAndRewind(null);
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (_exactlyOnce && e.Error.Code == ErrorCode.Local_State && !e.Error.IsFatal)
        {
            _logger.LogWarning(e, "The transaction needs an abort ({Reason}); rewinding to the committed offsets.", e.Error.Reason);
            failure = "aborted";
            AbortAndRewind(null);
        }
        catch (KafkaException e) when (!e.Error.IsFatal && !_exactlyOnce)
        {
            // At-least-once: a delivery failure or timeout; nothing is committed, so the same records are
            // processed again. (Fatal errors, and any error in a transaction that is neither retriable nor
            // abortable, leave the loop: see the class comment.)
            _logger.LogWarning(e, "Commit failed ({Code}); rewinding to the committed offsets.", e.Error.Code);
            failure = "aborted";
            AbortAndRewind(null);
        }
        finally
        {
            MessagingTelemetry.Operation("commit", null, Stopwatch.GetElapsedTime(started), failure);

            // Measured from the end of this commit, so a slow commit never turns into a commit per record.
            _sinceCommit.Restart();
        }
    }

    public void Dispose()
    {
        _store.Dispose();
        _producer.Dispose();
    }

    private void ProduceAll(List<OutboundRecord> records)
    {
        foreach (var record in records)
        {
            Produce(record);
        }
    }

    /// <summary>
    /// Makes <paramref name="call"/> until it does not fail with a retriable error (librdkafka's "retry the
    /// call"): with backoff, and giving up only when the loop is stopping (the work is then redone by the
    /// partitions' next owner).
    /// </summary>
    private void Retrying(string operation, Action call) =>
        Retrying(operation, () => { call(); return true; }, e => e is KafkaRetriableException);

    /// <summary>Returns what <paramref name="call"/> returns once it does not fail with an error <paramref name="retriable"/> accepts.</summary>
    private T Retrying<T>(string operation, Func<T> call, Func<KafkaException, bool> retriable)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return call();
            }
            catch (KafkaException e) when (retriable(e) && !_stop.IsCancellationRequested)
            {
                _health.Beat(_store.Restoring.Count);   // retrying is progress: the liveness check must not restart a loop waiting out a broker
                _logger.LogWarning(e, "{Operation} failed with a retriable error ({Code}), attempt {Attempt}; trying again in {Delay} ms.", operation, e.Error.Code, attempt, (int)delay.TotalMilliseconds);
                _sleep(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private IProducer<byte[]?, byte[]?> StartProducer()
    {
        var producer = _createProducer();
        if (_exactlyOnce)
        {
            producer.InitTransactions(_options.KafkaTimeout);
            producer.BeginTransaction();
        }

        return producer;
    }

    private void Produce(OutboundRecord record)
    {
        var message = new Message<byte[]?, byte[]?> { Key = record.Key, Value = record.Value, Headers = record.Headers };
        while (true)
        {
            try
            {
                // In a transaction a failed record fails the commit: no delivery report is needed (nor requested).
                var report = _exactlyOnce ? null : _onDelivered;
                if (record.Partition is { } partition)
                {
                    _producer.Produce(new TopicPartition(record.Topic, partition), message, report);
                }
                else
                {
                    _producer.Produce(record.Topic, message, report);
                }

                if (_exactlyOnce)
                {
                    CollectionsMarshal.GetValueRefOrAddDefault(_inTransaction, record.Topic, out _)++;
                }

                return;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Back-pressure: let librdkafka drain its queue, then try again.
                _producer.Poll(TimeSpan.FromMilliseconds(50));
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.MsgSizeTooLarge && record.Topic == _options.DeadLetterTopic && message.Value is not null)
            {
                // A dead letter too large for this producer: park it without its body, pointing at the raw
                // record (topic, partition and offset headers), rather than stopping the pipeline.
                _logger.LogError("A dead letter of {Bytes} bytes is too large for Kafka; parking it without its body.", message.Value.Length);
                message = new Message<byte[]?, byte[]?> { Key = message.Key, Value = null, Headers = message.Headers };
                message.Headers.Add(Contracts.HeaderNames.DeadLetterBodyOmitted, System.Text.Encoding.UTF8.GetBytes(e.Error.Reason));
            }
        }
    }

    private void OnDelivered(DeliveryReport<byte[]?, byte[]?> report)
    {
        if (report.Error.IsError)
        {
            _deliveryError = report.Error;
        }
        else
        {
            MessagingTelemetry.Sent(report.Topic);
        }
    }

    private void FlushOrThrow()
    {
        var remaining = _producer.Flush(_options.KafkaTimeout);
        var error = Interlocked.Exchange(ref _deliveryError, null);
        if (remaining > 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_TimedOut, $"{remaining} record(s) not acknowledged within {_options.KafkaTimeout}."));
        }

        if (error is not null)
        {
            throw new KafkaException(error);
        }
    }

    private List<TopicPartitionOffset> Positions()
    {
        var offsets = new List<TopicPartitionOffset>();
        foreach (var tp in _consumer.Assignment)
        {
            var position = _consumer.Position(tp);
            if (position.Value >= 0)
            {
                offsets.Add(new TopicPartitionOffset(tp, position));
            }
        }

        return offsets;
    }

    private void AbortAndRewind(HashSet<TopicPartition>? except)
    {
        if (_exactlyOnce)
        {
            // A timed-out abort is resumed by calling it again; a fatal error leaves the loop.
            Retrying("AbortTransaction", () => _producer.AbortTransaction(_options.KafkaTimeout));
            _producer.BeginTransaction();
        }
        else
        {
            // Records already sent stay sent (at-least-once); what follows is processed again.
            _producer.Flush(_options.KafkaTimeout);
            Interlocked.Exchange(ref _deliveryError, null);
        }

        _aborts.Add(1);
        DiscardAndRewind(except);
    }

    private void DiscardAndRewind(HashSet<TopicPartition>? except)
    {
        _store.Aborted();
        _inTransaction.Clear();
        _uncommitted = 0;
        var assignment = _consumer.Assignment.Where(tp => except is null || !except.Contains(tp)).ToList();
        if (assignment.Count == 0)
        {
            return;
        }

        // Asked again while the coordinator does not answer: any error short of a fatal one says nothing about the offsets.
        var offsets = Retrying("Reading the committed offsets", () => _consumer.Committed(assignment, _options.KafkaTimeout), e => !e.Error.IsFatal);
        foreach (var committed in offsets)
        {
            _consumer.Seek(committed.Offset.Value >= 0
                ? committed
                : new TopicPartitionOffset(committed.TopicPartition, Offset.Beginning));
        }
    }
}
