using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>
/// A consumer on a <see cref="KafkaCluster"/>, as a group member (<see cref="Subscribe(string)"/>) or with a
/// manual assignment. As with librdkafka, rebalance callbacks run inside <see cref="Consume(TimeSpan)"/>:
/// revocations first (cooperative), then assignments; a member expelled from its group gets the lost
/// callback (or, without one, the revoked callback) and joins again. A new partition's position is its
/// committed offset, else the beginning (auto.offset.reset=earliest), read at its first fetch.
/// <c>read_committed</c> never reads past the last stable offset and skips aborted records and markers.
/// Consume never waits: it returns null when nothing is ready. Not thread-safe (one thread, as the loop).
/// </summary>
internal sealed class ConsumerDouble : IConsumer<byte[]?, byte[]?>
{
    private static int _instances;

    private readonly KafkaCluster _cluster;
    private readonly IsolationLevel _isolation;
    private readonly List<TopicPartition> _assignment = [];
    private readonly Dictionary<TopicPartition, long> _positions = [];
    private readonly Dictionary<TopicPartition, long> _starts = [];
    private readonly Dictionary<TopicPartition, long> _stored = [];
    private readonly HashSet<TopicPartition> _paused = [];
    private readonly string? _groupId;
    private ConsumerGroup? _group;
    private bool _expelled;
    private bool _closed;
    private int _next;

    public ConsumerDouble(KafkaCluster cluster, string? groupId, IsolationLevel isolation = IsolationLevel.ReadCommitted)
    {
        _cluster = cluster;
        _groupId = groupId;
        _isolation = isolation;
        MemberId = $"consumer-double#{Interlocked.Increment(ref _instances)}";
    }

    /// <summary>Called with the newly assigned partitions (before their positions are known).</summary>
    public Action<IReadOnlyCollection<TopicPartition>>? PartitionsAssigned { get; set; }

    /// <summary>Called with partitions about to be taken away, while they are still owned.</summary>
    public Action<IReadOnlyCollection<TopicPartitionOffset>>? PartitionsRevoked { get; set; }

    /// <summary>Called with partitions that another member may already own.</summary>
    public Action<IReadOnlyCollection<TopicPartitionOffset>>? PartitionsLost { get; set; }

    public string MemberId { get; }

    public string Name => MemberId;

    public Handle Handle => throw new NotSupportedException("The double has no librdkafka handle.");

    public List<string> Subscription { get; } = [];

    public List<TopicPartition> Assignment => [.. _assignment];

    public IReadOnlyCollection<TopicPartition> Paused => _paused;

    /// <summary>Expelled from its group and not yet told (its next Consume reports the partitions lost).</summary>
    public bool IsExpelled => _expelled;

    public IConsumerGroupMetadata ConsumerGroupMetadata =>
        new GroupMetadataDouble(_groupId ?? "", MemberId, _group?.MemberGeneration(MemberId) ?? -1);

    /// <summary>As the group sees it after a session timeout: this member is gone, its partitions are free.</summary>
    public void Expel()
    {
        _group?.Leave(this);
        _expelled = true;
    }

    public int AddBrokers(string brokers) => 0;

    public void SetSaslCredentials(string username, string password)
    {
    }

    public void Subscribe(IEnumerable<string> topics)
    {
        foreach (var topic in topics)
        {
            Subscribe(topic);
        }
    }

    public void Subscribe(string topic)
    {
        _group = _cluster.Group(_groupId ?? throw new InvalidOperationException("group.id is required to subscribe"));
        Subscription.Add(topic);
        _group.Join(this, topic);
    }

    public void Unsubscribe()
    {
        if (_group is not null)
        {
            Revoke(_assignment.ToList());
            _group.Leave(this);
        }

        Subscription.Clear();
        _group = null;
    }

    public ConsumeResult<byte[]?, byte[]?>? Consume(int millisecondsTimeout) => Consume(TimeSpan.FromMilliseconds(millisecondsTimeout));

    public ConsumeResult<byte[]?, byte[]?>? Consume(CancellationToken cancellationToken = default) => Consume(TimeSpan.Zero);

