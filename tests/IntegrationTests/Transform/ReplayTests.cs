using CioSegment.ServiceDefaults;
using System.Text;
using CioSegment.Contracts;
using CioSegment.IntegrationTests.Ingest;
using CioSegment.IntegrationTests.Kafka;
using CioSegment.Processor.Cli;
using CioSegment.Processor.Replay;
using Confluent.Kafka;

namespace CioSegment.IntegrationTests.Transform;

/// <summary>
/// <c>replay</c>: the transformer's dead letters go back to the raw topic and are processed again, not
/// dropped as retries of the event they were parked as; filters, dry run, and Segment dead letters refused.
/// </summary>
public sealed class ReplayTests(KafkaFixture kafka)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_replayed_dead_letter_is_processed_again_with_its_original_headers()
    {
        await using var harness = await TransformerHarness.CreateAsync(kafka);
        await harness.StartProcessorAsync();
        harness.Send("""{"event_id":"nobody-1","object_type":"email","metric":"sent","data":{}}""", "nobody");
        harness.Send("""{"event_id":"ghost-1","object_type":"email","metric":"sent","data":{"identifiers":{"id":"g"}}}""", "g", source: "ghost");
        harness.Flush();
        var parked = harness.ReadDlq(2, Timeout);
        Assert.Equal(["no_person_identifier", "unknown_source"], parked.Select(d => d.Header(HeaderNames.DeadLetterReason)).Order(StringComparer.Ordinal));

        // Dry run: counts, writes nothing.
        var dry = DeadLetterReplay.Run(new KafkaClientFactory(new KafkaOptions { BootstrapServers = kafka.BootstrapServers }), new ReplayRequest(harness.Dlq, harness.Raw, ["no_person"], [], null, DryRun: true), TextWriter.Null, TestContext.Current.CancellationToken);
        Assert.Equal((2, 1, 0), (dry.Read, dry.Matched, dry.Replayed));

        // The real thing, for one reason only. Still unmappable, so it comes back to the dead-letter topic: it
        // was processed again (the dedup remembers its event_id from the first time and would have dropped a retry).
        var result = DeadLetterReplay.Run(new KafkaClientFactory(new KafkaOptions { BootstrapServers = kafka.BootstrapServers }), new ReplayRequest(harness.Dlq, harness.Raw, ["no_person"], [], null, DryRun: false), TextWriter.Null, TestContext.Current.CancellationToken);
        Assert.Equal((2L, 1L, 1L), (result.Read, result.Matched, result.Replayed));
        Assert.Equal(1, result.ByReason["no_person_identifier"]);

        var all = harness.ReadDlq(3, Timeout);
        Assert.Equal(3, all.Count);
        var again = all.Single(d => d.Message.Headers.TryGetLastBytes(HeaderNames.ReplayedFrom, out _));
        var original = parked.Single(d => d.Header(HeaderNames.DeadLetterReason) == "no_person_identifier");
        Assert.Equal($"{harness.Dlq}/{original.Partition.Value}/{original.Offset.Value}", again.Header(HeaderNames.ReplayedFrom));
        Assert.Equal("no_person_identifier", again.Header(HeaderNames.DeadLetterReason));
        Assert.Single(again.Message.Headers, h => h.Key == HeaderNames.DeadLetterReason);   // the old dead letter's headers were not carried over
        Assert.Equal(original.Message.Value, again.Message.Value);
        Assert.Equal(original.Header(HeaderNames.ReceivedAt), again.Header(HeaderNames.ReceivedAt));
        Assert.Equal("acme", again.Header(HeaderNames.SourceId));
    }

    [Fact]
    public async Task The_command_filters_by_source_reports_by_reason_and_refuses_segment_dead_letters()
    {
        var dlq = kafka.UniqueName("dlq");
        var raw = kafka.UniqueName("raw");
        var segmentDlq = kafka.UniqueName("segment-dlq");
        await kafka.CreateTopicAsync(dlq, 1);
        await kafka.CreateTopicAsync(raw, 1);
        await kafka.CreateTopicAsync(segmentDlq, 1);
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            foreach (var (source, reason, stage, topic) in new[] { ("a", "unknown_source", "transform", dlq), ("b", "unknown_source", "transform", dlq), ("b", "missing_field:metric", "transform", dlq), ("a", "segment_rejected", "publish", segmentDlq) })
            {
                await producer.ProduceAsync(topic, new Message<byte[]?, byte[]?>
                {
                    Key = "k"u8.ToArray(),
                    Value = Encoding.UTF8.GetBytes("{\"source\":\"" + source + "\"}"),
                    Headers = new Headers
                    {
                        { HeaderNames.SourceId, Encoding.UTF8.GetBytes(source) },
                        { HeaderNames.DeadLetterReason, Encoding.UTF8.GetBytes(reason) },
                        { HeaderNames.DeadLetterStage, Encoding.UTF8.GetBytes(stage) },
                    },
                }, TestContext.Current.CancellationToken);
            }
        }

        var (exit, stdout, stderr) = Run("replay", "--from", dlq, "--to", raw, "--bootstrap-servers", kafka.BootstrapServers, "--source", "b");
        Assert.True(exit == ReplayCommand.ExitDone, stderr);
        Assert.Contains($"replayed 2 of 3 dead letters from {dlq} to {raw}; by reason: missing_field:metric 1, unknown_source 1", stdout, StringComparison.Ordinal);
        var written = TopicReader.Read(kafka.BootstrapServers, raw, 1, 2, Timeout);
        Assert.All(written, r => Assert.Equal("b", r.Header(HeaderNames.SourceId)));
        Assert.All(written, r => Assert.False(r.Message.Headers.TryGetLastBytes(HeaderNames.DeadLetterStage, out _)));

        (exit, _, stderr) = Run("replay", "--from", segmentDlq, "--to", raw, "--bootstrap-servers", kafka.BootstrapServers);
        Assert.Equal(ReplayCommand.ExitFailed, exit);
        Assert.Contains("'publish' stage", stderr, StringComparison.Ordinal);
        Assert.Equal(2, TopicReader.Read(kafka.BootstrapServers, raw, 1, 3, TimeSpan.FromSeconds(2)).Count);
    }

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var binary = new MemoryStream();
        var exit = ProcessorCommandLine.Run(args, () => new MemoryStream(), binary, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
