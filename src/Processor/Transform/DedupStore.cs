namespace CioSegment.Processor.Transform;

/// <summary>
/// The transformer's dedup state for the partitions it owns: which keys (<see cref="DedupKey"/>) were
/// seen, each until an explicit expiry (the horizon after it was first seen). In memory with a bounded
/// footprint (a <see cref="DedupTable"/>: 27–54 bytes a key), backed by the compacted changelog topic
/// that the transformer writes in the same transaction as its output.
/// <para>
/// Keys added while processing are <em>pending</em> until the transaction (or, at-least-once, the offset
/// commit) succeeds: <see cref="CommitPending"/> makes them durable state, <see cref="DiscardPending"/>
/// forgets them when the transaction aborts, so the in-memory state always equals the committed changelog.
/// </para>
/// Not thread-safe: it belongs to one consumer loop.
/// </summary>
public sealed class DedupStore(int maxKeysPerPartition = int.MaxValue)
{
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly List<DedupKey> _evicted = [];
    private readonly List<(int Partition, DedupKey Key)> _evictedEarly = [];

    /// <summary>Keys removed before their expiry because a partition reached its bound, oldest first; taken by <see cref="TakeEvictedEarly"/>.</summary>
    public int EvictedEarlyCount => _evictedEarly.Count;

    /// <summary>The keys evicted early since the last call (their tombstones are owed to the changelog).</summary>
    public List<(int Partition, DedupKey Key)> TakeEvictedEarly()
    {
        var taken = _evictedEarly.ToList();
        _evictedEarly.Clear();
        return taken;
    }

    /// <summary>Keys held in committed state, over every partition.</summary>
    public long Count { get; private set; }

    public IReadOnlyCollection<int> Partitions => _partitions.Keys;

    /// <summary>Whether <paramref name="key"/> was seen (committed or pending) and has not expired at <paramref name="nowMs"/>.</summary>
    public bool Contains(int partition, DedupKey key, long nowMs)
    {
        var state = State(partition);
        if (state.Pending.ContainsKey(key))
        {
            return true;
        }

        return state.Committed.TryGetValue(key, out var expires) && ToMs(expires) > nowMs;
    }

    /// <summary>Adds a pending key that expires at <paramref name="expiresAtMs"/>.</summary>
    public void Add(int partition, DedupKey key, long expiresAtMs) => State(partition).Pending[key] = expiresAtMs;

    /// <summary>The transaction committed: pending keys become state.</summary>
    public void CommitPending()
    {
        foreach (var (partition, state) in _partitions)
        {
            foreach (var (key, expires) in state.Pending)
            {
                Put(partition, state, key, expires);
            }

            state.Pending.Clear();
        }
    }

    /// <summary>The keys added since the last commit or abort, with their expiry.</summary>
    public IEnumerable<(int Partition, DedupKey Key, long ExpiresAtMs)> PendingKeys()
    {
        foreach (var (partition, state) in _partitions)
        {
            foreach (var (key, expires) in state.Pending)
            {
                yield return (partition, key, expires);
            }
        }
    }

    /// <summary>The transaction aborted: pending keys are forgotten.</summary>
    public void DiscardPending()
    {
        foreach (var state in _partitions.Values)
        {
            state.Pending.Clear();
        }
    }

    /// <summary>
    /// Removes committed keys that expired at <paramref name="nowMs"/> and returns them, so that the
    /// caller writes their tombstones to the changelog. Each call scans a bounded slice of the table
    /// (<paramref name="maxSlots"/>), continuing where the last one stopped.
    /// </summary>
    public List<DedupKey>? Evict(int partition, long nowMs, int maxSlots = 8192)
    {
        var state = State(partition);
        _evicted.Clear();
        state.Committed.RemoveExpired(ToSeconds(nowMs), maxSlots, _evicted);
        if (_evicted.Count == 0)
        {
            return null;
        }

        Count -= _evicted.Count;
        return [.. _evicted];
    }

    /// <summary>Slots of a partition's table (what a full expiry sweep scans).</summary>
    public int Slots(int partition) => State(partition).Committed.Capacity;

    /// <summary>Starts a partition's state from its changelog: <paramref name="expiresAtMs"/> null is a tombstone.</summary>
    public void Restore(int partition, DedupKey key, long? expiresAtMs, long nowMs)
    {
        var state = State(partition);
        if (expiresAtMs is { } expires && expires > nowMs)
        {
            Put(partition, state, key, expires);
        }
        else if (state.Committed.Remove(key))
        {
            Count--;
        }
    }

    /// <summary>Forgets a partition (revoked or lost): its state will be restored by whoever owns it next.</summary>
    public void Drop(int partition)
    {
        if (_partitions.Remove(partition, out var state))
        {
            Count -= state.Committed.Count;
        }
    }

    /// <summary>Makes sure a partition exists (empty) when it is assigned.</summary>
    public void Open(int partition) => State(partition);

    private void Put(int partition, PartitionState state, DedupKey key, long expiresMs)
    {
        if (!state.Committed.Set(key, ToSeconds(expiresMs)))
        {
            return;
        }

        Count++;
        if (state.Committed.Count > maxKeysPerPartition)
        {
            // At the bound: the oldest 1 % go (at least one key), so that memory stays bounded; a retry of
            // one of them is no longer recognised. Rare by design: the bound is sized above the horizon's keys.
            var share = Math.Max(1, maxKeysPerPartition / 100);
            var threshold = state.Committed.OldestThreshold(share);
            _evicted.Clear();
            state.Committed.RemoveOldest(threshold, share, _evicted);
            Count -= _evicted.Count;
            foreach (var evicted in _evicted)
            {
                _evictedEarly.Add((partition, evicted));
            }
        }
    }

    // Expiries are kept in whole unix seconds (rounded up, so a key never expires early).
    private static uint ToSeconds(long ms) => (uint)Math.Clamp((ms + 999) / 1000, 0, uint.MaxValue);

    private static long ToMs(uint seconds) => seconds * 1000L;

    private PartitionState State(int partition)
    {
        if (!_partitions.TryGetValue(partition, out var state))
        {
            state = new PartitionState();
            _partitions[partition] = state;
        }

        return state;
    }

    private sealed class PartitionState
    {
        public readonly DedupTable Committed = new();
        public readonly Dictionary<DedupKey, long> Pending = [];
    }
}
