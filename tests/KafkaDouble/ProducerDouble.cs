using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>
/// A producer on a <see cref="KafkaCluster"/> that behaves, for the calls a consume–transform–produce loop
/// makes, as Confluent.Kafka over librdkafka does (<c>rdkafka_txnmgr.c</c>, <c>rdkafka_msg.c</c>, and
/// Confluent.Kafka's <c>Producer.CommitTransaction</c> mapping of error flags to exception types):
/// <list type="bullet">
/// <item>Produce is allowed only inside a begun transaction; in any other state, and while the transaction
/// is abortable, it fails with <c>Local_State</c> (<c>rd_kafka_txn_may_enq_msg</c> → <c>__STATE</c>); after a
/// fatal error with <c>Local_Fatal</c>.</item>
/// <item>An abortable error makes SendOffsetsToTransaction and CommitTransaction throw
/// <see cref="KafkaTxnRequiresAbortException"/> until AbortTransaction succeeds.</item>
/// <item>A commit that times out throws <see cref="KafkaRetriableException"/> and stays resumable: calling
/// CommitTransaction again finishes it, while any other transactional call is refused with a retriable
/// <c>Local_Conflict</c> ("Conflicting commit_transaction API call is already in progress",
/// <c>rd_kafka_txn_curr_api_begin</c>). An abort that times out is resumable the same way.</item>
/// <item>Fatal errors (<c>Error.IsFatal</c>) make every later call fail; a twin's InitTransactions with the
/// same transactional.id bumps the epoch, and this producer's next call fails with a fatal
/// <c>Local_Fenced</c>. The coordinator aborts the fenced epoch's open transaction.</item>
/// </list>
/// Records are appended to the log when produced (hidden from read_committed readers until the commit);
/// delivery reports are served on Poll, Flush, CommitTransaction and AbortTransaction.
/// </summary>
internal sealed class ProducerDouble : IProducer<byte[]?, byte[]?>
{
    private static int _instances;

    private readonly KafkaCluster _cluster;
    private readonly string? _transactionalId;
    private readonly FaultScript _faults;
    private readonly List<(Action<DeliveryReport<byte[]?, byte[]?>> Handler, DeliveryReport<byte[]?, byte[]?> Report)> _reports = [];
    private State _state;
    private int _epoch;
    private Txn? _txn;
    private Error? _fatal;
    private bool _commitCompleted;

    /// <param name="faults">Whether this producer meets the cluster's <see cref="KafkaCluster.Faults"/> (false for a test's own writer).</param>
    public ProducerDouble(KafkaCluster cluster, string? transactionalId = null, bool faults = true)
    {
        _cluster = cluster;
        _faults = faults ? cluster.Faults : new FaultScript();
        _transactionalId = transactionalId;
        _state = transactionalId is null ? State.Idempotent : State.Uninitialized;
        Name = $"producer-double#{Interlocked.Increment(ref _instances)}";
    }

    private enum State
    {
        Idempotent,
        Uninitialized,
        Ready,
        InTransaction,
        CommitResumable,
        AbortResumable,
        Abortable,
        Fatal,
    }

    public string Name { get; }

    public Handle Handle => throw new NotSupportedException("The double has no librdkafka handle.");

    /// <summary>The fatal error this producer met, if any.</summary>
    public Error? FatalError => _fatal;

    public bool InTransaction => _state is State.InTransaction or State.Abortable;

    public int AddBrokers(string brokers) => 0;

    public void SetSaslCredentials(string username, string password)
    {
    }

    public void Produce(string topic, Message<byte[]?, byte[]?> message, Action<DeliveryReport<byte[]?, byte[]?>>? deliveryHandler = null) =>
        Produce(new TopicPartition(topic, _cluster.PartitionFor(topic, message.Key)), message, deliveryHandler);

