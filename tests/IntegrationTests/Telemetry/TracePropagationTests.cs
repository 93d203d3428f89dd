using System.Collections.Concurrent;
using System.Diagnostics;
using CioSegment.DevDoubles.SchemaRegistry;
using CioSegment.DevDoubles.Segment;
using CioSegment.IntegrationTests.Ingest;
using CioSegment.IntegrationTests.Kafka;
using CioSegment.IntegrationTests.Publish;
using CioSegment.Processor;
using CioSegment.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace CioSegment.IntegrationTests.Telemetry;

/// <summary>
/// One webhook's trace, exported by OpenTelemetry's in-memory exporter, followed from the ingest's HTTP
/// request through Kafka (traceparent header) and the transformer to the publisher's Segment request.
/// The services run in this process; spans of other tests running beside it are told apart by trace id.
/// </summary>
public sealed class TracePropagationTests(KafkaFixture kafka)
{
    [Fact]
    public async Task One_webhook_can_be_followed_from_the_ingest_request_to_the_segment_request()
    {
        var exported = new SpanQueue();
        var spans = exported.Spans;
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource("CioSegment.*")
            .AddAspNetCoreInstrumentation()
            .AddHttpClientInstrumentation()
            .AddInMemoryExporter(exported)
            .Build();

        var raw = kafka.UniqueName("raw");
        var sink = kafka.UniqueName("sink");
        var group = kafka.UniqueName("transformer");
        await kafka.CreateTopicAsync(raw, 2);
        await kafka.CreateTopicAsync(sink, 2);
        await kafka.CreateTopicAsync(kafka.UniqueName("dlq"), 1);
        var changelog = kafka.UniqueName("changelog");
        await kafka.CreateTopicAsync(changelog, 2, compacted: true);

        await using var registry = await DevSchemaRegistryServer.StartAsync();
        await using var segment = await SegmentStandIn.StartAsync(new() { KeepRequests = true });
        await using var ingest = await IngestHost.StartAsync(kafka.BootstrapServers, raw);
        using var processor = await StartProcessorAsync(raw, sink, changelog, group, registry.Url, segment.Url);

        var eventId = "01TRACE" + Guid.NewGuid().ToString("N")[..19].ToUpperInvariant();
        var body = """{"event_id":"EVENT_ID","object_type":"email","metric":"opened","timestamp":1623848646,"data":{"customer_id":"traced-person","delivery_id":"d-trace","identifiers":{"id":"traced-person"}}}""".Replace("EVENT_ID", eventId, StringComparison.Ordinal);
        using (var response = await ingest.PostSignedAsync(body))
        {
            Assert.Equal(200, (int)response.StatusCode);
        }

        // The ingest's send span (the raw topic's name is this test's own: other tests' ingests run beside
        // it) is the child of the ingest's server span, which is where the trace starts.
        var send = await WaitForAsync(spans, s => s.DisplayName == "send " + raw);
        Assert.Equal(ActivityKind.Producer, send.Kind);
        var trace = send.TraceId;
        var server = await WaitForAsync(spans, s => s.TraceId == trace && s.SpanId == send.ParentSpanId);
        Assert.Equal(ActivityKind.Server, server.Kind);
        Assert.EndsWith("/webhooks/customerio/acme", server.GetTagItem("url.path") as string, StringComparison.Ordinal);

        // The transformer continues it from the record's traceparent header, and links to the producer's context.
        var transform = await WaitForAsync(spans, s => s.TraceId == trace && s.DisplayName == "process " + raw);
        Assert.Equal(ActivityKind.Consumer, transform.Kind);
        Assert.Equal(send.SpanId, transform.ParentSpanId);
        Assert.Contains(transform.Links, l => l.Context.TraceId == trace && l.Context.SpanId == send.SpanId);
        Assert.Equal("kafka", transform.GetTagItem("messaging.system"));
        Assert.Equal(raw, transform.GetTagItem("messaging.destination.name"));
        Assert.Equal(group, transform.GetTagItem("messaging.consumer.group.name"));
        Assert.Equal("process", transform.GetTagItem("messaging.operation.type"));
        Assert.Equal("mapped", transform.GetTagItem("cio.outcome"));

        // The publisher's batch span links to the transformer's span (through the sink record's header)...
        var publish = await WaitForAsync(spans, s => s.DisplayName == "process " + sink && s.Links.Any(l => l.Context.TraceId == trace));
        Assert.Equal(ActivityKind.Consumer, publish.Kind);
        Assert.Contains(publish.Links, l => l.Context.SpanId == transform.SpanId);
        Assert.Equal(sink, publish.GetTagItem("messaging.destination.name"));
        Assert.Equal(1, publish.GetTagItem("messaging.batch.message_count"));

        // ...and its child is the HTTP request to Segment's /v1/batch, answered 200.
        var request = await WaitForAsync(spans, s => s.Kind == ActivityKind.Client && s.ParentSpanId == publish.SpanId && s.TraceId == publish.TraceId);
        Assert.Equal(new Uri(segment.Url, "v1/batch").ToString(), request.GetTagItem("url.full"));
        Assert.Equal(200, request.GetTagItem("http.response.status_code"));
        Assert.Contains(segment.Delivered, e => e["properties"]?["delivery_id"]?.GetValue<string>() == "d-trace");

        // No span of this trace carries a secret.
        foreach (var span in spans.Where(s => s.TraceId == trace || s == publish || s == request))
        {
            foreach (var (key, value) in span.TagObjects)
            {
                var text = value?.ToString() ?? "";
                Assert.DoesNotContain(IngestHost.WriteKey, text, StringComparison.Ordinal);
                Assert.DoesNotContain(IngestHost.SigningKey, text, StringComparison.Ordinal);
                Assert.DoesNotContain("trace-write-SECRET", text, StringComparison.Ordinal);
            }
        }

        // librdkafka's statistics reached the metrics' store: the transformer's consumer reports its lag on the raw topic.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!KafkaStatistics.Current().Any(c => c.ClientId == "cio-transformer" && c.Type == "consumer" && c.Lags.Any(l => l.Topic == raw && l.Lag == 0)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        var stats = KafkaStatistics.Current().Where(c => c.ClientId == "cio-transformer" && c.Type == "consumer").ToList();
        Assert.Contains(stats, c => c.Lags.Any(l => l.Topic == raw && l.Lag == 0));
        Assert.Contains(stats, c => c.Brokers.Count > 0 && c.Brokers.All(b => b.RttSeconds >= 0));

        await processor.StopAsync(TestContext.Current.CancellationToken);
    }

