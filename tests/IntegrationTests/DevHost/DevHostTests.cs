using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;

namespace CioSegment.IntegrationTests.DevHost;

/// <summary>
/// The one-command local run, as a user meets it: start the DevHost, run the curl line it prints, see the
/// event reach the raw topic; the local Segment capture answers like Segment.
/// </summary>
public sealed class DevHostTests : IAsyncLifetime
{
    private DevHostProcess _host = null!;

    public async ValueTask InitializeAsync() => _host = await DevHostProcess.StartAsync();

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task The_printed_curl_line_run_as_printed_returns_200_and_the_event_reaches_the_raw_and_sink_topics()
    {
        if (!File.Exists("/usr/bin/curl") && !File.Exists("/bin/curl"))
        {
            Assert.Skip("curl is not installed, so the printed command cannot be run as printed.");
        }

        var curl = _host.CurlLine;
        Assert.Contains(_host.Output, l => l.Contains("embedded development broker", StringComparison.Ordinal) && l.Contains("not for production", StringComparison.Ordinal));

        using var shell = Process.Start(new ProcessStartInfo("bash", ["-c", curl]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var response = await shell.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await shell.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
        Assert.Contains("\"accepted\"", response, StringComparison.Ordinal);

        var raw = await _host.WaitForLineAsync(l => l.Contains("Raw topic cio.webhooks.raw", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.Contains("source demo, person key cool-person", raw, StringComparison.Ordinal);

        // ...and the transformer turned it into the track event on the sink topic.
        var sink = await _host.WaitForLineAsync(l => l.Contains("Sink topic cio.segment.track", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Assert.Contains("Email Opened for cool-person", sink, StringComparison.Ordinal);

        // The Prometheus scrape shows the pipeline's own metrics.
        using var client = new HttpClient { BaseAddress = _host.BaseAddress };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        string metrics;
        do
        {
            metrics = await client.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
            if (metrics.Contains("cio_publisher_batches", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(500, TestContext.Current.CancellationToken);
        }
        while (DateTime.UtcNow < deadline);

        foreach (var name in new[] { "cio_ingest_webhooks_total", "messaging_client_sent_messages_total", "cio_transformer_events_total", "cio_transformer_commits_total", "cio_publisher_batches_total", "cio_publisher_buffered" })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }

        Assert.Contains("source=\"demo\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_local_segment_capture_answers_like_segment_and_records_the_batch()
    {
        var address = _host.BaseAddress;
        using var client = new HttpClient { BaseAddress = address };
        var batch = """{"batch":[{"type":"track","event":"Email Opened","userId":"u","messageId":"cio-1"}],"sentAt":"2024-03-01T12:00:00Z"}""";

        using var unauthenticated = await client.PostAsync("/dev/segment/v1/batch", new StringContent(batch, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);

        var request = new HttpRequestMessage(HttpMethod.Post, "/dev/segment/v1/batch") { Content = new StringContent(batch, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("demo-write-key:"u8));
        using var ok = await client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(batch, (await File.ReadAllLinesAsync(Path.Combine(_host.CaptureDirectory, "segment-batches.jsonl"), TestContext.Current.CancellationToken)).Single());

        var bad = new HttpRequestMessage(HttpMethod.Post, "/dev/segment/v1/batch") { Content = new StringContent("""{"events":[]}""", Encoding.UTF8, "application/json") };
        bad.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("demo-write-key:"u8));
        using var badResponse = await client.SendAsync(bad, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, badResponse.StatusCode);
    }
}