    public void Produce(TopicPartition topicPartition, Message<byte[]?, byte[]?> message, Action<DeliveryReport<byte[]?, byte[]?>>? deliveryHandler = null)
    {
        if (_state == State.InTransaction && _cluster.CurrentEpoch(_transactionalId!) != _epoch)
        {
            // Enqueueing is local and succeeds; the broker refuses the old epoch's produce request
            // (PRODUCER_FENCED), which librdkafka raises as a fatal error: the record fails, every later call too.
            SetFatal(ErrorCode.Local_Fenced, "Producer fenced by newer instance: Broker: There is a newer producer with the same transactionalId which fences the current one");
            if (deliveryHandler is not null)
            {
                _reports.Add((deliveryHandler, new DeliveryReport<byte[]?, byte[]?>
                {
                    Topic = topicPartition.Topic,
                    Partition = topicPartition.Partition,
                    Offset = Offset.Unset,
                    Message = message,
                    Status = PersistenceStatus.NotPersisted,
                    Error = _fatal!,
                }));
            }

            return;
        }

        if (_state == State.Fatal)
        {
            throw new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_Fatal, "Producer is in a fatal state: " + _fatal!.Reason, true), Result(topicPartition, message));
        }

        if (_state != State.Idempotent && _state != State.InTransaction)
        {
            throw new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_State, $"Transactional state forbids producing ({_state})"), Result(topicPartition, message));
        }

        switch (_faults.Next(FaultPoint.Produce))
        {
            case FaultKind.QueueFull:
                throw new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_QueueFull, "Local: Queue full"), Result(topicPartition, message));
            case FaultKind.Abortable when _state == State.InTransaction:
                // A produce request failed in the background: the transaction must be aborted, and
                // librdkafka refuses every later produce with __STATE.
                _state = State.Abortable;
                throw new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_State, "Transactional state forbids producing (abortable error)"), Result(topicPartition, message));
            case FaultKind.Fatal or FaultKind.Fenced or FaultKind.UnknownOutcome:
                SetFatal(ErrorCode.Local_Fatal, "Fatal idempotent producer error");
                throw new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_Fatal, _fatal!.Reason, true), Result(topicPartition, message));
        }

        var offset = _cluster.Append(topicPartition, message, _state == State.InTransaction ? _txn : null);
        if (deliveryHandler is not null)
        {
            _reports.Add((deliveryHandler, new DeliveryReport<byte[]?, byte[]?>
            {
                Topic = topicPartition.Topic,
                Partition = topicPartition.Partition,
                Offset = new Offset(offset),
                Message = message,
                Status = PersistenceStatus.Persisted,
                Error = new Error(ErrorCode.NoError),
            }));
        }
    }

    public Task<DeliveryResult<byte[]?, byte[]?>> ProduceAsync(string topic, Message<byte[]?, byte[]?> message, CancellationToken cancellationToken = default) =>
        ProduceAsync(new TopicPartition(topic, _cluster.PartitionFor(topic, message.Key)), message, cancellationToken);

    public Task<DeliveryResult<byte[]?, byte[]?>> ProduceAsync(TopicPartition topicPartition, Message<byte[]?, byte[]?> message, CancellationToken cancellationToken = default)
    {
        DeliveryResult<byte[]?, byte[]?>? result = null;
        Produce(topicPartition, message, r => result = r);
        Poll(TimeSpan.Zero);
        return Task.FromResult(result!);
    }

    public int Poll(TimeSpan timeout) => ServeReports();

    public int Flush(TimeSpan timeout)
    {
        ServeReports();
        return 0;
    }

    public void Flush(CancellationToken cancellationToken = default) => ServeReports();

    public void InitTransactions(TimeSpan timeout)
    {
        RequireTransactional();
        if (_state == State.Fatal)
        {
            throw new KafkaException(_fatal!);
        }

        switch (_faults.Next(FaultPoint.InitTransactions))
        {
            case FaultKind.Retriable or FaultKind.RetriableCompleted:
                throw new KafkaRetriableException(new Error(ErrorCode.Local_TimedOut, "Failed to initialize Producer ID: Local: Timed out"));
            case FaultKind.Fatal or FaultKind.Fenced or FaultKind.UnknownOutcome:
                SetFatal(ErrorCode.Local_Fatal, "Failed to acquire transactional PID");
                throw new KafkaException(_fatal!);
        }

        _epoch = _cluster.InitProducerId(_transactionalId!);
        _state = State.Ready;
    }

    public void BeginTransaction()
    {
        RequireTransactional();
        CheckFenced();
        ThrowIfFatal();
        if (_state is State.CommitResumable or State.AbortResumable)
        {
            throw Conflict();
        }

        if (_state != State.Ready)
        {
            throw new KafkaException(new Error(ErrorCode.Local_State, $"Operation not valid in state {_state}"));
        }

        _txn = _cluster.BeginTxn(_transactionalId!, _epoch);
        _state = State.InTransaction;
    }

    public void SendOffsetsToTransaction(IEnumerable<TopicPartitionOffset> offsets, IConsumerGroupMetadata groupMetadata, TimeSpan timeout)
    {
        RequireTransactional();
        CheckFenced();
        ThrowIfFatal();
        switch (_state)
        {
            case State.CommitResumable or State.AbortResumable:
                throw Conflict();
            case State.Abortable:
                throw new KafkaTxnRequiresAbortException(new Error(ErrorCode.Local_State, "The current transaction failed and must be aborted"));
            case not State.InTransaction:
                throw new KafkaException(new Error(ErrorCode.Local_State, $"Operation not valid in state {_state}"));
        }

        var metadata = groupMetadata as GroupMetadataDouble ?? throw new ArgumentException("Group metadata from a ConsumerDouble is required.", nameof(groupMetadata));
        switch (_faults.Next(FaultPoint.SendOffsetsToTransaction))
        {
            case FaultKind.Retriable or FaultKind.RetriableCompleted:
                throw new KafkaRetriableException(new Error(ErrorCode.Local_TimedOut, "Failed to send offsets to transaction: Local: Timed out"));
            case FaultKind.Abortable:
                _state = State.Abortable;
                throw new KafkaTxnRequiresAbortException(new Error(ErrorCode.ConcurrentTransactions, "Failed to commit offsets to transaction"));
            case FaultKind.Fenced:
                _cluster.Fence(_transactionalId!);
                CheckFenced();
                break;
            case FaultKind.Fatal or FaultKind.UnknownOutcome:
                SetFatal(ErrorCode.Local_Fatal, "Fatal error while sending offsets");
                throw new KafkaException(_fatal!);
        }

        // KIP-447: a member no longer in its group's current generation is a zombie; its offsets are refused
        // (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID), which librdkafka raises as an abortable error.
        if (!_cluster.Group(metadata.GroupId).IsCurrent(metadata.MemberId, metadata.Generation))
        {
            _state = State.Abortable;
            throw new KafkaTxnRequiresAbortException(new Error(ErrorCode.IllegalGeneration, "Failed to commit offsets to transaction: Broker: Specified group generation id is not valid"));
        }

        if (!_txn!.PendingOffsets.TryGetValue(metadata.GroupId, out var pending))
        {
            _txn.PendingOffsets[metadata.GroupId] = pending = [];
        }

        foreach (var tpo in offsets)
        {
            pending[tpo.TopicPartition] = tpo.Offset.Value;
        }
    }

    public void CommitTransaction(TimeSpan timeout)
    {
        RequireTransactional();
        CheckFenced();
        ThrowIfFatal();
        switch (_state)
        {
            case State.AbortResumable:
                throw Conflict();
            case State.Abortable:
                throw new KafkaTxnRequiresAbortException(new Error(ErrorCode.Local_State, "The current transaction failed and must be aborted"));
            case State.CommitResumable:
                // A resumed commit: it may time out again.
                if (_faults.Next(FaultPoint.CommitTransaction) is FaultKind.Retriable)
                {
                    throw new KafkaRetriableException(new Error(ErrorCode.Local_TimedOut, "Transactional API commit_transaction timed out: retry call to resume"));
                }

                FinishCommit();
                return;
            case not State.InTransaction:
                throw new KafkaException(new Error(ErrorCode.Local_State, $"Operation not valid in state {_state}"));
        }

        ServeReports();
        switch (_faults.Next(FaultPoint.CommitTransaction))
        {
            case FaultKind.Retriable:
                _state = State.CommitResumable;
                _commitCompleted = false;
                throw new KafkaRetriableException(new Error(ErrorCode.Local_TimedOut, "Failed to flush all outstanding messages within the API timeout"));
            case FaultKind.RetriableCompleted:
                _cluster.EndTxn(_txn!, commit: true);
                _state = State.CommitResumable;
                _commitCompleted = true;
                throw new KafkaRetriableException(new Error(ErrorCode.Local_TimedOut, "Transactional API commit_transaction timed out: retry call to resume"));
            case FaultKind.Abortable:
                _state = State.Abortable;
                throw new KafkaTxnRequiresAbortException(new Error(ErrorCode.InvalidTxnState, "Failed to end transaction: Broker: Producer attempted a transactional operation in an invalid state"));
            case FaultKind.Fenced:
                _cluster.Fence(_transactionalId!);
                CheckFenced();
                break;
            case FaultKind.Fatal:
                SetFatal(ErrorCode.Local_Fatal, "Fatal error while committing the transaction");
                throw new KafkaException(_fatal!);
            case FaultKind.UnknownOutcome:
                // The EndTxn request reached the coordinator, which committed; the client never learnt it.
                _cluster.EndTxn(_txn!, commit: true);
                SetFatal(ErrorCode.Local_Fatal, "Fatal error while committing the transaction (outcome unknown)");
                throw new KafkaException(_fatal!);
        }

        _commitCompleted = false;
        FinishCommit();
    }

    public void CommitTransaction() => CommitTransaction(Timeout.InfiniteTimeSpan);

    public void AbortTransaction(TimeSpan timeout)
    {
        RequireTransactional();
        CheckFenced();
        ThrowIfFatal();
        switch (_state)
        {
            case State.CommitResumable:
                throw Conflict();
            case not (State.InTransaction or State.Abortable or State.AbortResumable):
                throw new KafkaException(new Error(ErrorCode.Local_State, $"Operation not valid in state {_state}"));
        }

        switch (_faults.Next(FaultPoint.AbortTransaction))
        {
            case FaultKind.Retriable or FaultKind.RetriableCompleted:
                _state = State.AbortResumable;
                throw new KafkaRetriableException(new Error(ErrorCode.Local_TimedOut, "Transactional API abort_transaction timed out: retry call to resume"));
            case FaultKind.Fenced:
                _cluster.Fence(_transactionalId!);
                CheckFenced();
                break;
            case FaultKind.Fatal or FaultKind.UnknownOutcome:
                SetFatal(ErrorCode.Local_Fatal, "Fatal error while aborting the transaction");
                throw new KafkaException(_fatal!);
        }

        ServeReports();
        _cluster.EndTxn(_txn!, commit: false);
        _txn = null;
        _state = State.Ready;
    }

    public void AbortTransaction() => AbortTransaction(Timeout.InfiniteTimeSpan);

    public void Dispose()
    {
        // Like a process that stops: an open transaction stays open at the coordinator until the next
        // InitTransactions with the same transactional.id aborts it.
    }

    private void FinishCommit()
    {
        if (!_commitCompleted)
        {
            _cluster.EndTxn(_txn!, commit: true);
        }

        ServeReports();
        _commitCompleted = false;
        _txn = null;
        _state = State.Ready;
    }

    private int ServeReports()
    {
        var reports = _reports.ToArray();
        _reports.Clear();
        foreach (var (handler, report) in reports)
        {
            handler(report);
        }

        return reports.Length;
    }

    private void CheckFenced()
    {
        if (_transactionalId is not null && _state is not (State.Uninitialized or State.Fatal) && _cluster.CurrentEpoch(_transactionalId) != _epoch)
        {
            SetFatal(ErrorCode.Local_Fenced, "Producer fenced by newer instance: Broker: Producer attempted an operation with an old epoch");
            throw new KafkaException(_fatal!);
        }
    }

    private void ThrowIfFatal()
    {
        if (_state == State.Fatal)
        {
            throw new KafkaException(_fatal!);
        }
    }

    private void SetFatal(ErrorCode code, string reason)
    {
        _fatal = new Error(code, reason, true);
        _state = State.Fatal;
    }

    private void RequireTransactional()
    {
        if (_transactionalId is null)
        {
            throw new KafkaException(new Error(ErrorCode.Local_NotConfigured, "The Transactional API requires transactional.id to be configured"));
        }
    }

    private static KafkaRetriableException Conflict() =>
        new(new Error(ErrorCode.Local_Conflict, "Conflicting commit_transaction API call is already in progress"));

    private static DeliveryResult<byte[]?, byte[]?> Result(TopicPartition tp, Message<byte[]?, byte[]?> message) =>
        new() { Topic = tp.Topic, Partition = tp.Partition, Offset = Offset.Unset, Message = message, Status = PersistenceStatus.NotPersisted };
}

/// <summary>A consumer's group metadata, as SendOffsetsToTransaction needs it (group, member, generation).</summary>
internal sealed record GroupMetadataDouble(string GroupId, string MemberId, int Generation) : IConsumerGroupMetadata;
