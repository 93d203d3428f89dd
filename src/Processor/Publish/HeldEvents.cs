using CioSegment.Contracts;
using Confluent.Kafka;

namespace CioSegment.Processor.Publish;

/// <summary>
/// The held topic (<c>cio.segment.held</c>): where a source's events are parked while Segment refuses or
/// ignores it, so that they hold no memory, lane or commit progress that other sources need, and from where
/// they are delivered once Segment takes them again.
/// <list type="bullet">
/// <item>An event is parked to the held partition with the number of its sink partition, keyed by person, in
/// the Avro format of the sink topic; it counts as settled for the sink topic once the broker has it.</item>
/// <item>The held partitions are read by the same publisher that owns the sink partitions of the same number
/// (manual assignment under its own group, <see cref="PublisherOptions.HeldGroupId"/>), so it knows exactly
/// which of its persons still have held events: while a source has held events in a partition (or the
/// partition's held backlog has not been read yet after an assignment), that source's new events of the
/// partition are parked too, behind them, so each person's events still reach Segment in order.</item>
/// <item>Held offsets are committed only once Segment accepted (or refused with 400, dead-lettered) the event.</item>
/// </list>
/// Used from the publisher's loop, except <see cref="ParkAsync"/>, which runs on a lane's task.
/// </summary>
public sealed class HeldEvents(
    IConsumer<byte[]?, SegmentTrackRecordView> consumer,
    IProducer<byte[]?, byte[]?> producer,
    ISerializer<SegmentTrackRecord> serializer,
    string topic,
    TimeSpan kafkaTimeout)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Source, int Partition), SortedSet<long>> _outstanding = [];
    private readonly Dictionary<(string Source, int Partition), int> _parking = [];
    private readonly Dictionary<int, long> _catchingUp = [];
    private readonly HashSet<(int Partition, long Offset)> _settledEarly = [];
    private readonly HashSet<int> _pending = [];

    public string Topic { get; } = topic;

    public IConsumer<byte[]?, SegmentTrackRecordView> Consumer { get; } = consumer;

    /// <summary>Which held offsets are delivered, for the held group's commits.</summary>
    public PartitionProgress Progress { get; } = new();

    /// <summary>Events of <paramref name="source"/> parked and not yet delivered, in all assigned partitions.</summary>
    public int Outstanding(string source)
    {
        lock (_lock)
        {
            return _outstanding.Where(o => o.Key.Source == source).Sum(o => o.Value.Count);
        }
    }

    /// <summary>Sources with held events not yet delivered.</summary>
    public IReadOnlyList<(string Source, int Events)> OutstandingBySource()
    {
        lock (_lock)
        {
            return _outstanding.Where(o => o.Value.Count > 0).GroupBy(o => o.Key.Source).Select(g => (g.Key, g.Sum(o => o.Value.Count))).ToList();
        }
    }

    /// <summary>Whether a new event of <paramref name="source"/> from sink partition <paramref name="partition"/> must queue behind held ones.</summary>
    public bool MustPark(string source, int partition)
    {
        lock (_lock)
        {
            return _catchingUp.ContainsKey(partition)
                || _parking.GetValueOrDefault((source, partition)) > 0
                || (_outstanding.TryGetValue((source, partition), out var offsets) && offsets.Count > 0);
        }
    }

    /// <summary>
    /// Sink partitions were assigned: read the held partitions of the same numbers from the held group's
    /// committed offsets. One whose offsets cannot be read now (the broker did not answer) is assigned by a
    /// later <see cref="AssignPending"/>; meanwhile its backlog is unknown, so new events of that partition queue
    /// behind it too.
    /// </summary>
    public void Assign(IEnumerable<TopicPartition> sinkPartitions)
    {
        lock (_lock)
        {
            foreach (var tp in sinkPartitions)
            {
                _pending.Add(tp.Partition.Value);
                _catchingUp[tp.Partition.Value] = long.MaxValue;
            }
        }

        AssignPending();
    }

    /// <summary>Assigns the held partitions whose assignment is still to do; throws the broker's error when it does not answer (they stay to do).</summary>
    public void AssignPending()
    {
        List<TopicPartition> held;
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            held = _pending.Select(p => new TopicPartition(Topic, p)).ToList();
        }

        var committed = Consumer.Committed(held, kafkaTimeout).ToDictionary(c => c.Partition.Value, c => c.Offset);
        var starts = new List<TopicPartitionOffset>();
        var ends = new Dictionary<int, long>();
        foreach (var tp in held)
        {
            var end = Consumer.QueryWatermarkOffsets(tp, kafkaTimeout).High.Value;
            var from = committed.TryGetValue(tp.Partition.Value, out var offset) && offset.Value >= 0 ? offset.Value : 0;
            ends[tp.Partition.Value] = from < end ? end : -1;
            starts.Add(new TopicPartitionOffset(tp, from > 0 ? new Offset(from) : Offset.Beginning));
        }

        Consumer.IncrementalAssign(starts);
        lock (_lock)
        {
            foreach (var (partition, end) in ends)
            {
                _pending.Remove(partition);
                if (end >= 0)
                {
                    // Whose events are there is unknown until they are read: every source's new events of this
                    // partition queue behind them meanwhile.
                    _catchingUp[partition] = end;
                }
                else
                {
                    _catchingUp.Remove(partition);
                }
            }
        }
    }

    /// <summary>
    /// The held topic (or some of its partitions) does not exist: the held partitions still to assign are given
    /// up, so that their sink partitions' events flow instead of queueing behind a backlog that cannot exist.
    /// A source that starts holding then keeps its events in memory, since parking fails (never lost).
    /// </summary>
    public void AbandonPending()
    {
        lock (_lock)
        {
            foreach (var partition in _pending)
            {
                _catchingUp.Remove(partition);
            }

            _pending.Clear();
        }
    }

    /// <summary>Sink partitions are going: commit what is settled (unless lost), let go of the held partitions of the same numbers.</summary>
    public void Release(IReadOnlyCollection<TopicPartition> sinkPartitions, bool commit)
    {
        var held = sinkPartitions.Select(tp => new TopicPartition(Topic, tp.Partition)).ToList();
        if (commit)
        {
            Commit();
        }

        foreach (var tp in held)
        {
            Progress.Forget(tp);
        }

        lock (_lock)
        {
            var numbers = held.Select(tp => tp.Partition.Value).ToHashSet();
            foreach (var key in _outstanding.Keys.Where(k => numbers.Contains(k.Partition)).ToList())
            {
                _outstanding.Remove(key);
            }

            foreach (var n in numbers)
            {
                _catchingUp.Remove(n);
                _pending.Remove(n);
            }

            _settledEarly.RemoveWhere(s => numbers.Contains(s.Partition));
        }

        try
        {
            Consumer.IncrementalUnassign(held);
        }
        catch (KafkaException)
        {
            // Not assigned (the assignment failed earlier): nothing to let go of.
        }
    }

    /// <summary>A held record was read: it is outstanding until delivered.</summary>
    public void Read(string source, TopicPartitionOffset origin)
    {
        Progress.Consumed(origin);
        lock (_lock)
        {
            OffsetsOf(source, origin.Partition.Value).Add(origin.Offset.Value);
            EndCatchUpAt(origin);
        }
    }

    /// <summary>A held record that could not be read (dead-lettered as invalid): settled, and it may end the catch-up.</summary>
    public void Unreadable(TopicPartitionOffset origin)
    {
        Progress.Consumed(origin);
        lock (_lock)
        {
            EndCatchUpAt(origin);
        }
    }

    /// <summary>A held event was delivered or dead-lettered.</summary>
    public void Settled(PendingEvent e)
    {
        Progress.Settled(e.Origin);
        lock (_lock)
        {
            if (!(_outstanding.TryGetValue((e.SourceId, e.Origin.Partition.Value), out var offsets) && offsets.Remove(e.Origin.Offset.Value)))
            {
                _settledEarly.Add((e.Origin.Partition.Value, e.Origin.Offset.Value));
            }
        }
    }

    /// <summary>Catch-up ends also when the consumer's position passed the end seen at assignment (records compacted away, or aborted).</summary>
    public void CheckCatchUp()
    {
        List<(int Partition, long End)> catching;
        lock (_lock)
        {
            if (_catchingUp.Count == 0)
            {
                return;
            }

            catching = _catchingUp.Where(c => !_pending.Contains(c.Key)).Select(c => (c.Key, c.Value)).ToList();
        }

        foreach (var (partition, end) in catching)
        {
            var position = Consumer.Position(new TopicPartition(Topic, partition));
            if (position.Value >= end)
            {
                lock (_lock)
                {
                    _catchingUp.Remove(partition);
                }
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="events"/> to the held topic in order, each to the held partition of its sink
    /// partition's number; returns those the broker acknowledged (a prefix: it stops at the first failure).
    /// </summary>
    public async Task<List<PendingEvent>> ParkAsync(IReadOnlyList<PendingEvent> events, CancellationToken cancel)
    {
        var keys = events.Select(e => (e.SourceId, e.Origin.Partition.Value)).Distinct().ToList();
        lock (_lock)
        {
            foreach (var key in keys)
            {
                _parking[key] = _parking.GetValueOrDefault(key) + 1;
            }
        }

        var parked = new List<PendingEvent>(events.Count);
        try
        {
            foreach (var e in events)
            {
                var record = new SegmentTrackRecord
                {
                    SourceId = e.SourceId,
                    MessageId = e.MessageId,
                    PersonKey = e.PersonKey,
                    Event = e.Event,
                    ReceivedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.ReceivedAtMs).UtcDateTime,
                    TrackJson = e.TrackJson,
                };
                var value = serializer.Serialize(record, new SerializationContext(MessageComponentType.Value, Topic, e.Headers));
                var result = await producer.ProduceAsync(
                    new TopicPartition(Topic, e.Origin.Partition),
                    new Message<byte[]?, byte[]?> { Key = e.Key, Value = value, Headers = e.Headers },
                    cancel).ConfigureAwait(false);
                lock (_lock)
                {
                    // Read back and delivered before this acknowledgement came (a race of microseconds): done already.
                    if (!_settledEarly.Remove((result.Partition.Value, result.Offset.Value)))
                    {
                        OffsetsOf(e.SourceId, e.Origin.Partition.Value).Add(result.Offset.Value);
                    }
                }

                parked.Add(e);
            }
        }
        finally
        {
            lock (_lock)
            {
                foreach (var key in keys)
                {
                    if ((_parking[key] -= 1) == 0)
                    {
                        _parking.Remove(key);
                    }
                }
            }
        }

        return parked;
    }

    /// <summary>Commits the held offsets whose events are all delivered.</summary>
    public void Commit()
    {
        var offsets = Progress.Committable();
        if (offsets.Count == 0)
        {
            return;
        }

        Consumer.Commit(offsets);
        Progress.MarkCommitted(offsets);
    }

    /// <summary>The record at <paramref name="origin"/> was read: its partition's catch-up ends when that was the last one seen at assignment. Under the lock.</summary>
    private void EndCatchUpAt(TopicPartitionOffset origin)
    {
        if (_catchingUp.TryGetValue(origin.Partition.Value, out var end) && origin.Offset.Value + 1 >= end)
        {
            _catchingUp.Remove(origin.Partition.Value);
        }
    }

    private SortedSet<long> OffsetsOf(string source, int partition)
    {
        if (!_outstanding.TryGetValue((source, partition), out var offsets))
        {
            offsets = [];
            _outstanding[(source, partition)] = offsets;
        }

        return offsets;
    }
}
