using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>What became of a transaction at its coordinator.</summary>
internal enum TxnOutcome
{
    Open,
    Committed,
    Aborted,
}

/// <summary>One transaction: the partitions it wrote to and the group offsets it will commit with its data.</summary>
internal sealed class Txn(string transactionalId, int epoch)
{
    public string TransactionalId { get; } = transactionalId;

    public int Epoch { get; } = epoch;

    public TxnOutcome Outcome { get; set; } = TxnOutcome.Open;

    public HashSet<TopicPartition> Partitions { get; } = [];

    public Dictionary<string, Dictionary<TopicPartition, long>> PendingOffsets { get; } = [];
}

/// <summary>A record in a partition's log, or a transaction marker (control record) taking an offset of its own.</summary>
internal sealed record LogEntry(long Offset, Message<byte[]?, byte[]?>? Message, Txn? Txn)
{
    public bool IsControl => Message is null;
}

/// <summary>
/// An in-memory Kafka cluster for tests: partitioned logs with offsets, transactions whose records are hidden
/// from <c>read_committed</c> readers until committed and forever when aborted (markers take an offset, as on
/// a broker), group offsets stored atomically with a transaction (<c>SendOffsetsToTransaction</c>), producer
/// epochs per <c>transactional.id</c> (a new <c>InitTransactions</c> aborts the previous epoch's open
/// transaction and fences its producer), and consumer groups with cooperative rebalancing.
/// <para>
/// Modelled on Apache Kafka's <c>MockProducer</c>/<c>MockConsumer</c> (offsets sent to a transaction are
/// visible only once it commits; fencing) and on librdkafka's transaction manager (<c>rdkafka_txnmgr.c</c>)
/// for the shapes of errors clients see: see <see cref="ProducerDouble"/>. Thread-safe; deterministic.
/// </para>
/// </summary>
internal sealed class KafkaCluster
{
    private readonly object _gate = new();
    private readonly Dictionary<string, int> _topics = [];
    private readonly Dictionary<TopicPartition, List<LogEntry>> _logs = [];
    private readonly Dictionary<string, Dictionary<TopicPartition, long>> _groupOffsets = [];
    private readonly Dictionary<string, (int Epoch, Txn? Open)> _producerIds = [];
    private readonly Dictionary<string, ConsumerGroup> _groups = [];
    private int _roundRobin;

    /// <summary>Faults the clients of this cluster run into; empty by default.</summary>
    public FaultScript Faults { get; } = new();

    public void CreateTopic(string topic, int partitions)
    {
        lock (_gate)
        {
            _topics[topic] = partitions;
            for (var p = 0; p < partitions; p++)
            {
                _logs.TryAdd(new TopicPartition(topic, p), []);
            }
        }
    }

    public int PartitionCount(string topic)
    {
        lock (_gate)
        {
            return _topics.TryGetValue(topic, out var n) ? n : throw new KafkaException(new Error(ErrorCode.UnknownTopicOrPart, $"Unknown topic {topic}"));
        }
    }

    public IEnumerable<TopicPartition> PartitionsOf(string topic) =>
        Enumerable.Range(0, PartitionCount(topic)).Select(p => new TopicPartition(topic, p));

    /// <summary>The partition a keyed record goes to (a stable hash of the key); keyless records go round-robin.</summary>
    public int PartitionFor(string topic, byte[]? key)
    {
        var n = PartitionCount(topic);
        if (key is null)
        {
            return (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)n);
        }

