using System.Runtime.InteropServices;

namespace CioSegment.Processor.Transform;

/// <summary>
/// An open-addressing hash table from <see cref="DedupKey"/> to an expiry (unix seconds): 20 bytes a slot,
/// at most 75% full, so a key costs 27–54 bytes however the table has grown (a
/// <c>Dictionary&lt;DedupKey,long&gt;</c> plus an eviction queue measured 68–92). Linear probing with
/// backward-shift deletion (no tombstones); expired keys are found by an incremental scan, so eviction
/// needs no second structure. The all-zero key marks an empty slot and is stored as (0, 1).
/// </summary>
public sealed class DedupTable
{
    private const int MinCapacity = 16;

    /// <summary>Largest table: 2^28 slots (5 GiB), room for 201 M keys; <see cref="TransformerOptions.MaxKeysPerPartition"/> stays below.</summary>
    public const int MaxCapacity = 1 << 28;

    private Slot[] _slots = new Slot[MinCapacity];
    private int _mask = MinCapacity - 1;
    private int _scanCursor;

    public int Count { get; private set; }

    /// <summary>Allocated slots (for footprint figures).</summary>
    public int Capacity => _slots.Length;

    public bool TryGetValue(DedupKey key, out uint expiresAtSeconds)
    {
        key = Normalize(key);
        var i = Home(key);
        while (true)
        {
            ref var slot = ref _slots[i];
            if (slot.IsEmpty)
            {
                expiresAtSeconds = 0;
                return false;
            }

            if (slot.High == key.High && slot.Low == key.Low)
            {
                expiresAtSeconds = slot.Expires;
                return true;
            }

            i = (i + 1) & _mask;
        }
    }

    /// <summary>Adds the key or updates its expiry; true when it was added.</summary>
    public bool Set(DedupKey key, uint expiresAtSeconds)
    {
        // In long: Count * 4 and Length * 3 pass int.MaxValue long before the table is full.
        if ((Count + 1L) * 4 > _slots.Length * 3L)
        {
            if (_slots.Length >= MaxCapacity)
            {
                throw new InvalidOperationException($"The dedup table is full ({Count} keys); MaxKeysPerPartition must keep it below {MaxCapacity / 4 * 3}.");
            }

            Resize(_slots.Length * 2);
        }

        key = Normalize(key);
        var i = Home(key);
        while (true)
        {
            ref var slot = ref _slots[i];
            if (slot.IsEmpty)
            {
                slot = new Slot(key.High, key.Low, expiresAtSeconds);
                Count++;
                return true;
            }

            if (slot.High == key.High && slot.Low == key.Low)
            {
                slot.Expires = expiresAtSeconds;
                return false;
            }

            i = (i + 1) & _mask;
        }
    }

    public bool Remove(DedupKey key)
    {
        key = Normalize(key);
        var i = Home(key);
        while (true)
        {
            ref var slot = ref _slots[i];
            if (slot.IsEmpty)
            {
                return false;
            }

            if (slot.High == key.High && slot.Low == key.Low)
            {
                RemoveAt(i);
                return true;
            }

            i = (i + 1) & _mask;
        }
    }

    /// <summary>
    /// Scans up to <paramref name="maxSlots"/> slots from where the last scan stopped and removes the keys
    /// that expired at <paramref name="nowSeconds"/>, adding them to <paramref name="removed"/>.
    /// </summary>
    public void RemoveExpired(uint nowSeconds, int maxSlots, List<DedupKey> removed) =>
        _scanCursor = RemoveAtOrBefore(nowSeconds, _scanCursor & _mask, Math.Min(maxSlots, _slots.Length), int.MaxValue, removed);

    /// <summary>
    /// An expiry such that about <paramref name="count"/> keys (at least that many, when any) expire at or
    /// before it: the oldest keys, found with two scans and a 1024-bucket histogram, without allocating.
    /// </summary>
    public uint OldestThreshold(int count)
    {
        uint min = uint.MaxValue, max = 0;
        foreach (var slot in _slots)
        {
            if (!slot.IsEmpty)
            {
                min = Math.Min(min, slot.Expires);
                max = Math.Max(max, slot.Expires);
            }
        }

        if (min >= max)
        {
            return max;
        }

        const int Buckets = 1024;
        Span<int> histogram = stackalloc int[Buckets];
        var width = ((ulong)max - min) / Buckets + 1;
        foreach (var slot in _slots)
        {
            if (!slot.IsEmpty)
            {
                histogram[(int)((slot.Expires - min) / width)]++;
            }
        }

        var total = 0L;
        for (var b = 0; b < Buckets; b++)
        {
            total += histogram[b];
            if (total >= count)
            {
                return (uint)Math.Min(max, min + ((ulong)b + 1) * width - 1);
            }
        }

        return max;
    }

    /// <summary>Removes up to <paramref name="maxRemoved"/> keys that expire at or before <paramref name="threshold"/> (one pass over the table).</summary>
    public void RemoveOldest(uint threshold, int maxRemoved, List<DedupKey> removed) =>
        RemoveAtOrBefore(threshold, 0, _slots.Length, maxRemoved, removed);

    /// <summary>
    /// Scans <paramref name="maxSlots"/> slots from <paramref name="start"/>, removing keys that expire at or
    /// before <paramref name="threshold"/> (at most <paramref name="maxRemoved"/>); returns where it stopped.
    /// </summary>
    private int RemoveAtOrBefore(uint threshold, int start, int maxSlots, int maxRemoved, List<DedupKey> removed)
    {
        var i = start;
        var scanned = 0;
        var taken = 0;
        while (scanned < maxSlots && taken < maxRemoved)
        {
            ref var slot = ref _slots[i];
            if (!slot.IsEmpty && slot.Expires <= threshold)
            {
                removed.Add(new DedupKey(slot.High, slot.Low));
                RemoveAt(i);
                taken++;

                // Backward shift may have moved a later key into this slot: look at it again.
                continue;
            }

            i = (i + 1) & _mask;
            scanned++;
        }

        return i;
    }

    private void RemoveAt(int i)
    {
        // Backward-shift deletion: pull later members of the probe run into the hole.
        var hole = i;
        var j = i;
        while (true)
        {
            j = (j + 1) & _mask;
            ref var candidate = ref _slots[j];
            if (candidate.IsEmpty)
            {
                break;
            }

            var home = Home(new DedupKey(candidate.High, candidate.Low));

            // Move it when its home is not cyclically within (hole, j].
            var inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
            if (!inRange)
            {
                _slots[hole] = candidate;
                hole = j;
            }
        }

        _slots[hole] = default;
        Count--;
    }

    private void Resize(int capacity)
    {
        var old = _slots;
        _slots = new Slot[capacity];
        _mask = capacity - 1;
        _scanCursor = 0;
        foreach (var slot in old)
        {
            if (slot.IsEmpty)
            {
                continue;
            }

            var i = Home(new DedupKey(slot.High, slot.Low));
            while (!_slots[i].IsEmpty)
            {
                i = (i + 1) & _mask;
            }

            _slots[i] = slot;
        }
    }

    private int Home(DedupKey key) => (int)(key.Low ^ (key.High >> 17)) & _mask;

    private static DedupKey Normalize(DedupKey key) => key.High == 0 && key.Low == 0 ? new DedupKey(0, 1) : key;

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct Slot(ulong high, ulong low, uint expires)
    {
        public readonly ulong High = high;
        public readonly ulong Low = low;
        public uint Expires = expires;

        public readonly bool IsEmpty => High == 0 && Low == 0;
    }
}
