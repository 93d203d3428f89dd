using System.Diagnostics;
using System.Globalization;
using CioSegment.Processor.Transform;

namespace CioSegment.Benchmarks;

/// <summary>
/// Memory held per dedup key: <c>dotnet run -c Release --project bench/Benchmarks -- dedup [keys]</c>.
/// Fills one partition's <see cref="DedupStore"/> with committed keys and measures the managed heap
/// before and after (full, compacting GCs), so the figure includes dictionary and queue slack. Then
/// restores the same keys into a new store from changelog records (key and value bytes as the changelog
/// reader delivers them, one <c>ConsumeResult</c> each): the transformer's own cost of a restore, without
/// the broker's fetch.
/// </summary>
internal static class DedupFootprint
{
    public static int Run(string[] args)
    {
        var keys = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        Span<byte> id = stackalloc byte[16];
        var before = Heap();
        var store = new DedupStore();
        var expires = DateTimeOffset.UtcNow.AddDays(7).ToUnixTimeMilliseconds();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < keys; i++)
        {
            BitConverter.TryWriteBytes(id, i);
            store.Add(0, DedupKey.ForEvent("acme", id), expires);
            if (i % 10_000 == 9_999)
            {
                store.CommitPending();
            }
        }

        store.CommitPending();
        clock.Stop();
        var after = Heap();
        GC.KeepAlive(store);
        Console.WriteLine($"dedup: {keys} keys, {(after - before) / (double)keys:F1} bytes per key held, {keys / clock.Elapsed.TotalSeconds:F0} keys/s added (hash + insert)");

        var value = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(value, expires);
        var restored = new DedupStore();
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        clock.Restart();
        for (var i = 0; i < keys; i++)
        {
            BitConverter.TryWriteBytes(id, i);
            var record = new Confluent.Kafka.ConsumeResult<byte[]?, byte[]?>
            {
                Message = new Confluent.Kafka.Message<byte[]?, byte[]?> { Key = DedupKey.ForEvent("acme", id).ToBytes(), Value = value },
            };
            if (ChangeLoggedDedupStore.TryRead(record, out var key, out var expiry))
            {
                restored.Restore(0, key, expiry, nowMs);
            }
        }

        clock.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Console.WriteLine($"restore: {restored.Count} keys in {clock.Elapsed.TotalSeconds:F2} s ({keys / clock.Elapsed.TotalSeconds:F0} keys/s, {cpu.TotalMilliseconds * 1000 / keys:F2} us CPU per key), peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
        GC.KeepAlive(store);
        return 0;
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
