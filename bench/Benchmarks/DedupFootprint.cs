using System.Diagnostics;
using System.Globalization;
using CioSegment.Processor.Transform;

namespace CioSegment.Benchmarks;

/// <summary>
/// Memory held per dedup key: <c>dotnet run -c Release --project bench/Benchmarks -- dedup [keys]</c>.
/// Fills one partition's <see cref="DedupStore"/> with committed keys and measures the managed heap
/// before and after (full, compacting GCs), so the figure includes dictionary and queue slack.
/// </summary>
internal static class DedupFootprint
{
    public static int Run(string[] args)
    {
        var keys = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        Span<byte> id = stackalloc byte[16];
        var before = Heap();
        var store = new DedupStore();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < keys; i++)
        {
            BitConverter.TryWriteBytes(id, i);
            store.Add(0, DedupKey.ForEvent("acme", id), long.MaxValue);
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
