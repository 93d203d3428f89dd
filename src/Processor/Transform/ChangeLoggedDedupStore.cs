using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace CioSegment.Processor.Transform;

/// <summary>
/// The transformer's dedup state together with its changelog, in one place (as Kafka Streams' change-logging
/// stores do): the keys in memory (<see cref="DedupStore"/>), the changelog's record format, the restore of
/// newly assigned partitions (<see cref="DedupRestore"/>), expiry and early eviction with the tombstones they
/// owe. The loop asks it for the <see cref="Changes"/> to write with each commit and tells it how the commit
/// ended (<see cref="Committed"/> or <see cref="Aborted"/>), so that the state in memory always equals the
/// committed changelog:
/// <list type="bullet">
/// <item>a key remembered while processing is pending; its record is written with the next commit and the
/// key becomes state once that commit succeeded, or is forgotten when it aborts;</item>
/// <item>a key that leaves the state (expired, evicted early at <see cref="TransformerOptions.MaxKeysPerPartition"/>,
/// or found expired on restore) owes a tombstone, written with every commit until one succeeds.</item>
/// </list>
/// Used from the consumer loop's thread only.
/// </summary>
public sealed class ChangeLoggedDedupStore : IDisposable
{
    private readonly DedupStore _state;
    private readonly DedupRestore _restore;
    private readonly TransformerOptions _options;
    private readonly ILogger _logger;
    private readonly Counter<long> _evictedEarly;
    private readonly HashSet<(int Partition, DedupKey Key)> _owedTombstones = [];
    private List<(int Partition, DedupKey Key)> _tombstonesWritten = [];
    private long _lastEvictionMs;

    /// <summary>How long a sweep of a partition's whole table for expired keys takes, at most.</summary>
    public static readonly TimeSpan SweepPeriod = TimeSpan.FromMinutes(5);

    /// <summary>The least a sweep scans per partition at a time.</summary>
    private const int MinSweepSlots = 1024;

    public ChangeLoggedDedupStore(
        IConsumer<byte[]?, byte[]> consumer,
        Func<IConsumer<byte[]?, byte[]?>> createChangelogReader,
        TransformerOptions options,
        Meter meter,
        ILogger logger,
        TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _state = new DedupStore(options.MaxKeysPerPartition);
        _restore = new DedupRestore(consumer, createChangelogReader, _state, options, logger, time, (partition, key) => _owedTombstones.Add((partition, key)));
        _evictedEarly = meter.CreateCounter<long>("cio.transformer.dedup_evicted_early", "{key}", "Dedup keys evicted before their expiry because a partition held MaxKeysPerPartition keys.");
        _evictedEarly.Add(0);
        meter.CreateObservableGauge("cio.transformer.dedup_keys", () => _state.Count, "{key}", "Dedup keys held in memory.");
    }

    /// <summary>The keys: what the transformer checks and remembers while processing.</summary>
    public DedupStore State => _state;

    /// <summary>Whether the next commit has changelog records to write even if nothing was processed.</summary>
    public bool OwesTombstones => _owedTombstones.Count > 0;

    /// <summary>Partitions whose state is still being restored: they stay paused until it is whole.</summary>
    public IReadOnlyCollection<TopicPartition> Restoring => _restore.Partitions;

    public bool IsRestoring(TopicPartition tp) => _restore.IsRestoring(tp);

    /// <summary>Pauses the partitions being restored (a record of one was fetched before the pause took effect).</summary>
    public void PauseRestoring() => _restore.PauseRestoring();

