using System.Runtime.InteropServices;

namespace CioSegment.Processor.Transform;

/// <summary>
/// The transformer's dedup state for the partitions it owns: which keys (<see cref="DedupKey"/>) were
/// seen, each until an explicit expiry (the horizon after it was first seen). In memory with a bounded
/// footprint (one dictionary entry and one queue slot per key), backed by the compacted changelog topic
/// that the transformer writes in the same transaction as its output.
/// <para>
/// Keys added while processing are <em>pending</em> until the transaction (or, at-least-once, the offset
/// commit) succeeds: <see cref="CommitPending"/> makes them durable state, <see cref="DiscardPending"/>
/// forgets them when the transaction aborts, so the in-memory state always equals the committed changelog.
/// </para>
/// Not thread-safe: it belongs to one consumer loop.
/// </summary>
public sealed class DedupStore
{
    private readonly Dictionary<int, PartitionState> _partitions = [];

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

        return state.Committed.TryGetValue(key, out var expires) && expires > nowMs;
    }

    /// <summary>Adds a pending key that expires at <paramref name="expiresAtMs"/>.</summary>
    public void Add(int partition, DedupKey key, long expiresAtMs) => State(partition).Pending[key] = expiresAtMs;

    public bool HasPending => _partitions.Values.Any(p => p.Pending.Count > 0);

    /// <summary>The transaction committed: pending keys become state.</summary>
    public void CommitPending()
    {
        foreach (var state in _partitions.Values)
        {
            foreach (var (key, expires) in state.Pending)
            {
                Put(state, key, expires);
            }

            state.Pending.Clear();
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
    /// caller writes their tombstones to the changelog. Keys leave in the order they were added, so
    /// this touches only expired keys.
    /// </summary>
    public List<DedupKey>? Evict(int partition, long nowMs, int max = 1000)
    {
        var state = State(partition);
        List<DedupKey>? evicted = null;
        while (evicted is null || evicted.Count < max)
        {
            if (!state.Order.TryPeek(out var oldest))
            {
                break;
            }

            if (!state.Committed.TryGetValue(oldest, out var expires))
            {
                state.Order.Dequeue();
                continue;
            }

            if (expires > nowMs)
            {
                break;
            }

            state.Order.Dequeue();
            state.Committed.Remove(oldest);
            Count--;
            (evicted ??= []).Add(oldest);
        }

        return evicted;
    }

    /// <summary>Starts a partition's state from its changelog: <paramref name="expiresAtMs"/> null is a tombstone.</summary>
    public void Restore(int partition, DedupKey key, long? expiresAtMs, long nowMs)
    {
        var state = State(partition);
        if (expiresAtMs is { } expires && expires > nowMs)
        {
            Put(state, key, expires);
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

    private void Put(PartitionState state, DedupKey key, long expires)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(state.Committed, key, out var existed);
        slot = expires;
        if (!existed)
        {
            state.Order.Enqueue(key);
            Count++;
        }
    }

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
        public readonly Dictionary<DedupKey, long> Committed = [];
        public readonly Queue<DedupKey> Order = new();
        public readonly Dictionary<DedupKey, long> Pending = [];
    }
}
