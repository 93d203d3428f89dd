using CioSegment.Processor.Transform;

namespace CioSegment.UnitTests.Transform;

/// <summary>The open-addressing table against a Dictionary, under random operations and crowded probe runs.</summary>
public class DedupTableTests
{
    [Theory]
    [InlineData(1, 20_000, 64)]
    [InlineData(2, 20_000, 4)]   // few distinct keys: many updates and removals of the same keys
    [InlineData(3, 50_000, 5000)]
    public void Behaves_like_a_dictionary_under_random_operations(int seed, int operations, int keySpace)
    {
        var random = new Random(seed);
        var table = new DedupTable();
        var reference = new Dictionary<DedupKey, uint>();
        for (var op = 0; op < operations; op++)
        {
            // Crowd the probe runs: keys differ only in High, so many share a home slot.
            var key = random.Next(3) == 0
                ? new DedupKey((ulong)random.Next(keySpace) << 17, 7)
                : DedupKey.ForEvent("s", BitConverter.GetBytes(random.Next(keySpace)));
            switch (random.Next(10))
            {
                case < 5:
                    var expires = (uint)random.Next(1, 1000);
                    Assert.Equal(!reference.ContainsKey(key), table.Set(key, expires));
                    reference[key] = expires;
                    break;
                case < 8:
                    Assert.Equal(reference.Remove(key), table.Remove(key));
                    break;
                default:
                    var removed = new List<DedupKey>();
                    var now = (uint)random.Next(0, 1000);
                    table.RemoveExpired(now, random.Next(1, 64), removed);
                    foreach (var r in removed)
                    {
                        Assert.True(reference.Remove(r, out var e));
                        Assert.True(e <= now);
                    }

                    break;
            }

            Assert.Equal(reference.Count, table.Count);
        }

        foreach (var (key, expires) in reference)
        {
            Assert.True(table.TryGetValue(key, out var actual));
            Assert.Equal(expires, actual);
        }
    }

    [Fact]
    public void A_full_scan_removes_every_expired_key_and_keeps_the_rest()
    {
        var table = new DedupTable();
        for (var i = 0; i < 10_000; i++)
        {
            table.Set(DedupKey.ForEvent("s", BitConverter.GetBytes(i)), (uint)(i % 2 == 0 ? 10 : 100));
        }

        var removed = new List<DedupKey>();
        table.RemoveExpired(50, table.Capacity, removed);
        Assert.Equal(5_000, removed.Count);
        Assert.Equal(5_000, table.Count);
        Assert.True(table.TryGetValue(DedupKey.ForEvent("s", BitConverter.GetBytes(1)), out _));
        Assert.False(table.TryGetValue(DedupKey.ForEvent("s", BitConverter.GetBytes(0)), out _));
    }

    [Fact]
    public void The_all_zero_key_is_stored_like_any_other()
    {
        var table = new DedupTable();
        Assert.True(table.Set(new DedupKey(0, 0), 5));
        Assert.True(table.TryGetValue(new DedupKey(0, 0), out var e));
        Assert.Equal(5u, e);
        Assert.True(table.Remove(new DedupKey(0, 0)));
        Assert.Equal(0, table.Count);
    }
}
