using CioSegment.DevDoubles.Segment;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Confluent.Kafka;

namespace CioSegment.LoadTest;

/// <summary>
/// Broker, ingest and processor as separate processes (as in production) under steady load; the ingest
/// and the processor are killed with SIGKILL at random moments and restarted. At the end, every webhook the
/// ingest accepted must have reached the stand-in Segment: lost must be 0. Duplicates (distinct messageIds
/// delivered more than once) are reported apart from loss; records the development broker itself dropped
/// (its per-partition retention) are reported apart from both.
/// </summary>
internal static class ChaosCommand
{
    private const string Source = "chaos";
    private const string SigningKey = "chaos-signing-key";

    public static async Task<int> RunAsync(int cycles, int rate, CancellationToken cancel)
    {
        await using var segment = await SegmentStandIn.StartAsync();
        var (broker, bootstrap, registry) = await ServiceProcess.StartBrokerAsync();
        using var brokerProcess = broker;
        var port = Stats.FreePort();
        string[] common =
        [
            $"--CioSegment:Kafka:BootstrapServers={bootstrap}",
            $"--CioSegment:Sources:{Source}:WebhookSigningKey={SigningKey}",
            $"--CioSegment:Sources:{Source}:WriteKey=chaos-write-key",
            $"--CioSegment:Sources:{Source}:SegmentEndpoint={segment.Url}",
        ];
        ServiceProcess StartIngest() => ServiceProcess.Start("ingest", "CioSegment.Ingest.dll", [.. common, "--urls", $"http://127.0.0.1:{port}"]);
        ServiceProcess StartProcessor() => ServiceProcess.Start("processor", "CioSegment.Processor.dll",
        [
            .. common,
            $"--CioSegment:SchemaRegistry:Url={registry}",
            "--CioSegment:Transformer:ProcessingGuarantee=AtLeastOnce",
            "--CioSegment:Kafka:Consumer:session.timeout.ms=6000",
            "--CioSegment:Kafka:Consumer:heartbeat.interval.ms=500",
            "--CioSegment:Kafka:Consumer:fetch.wait.max.ms=50",   // the development broker holds fetches (see DevHost)
            "--urls", "http://127.0.0.1:0",
        ]);

        var ingest = StartIngest();
        var processor = StartProcessor();
        var peaks = new ConcurrentDictionary<string, double>();
        void Remember(ServiceProcess p) => peaks.AddOrUpdate(p.Name, p.PeakMemoryMb, (_, old) => Math.Max(old, p.PeakMemoryMb));

        var webhooks = new Webhooks("chaos" + DateTimeOffset.UtcNow.ToUnixTimeSeconds(), SigningKey);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        var accepted = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        long next = 0, refused = 0;
        using var stopLoad = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var load = Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref next);
                var due = TimeSpan.FromSeconds(n / (double)rate);
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed);
                }

                try
                {
                    using var response = await http.SendAsync(webhooks.Request(Source, webhooks.Body(n)));
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        accepted["cio-" + webhooks.EventId(n)] = true;
                    }
                    else
                    {
                        Interlocked.Increment(ref refused);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref refused);   // ingest down: Customer.io would retry later
                }
            }
        })));

        var random = new Random(20_210_616);
        var kills = 0;
        await Task.Delay(TimeSpan.FromSeconds(5), cancel);
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(2000, 5000)), cancel);
            var victimIsIngest = random.Next(2) == 0;
            var victim = victimIsIngest ? ingest : processor;
            Remember(victim);
            victim.Kill();
            kills++;
            Console.WriteLine($"cycle {cycle + 1}: SIGKILL {victim.Name} at {clock.Elapsed.TotalSeconds:F1} s; accepted so far {accepted.Count}");
            victim.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(200, 1500)), cancel);
            if (victimIsIngest)
            {
                ingest = StartIngest();
            }
            else
            {
                processor = StartProcessor();
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(3), cancel);
        stopLoad.Cancel();
        await load;

        // Wait for delivery until nothing new arrives for 30 s.
        var lastCount = -1;
        var quiet = Stopwatch.StartNew();
        while (quiet.Elapsed < TimeSpan.FromSeconds(30))
        {
            var delivered = accepted.Keys.Count(segment.Stored.ContainsKey);
            if (delivered == accepted.Count)
            {
                break;
            }

            if (delivered != lastCount)
            {
                lastCount = delivered;
                quiet.Restart();
            }

            await Task.Delay(250, cancel);
        }

        var dropped = BrokerDropped(bootstrap);
        Remember(ingest);
        Remember(processor);
        Remember(broker);
        ingest.Stop(TimeSpan.FromSeconds(10));
        processor.Stop(TimeSpan.FromSeconds(15));
        broker.Stop(TimeSpan.FromSeconds(5));

        var lost = accepted.Keys.Where(id => !segment.Stored.ContainsKey(id)).ToList();
        var duplicates = segment.Stored.Count(kv => kv.Value.Count > 1);
        var resends = segment.Stored.Sum(kv => Math.Max(0, kv.Value.Count - 1));
        Console.WriteLine($"sent {next}, accepted {accepted.Count}, not accepted while ingest was down or busy {refused} (Customer.io retries those)");
        Console.WriteLine($"delivered {accepted.Keys.Count(segment.Stored.ContainsKey)} of the accepted; identical messageIds re-sent {resends} times in all");
        Console.WriteLine($"development broker dropped {dropped} raw records (retention), reported apart from pipeline loss");
        Console.WriteLine($"peak memory: {string.Join(", ", peaks.Select(p => $"{p.Key} {p.Value:F0} MB"))}");
        if (lost.Count > 0)
        {
            Console.WriteLine("lost messageIds (first 10): " + string.Join(", ", lost.Take(10)));
            foreach (var p in new[] { ingest, processor })
            {
                Console.WriteLine($"--- last output of {p.Name}:\n" + string.Join('\n', p.Output.TakeLast(20)));
            }
        }

        Console.WriteLine($"chaos: {kills} kills, accepted {accepted.Count}, lost {lost.Count}, duplicates {duplicates}");
        return lost.Count == 0 ? 0 : 1;
    }

    private static long BrokerDropped(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "chaos-watermarks" }).Build();
        long dropped = 0;
        for (var p = 0; p < 24; p++)
        {
            dropped += consumer.QueryWatermarkOffsets(new TopicPartition(CioSegment.Contracts.Topics.RawWebhooks, p), TimeSpan.FromSeconds(5)).Low.Value;
        }

        return dropped;
    }
}
