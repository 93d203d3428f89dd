using CioSegment.DevDoubles.Segment;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace CioSegment.LoadTest;

/// <summary>
/// <c>cpu [--events N] [--rate R] [--runs K]</c>: CPU time per webhook of each process, the development broker
/// kept out of the pipeline's figure. Starts the broker, the ingest and the processor as separate processes
/// (as <c>chaos</c> does), a bare Kestrel endpoint that checks the signature (<c>floor</c>) and a stand-in
/// Segment in this process. Each run sends N unique signed webhooks to the floor, then N others to the ingest
/// (alternated, run after run), at full speed or at R/s, waits until Segment got every one, and divides
/// each process's user+system CPU time over the phase by the events: what a deployment pays per webhook,
/// whatever the broker's speed. Reports medians over the runs, the ingest's ratio to the floor, events/s,
/// ingest p99 and peak RSS, and closes with
/// <c>cpu: ingest X us (Y x floor), processor Z us, broker B us; delivered D/N</c>.
/// </summary>
internal static class CpuCommand
{
    private const string Source = "cpu";
    private const string SigningKey = "cpu-signing-key";

    /// <param name="environment">Extra environment variables, <c>process:NAME=value</c> (process: ingest, processor, broker or floor).</param>
    /// <param name="guarantee">The transformer's processing guarantee: ExactlyOnce (the default, as in production; the
    /// development broker takes the transaction calls, which is what their client-side cost needs) or AtLeastOnce.</param>
    public static async Task<int> RunAsync(int events, int rate, int runs, int workers, string guarantee, string[] environment, CancellationToken cancel)
    {
        Dictionary<string, string> EnvironmentOf(string process) => environment
            .Where(e => e.StartsWith(process + ":", StringComparison.Ordinal) && e.Contains('=', StringComparison.Ordinal))
            .Select(e => e[(process.Length + 1)..].Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv[1]);

        await using var segment = await SegmentStandIn.StartAsync();
        var (broker, bootstrap, registry) = await ServiceProcess.StartBrokerAsync(EnvironmentOf("broker"));
        using var brokerProcess = broker;
        var ingestPort = Stats.FreePort();
        var floorPort = Stats.FreePort();
        string[] common =
        [
            $"--CioSegment:Kafka:BootstrapServers={bootstrap}",
            $"--CioSegment:Sources:{Source}:WebhookSigningKey={SigningKey}",
            $"--CioSegment:Sources:{Source}:WriteKey=cpu-write-key",
            $"--CioSegment:Sources:{Source}:SegmentEndpoint={segment.Url}",
        ];
        using var ingest = ServiceProcess.Start("ingest", "CioSegment.Ingest.dll", EnvironmentOf("ingest"), [.. common, "--urls", $"http://127.0.0.1:{ingestPort}"]);
        using var processor = ServiceProcess.Start("processor", "CioSegment.Processor.dll", EnvironmentOf("processor"),
        [
            .. common,
            $"--CioSegment:SchemaRegistry:Url={registry}",
            $"--CioSegment:Transformer:ProcessingGuarantee={guarantee}",
            "--CioSegment:Kafka:Consumer:fetch.wait.max.ms=50",   // as the DevHost sets it (the development broker holds fetches)
            "--urls", "http://127.0.0.1:0",
        ]);
        using var floor = ServiceProcess.Start("floor", "CioSegment.LoadTest.dll", EnvironmentOf("floor"), "floor", "--port", floorPort.ToString(CultureInfo.InvariantCulture), "--key", SigningKey);
        await floor.WaitForLineAsync(l => l.StartsWith("floor listening", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        Console.WriteLine($"processes (to profile, e.g. perf record -g -p PID with DOTNET_PerfMapEnabled=1 set for this command): ingest {ingest.Id}, processor {processor.Id}, broker {broker.Id}, floor {floor.Id}");

        var webhooks = new Webhooks("cpu" + DateTimeOffset.UtcNow.ToUnixTimeSeconds(), SigningKey);
        using var toIngest = Client(ingestPort, workers);
        using var toFloor = Client(floorPort, workers);

        // Warm up (JIT and tiering, connections, group joins, the first batches) once the ingest is ready, in two
        // rounds each, alternated, and wait for delivery.
        await WaitReadyAsync(toIngest, cancel);
        const int warmUp = 10000;
        Phase warm = null!;
        var warmDelivered = 0;
        for (var round = 0; round < 2; round++)
        {
            await DriveAsync(toFloor, webhooks, 1_100_000_000L + (round * warmUp), warmUp, 0, workers, cancel);
            warm = await DriveAsync(toIngest, webhooks, 1_000_000_000L + (round * warmUp), warmUp, 0, workers, cancel);
            warmDelivered = await WaitDeliveredAsync(segment, warm.Accepted, cancel);
        }

        Console.WriteLine($"warmed up: {warm.Accepted.Count}/{warmUp} accepted, {warmDelivered} delivered; {(rate > 0 ? $"{rate}/s" : "full speed")}, {workers} senders, {events} events per phase, transformer {guarantee}");

        var results = new List<Run>();
        long delivered = 0, sent = 0;
        for (var run = 0; run < runs; run++)
        {
            var floorCpu = floor.CpuTime;
            var floorPhase = await DriveAsync(toFloor, webhooks, 2_000_000_000L + (run * 10_000_000L), events, rate, workers, cancel);
            var floorUs = Micros(floor.CpuTime - floorCpu, floorPhase.Accepted.Count);

            var before = (Ingest: ingest.CpuTime, Processor: processor.CpuTime, Broker: broker.CpuTime);
            var started = Stopwatch.GetTimestamp();
            var phase = await DriveAsync(toIngest, webhooks, 3_000_000_000L + (run * 10_000_000L), events, rate, workers, cancel);
            var ingestCpu = ingest.CpuTime - before.Ingest;
            var got = await WaitDeliveredAsync(segment, phase.Accepted, cancel);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var result = new Run(
                floorUs,
                Micros(ingestCpu, phase.Accepted.Count),
                Micros(processor.CpuTime - before.Processor, got),
                Micros(broker.CpuTime - before.Broker, got),
                got / seconds,
                Stats.Percentile(phase.LatenciesMs, 99),
                floorPhase.Accepted.Count,
                phase.Accepted.Count,
                got);
            results.Add(result);
            delivered += got;
            sent += events;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {run + 1}: floor {result.FloorUs:F1} us; ingest {result.IngestUs:F1} us ({result.IngestUs / result.FloorUs:F2} x floor), processor {result.ProcessorUs:F1} us, broker {result.BrokerUs:F1} us per event; {result.EventsPerSecond:F0} events/s end to end; ingest p99 {result.IngestP99Ms:F1} ms; floor accepted {result.FloorAccepted}/{events}, ingest accepted {result.Accepted}/{events}, delivered {got}"));
        }

        var median = new Run(
            Median(results.Select(r => r.FloorUs)),
            Median(results.Select(r => r.IngestUs)),
            Median(results.Select(r => r.ProcessorUs)),
            Median(results.Select(r => r.BrokerUs)),
            Median(results.Select(r => r.EventsPerSecond)),
            Median(results.Select(r => r.IngestP99Ms)),
            0,
            0,
            0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median of {runs} runs: floor {median.FloorUs:F1} us, ingest {median.IngestUs:F1} us, processor {median.ProcessorUs:F1} us, broker {median.BrokerUs:F1} us per event; {median.EventsPerSecond:F0} events/s; ingest p99 {median.IngestP99Ms:F1} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak RSS: ingest {ingest.PeakMemoryMb:F0} MB, processor {processor.PeakMemoryMb:F0} MB, broker {broker.PeakMemoryMb:F0} MB, floor {floor.PeakMemoryMb:F0} MB"));
        floor.Stop(TimeSpan.FromSeconds(5));
        ingest.Stop(TimeSpan.FromSeconds(10));
        processor.Stop(TimeSpan.FromSeconds(15));
        broker.Stop(TimeSpan.FromSeconds(5));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cpu: ingest {median.IngestUs:F1} us ({median.IngestUs / median.FloorUs:F2} x floor), processor {median.ProcessorUs:F1} us, broker {median.BrokerUs:F1} us; delivered {delivered}/{sent}"));
        return delivered == sent ? 0 : 1;
    }

    private static HttpClient Client(int port, int workers) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = workers, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(10),
        };

    /// <summary>Sends webhooks <paramref name="first"/>.. (<paramref name="count"/> of them) with <paramref name="workers"/> senders, at <paramref name="rate"/>/s or as fast as answered.</summary>
    private static async Task<Phase> DriveAsync(HttpClient http, Webhooks webhooks, long first, int count, int rate, int workers, CancellationToken cancel)
    {
        var accepted = new ConcurrentBag<string>();
        var latencies = new ConcurrentBag<double>();
        var next = -1L;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(
            async () =>
            {
                long i;
                while ((i = Interlocked.Increment(ref next)) < count && !cancel.IsCancellationRequested)
                {
                    if (rate > 0 && TimeSpan.FromSeconds(i / (double)rate) - clock.Elapsed is { } wait && wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, cancel);
                    }

                    var n = first + i;
                    var sentAt = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await http.SendAsync(webhooks.Request(Source, webhooks.Body(n)), cancel);
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            accepted.Add("cio-" + webhooks.EventId(n));
                            latencies.Add(Stopwatch.GetElapsedTime(sentAt).TotalMilliseconds);
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        // Not accepted: counted as such in the report.
                    }
                }
            },
            cancel)));
        return new Phase([.. accepted], [.. latencies.Order()]);
    }

    private static async Task WaitReadyAsync(HttpClient ingest, CancellationToken cancel)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            try
            {
                using var response = await ingest.GetAsync("/health/ready", cancel);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200, cancel);
        }

        throw new TimeoutException("The ingest did not become ready within 90 s.");
    }

    /// <summary>Waits until Segment got every accepted messageId, or nothing new arrived for 30 s; returns how many it got.</summary>
    private static async Task<int> WaitDeliveredAsync(SegmentStandIn segment, IReadOnlyCollection<string> accepted, CancellationToken cancel)
    {
        var last = -1;
        var quiet = Stopwatch.StartNew();
        while (true)
        {
            var got = accepted.Count(segment.Stored.ContainsKey);
            if (got == accepted.Count || quiet.Elapsed > TimeSpan.FromSeconds(30))
            {
                return got;
            }

            if (got != last)
            {
                last = got;
                quiet.Restart();
            }

            await Task.Delay(20, cancel);
        }
    }

    private static double Micros(TimeSpan cpu, int events) => events == 0 ? double.NaN : cpu.TotalMicroseconds / events;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed record Phase(List<string> Accepted, List<double> LatenciesMs);

    private sealed record Run(double FloorUs, double IngestUs, double ProcessorUs, double BrokerUs, double EventsPerSecond, double IngestP99Ms, int FloorAccepted, int Accepted, int Delivered);
}
