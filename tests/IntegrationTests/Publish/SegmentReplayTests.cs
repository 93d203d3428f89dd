using CioSegment.IntegrationTests.Ingest;
using CioSegment.IntegrationTests.Kafka;
using CioSegment.Processor.Cli;
using CioSegment.Contracts;
using CioSegment.DevDoubles.Segment;
using System.Globalization;

namespace CioSegment.IntegrationTests.Publish;

/// <summary><c>replay --stage publish</c>: a track event Segment refused goes back to the sink topic and is delivered once Segment takes it.</summary>
public sealed class SegmentReplayTests(KafkaFixture kafka)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_segment_dead_letter_round_trips_to_delivery_after_the_cause_is_fixed()
    {
        await using var harness = await PublisherHarness.CreateAsync(kafka);
        var fixedAt = DateTimeOffset.MaxValue;
        harness.Segment.Answer = r => ValueTask.FromResult(new SegmentAnswer(
            DateTimeOffset.UtcNow < fixedAt && r.MessageIds.Contains("refused-once") ? 400 : 200));
        harness.Send("fine", "p1");
        harness.Send("refused-once", "p2");
        harness.Flush();
        await harness.StartPublisherAsync();
        var parked = Assert.Single(harness.ReadDlq(1, Timeout));
        Assert.Equal(DeadLetterReasons.SegmentRejected, parked.Header(HeaderNames.DeadLetterReason));
        await harness.WaitForDeliveredAsync(1, Timeout);
        Assert.DoesNotContain(harness.Segment.Delivered, e => (string?)e["messageId"] == "refused-once");

        // Before the dead letter was written: nothing matches.
        var before = parked.Message.Timestamp.UtcDateTime.AddMinutes(-1).ToString("O", CultureInfo.InvariantCulture);
        var (exit, stdout, stderr) = Run(harness, "--until", before);
        Assert.True(exit == ReplayCommand.ExitDone, stderr);
        Assert.Contains("replayed 0 of 1 dead letters", stdout, StringComparison.Ordinal);

        fixedAt = DateTimeOffset.UtcNow;   // the cause is fixed
        (exit, stdout, stderr) = Run(harness, "--reason", DeadLetterReasons.SegmentRejected, "--since", before);
        Assert.True(exit == ReplayCommand.ExitDone, stderr);
        Assert.Contains($"replayed 1 of 1 dead letters from {harness.Dlq} to {harness.Sink}; by reason: segment_rejected 1", stdout, StringComparison.Ordinal);

        await harness.WaitForDeliveredAsync(2, Timeout);
        var delivered = Assert.Single(harness.Segment.Delivered, e => (string?)e["messageId"] == "refused-once");
        Assert.Equal("p2", (string?)delivered["userId"]);
        Assert.Single(harness.ReadDlq(1, TimeSpan.FromSeconds(2)));   // delivered, not parked again

        // The other stage's command refuses the publisher's dead letters.
        (exit, _, stderr) = Run(harness, "--stage", "transform", "--to", kafka.UniqueName("raw"));
        Assert.Equal(ReplayCommand.ExitFailed, exit);
        Assert.Contains("'publish' stage", stderr, StringComparison.Ordinal);
    }

    private (int Exit, string Stdout, string Stderr) Run(PublisherHarness harness, params string[] args)
    {
        string[] common = ["replay", "--from", harness.Dlq, "--bootstrap-servers", kafka.BootstrapServers, "--schema-registry-url", harness.RegistryUrl.ToString()];
        string[] stage = args.Contains("--stage") ? [] : ["--stage", "publish", "--to", harness.Sink];
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var binary = new MemoryStream();
        var exit = ProcessorCommandLine.Run([.. common, .. stage, .. args], () => new MemoryStream(), binary, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
