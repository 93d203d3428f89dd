using System.Diagnostics;
using System.Net;
using System.Text;
using CioSegment.Contracts;
using CioSegment.IntegrationTests.Kafka;

namespace CioSegment.IntegrationTests.Ingest;

/// <summary>The ingest as its own process, as deployed: /health, the webhook route and its Prometheus metrics.</summary>
public sealed class IngestProcessTests(KafkaFixture kafka)
{
    [Fact]
    public async Task The_standalone_ingest_serves_webhooks_health_and_the_metrics_the_dashboard_uses()
    {
        var topic = kafka.UniqueName("raw");
        await kafka.CreateTopicAsync(topic, 2);
        var port = RepositoryPaths.FreeLoopbackPort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (var a in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "CioSegment.Ingest.dll"),
            $"--CioSegment:Kafka:BootstrapServers={kafka.BootstrapServers}",
            "--CioSegment:Kafka:Producer:statistics.interval.ms=500",
            $"--CioSegment:Ingest:Topic={topic}",
            "--CioSegment:Sources:acme:WebhookSigningKey=ingest-process-SECRET",
            "--CioSegment:Sources:acme:WriteKey=w",
            "--urls", $"http://127.0.0.1:{port}",
        })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => errors.AppendLine(e.Data);
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            var ready = false;
            while (!ready && DateTime.UtcNow < deadline && !process.HasExited)
            {
                try
                {
                    using var response = await http.GetAsync("/health/ready", TestContext.Current.CancellationToken);
                    ready = response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                }

                if (!ready)
                {
                    await Task.Delay(200, TestContext.Current.CancellationToken);
                }
            }

            Assert.True(ready, "the ingest did not become ready: " + errors);

            var body = """{"event_id":"01INGESTPROCESS","object_type":"email","metric":"opened","timestamp":1623848646,"data":{"identifiers":{"id":"p1"}}}"""u8.ToArray();
            var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/customerio/acme") { Content = new ByteArrayContent(body) };
            request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
            request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign("ingest-process-SECRET"u8, timestamp, body));
            using (var response = await http.SendAsync(request, TestContext.Current.CancellationToken))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            // librdkafka's statistics arrive every 500 ms here; scrape until the producer reported.
            string metrics;
            deadline = DateTime.UtcNow.AddSeconds(20);
            do
            {
                metrics = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
                if (metrics.Contains("cio_kafka_client_queued_messages{", StringComparison.Ordinal))
                {
                    break;
                }

                await Task.Delay(200, TestContext.Current.CancellationToken);
            }
            while (DateTime.UtcNow < deadline);

            Assert.Matches("cio_ingest_webhooks_total\\{[^}]*http_response_status_code=\"200\"[^}]*source=\"acme\"[^}]*\\} 1", metrics);
            Assert.Matches($"messaging_client_sent_messages_total\\{{[^}}]*messaging_destination_name=\"{topic}\"[^}}]*\\}} 1", metrics);
            Assert.Contains("http_server_request_duration_seconds_bucket{", metrics, StringComparison.Ordinal);
            Assert.Contains("http_route=\"/webhooks/customerio/{sourceId}\"", metrics, StringComparison.Ordinal);
            Assert.Matches("cio_kafka_client_queued_messages\\{[^}]*client_id=\"cio-ingest\"", metrics);
            Assert.Matches("cio_kafka_broker_rtt_seconds\\{[^}]*client_id=\"cio-ingest\"", metrics);
            Assert.Contains("dotnet_gc_collections_total", metrics, StringComparison.Ordinal);
            Assert.DoesNotContain("ingest-process-SECRET", metrics, StringComparison.Ordinal);

            // SIGTERM: Kestrel drains, the producer flushes, the process exits by itself with 0.
            Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(exited.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            }
        }
    }
}
