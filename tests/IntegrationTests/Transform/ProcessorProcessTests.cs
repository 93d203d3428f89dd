using System.Diagnostics;
using CioSegment.IntegrationTests.Kafka;

namespace CioSegment.IntegrationTests.Transform;

/// <summary>The processor as its own process, as deployed: it starts, serves /health/live, /metrics, and /health/ready once restored.</summary>
public sealed class ProcessorProcessTests(KafkaFixture kafka)
{
    [Fact]
    public async Task The_standalone_processor_serves_health_and_prometheus_metrics()
    {
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        var port = RepositoryPaths.FreeLoopbackPort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (var a in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "CioSegment.Processor.dll"),
            $"--CioSegment:Kafka:BootstrapServers={kafka.BootstrapServers}",
            $"--CioSegment:SchemaRegistry:Url={harness.RegistryUrl}",
            $"--CioSegment:Transformer:InputTopic={harness.Raw}",
            $"--CioSegment:Transformer:SinkTopic={harness.Sink}",
            $"--CioSegment:Transformer:DeadLetterTopic={harness.Dlq}",
            $"--CioSegment:Transformer:ChangelogTopic={harness.Changelog}",
            $"--CioSegment:Transformer:GroupId={harness.Group}",
            "--CioSegment:Transformer:ProcessingGuarantee=AtLeastOnce",
            $"--CioSegment:Publisher:InputTopic={harness.Sink}",
            $"--CioSegment:Publisher:GroupId={harness.Group}-publisher",
            "--CioSegment:Sources:acme:WebhookSigningKey=k",
            "--CioSegment:Sources:acme:WriteKey=w",
            "--CioSegment:Sources:acme:SegmentEndpoint=http://127.0.0.1:9",
            "--urls", $"http://127.0.0.1:{port}",
        })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            // The transformer and the publisher create their instruments on their own threads once the host
            // has started, so /health/live can answer before they exist: scrape until both stages show.
            string? metrics = null;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && !process.HasExited
                && !(metrics is not null && metrics.Contains("cio_transformer_dedup_keys", StringComparison.Ordinal) && metrics.Contains("cio_publisher_buffered", StringComparison.Ordinal)))
            {
                try
                {
                    using var live = await http.GetAsync("/health/live", TestContext.Current.CancellationToken);
                    if (live.IsSuccessStatusCode)
                    {
                        metrics = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
                    }
                }
                catch (HttpRequestException)
                {
                }

                await Task.Delay(200, TestContext.Current.CancellationToken);
            }

            Assert.True(metrics is not null, "the processor did not answer: " + (process.HasExited ? await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken) : "still starting"));
            Assert.Contains("cio_transformer_dedup_keys", metrics, StringComparison.Ordinal);
            Assert.Contains("cio_publisher_buffered", metrics, StringComparison.Ordinal);

            // Ready once both loops run and the partitions it was given have their dedup state restored.
            var ready = System.Net.HttpStatusCode.ServiceUnavailable;
            while (DateTime.UtcNow < deadline.AddSeconds(30) && ready != System.Net.HttpStatusCode.OK)
            {
                using var response = await http.GetAsync("/health/ready", TestContext.Current.CancellationToken);
                ready = response.StatusCode;
                await Task.Delay(200, TestContext.Current.CancellationToken);
            }

            Assert.Equal(System.Net.HttpStatusCode.OK, ready);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }
}