    public ConsumeResult<byte[]?, byte[]?>? Consume(TimeSpan timeout)
    {
        ThrowIfClosed();
        Rebalance();
        var candidates = _assignment.Where(tp => !_paused.Contains(tp)).ToList();
        for (var i = 0; i < candidates.Count; i++)
        {
            var tp = candidates[(_next + i) % candidates.Count];
            if (!_positions.TryGetValue(tp, out var position) || position < 0)
            {
                var committed = _groupId is null ? Offset.Unset : _cluster.Committed(_groupId, tp);
                position = _starts.TryGetValue(tp, out var start) && start >= 0 ? start
                    : committed.Value >= 0 ? committed.Value
                    : 0;
            }

            var entry = _cluster.ReadNext(tp, position, _isolation, out var next);
            _positions[tp] = entry is null ? next : entry.Offset + 1;
            if (entry is not null)
            {
                _next = (_next + i + 1) % Math.Max(1, candidates.Count);
                return new ConsumeResult<byte[]?, byte[]?>
                {
                    Topic = tp.Topic,
                    Partition = tp.Partition,
                    Offset = new Offset(entry.Offset),
                    Message = new Message<byte[]?, byte[]?>
                    {
                        Key = entry.Message!.Key,
                        Value = entry.Message.Value,
                        Headers = entry.Message.Headers,
                        Timestamp = entry.Message.Timestamp,
                    },
                };
            }
        }

        return null;
    }

    public void Assign(TopicPartition partition) => Assign([new TopicPartitionOffset(partition, Offset.Unset)]);

    public void Assign(TopicPartitionOffset partition) => Assign([partition]);

    public void Assign(IEnumerable<TopicPartitionOffset> partitions)
    {
        _assignment.Clear();
        _positions.Clear();
        _starts.Clear();
        IncrementalAssign(partitions);
    }

