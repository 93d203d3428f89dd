using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Segment;
using Confluent.Kafka;

namespace CioSegment.IntegrationTests.DevHost;

/// <summary>
/// One pipeline, two sources, one of them refused by Segment for a while: the other keeps flowing, the sink
/// topic's offsets keep advancing, and once Segment takes the first again every one of its events arrives.
/// It measures latency, so it runs alone: other tests' load on a shared machine is not what it measures.
/// </summary>
[Collection(LatencyCollection.Name)]
public sealed partial class SourceIsolationTests
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task A_source_refused_for_40_seconds_is_parked_while_the_other_keeps_its_latency_and_everything_is_delivered_after()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var segment = await SegmentStandIn.StartAsync(new SegmentStandInOptions { KeepRequests = false });
        var outageEnds = DateTimeOffset.MaxValue;
        var refused = 0;
        segment.Answer = request =>
        {
            if (request.WriteKey == "a-write" && DateTimeOffset.UtcNow < outageEnds)
            {
                Interlocked.Increment(ref refused);
                return ValueTask.FromResult(new SegmentAnswer(401));
            }

            return ValueTask.FromResult(SegmentAnswer.Ok);
        };
        await using var devHost = await DevHostProcess.StartAsync(
            "--CioSegment:DevHost:TailTopics=false",
            "--CioSegment:Sources:a:WebhookSigningKey=a-signing",
            "--CioSegment:Sources:a:WriteKey=a-write",
            $"--CioSegment:Sources:a:SegmentEndpoint={segment.Url}",
            "--CioSegment:Sources:b:WebhookSigningKey=b-signing",
            "--CioSegment:Sources:b:WriteKey=b-write",
            $"--CioSegment:Sources:b:SegmentEndpoint={segment.Url}",
            "--CioSegment:Publisher:HoldAfter=00:00:05");
        var bootstrap = BootstrapPattern().Match(await devHost.WaitForLineAsync(l => BootstrapPattern().IsMatch(l), TimeSpan.FromSeconds(10))).Groups["servers"].Value;
        using var http = new HttpClient { BaseAddress = devHost.BaseAddress };

        outageEnds = DateTimeOffset.UtcNow + Outage;
        var sent = new ConcurrentDictionary<string, (string Source, long At)>();
        var committed = new List<long>();
        var peakBufferedBytes = 0L;
        var clock = Stopwatch.StartNew();
        var n = 0;
        while (clock.Elapsed < Outage + TimeSpan.FromSeconds(5))
        {
            // 20 webhooks a second for each source, over 30 persons each.
            var second = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 20).SelectMany(_ =>
            {
                var i = Interlocked.Increment(ref n);
                return new[] { SendAsync(http, "a", i, sent, cancel), SendAsync(http, "b", i, sent, cancel) };
            }));
            if (clock.Elapsed > TimeSpan.FromSeconds(15) && clock.Elapsed < Outage - TimeSpan.FromSeconds(2))
            {
                committed.Add(await CommittedAsync(bootstrap));
                peakBufferedBytes = Math.Max(peakBufferedBytes, Gauge(await http.GetStringAsync("/metrics", cancel), "cio_publisher_buffered_bytes"));
            }

            if (second.Elapsed < TimeSpan.FromSeconds(1))
            {
                await Task.Delay(TimeSpan.FromSeconds(1) - second.Elapsed, cancel);
            }
        }

        // Every accepted webhook of both sources is delivered, A's once Segment takes it again.
        var deadline = Stopwatch.StartNew();
        while (sent.Keys.Any(id => !segment.Stored.ContainsKey(id)) && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(250, cancel);
        }

        var missing = sent.Keys.Where(id => !segment.Stored.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {sent.Count} accepted events never reached Segment, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.True(refused > 0, "the stand-in never refused source a");

        // During A's outage, B's end-to-end latency stayed low and the sink topic's commits advanced.
        var latencies = sent.Where(s => s.Value.Source == "b")
            .Select(s => Stopwatch.GetElapsedTime(s.Value.At, segment.Stored[s.Key].FirstTimestamp).TotalSeconds)
            .Order().ToList();
        var p99 = latencies[(int)(latencies.Count * 0.99) - 1];
        TestContext.Current.TestOutputHelper?.WriteLine($"b: {latencies.Count} events, end-to-end p50 {latencies[latencies.Count / 2]:F3} s, p99 {p99:F3} s; sink committed during the outage {string.Join(" ", committed)}; peak buffered {peakBufferedBytes} bytes; a refused {refused} times");
        Assert.True(p99 <= 2, $"source b's end-to-end p99 was {p99:F2} s during source a's outage");
        Assert.True(committed.Count >= 5 && committed[^1] > committed[0], "the sink topic's committed offsets did not advance during the outage: " + string.Join(" ", committed));

        var metrics = await http.GetStringAsync("/metrics", cancel);
        Assert.True(Gauge(metrics, "cio_publisher_parked_total", "source=\"a\"") > 0, "source a was never parked");
        Assert.Equal(0, Gauge(metrics, "cio_publisher_parked_total", "source=\"b\""));
        Assert.Equal(0, Gauge(metrics, "cio_publisher_dead_lettered_total", "reason=\"segment_rejected\""));
        Assert.Equal(0, Gauge(metrics, "cio_publisher_source_holding", "source=\"a\""));   // delivering again
        Assert.True(peakBufferedBytes < 256L << 20, $"peak buffered {peakBufferedBytes} bytes");
    }

    private static async Task SendAsync(HttpClient http, string source, int i, ConcurrentDictionary<string, (string, long)> sent, CancellationToken cancel)
    {
        var eventId = $"{source}-{i:D6}";
        var body = Encoding.UTF8.GetBytes(
            "{\"event_id\":\"" + eventId + "\",\"object_type\":\"email\",\"metric\":\"delivered\",\"timestamp\":1700000000,"
            + "\"data\":{\"delivery_id\":\"d" + i + "\",\"identifiers\":{\"id\":\"" + source + "-person-" + (i % 30) + "\"}}}");
        var at = Stopwatch.GetTimestamp();
        if (await SignedWebhooks.PostAsync(http, source, source + "-signing", body, cancel) == HttpStatusCode.OK)
        {
            sent["cio-" + eventId] = (source, at);
        }
    }

    /// <summary>The publisher group's committed offsets on the sink topic, summed (read with the admin API, never joining the group).</summary>
    private static async Task<long> CommittedAsync(string bootstrap)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var partitions = admin.GetMetadata(Topics.SegmentTrack, TimeSpan.FromSeconds(10)).Topics.Single().Partitions
            .Select(p => new TopicPartition(Topics.SegmentTrack, p.PartitionId)).ToList();
        var listed = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions("cio-publisher", partitions)]);
        return listed.Single().Partitions.Where(p => p.Offset.Value > 0).Sum(p => p.Offset.Value);
    }

    /// <summary>The sum of a metric's samples in a Prometheus scrape, those with <paramref name="label"/> only when given.</summary>
    private static long Gauge(string scrape, string name, string? label = null) =>
        (long)scrape.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Where(l => label is null || l.Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    [GeneratedRegex(@"Kafka bootstrap servers: (?<servers>\S+)")]
    private static partial Regex BootstrapPattern();
}

/// <summary>Tests that measure latency: not run in parallel with other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LatencyCollection
{
    public const string Name = "latency";
}