    private async Task<IHost> StartProcessorAsync(string raw, string sink, string changelog, string group, Uri registry, Uri segment)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing", DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CioSegment:Kafka:BootstrapServers"] = kafka.BootstrapServers,
            ["CioSegment:Kafka:Consumer:session.timeout.ms"] = "6000",
            ["CioSegment:Kafka:Consumer:heartbeat.interval.ms"] = "500",
            ["CioSegment:Kafka:Consumer:statistics.interval.ms"] = "200",
            ["CioSegment:SchemaRegistry:Url"] = registry.ToString(),
            ["CioSegment:Transformer:InputTopic"] = raw,
            ["CioSegment:Transformer:SinkTopic"] = sink,
            ["CioSegment:Transformer:DeadLetterTopic"] = kafka.UniqueName("dlq"),
            ["CioSegment:Transformer:ChangelogTopic"] = changelog,
            ["CioSegment:Transformer:GroupId"] = group,
            ["CioSegment:Transformer:ProcessingGuarantee"] = "AtLeastOnce",
            ["CioSegment:Transformer:CommitInterval"] = "00:00:00.050",
            ["CioSegment:Publisher:InputTopic"] = sink,
            ["CioSegment:Publisher:DeadLetterTopic"] = kafka.UniqueName("segment-dlq"),
            ["CioSegment:Publisher:GroupId"] = group + "-publisher",
            ["CioSegment:Publisher:Linger"] = "00:00:00.050",
            ["CioSegment:Sources:acme:WebhookSigningKey"] = IngestHost.SigningKey,
            ["CioSegment:Sources:acme:WriteKey"] = "trace-write-SECRET",
            ["CioSegment:Sources:acme:SegmentEndpoint"] = segment.ToString(),
        });
        builder.AddTransformer();
        builder.AddPublisher();
        var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        return host;
    }

    private static async Task<Activity> WaitForAsync(ConcurrentQueue<Activity> spans, Func<Activity, bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (spans.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        Assert.Fail("No such span within 30 s. Spans seen:\n" + string.Join('\n', spans.Select(s => $"{s.Kind} {s.DisplayName} trace={s.TraceId} span={s.SpanId} parent={s.ParentSpanId}")));
        throw new UnreachableException();
    }

    /// <summary>The in-memory exporter's collection: spans end on several threads while the test reads them.</summary>
    private sealed class SpanQueue : ICollection<Activity>
    {
        public ConcurrentQueue<Activity> Spans { get; } = new();

        public int Count => Spans.Count;

        public bool IsReadOnly => false;

        public void Add(Activity item) => Spans.Enqueue(item);

        public void Clear() => Spans.Clear();

        public bool Contains(Activity item) => Spans.Contains(item);

        public void CopyTo(Activity[] array, int arrayIndex) => Spans.CopyTo(array, arrayIndex);

        public bool Remove(Activity item) => throw new NotSupportedException();

        public IEnumerator<Activity> GetEnumerator() => Spans.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
