using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using CioSegment.DevDoubles.Segment;
using CioSegment.IntegrationTests.Kafka;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Confluent.Kafka;

namespace CioSegment.IntegrationTests.Publish;

/// <summary>
/// Our <c>/v1/batch</c> requests against those of Segment's own client (@segment/analytics-node, installed
/// by <c>.ci/run</c> with <c>npm ci --prefix tests/peers</c>), both received by the same stand-in. What may
/// differ is listed here, each with its reason in the README ("Differences from Segment's own client").
/// </summary>
public sealed class PeerBatchFormatTests(KafkaFixture kafka)
{
    private const string WriteKey = "peer-write-key";

    /// <summary>Body members only analytics-node sends: the write key travels in the Authorization header alone.</summary>
    private static readonly string[] TheirBodyOnly = ["writeKey"];

    /// <summary>Event members only analytics-node adds: its runtime metadata.</summary>
    private static readonly string[] TheirEventOnly = ["_metadata"];

    /// <summary>Event members only ours has: the mapper's, as Customer.io's own integration sends them.</summary>
    private static readonly string[] OurEventOnly = ["originalTimestamp"];

    /// <summary>Headers of W3C trace context, present when the publisher's batch span is recorded.</summary>
    private static readonly string[] TraceContextHeaders = ["traceparent", "tracestate", "baggage"];

