using System.Net.Http.Headers;
using System.Text;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Segment;
using CioSegment.IntegrationTests.Kafka;

namespace CioSegment.IntegrationTests.Publish;

/// <summary>The publisher against a real loopback HTTP server standing in for Segment.</summary>
public sealed class PublisherTests(KafkaFixture kafka)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Batches_respect_segments_limits_and_carry_auth_and_sent_at()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        for (var i = 0; i < 3000; i++)
        {
            harness.Send($"m{i}", $"p{i % 50}");
        }

        // Events just under Segment's 32 KB limit: a 500 KB request holds only a few of them.
        for (var i = 0; i < 40; i++)
        {
            harness.Send($"big{i}", $"p{i % 5}", padBytes: 32 * 1024 - 200);
        }

        harness.Flush();
        await harness.StartPublisherAsync();
        await harness.WaitForDeliveredAsync(3040, Timeout);

        var requests = harness.Segment.Requests.ToList();
        Assert.Equal(3040, harness.Segment.Delivered.Select(e => (string?)e["messageId"]).Distinct().Count());
        Assert.All(requests, r =>
        {
            Assert.InRange(r.Events.Count, 1, 2500);
            Assert.InRange(r.Bytes, 1, 500_000);
            Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(PublisherHarness.WriteKey + ":")), r.Authorization);
            var sentAt = DateTimeOffset.Parse((string)r.Body["sentAt"]!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(sentAt, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
        });
        Assert.Contains(requests, r => r.Events.Count > 100);
    }

    [Fact]
    public async Task Retriable_answers_are_retried_with_retry_after_honoured_until_accepted()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var answers = new Queue<SegmentAnswer>([new(500), new(503), new(429, TimeSpan.FromSeconds(1)), new(408)]);
        harness.Segment.Answer = _ => ValueTask.FromResult(answers.TryDequeue(out var a) ? a : SegmentAnswer.Ok);
        for (var i = 0; i < 10; i++)
        {
            harness.Send($"r{i}", "one-person");
        }

        harness.Flush();
        await harness.StartPublisherAsync(new Dictionary<string, string?> { ["CioSegment:Publisher:RetryMaxDelay"] = "00:00:02" });   // Retry-After is honoured up to it
        await harness.WaitForDeliveredAsync(10, Timeout);

        var requests = harness.Segment.Requests.ToList();
        Assert.Equal([500, 503, 429, 408, 200], requests.Take(5).Select(r => r.Status));
        Assert.True(requests[3].At - requests[2].At >= TimeSpan.FromSeconds(0.9), "Retry-After: 1 was not honoured");

        // Every retry re-sent the same events with the same messageIds.
        Assert.All(requests, r => Assert.Equal(requests[0].Events.Select(e => (string?)e["messageId"]), r.Events.Select(e => (string?)e["messageId"])));
    }

    [Fact]
    public async Task A_retry_after_longer_than_RetryMaxDelay_waits_RetryMaxDelay_only()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var answers = new Queue<SegmentAnswer>([new(429, TimeSpan.FromHours(1))]);
        harness.Segment.Answer = _ => ValueTask.FromResult(answers.TryDequeue(out var a) ? a : SegmentAnswer.Ok);
        harness.Send("r0", "one-person");

        harness.Flush();
        await harness.StartPublisherAsync();   // RetryMaxDelay 0.5 s
        await harness.WaitForDeliveredAsync(1, Timeout);

        var requests = harness.Segment.Requests.ToList();
        Assert.Equal([429, 200], requests.Select(r => r.Status));
        Assert.InRange(requests[1].At - requests[0].At, TimeSpan.FromSeconds(0.4), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_rejected_batch_is_split_to_isolate_the_bad_event_which_is_dead_lettered_with_the_answer()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        harness.Segment.Answer = r => ValueTask.FromResult(new SegmentAnswer(r.Events.Any(e => (string?)e["messageId"] == "bad") ? 400 : 200));
        for (var i = 0; i < 20; i++)
        {
            harness.Send(i == 7 ? "bad" : $"g{i}", "same-person");
        }

        harness.Flush();
        await harness.StartPublisherAsync();
        await harness.WaitForDeliveredAsync(19, Timeout);

        var delivered = harness.Segment.Delivered.Select(e => (string?)e["messageId"]).ToList();
        Assert.Equal(19, delivered.Distinct().Count());
        Assert.DoesNotContain("bad", delivered);

        // Order per person survives the split: delivered in the order sent.
        Assert.Equal(delivered.Distinct().OrderBy(id => int.Parse(id![1..], System.Globalization.CultureInfo.InvariantCulture)), delivered.Distinct());

        var dlq = Assert.Single(harness.ReadDlq(1, Timeout));
        Assert.Contains("\"messageId\":\"bad\"", Encoding.UTF8.GetString(dlq.Message.Value!), StringComparison.Ordinal);
        Assert.Equal("segment_rejected", Header(dlq, HeaderNames.DeadLetterReason));
        Assert.Equal("publish", Header(dlq, HeaderNames.DeadLetterStage));
        Assert.StartsWith("HTTP 400", Header(dlq, HeaderNames.DeadLetterDetail), StringComparison.Ordinal);
        Assert.Equal(harness.Sink, Header(dlq, HeaderNames.DeadLetterSourceTopic));
    }

    [Fact]
    public async Task A_refused_write_key_holds_the_events_and_retries_instead_of_dead_lettering_them()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var refusals = 0;
        harness.Segment.Answer = _ => ValueTask.FromResult(new SegmentAnswer(Interlocked.Increment(ref refusals) <= 3 ? 401 : 200));
        for (var i = 0; i < 10; i++)
        {
            harness.Send($"w{i}", $"p{i % 3}");
        }

        harness.Flush();
        await harness.StartPublisherAsync();
        await harness.WaitForDeliveredAsync(10, Timeout);

        Assert.True(harness.Segment.Requests.Count(r => r.Status == 401) >= 3);
        Assert.Equal(10, harness.Segment.Delivered.Select(e => (string?)e["messageId"]).Distinct().Count());
        Assert.Empty(harness.ReadDlq(0, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task A_wrong_endpoint_answering_404_for_30_seconds_dead_letters_nothing_and_everything_is_delivered_after()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var until = DateTimeOffset.UtcNow.AddSeconds(30);
        harness.Segment.Answer = _ => ValueTask.FromResult(new SegmentAnswer(DateTimeOffset.UtcNow < until ? 404 : 200));
        await harness.StartPublisherAsync(new Dictionary<string, string?> { ["CioSegment:Publisher:HoldAfter"] = "00:00:03" });
        var sent = 0;
        while (DateTimeOffset.UtcNow < until - TimeSpan.FromSeconds(5))
        {
            for (var i = 0; i < 20; i++, sent++)
            {
                harness.Send($"nf{sent}", $"p{sent % 7}");
            }

            harness.Flush();
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }

        await harness.WaitForDeliveredAsync(sent, TimeSpan.FromSeconds(60));

        Assert.Contains(harness.Segment.Requests, r => r.Status == 404);
        Assert.Equal(sent, harness.Segment.Delivered.Select(e => (string?)e["messageId"]).Distinct().Count());
        Assert.Empty(harness.ReadDlq(0, TimeSpan.FromSeconds(1)));
        Assert.NotEmpty(Ingest.TopicReader.Read(kafka.BootstrapServers, harness.Held, PublisherHarness.Partitions, 1, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Three_publishers_share_a_sources_budget_of_30_requests_per_second_between_them()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var settings = new Dictionary<string, string?>
        {
            ["CioSegment:Publisher:MaxRequestsPerSecondPerSource"] = "30",
            ["CioSegment:Publisher:MaxBatchEvents"] = "1",   // one request per event, so requests are what is limited
            ["CioSegment:Publisher:MaxInFlightPerSource"] = "8",
        };
        for (var i = 0; i < 3; i++)
        {
            await harness.StartPublisherAsync(settings);
        }

        await Task.Delay(TimeSpan.FromSeconds(8), TestContext.Current.CancellationToken);   // the group settles: one sink partition each
        const int events = 360;
        for (var i = 0; i < events; i++)
        {
            harness.Send($"rb{i}", $"p{i % 40}");
        }

        harness.Flush();
        await harness.WaitForDeliveredAsync(events, TimeSpan.FromSeconds(60));

        var requests = harness.Segment.Requests.ToList();
        Assert.Equal(events, harness.Segment.Delivered.Select(e => (string?)e["messageId"]).Distinct().Count());
        var start = requests.Min(r => r.At);
        var perSecond = requests.GroupBy(r => (int)(r.At - start).TotalSeconds).Select(g => g.Count()).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"{requests.Count} requests over {perSecond.Count} s; per second: {string.Join(" ", perSecond)}");
        Assert.True(perSecond.Max() <= 33, "more than ~33 requests in one second: " + string.Join(" ", perSecond));
        Assert.True(perSecond.Count >= 10, "the budget was not used at all: " + string.Join(" ", perSecond));
    }

    [Fact]
    public async Task Without_the_held_topic_a_delivering_source_is_not_held_up()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        for (var i = 0; i < 20; i++)
        {
            harness.Send($"nh{i}", $"p{i % 5}");
        }

        harness.Flush();
        await harness.StartPublisherAsync(new Dictionary<string, string?> { ["CioSegment:Publisher:HeldTopic"] = kafka.UniqueName("no-such-held-topic") });
        await harness.WaitForDeliveredAsync(20, Timeout);

        Assert.Equal(20, harness.Segment.Delivered.Select(e => (string?)e["messageId"]).Distinct().Count());
    }

    [Fact]
    public async Task Every_request_is_logged_with_its_events_attempt_and_answer()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var answers = new Queue<SegmentAnswer>([new(503)]);
        harness.Segment.Answer = _ => ValueTask.FromResult(answers.TryDequeue(out var a) ? a : SegmentAnswer.Ok);
        harness.Send("log-1", "one-person");
        harness.Send("log-2", "one-person");
        harness.Flush();
        await harness.StartPublisherAsync(new Dictionary<string, string?> { ["CioSegment:Publisher:Linger"] = "00:00:00.300" });
        await harness.WaitForDeliveredAsync(2, Timeout);

        var sink = Ingest.TopicReader.Read(kafka.BootstrapServers, harness.Sink, PublisherHarness.Partitions, 2, Timeout);
        var log = Ingest.TopicReader.Read(kafka.BootstrapServers, harness.Deliveries, 1, 2, Timeout)
            .Select(r => (Key: System.Text.Encoding.UTF8.GetString(r.Message.Key!), Json: System.Text.Json.Nodes.JsonNode.Parse(r.Message.Value!)!))
            .ToList();
        Assert.Equal([(503, 0), (200, 1)], log.Select(r => ((int)r.Json["status"]!, (int)r.Json["attempt"]!)));
        Assert.All(log, r =>
        {
            Assert.Equal("acme", r.Key);
            Assert.Equal("acme", (string?)r.Json["source"]);
            Assert.Equal("sink", (string?)r.Json["path"]);
            Assert.InRange(DateTimeOffset.Parse((string)r.Json["at"]!, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
            var events = r.Json["events"]!.AsArray();
            Assert.Equal(["log-1", "log-2"], events.Select(e => (string?)e!["messageId"]));
            Assert.All(events.Zip(sink.OrderBy(s => s.Offset.Value)), pair =>
            {
                Assert.Equal(harness.Sink, (string?)pair.First!["topic"]);
                Assert.Equal(pair.Second.Partition.Value, (int)pair.First["partition"]!);
                Assert.Equal(pair.Second.Offset.Value, (long)pair.First["offset"]!);
            });
        });
    }

    [Fact]
    public async Task Offsets_are_not_committed_before_segment_accepts_so_a_killed_publisher_resends_the_same_message_ids()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var release = new TaskCompletionSource();
        harness.Segment.Answer = async _ =>
        {
            await release.Task;   // Segment never answers while the first publisher lives
            return SegmentAnswer.Ok;
        };
        for (var i = 0; i < 30; i++)
        {
            harness.Send($"k{i}", $"p{i % 4}");
        }

        harness.Flush();
        var first = await harness.StartPublisherAsync();
        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        await PublisherHarness.StopAsync(first);   // abandons the unanswered requests
        Assert.Empty(harness.Segment.Delivered);

        harness.Segment.Answer = _ => ValueTask.FromResult(new SegmentAnswer(200));
        release.SetResult();
        await harness.StartPublisherAsync();
        await harness.WaitForDeliveredAsync(30, Timeout);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"k{i}").Order(), harness.Segment.Delivered.Select(e => (string)e["messageId"]!).Distinct().Order());
    }

    [Fact]
    public async Task An_outage_with_thousands_queued_delivers_everything_afterwards_with_memory_bounded()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var outageUntil = DateTimeOffset.UtcNow.AddSeconds(6);
        harness.Segment.Answer = _ => ValueTask.FromResult(new SegmentAnswer(DateTimeOffset.UtcNow < outageUntil ? 503 : 200));
        for (var i = 0; i < 5000; i++)
        {
            harness.Send($"o{i:D5}", $"p{i % 25}");
        }

        harness.Flush();
        using var listener = new BufferedEventsListener();
        await harness.StartPublisherAsync(new Dictionary<string, string?> { ["CioSegment:Publisher:MaxBufferedEvents"] = "1000" });
        await harness.WaitForDeliveredAsync(5000, Timeout);

        var delivered = harness.Segment.Delivered.Select(e => (string)e["messageId"]!).ToList();
        Assert.Equal(5000, delivered.Distinct().Count());
        Assert.Contains(harness.Segment.Requests, r => r.Status == 503);

        // The buffer cap held during the outage (one poll batch of slack).
        Assert.InRange(listener.Max, 1, 1000 + 600);

        // Each person's events arrived in the order sent.
        foreach (var person in harness.Segment.Delivered.GroupBy(e => (string)e["userId"]!))
        {
            var ids = person.Select(e => (string)e["messageId"]!).Distinct().ToList();
            Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        }
    }

    private static string Header(Confluent.Kafka.ConsumeResult<byte[]?, byte[]?> record, string name) =>
        record.Message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : "";

    /// <summary>Watches the publisher's buffered-events gauge.</summary>
    private sealed class BufferedEventsListener : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private readonly Timer _timer;
        private long _max;

        public BufferedEventsListener()
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "cio.publisher.buffered")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<int>((_, value, _, _) => InterlockedMax(value));
            _listener.Start();
            _timer = new Timer(_ => _listener.RecordObservableInstruments(), null, 0, 20);
        }

        public long Max => Interlocked.Read(ref _max);

        public void Dispose()
        {
            _timer.Dispose();
            _listener.Dispose();
        }

        private void InterlockedMax(long value)
        {
            long current;
            while (value > (current = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, value, current) != current)
            {
            }
        }
    }
}
