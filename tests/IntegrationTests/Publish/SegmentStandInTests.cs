using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CioSegment.DevDoubles.Segment;

namespace CioSegment.IntegrationTests.Publish;

/// <summary>The Segment stand-in the DevHost, these tests, the load harness and the benchmarks deliver to.</summary>
public sealed class SegmentStandInTests
{
    private const string Batch = """{"batch":[{"type":"track","event":"Email Opened","userId":"u","messageId":"cio-1"},{"type":"track","event":"Email Opened","userId":"u","messageId":"cio-2"}],"sentAt":"2024-03-01T12:00:00Z"}""";

    private static HttpRequestMessage Post(string body, string? writeKey = "wk")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/batch") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (writeKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(writeKey + ":")));
        }

        return request;
    }

    [Fact]
    public async Task It_refuses_what_Segment_refuses_answers_as_told_and_records_what_it_stored()
    {
        var capture = Path.Combine(Path.GetTempPath(), "ciosegment-standin-" + Guid.NewGuid().ToString("N"), "batches.jsonl");
        await using var segment = await SegmentStandIn.StartAsync(new SegmentStandInOptions { KeepRequests = true, CaptureFile = capture });
        using var http = new HttpClient { BaseAddress = segment.Url };
        var cancel = TestContext.Current.CancellationToken;
        try
        {
            using (var unauthenticated = await http.SendAsync(Post(Batch, writeKey: null), cancel))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
            }

            using (var malformed = await http.SendAsync(Post("""{"batch":[{"type":"track"}]}"""), cancel))
            {
                Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
                Assert.Contains("batch[0].messageId", await malformed.Content.ReadAsStringAsync(cancel), StringComparison.Ordinal);
            }

            var answers = new Queue<SegmentAnswer>([new(429, TimeSpan.FromSeconds(3))]);
            segment.Answer = _ => ValueTask.FromResult(answers.TryDequeue(out var answer) ? answer : SegmentAnswer.Ok);
            using (var limited = await http.SendAsync(Post(Batch), cancel))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
                Assert.Equal(TimeSpan.FromSeconds(3), limited.Headers.RetryAfter?.Delta);
            }

            using (var stored = await http.SendAsync(Post(Batch), cancel))
            {
                Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
                Assert.Equal("""{"success":true}""", await stored.Content.ReadAsStringAsync(cancel));
            }

            using (var again = await http.SendAsync(Post(Batch), cancel))
            {
                Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            }

            Assert.Equal([401, 400, 429, 200, 200], segment.Requests.Select(r => r.Status));
            Assert.Equal(2, segment.Batches);
            Assert.Equal(4, segment.Events);
            Assert.Equal(3, segment.Refused);
            Assert.Equal(2, segment.Stored["cio-1"].Count);
            Assert.True(segment.Stored["cio-1"].FirstTimestamp <= segment.Stored["cio-2"].FirstTimestamp);
            Assert.Equal(["cio-1", "cio-2", "cio-1", "cio-2"], segment.Delivered.Select(e => (string)e["messageId"]!));
            Assert.Equal("wk", segment.Requests.Last().WriteKey);
            Assert.Equal([Batch, Batch], await File.ReadAllLinesAsync(capture, cancel));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(capture)!, recursive: true);
        }
    }

    [Fact]
    public async Task It_listens_on_loopback_only()
    {
        await using var segment = await SegmentStandIn.StartAsync();

        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(segment.Url.Host)));
        Assert.Empty(segment.Requests);
    }
}
