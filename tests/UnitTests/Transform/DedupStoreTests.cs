using CioSegment.Processor.Transform;

namespace CioSegment.UnitTests.Transform;

public class DedupStoreTests
{
    private static readonly DedupKey A = DedupKey.ForEvent("acme", "e1"u8);
    private static readonly DedupKey B = DedupKey.ForEvent("acme", "e2"u8);

    [Fact]
    public void Keys_differ_by_kind_source_and_value()
    {
        Assert.NotEqual(DedupKey.ForEvent("acme", "e1"u8), DedupKey.ForEvent("beta", "e1"u8));
        Assert.NotEqual(DedupKey.ForEvent("acme", "e1"u8), DedupKey.ForEvent("acme", "e2"u8));
        Assert.NotEqual(DedupKey.ForFirst("acme", "d1"u8, "sent"u8), DedupKey.ForFirst("acme", "d1"u8, "opened"u8));
        Assert.NotEqual(DedupKey.ForFirst("acme", "ab"u8, "c"u8), DedupKey.ForFirst("acme", "a"u8, "bc"u8));
        Assert.Equal(DedupKey.ForEvent("acme", "e1"u8), DedupKey.ForEvent("acme", "e1"u8));
        Assert.True(DedupKey.TryRead(A.ToBytes(), out var read));
        Assert.Equal(A, read);
    }

    [Fact]
    public void Pending_keys_count_as_seen_and_become_state_only_on_commit()
    {
        var store = new DedupStore();
        store.Add(0, A, expiresAtMs: 1000);
        Assert.True(store.Contains(0, A, nowMs: 10));
        Assert.Equal(0, store.Count);

        store.CommitPending();
        Assert.True(store.Contains(0, A, 10));
        Assert.Equal(1, store.Count);
        Assert.False(store.Contains(1, A, 10));
    }

    [Fact]
    public void Discarded_pending_keys_are_forgotten()
    {
        var store = new DedupStore();
        store.Add(0, A, 1000);
        store.DiscardPending();
        Assert.False(store.Contains(0, A, 10));
    }

    [Fact]
    public void Keys_expire_at_the_horizon_and_are_evicted()
    {
        var store = new DedupStore();
        store.Add(0, A, 100_000);
        store.Add(0, B, 200_000);
        store.CommitPending();

        Assert.False(store.Contains(0, A, 100_000));
        Assert.True(store.Contains(0, B, 100_000));
        Assert.Null(store.Evict(0, 99_000));
        Assert.Equal([A], store.Evict(0, 150_000)!);
        Assert.Equal(1, store.Count);
        Assert.Equal([B], store.Evict(0, 1_000_000)!);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Expiry_is_never_earlier_than_asked_for()
    {
        var store = new DedupStore();
        store.Add(0, A, 1_500);
        store.CommitPending();
        Assert.True(store.Contains(0, A, 1_499));
    }

    [Fact]
    public void Restore_applies_values_and_tombstones_and_skips_expired_keys()
    {
        var store = new DedupStore();
        store.Restore(3, A, 500_000, nowMs: 100_000);
        store.Restore(3, B, 50_000, nowMs: 100_000);
        Assert.True(store.Contains(3, A, 100_000));
        Assert.False(store.Contains(3, B, 100_000));
        store.Restore(3, A, null, nowMs: 100_000);
        Assert.False(store.Contains(3, A, 100_000));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Dropping_a_partition_forgets_its_state_only()
    {
        var store = new DedupStore();
        store.Add(0, A, 1000);
        store.Add(1, B, 1000);
        store.CommitPending();
        store.Drop(0);
        Assert.False(store.Contains(0, A, 1));
        Assert.True(store.Contains(1, B, 1));
        Assert.Equal(1, store.Count);
    }
}