        var hash = 2166136261u;
        foreach (var b in key)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)n);
    }

    /// <summary>Log end offset (next offset to be written).</summary>
    public long EndOffset(TopicPartition tp)
    {
        lock (_gate)
        {
            return Log(tp).Count;
        }
    }

    /// <summary>Last stable offset: the first offset of the earliest still open transaction, else the end.</summary>
    public long LastStableOffset(TopicPartition tp)
    {
        lock (_gate)
        {
            return Lso(Log(tp));
        }
    }

    /// <summary>
    /// The next record at or after <paramref name="position"/> that a reader with <paramref name="isolation"/>
    /// sees, and the position after it. Without one, <paramref name="next"/> is the position after what the
    /// reader may skip (markers, aborted records), never past the last stable offset for read_committed.
    /// </summary>
    public LogEntry? ReadNext(TopicPartition tp, long position, IsolationLevel isolation, out long next)
    {
        lock (_gate)
        {
            var log = Log(tp);
            var limit = isolation == IsolationLevel.ReadCommitted ? Lso(log) : log.Count;
            next = Math.Max(position, 0);
            while (next < limit)
            {
                var entry = log[(int)next];
                next++;
                if (entry.IsControl)
                {
                    continue;
                }

                if (isolation == IsolationLevel.ReadCommitted && entry.Txn is { Outcome: TxnOutcome.Aborted })
                {
                    continue;
                }

                return entry;
            }

            return null;
        }
    }

    /// <summary>
    /// Every committed data record of a partition (non-transactional or in a committed transaction), also
    /// those behind another transaction that is still open: what read_committed readers will see once it ends.
    /// </summary>
    public List<LogEntry> CommittedEntries(TopicPartition tp)
    {
        lock (_gate)
        {
            return Log(tp).Where(e => !e.IsControl && e.Txn is null or { Outcome: TxnOutcome.Committed }).ToList();
        }
    }

    /// <summary>Every data record of a topic that a reader with <paramref name="isolation"/> would see, partition by partition.</summary>
    public List<(TopicPartition Partition, LogEntry Entry)> ReadAll(string topic, IsolationLevel isolation = IsolationLevel.ReadCommitted)
    {
        var all = new List<(TopicPartition, LogEntry)>();
        foreach (var tp in PartitionsOf(topic))
        {
            var position = 0L;
            while (ReadNext(tp, position, isolation, out position) is { } entry)
            {
                all.Add((tp, entry));
            }
        }

        return all;
    }

    public Offset Committed(string group, TopicPartition tp)
    {
        lock (_gate)
        {
            return _groupOffsets.TryGetValue(group, out var offsets) && offsets.TryGetValue(tp, out var offset) ? new Offset(offset) : Offset.Unset;
        }
    }

    public void CommitOffsets(string group, IEnumerable<TopicPartitionOffset> offsets)
    {
        lock (_gate)
        {
            var stored = GroupOffsets(group);
            foreach (var tpo in offsets)
            {
                stored[tpo.TopicPartition] = tpo.Offset.Value;
            }
        }
    }

    internal long Append(TopicPartition tp, Message<byte[]?, byte[]?> message, Txn? txn)
    {
        lock (_gate)
        {
            var log = Log(tp);
            var copy = new Message<byte[]?, byte[]?>
            {
                Key = message.Key,
                Value = message.Value,
                Headers = Copy(message.Headers),
                Timestamp = message.Timestamp.Type == TimestampType.NotAvailable
                    ? new Timestamp(DateTimeOffset.UtcNow)
                    : message.Timestamp,
            };
            log.Add(new LogEntry(log.Count, copy, txn));
            txn?.Partitions.Add(tp);
            return log.Count - 1;
        }
    }

    /// <summary>
    /// InitProducerId for a transactional.id: aborts the open transaction of the previous epoch (as the
    /// coordinator does before it answers) and returns the new epoch, which fences every older producer.
    /// </summary>
    internal int InitProducerId(string transactionalId)
    {
        lock (_gate)
        {
            var (epoch, open) = _producerIds.GetValueOrDefault(transactionalId);
            if (open is { Outcome: TxnOutcome.Open })
            {
                EndTxnLocked(open, commit: false);
            }

            _producerIds[transactionalId] = (epoch + 1, null);
            return epoch + 1;
        }
    }

    internal int CurrentEpoch(string transactionalId)
    {
        lock (_gate)
        {
            return _producerIds.GetValueOrDefault(transactionalId).Epoch;
        }
    }

    /// <summary>Fences every producer of this transactional.id, as a twin's InitTransactions would.</summary>
    public void Fence(string transactionalId) => InitProducerId(transactionalId);

    internal Txn BeginTxn(string transactionalId, int epoch)
    {
        lock (_gate)
        {
            var txn = new Txn(transactionalId, epoch);
            _producerIds[transactionalId] = (_producerIds.GetValueOrDefault(transactionalId).Epoch, txn);
            return txn;
        }
    }

    /// <summary>EndTxn: writes a marker to every partition the transaction touched; a commit also stores its group offsets.</summary>
    internal void EndTxn(Txn txn, bool commit)
    {
        lock (_gate)
        {
            EndTxnLocked(txn, commit);
        }
    }

    /// <summary>The transactions of a producer id that are still open (for invariants: none may be left behind).</summary>
    public bool HasOpenTransaction(string transactionalId)
    {
        lock (_gate)
        {
            return _producerIds.GetValueOrDefault(transactionalId).Open is { Outcome: TxnOutcome.Open };
        }
    }

    internal ConsumerGroup Group(string groupId)
    {
        lock (_gate)
        {
            if (!_groups.TryGetValue(groupId, out var group))
            {
                _groups[groupId] = group = new ConsumerGroup(this, groupId);
            }

            return group;
        }
    }

    private void EndTxnLocked(Txn txn, bool commit)
    {
        if (txn.Outcome != TxnOutcome.Open)
        {
            return;
        }

        txn.Outcome = commit ? TxnOutcome.Committed : TxnOutcome.Aborted;
        foreach (var tp in txn.Partitions)
        {
            var log = Log(tp);
            log.Add(new LogEntry(log.Count, null, txn));
        }

        if (commit)
        {
            foreach (var (group, offsets) in txn.PendingOffsets)
            {
                var stored = GroupOffsets(group);
                foreach (var (tp, offset) in offsets)
                {
                    stored[tp] = offset;
                }
            }
        }

        if (_producerIds.TryGetValue(txn.TransactionalId, out var state) && ReferenceEquals(state.Open, txn))
        {
            _producerIds[txn.TransactionalId] = (state.Epoch, null);
        }
    }

    private static long Lso(List<LogEntry> log)
    {
        foreach (var entry in log)
        {
            if (entry.Txn is { Outcome: TxnOutcome.Open })
            {
                return entry.Offset;
            }
        }

        return log.Count;
    }

    private List<LogEntry> Log(TopicPartition tp) =>
        _logs.TryGetValue(tp, out var log) ? log : throw new KafkaException(new Error(ErrorCode.UnknownTopicOrPart, $"Unknown partition {tp}"));

    private Dictionary<TopicPartition, long> GroupOffsets(string group)
    {
        if (!_groupOffsets.TryGetValue(group, out var offsets))
        {
            _groupOffsets[group] = offsets = [];
        }

        return offsets;
    }

    private static Headers Copy(Headers? headers)
    {
        var copy = new Headers();
        if (headers is not null)
        {
            foreach (var h in headers)
            {
                copy.Add(h.Key, h.GetValueBytes());
            }
        }

        return copy;
    }
}
