using System.Text;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Confluent.Kafka;

namespace CioSegment.IntegrationTests.Publish;

/// <summary>
/// The headers <see cref="SegmentBatchClient"/> puts on each request, without network, Kafka or Node (so they
/// are checked where <see cref="PeerBatchFormatTests"/> skips).
/// </summary>
public sealed class SegmentBatchClientHeaderTests
{
    [Theory]
    [InlineData(0, null)]
    [InlineData(1, "1")]
    [InlineData(2, "2")]
    public async Task Every_request_carries_the_user_agent_and_retries_their_count(int retry, string? expected)
    {
        using var handler = new Recorder();
        using var http = new HttpClient(handler);
        var client = new SegmentBatchClient(http, new ConfiguredSegmentEndpoints(), TimeProvider.System);
        var source = SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = "w", SegmentEndpoint = "http://segment.invalid" });
        var events = new[] { new PendingEvent(new TopicPartitionOffset("t", 0, 0), "acme", "m", null, Encoding.UTF8.GetBytes("{}"), []) };

        var response = await client.SendAsync(source, events, retry, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.Equal(BatchVerdict.Accepted, response.Verdict);
        var request = Assert.Single(handler.Requests);
        Assert.Equal(SegmentBatchClient.UserAgent, request.Headers.UserAgent.ToString());
        Assert.Matches(@"^ciosegment/\d+\.\d+\.\d+[^+]*$", SegmentBatchClient.UserAgent);
        Assert.Equal(expected, request.Headers.TryGetValues(SegmentBatchClient.RetryCountHeader, out var values) ? Assert.Single(values) : null);
    }

    private sealed class Recorder : HttpMessageHandler
    {
        public List<HttpRequestMessage> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(request);
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK));
        }
    }
}
