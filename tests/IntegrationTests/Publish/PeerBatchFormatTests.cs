using System.Diagnostics;
using System.Text;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Confluent.Kafka;

namespace CioSegment.IntegrationTests.Publish;

/// <summary>
/// Our <c>/v1/batch</c> requests against those of Segment's own client (@segment/analytics-node, installed
/// by <c>.ci/run</c> with <c>npm ci --prefix tests/peers</c>), both received by the same stand-in.
/// </summary>
public sealed class PeerBatchFormatTests
{
    [Fact]
    public async Task Auth_envelope_and_event_shape_match_segments_own_client()
    {
        var root = RepositoryPaths.Root;
        var script = Path.Combine(root, "tests", "peers", "send-with-analytics-node.js");
        if (!Directory.Exists(Path.Combine(root, "tests", "peers", "node_modules", "@segment", "analytics-node")))
        {
            Assert.Skip("@segment/analytics-node is not installed; run 'npm ci --prefix tests/peers' (.ci/run does).");
        }

        await using var segment = await FakeSegment.StartAsync();
        using (var node = Process.Start(new ProcessStartInfo("node", [script, "peer-write-key", segment.Url.ToString().TrimEnd('/')]) { RedirectStandardError = true, RedirectStandardOutput = true })!)
        {
            var errors = await node.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await node.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.True(node.ExitCode == 0, errors);
        }

        var theirs = Assert.Single(segment.Requests);

        using var http = new HttpClient();
        var client = new SegmentBatchClient(http, new ConfiguredSegmentEndpoints(), TimeProvider.System);
        var source = SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = "peer-write-key", SegmentEndpoint = segment.Url.ToString() });
        var track = Encoding.UTF8.GetBytes("""{"type":"track","event":"Email Opened","userId":"cool-person","messageId":"cio-1","timestamp":"2021-06-16T13:04:06Z","originalTimestamp":"2021-06-16T13:04:06Z","context":{"library":{"name":"unknown","version":"unknown"}},"integrations":{"Customer.io":false},"properties":{"delivery_id":"d1"}}""");
        var response = await client.SendAsync(source, [new PendingEvent(new TopicPartitionOffset("t", 0, 0), "acme", "cio-1", null, track, [])], TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(BatchVerdict.Accepted, response.Verdict);
        var ours = segment.Requests.Last();

        Assert.Equal(theirs.Authorization, ours.Authorization);
        Assert.Equal(theirs.Body.Select(p => p.Key).Order(StringComparer.Ordinal).Intersect(["batch", "sentAt"]), ours.Body.Select(p => p.Key).Order(StringComparer.Ordinal));
        var theirEvent = theirs.Events.Single();
        var ourEvent = ours.Events.Single();
        foreach (var key in new[] { "type", "event", "userId", "messageId", "timestamp", "integrations", "properties" })
        {
            Assert.True(theirEvent.ContainsKey(key), $"analytics-node sent no '{key}'");
            Assert.Equal(theirEvent[key]!.GetValueKind(), ourEvent[key]!.GetValueKind());
        }

        Assert.Equal((string?)theirEvent["type"], (string?)ourEvent["type"]);
        Assert.Equal(DateTimeOffset.Parse((string)theirEvent["timestamp"]!, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.Parse((string)ourEvent["timestamp"]!, System.Globalization.CultureInfo.InvariantCulture));
    }
}