    public void Assign(IEnumerable<TopicPartition> partitions) => Assign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Unset)));

    public void IncrementalAssign(IEnumerable<TopicPartitionOffset> partitions)
    {
        foreach (var tpo in partitions)
        {
            if (!_assignment.Contains(tpo.TopicPartition))
            {
                _assignment.Add(tpo.TopicPartition);
            }

            // As librdkafka's: the position is unknown (Unset) until the first fetch, whatever the start.
            _starts[tpo.TopicPartition] = Resolve(tpo);
            _positions.Remove(tpo.TopicPartition);
        }
    }

    public void IncrementalAssign(IEnumerable<TopicPartition> partitions) =>
        IncrementalAssign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Unset)));

    public void IncrementalUnassign(IEnumerable<TopicPartition> partitions)
    {
        foreach (var tp in partitions)
        {
            _assignment.Remove(tp);
            _positions.Remove(tp);
            _starts.Remove(tp);
            _paused.Remove(tp);
        }
    }

    public void Unassign() => IncrementalUnassign(_assignment.ToList());

    public void StoreOffset(ConsumeResult<byte[]?, byte[]?> result) => StoreOffset(new TopicPartitionOffset(result.TopicPartition, result.Offset.Value + 1));

    public void StoreOffset(TopicPartitionOffset offset) => _stored[offset.TopicPartition] = offset.Offset.Value;

    public List<TopicPartitionOffset> Commit()
    {
        var offsets = _stored.Select(s => new TopicPartitionOffset(s.Key, new Offset(s.Value))).ToList();
        Commit(offsets);
        return offsets;
    }

    public void Commit(IEnumerable<TopicPartitionOffset> offsets)
    {
        ThrowIfClosed();
        var list = offsets.ToList();
        if (_cluster.Faults.Next(FaultPoint.ConsumerCommit) is FaultKind.Retriable or FaultKind.RetriableCompleted)
        {
            throw new KafkaException(new Error(ErrorCode.RequestTimedOut, "Commit failed: Broker: Request timed out"));
        }

        // A member that is not current cannot commit (UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION).
        if (_group is not null && (_expelled || list.Any(tpo => !_group.Owns(this, tpo.TopicPartition))))
        {
            throw new KafkaException(new Error(ErrorCode.UnknownMemberId, "Commit failed: Broker: Unknown member"));
        }

        _cluster.CommitOffsets(_groupId ?? throw new InvalidOperationException("group.id is required to commit"), list);
    }

    public void Commit(ConsumeResult<byte[]?, byte[]?> result) => Commit([new TopicPartitionOffset(result.TopicPartition, result.Offset.Value + 1)]);

    public void Seek(TopicPartitionOffset tpo)
    {
        ThrowIfClosed();
        if (!_assignment.Contains(tpo.TopicPartition))
        {
            throw new KafkaException(new Error(ErrorCode.Local_UnknownPartition, $"Seek on {tpo.TopicPartition}, which is not assigned"));
        }

        _positions[tpo.TopicPartition] = Resolve(tpo);
    }

    public void Pause(IEnumerable<TopicPartition> partitions)
    {
        foreach (var tp in partitions)
        {
            _paused.Add(tp);
        }
    }

    public void Resume(IEnumerable<TopicPartition> partitions)
    {
        foreach (var tp in partitions)
        {
            _paused.Remove(tp);
        }
    }

    public List<TopicPartitionOffset> Committed(TimeSpan timeout) => Committed(_assignment, timeout);

    public List<TopicPartitionOffset> Committed(IEnumerable<TopicPartition> partitions, TimeSpan timeout)
    {
        ThrowIfClosed();
        if (_cluster.Faults.Next(FaultPoint.Committed) is FaultKind.Retriable or FaultKind.RetriableCompleted)
        {
            throw new KafkaException(new Error(ErrorCode.Local_TimedOut, "Failed to get committed offsets: Local: Timed out"));
        }

        return partitions.Select(tp => new TopicPartitionOffset(tp, _groupId is null ? Offset.Unset : _cluster.Committed(_groupId, tp))).ToList();
    }

    public Offset Position(TopicPartition partition) =>
        _positions.TryGetValue(partition, out var position) && position >= 0 ? new Offset(position) : Offset.Unset;

    public List<TopicPartitionOffset> OffsetsForTimes(IEnumerable<TopicPartitionTimestamp> timestampsToSearch, TimeSpan timeout) =>
        throw new NotSupportedException("The double does not index timestamps.");

    public WatermarkOffsets GetWatermarkOffsets(TopicPartition topicPartition) => QueryWatermarkOffsets(topicPartition, TimeSpan.Zero);

    public WatermarkOffsets QueryWatermarkOffsets(TopicPartition topicPartition, TimeSpan timeout) =>
        new(new Offset(0), new Offset(_cluster.EndOffset(topicPartition)));

    /// <summary>Leaves the group after revoking what it holds (the revoked callback runs), as Close does.</summary>
    public void Close()
    {
        if (_closed)
        {
            return;
        }

        if (_group is not null && !_expelled)
        {
            Revoke(_assignment.ToList());
            _group.Leave(this);
        }

        _closed = true;
    }

    /// <summary>Without Close, the member simply disappears (its session times out): its partitions are free, nothing is revoked.</summary>
    public void Dispose()
    {
        _group?.Leave(this);
        _closed = true;
    }

    private void Rebalance()
    {
        if (_group is null)
        {
            return;
        }

        if (_expelled)
        {
            var lost = _assignment.Select(tp => new TopicPartitionOffset(tp, Position(tp))).ToList();
            if (lost.Count > 0)
            {
                (PartitionsLost ?? PartitionsRevoked)?.Invoke(lost);
            }

            IncrementalUnassign(_assignment.ToList());
            _expelled = false;
            _group.Join(this, Subscription[0]);
        }

        var (revoke, assign) = _group.Sync(this, _assignment);
        if (revoke.Count > 0)
        {
            Revoke(revoke);
        }

        if (assign.Count > 0)
        {
            _group.Acquired(this, assign);
            IncrementalAssign(assign);
            PartitionsAssigned?.Invoke(assign);
        }
    }

    private void Revoke(List<TopicPartition> partitions)
    {
        if (partitions.Count == 0)
        {
            return;
        }

        PartitionsRevoked?.Invoke(partitions.Select(tp => new TopicPartitionOffset(tp, Position(tp))).ToList());
        IncrementalUnassign(partitions);
        _group!.Released(this, partitions);
    }

    private long Resolve(TopicPartitionOffset tpo) =>
        tpo.Offset == Offset.Beginning ? 0
        : tpo.Offset == Offset.End ? _cluster.EndOffset(tpo.TopicPartition)
        : tpo.Offset.Value >= 0 ? tpo.Offset.Value
        : -1;

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new ObjectDisposedException(MemberId);
        }
    }
}
