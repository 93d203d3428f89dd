using System.Net;
using System.Text;
using CioSegment.DevDoubles.Segment;
using CioSegment.IntegrationTests.Publish;

namespace CioSegment.IntegrationTests.DevHost;

/// <summary>
/// The whole pipeline in the DevHost process: thousands of signed webhooks into the ingest, delivered to a
/// stand-in Segment that fails at first — none lost, none delivered twice, every batch within limits.
/// </summary>
public sealed class DevHostPipelineTests
{
    [Fact]
    public async Task Thousands_of_webhooks_reach_a_stand_in_segment_that_fails_at_first_once_each()
    {
        await using var segment = await SegmentStandIn.StartAsync(new() { KeepRequests = true });
        var failUntil = DateTimeOffset.UtcNow.AddSeconds(8);
        segment.Answer = _ => ValueTask.FromResult(new SegmentAnswer(DateTimeOffset.UtcNow < failUntil ? 503 : 200));

        await using var devHost = await DevHostProcess.StartAsync(
            "--CioSegment:DevHost:TailTopics=false",
            "--CioSegment:Sources:acme:WebhookSigningKey=acme-key",
            "--CioSegment:Sources:acme:WriteKey=acme-write",
            $"--CioSegment:Sources:acme:SegmentEndpoint={segment.Url}");

        const int count = 2000;
        using var http = new HttpClient { BaseAddress = devHost.BaseAddress };
        using var gate = new SemaphoreSlim(32);
        var statuses = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var body = Encoding.UTF8.GetBytes(
                    "{\"event_id\":\"dh-" + i + "\",\"object_type\":\"email\",\"metric\":\"delivered\",\"timestamp\":1700000000,"
                    + "\"data\":{\"delivery_id\":\"d" + i + "\",\"identifiers\":{\"id\":\"person-" + (i % 97) + "\"}}}");
                return await SignedWebhooks.PostAsync(http, "acme", "acme-key", body);
            }
            finally
            {
                gate.Release();
            }
        }));
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));

        var wait = DateTime.UtcNow.AddSeconds(90);
        while (segment.Delivered.Count() < count && DateTime.UtcNow < wait)
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        var delivered = segment.Delivered.Select(e => (string)e["messageId"]!).ToList();
        Assert.Contains(segment.Requests, r => r.Status == 503);
        Assert.Equal(count, delivered.Distinct().Count());   // none lost
        Assert.Equal(count, delivered.Count);                 // none delivered twice
        Assert.All(segment.Requests, r =>
        {
            Assert.InRange(r.Events.Count, 1, 2500);
            Assert.InRange(r.Bytes, 1, 500_000);
        });
        Assert.All(segment.Delivered, e => Assert.Equal("Email Delivered", (string?)e["event"]));
    }
}
