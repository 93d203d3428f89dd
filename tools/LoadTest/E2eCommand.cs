using CioSegment.DevDoubles.Segment;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace CioSegment.LoadTest;

/// <summary>
/// Drives a DevHost (whole pipeline, one process) wired to a loopback stand-in Segment at full speed (or a
/// fixed rate), then waits for delivery and reports throughput, ingest latency, end-to-end latency (sent →
/// batch received by the stand-in), lost and duplicated events, and peak memory.
/// </summary>
internal static class E2eCommand
{
    private const string Source = "load";
    private const string SigningKey = "load-signing-key";

    public static async Task<int> RunAsync(int seconds, int workers, int rate, string[] settings, CancellationToken cancel)
    {
        await using var segment = await SegmentStandIn.StartAsync();
        using var devHost = ServiceProcess.Start(
            "devhost",
            "CioSegment.DevHost.dll",
            [.. settings.Select(s => "--" + s),
            "--urls", "http://127.0.0.1:0",
            "--CioSegment:DevHost:TailTopics=false",
            "--CioSegment:DevHost:Partitions=24",
            $"--CioSegment:Sources:{Source}:WebhookSigningKey={SigningKey}",
            $"--CioSegment:Sources:{Source}:WriteKey=load-write-key",
            $"--CioSegment:Sources:{Source}:SegmentEndpoint={segment.Url}"]);
        var curl = await devHost.WaitForLineAsync(l => l.StartsWith("curl ", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        var baseAddress = curl[(curl.IndexOf('\'', StringComparison.Ordinal) + 1)..curl.IndexOf("/webhooks/", StringComparison.Ordinal)];
        if (!new Uri(baseAddress).IsLoopback)
        {
            throw new InvalidOperationException("Refusing to send load anywhere but loopback: " + baseAddress);
        }

        var webhooks = new Webhooks("e2e" + DateTimeOffset.UtcNow.ToUnixTimeSeconds(), SigningKey);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = workers, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = new Uri(baseAddress),
            Timeout = TimeSpan.FromSeconds(10),
        };

        // Warm up (JIT, connections, group joins) before measuring.
        for (var i = 0; i < 50; i++)
        {
            using var warm = await http.SendAsync(webhooks.Request(Source, webhooks.Body(1_000_000_000_000 + i)), cancel);
        }

        var sentAt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var ingestMs = new ConcurrentBag<double>();
        long next = 0, accepted = 0, refused = 0;
        var clock = Stopwatch.StartNew();
        var end = TimeSpan.FromSeconds(seconds);
        var sampler = Task.Run(async () =>
        {
            while (clock.Elapsed < end)
            {
                devHost.Sample();
                await Task.Delay(250);
            }
        });

        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < end && !cancel.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref next);
                if (rate > 0)
                {
                    var due = TimeSpan.FromSeconds(n / (double)rate);
                    if (due > clock.Elapsed)
                    {
                        await Task.Delay(due - clock.Elapsed);
                    }
                }

                var body = webhooks.Body(n);
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.SendAsync(webhooks.Request(Source, body), cancel);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        sentAt["cio-" + webhooks.EventId(n)] = started;
                        Interlocked.Increment(ref accepted);
                        ingestMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    else
                    {
                        Interlocked.Increment(ref refused);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (TaskCanceledException)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        }, cancel)));
        var sendSeconds = clock.Elapsed.TotalSeconds;
        await sampler;

        // Wait for the pipeline to deliver what was accepted (until nothing new arrives for 15 s).
        var lastCount = -1;
        var quietSince = Stopwatch.StartNew();
        while (quietSince.Elapsed < TimeSpan.FromSeconds(15))
        {
            var delivered = sentAt.Keys.Count(segment.Stored.ContainsKey);
            if (delivered == sentAt.Count)
            {
                break;
            }

            if (delivered != lastCount)
            {
                lastCount = delivered;
                quietSince.Restart();
            }

            devHost.Sample();
            await Task.Delay(200, cancel);
        }

        var allDelivered = clock.Elapsed.TotalSeconds;
        var e2eMs = sentAt
            .Where(kv => segment.Stored.ContainsKey(kv.Key))
            .Select(kv => Stopwatch.GetElapsedTime(kv.Value, segment.Stored[kv.Key].FirstTimestamp).TotalMilliseconds)
            .Order().ToList();
        var ingest = ingestMs.Order().ToList();
        var lost = sentAt.Keys.Count(id => !segment.Stored.ContainsKey(id));
        var duplicates = segment.Stored.Count(kv => kv.Value.Count > 1 && sentAt.ContainsKey(kv.Key));
        var throughput = accepted / sendSeconds;
        devHost.Stop(TimeSpan.FromSeconds(15));

        Console.WriteLine($"accepted {accepted} webhooks in {sendSeconds:F1} s ({refused} not accepted), {workers} senders{(rate > 0 ? $", target {rate}/s" : ", full speed")}");
        Console.WriteLine($"ingest latency: p50 {Stats.Percentile(ingest, 50):F1} ms, p99 {Stats.Percentile(ingest, 99):F1} ms");
        Console.WriteLine($"end to end latency: p50 {Stats.Percentile(e2eMs, 50):F0} ms, p95 {Stats.Percentile(e2eMs, 95):F0} ms, p99 {Stats.Percentile(e2eMs, 99):F0} ms; all delivered {allDelivered - sendSeconds:F1} s after the last send");
        Console.WriteLine($"segment stand-in: {segment.Batches} batches, {segment.Events} events, {segment.Events / Math.Max(1.0, segment.Batches):F0} events per batch, {segment.Refused} requests refused (over 500 KB, malformed) or failed");
        Console.WriteLine($"peak memory: devhost (broker + ingest + processor) {devHost.PeakMemoryMb:F0} MB; load tool {Environment.WorkingSet / 1024 / 1024} MB now");
        Console.WriteLine($"throughput: {throughput:F0} events/s, p99 {Stats.Percentile(e2eMs, 99):F0} ms, lost {lost}, duplicates {duplicates}");
        return lost == 0 && duplicates == 0 ? 0 : 1;
    }
}