    /// <summary>Starts restoring newly assigned partitions, all of them together, and continues for up to <paramref name="budget"/>.</summary>
    public void Restore(IReadOnlyCollection<TopicPartition> partitions, TimeSpan budget)
    {
        foreach (var tp in partitions)
        {
            _restore.Start(tp);
        }

        _restore.Continue(budget, TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Continues restores in progress with what the readers fetched meanwhile, without waiting.</summary>
    public void ContinueRestoring()
    {
        if (_restore.Partitions.Count > 0)
        {
            _restore.Continue(DedupRestore.Slice, TimeSpan.Zero);
        }
    }

    /// <summary>Lets go of a partition: its restore, its keys and the tombstones owed for it (its next owner restores and owes its own).</summary>
    public void Forget(TopicPartition tp)
    {
        _restore.Stop(tp);
        _state.Drop(tp.Partition.Value);
        _owedTombstones.RemoveWhere(t => t.Partition == tp.Partition.Value);
    }

    /// <summary>
    /// The changelog records to write with the next commit: one for each key remembered since the last commit,
    /// and a tombstone for each key owed one. Keys expired at <paramref name="nowMs"/> leave the state first
    /// (see <see cref="EvictExpired"/>).
    /// </summary>
    public List<OutboundRecord> Changes(long nowMs)
    {
        OweEvictedEarly();
        EvictExpired(nowMs);

        var changes = new List<OutboundRecord>();
        foreach (var (partition, key, expiresAtMs) in _state.PendingKeys())
        {
            changes.Add(Record(partition, key, expiresAtMs));
        }

        _tombstonesWritten = [.. _owedTombstones];
        foreach (var (partition, key) in _tombstonesWritten)
        {
            changes.Add(Record(partition, key, null));
        }

        return changes;
    }

    /// <summary>The commit that carried the last <see cref="Changes"/> succeeded: pending keys become state, the tombstones written are paid.</summary>
    public void Committed()
    {
        _state.CommitPending();
        _owedTombstones.ExceptWith(_tombstonesWritten);
        _tombstonesWritten = [];
        OweEvictedEarly();
    }

    /// <summary>The work since the last commit was aborted: pending keys are forgotten; owed tombstones stay owed.</summary>
    public void Aborted()
    {
        _state.DiscardPending();
        _tombstonesWritten = [];
    }

    public void Dispose() => _restore.Dispose();

    /// <summary>A changelog record: the 16-byte key in partition <paramref name="partition"/>, value = expiry (unix ms, big-endian), or null for a tombstone.</summary>
    public OutboundRecord Record(int partition, DedupKey key, long? expiresAtMs)
    {
        byte[]? value = null;
        if (expiresAtMs is { } expires)
        {
            value = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(value, expires);
        }

        return new OutboundRecord(_options.ChangelogTopic, partition, key.ToBytes(), value, []);
    }

    /// <summary>Reads a changelog record; false for a record that is not one (a key of another length).</summary>
    public static bool TryRead(ConsumeResult<byte[]?, byte[]?> record, out DedupKey key, out long? expiresAtMs)
    {
        expiresAtMs = null;
        if (!DedupKey.TryRead(record.Message.Key, out key))
        {
            return false;
        }

        if (record.Message.Value is { Length: 8 } value)
        {
            expiresAtMs = BinaryPrimitives.ReadInt64BigEndian(value);
        }

        return true;
    }

    /// <summary>
    /// Removes expired keys, owing their tombstones. Expiries have a granularity of one second, so this runs at
    /// most once a second, and scans each partition's table in slices sized so that a whole sweep takes
    /// <see cref="SweepPeriod"/>: the cost follows the state's size and the time passed, not the commit rate
    /// (a fixed slice of every partition at every commit was 4 % of the processor's CPU at 8 000 events/s).
    /// The first call only starts the clock: restored partitions hold no expired keys.
    /// </summary>
    private void EvictExpired(long nowMs)
    {
        if (_lastEvictionMs == 0)
        {
            _lastEvictionMs = nowMs;
            return;
        }

        var elapsedMs = nowMs - _lastEvictionMs;
        if (elapsedMs is >= 0 and < 1000)
        {
            return;
        }

        var share = elapsedMs < 0 ? 1.0 : Math.Min(1.0, elapsedMs / SweepPeriod.TotalMilliseconds);
        _lastEvictionMs = nowMs;
        foreach (var partition in _state.Partitions.ToArray())
        {
            var slots = (int)Math.Clamp(Math.Ceiling(_state.Slots(partition) * share), MinSweepSlots, int.MaxValue);
            if (_state.Evict(partition, nowMs, slots) is { } keys)
            {
                foreach (var key in keys)
                {
                    _owedTombstones.Add((partition, key));
                }
            }
        }
    }

    /// <summary>Keys the state evicted early at its bound: their tombstones are owed, and they are counted.</summary>
    private void OweEvictedEarly()
    {
        if (_state.EvictedEarlyCount == 0)
        {
            return;
        }

        var evicted = _state.TakeEvictedEarly();
        _owedTombstones.UnionWith(evicted);
        _evictedEarly.Add(evicted.Count);
        _logger.LogWarning("{Count} dedup key(s) evicted before their expiry: a partition holds MaxKeysPerPartition ({Max}) keys; retries of those events are no longer recognised.", evicted.Count, _options.MaxKeysPerPartition);
    }
}