    [Fact]
    public async Task Method_path_headers_envelope_and_event_shape_match_segments_own_client()
    {
        SkipWithoutPeer();
        await using var segment = await SegmentStandIn.StartAsync(new() { KeepRequests = true });
        await RunAnalyticsNodeAsync(segment, maxRetries: 0);
        var theirs = Assert.Single(segment.Requests);

        using var http = new HttpClient();
        var client = new SegmentBatchClient(http, new ConfiguredSegmentEndpoints(), TimeProvider.System);
        var source = SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = WriteKey, SegmentEndpoint = segment.Url.ToString() });
        var webhook = """{"event_id":"01PEER","object_type":"email","metric":"opened","timestamp":1623848646,"data":{"customer_id":"cool-person","delivery_id":"d1","identifiers":{"id":"cool-person"}}}"""u8;
        var (mapped, json) = new SegmentTrackMapper().MapToString(webhook, source, DateTimeOffset.UtcNow);
        Assert.True(mapped.Outcome == MapOutcome.Mapped, mapped.ToString());
        var track = Encoding.UTF8.GetBytes(json!);
        var response = await client.SendAsync(source, [new PendingEvent(new TopicPartitionOffset("t", 0, 0), "acme", "cio-1", null, track, [])], 0, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(BatchVerdict.Accepted, response.Verdict);
        var ours = segment.Requests.Last();

        // The request line and the headers Segment reads.
        foreach (var request in (SegmentRequest[])[theirs, ours])
        {
            Assert.Equal("POST", request.Method);
            Assert.Equal("/v1/batch", request.Path);
            Assert.Equal("application/json", MediaTypeHeaderValue.Parse(request.Headers["Content-Type"]).MediaType);
            Assert.False(string.IsNullOrWhiteSpace(request.Headers.GetValueOrDefault("User-Agent")), "no User-Agent");
            Assert.False(request.Headers.ContainsKey(SegmentBatchClient.RetryCountHeader), "X-Retry-Count on a first attempt");
            Assert.False(request.Headers.ContainsKey("Content-Encoding"), "a compressed body");
        }

        Assert.Equal(theirs.Authorization, ours.Authorization);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(WriteKey + ":")), ours.Authorization);
        AssertOurUserAgent(ours);

        // Nothing Segment's client would not send (it sends more: fetch's Accept, Accept-Encoding, and so on),
        // but W3C trace context, which HttpClient adds whenever the batch span is recorded (tracing is on).
        Assert.Empty(ours.Headers.Keys.Except(theirs.Headers.Keys, StringComparer.OrdinalIgnoreCase).Except(TraceContextHeaders, StringComparer.OrdinalIgnoreCase));

        // The envelope.
        Assert.Equal(WriteKey, (string?)theirs.Body["writeKey"]);
        Assert.Equal(Keys(theirs.Body).Except(TheirBodyOnly), Keys(ours.Body));
        Assert.Equal(JsonValueKind(theirs.Body["batch"]), JsonValueKind(ours.Body["batch"]));
        foreach (var request in (SegmentRequest[])[theirs, ours])
        {
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", (string)request.Body["sentAt"]!);
        }

        // The event: the same members with the same kinds of value, but for the listed ones.
        var theirEvent = theirs.Events.Single();
        var ourEvent = ours.Events.Single();
        Assert.Equal(Keys(theirEvent).Except(TheirEventOnly), Keys(ourEvent).Except(OurEventOnly));
        Assert.All(TheirEventOnly, key => Assert.True(theirEvent.ContainsKey(key), $"analytics-node no longer sends '{key}'"));
        Assert.All(OurEventOnly, key => Assert.True(ourEvent.ContainsKey(key), $"we no longer send '{key}'"));
        foreach (var key in Keys(ourEvent).Intersect(Keys(theirEvent)))
        {
            Assert.True(JsonValueKind(theirEvent[key]) == JsonValueKind(ourEvent[key]), $"'{key}': theirs {theirEvent[key]?.ToJsonString()}, ours {ourEvent[key]?.ToJsonString()}");
        }

        Assert.Equal((string?)theirEvent["type"], (string?)ourEvent["type"]);
        Assert.Equal((string?)theirEvent["event"], (string?)ourEvent["event"]);
        Assert.Equal((string?)theirEvent["userId"], (string?)ourEvent["userId"]);
        Assert.Equal(DateTimeOffset.Parse((string)theirEvent["timestamp"]!, CultureInfo.InvariantCulture), DateTimeOffset.Parse((string)ourEvent["timestamp"]!, CultureInfo.InvariantCulture));
        Assert.Equal(theirEvent["integrations"]!.ToJsonString(), ourEvent["integrations"]!.ToJsonString());

        // context.library names the sender: analytics-node names itself, we send what Customer.io's integration sends.
        Assert.Equal("@segment/analytics-node", (string?)theirEvent["context"]?["library"]?["name"]);
        Assert.Equal("unknown", (string?)ourEvent["context"]?["library"]?["name"]);
    }

    [Fact]
    public async Task Retries_carry_x_retry_count_as_segments_own_client_sends_it()
    {
        SkipWithoutPeer();

        // Theirs: answered 500, 500, then 200.
        await using var segment = await SegmentStandIn.StartAsync(new() { KeepRequests = true });
        var answered = 0;
        segment.Answer = _ => ValueTask.FromResult(new SegmentAnswer(Interlocked.Increment(ref answered) <= 2 ? 500 : 200));
        await RunAnalyticsNodeAsync(segment, maxRetries: 2);
        var theirs = segment.Requests.ToList();
        Assert.Equal([500, 500, 200], theirs.Select(r => r.Status));
        Assert.Equal([null, "1", "2"], theirs.Select(RetryCount));
        Assert.Single(theirs.Select(r => r.Authorization).Distinct());

        // Ours, through the publisher as it runs in production (named HttpClient, Polly retries, splitting):
        // each batch is answered 500 twice, then 400 if it holds the bad event, else 200. The rejected batch
        // is split, and each half is a new batch whose first attempt carries no X-Retry-Count.
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var sends = new Dictionary<string, int>();
        harness.Segment.Answer = r =>
        {
            var ids = string.Join(",", r.Events.Select(e => (string?)e["messageId"]));
            lock (sends)
            {
                var n = sends[ids] = sends.GetValueOrDefault(ids) + 1;
                return ValueTask.FromResult(new SegmentAnswer(n <= 2 ? 500 : ids.Split(',').Contains("bad") ? 400 : 200));
            }
        };
        harness.Send("good", "cool-person");
        harness.Send("bad", "cool-person");
        harness.Flush();
        await harness.StartPublisherAsync();
        Assert.Single(harness.ReadDlq(1, TimeSpan.FromSeconds(60)));

        var ours = harness.Segment.Requests.ToList();
        var batches = ours.GroupBy(r => string.Join(",", r.Events.Select(e => (string?)e["messageId"]))).ToList();
        Assert.Contains(batches, b => b.Key == "good,bad");
        Assert.Contains(batches, b => b.Key == "good");
        Assert.Contains(batches, b => b.Key == "bad");
        Assert.All(batches, b => Assert.Equal(theirs.Select(RetryCount), b.Select(RetryCount)));
        Assert.All(ours, AssertOurUserAgent);
    }

    private static void SkipWithoutPeer()
    {
        if (!Directory.Exists(Path.Combine(RepositoryPaths.Root, "tests", "peers", "node_modules", "@segment", "analytics-node")))
        {
            Assert.Skip("@segment/analytics-node is not installed; run 'npm ci --prefix tests/peers' (.ci/run does).");
        }
    }

    /// <summary>One track event sent by analytics-node, allowed <paramref name="maxRetries"/> retries.</summary>
    private static async Task RunAnalyticsNodeAsync(SegmentStandIn segment, int maxRetries)
    {
        var script = Path.Combine(RepositoryPaths.Root, "tests", "peers", "send-with-analytics-node.js");
        var start = new ProcessStartInfo("node", [script, WriteKey, segment.Url.ToString().TrimEnd('/'), maxRetries.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var node = Process.Start(start)!;
        var errors = await node.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await node.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(node.ExitCode == 0, errors);
    }

    /// <summary><c>ciosegment/</c> and the processor's version, without SourceLink's <c>+commit</c>.</summary>
    private static void AssertOurUserAgent(SegmentRequest request)
    {
        var version = typeof(SegmentBatchClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        Assert.Equal("ciosegment/" + version, request.Headers.GetValueOrDefault("User-Agent"));
        Assert.Matches(@"^ciosegment/\d+\.\d+\.\d+[^+ ]*$", request.Headers["User-Agent"]);
    }

    private static string? RetryCount(SegmentRequest request) => request.Headers.GetValueOrDefault(SegmentBatchClient.RetryCountHeader);

    private static IEnumerable<string> Keys(JsonObject o) => o.Select(p => p.Key).Order(StringComparer.Ordinal);

    private static System.Text.Json.JsonValueKind? JsonValueKind(JsonNode? node) => node?.GetValueKind();
}
