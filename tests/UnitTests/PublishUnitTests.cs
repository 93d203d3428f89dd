using System.Text;
using System.Text.Json.Nodes;
using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Confluent.Kafka;

namespace CioSegment.UnitTests;

public class PublishUnitTests
{
    private static readonly TopicPartition P0 = new("sink", 0);

    [Fact]
    public void Only_the_contiguous_settled_prefix_of_a_partition_is_committable()
    {
        var progress = new PartitionProgress();
        foreach (var offset in new long[] { 10, 11, 12, 13 })
        {
            progress.Consumed(new TopicPartitionOffset(P0, offset));
        }

        progress.Settled(new TopicPartitionOffset(P0, 11));
        progress.Settled(new TopicPartitionOffset(P0, 12));
        var first = Assert.Single(progress.Committable());
        Assert.Equal(10, first.Offset.Value);   // 10 is still out
        progress.MarkCommitted([first]);

        progress.Settled(new TopicPartitionOffset(P0, 10));
        var second = Assert.Single(progress.Committable());
        Assert.Equal(13, second.Offset.Value);
        progress.MarkCommitted([second]);

        progress.Settled(new TopicPartitionOffset(P0, 13));
        var third = Assert.Single(progress.Committable());
        Assert.Equal(14, third.Offset.Value);
        progress.MarkCommitted([third]);
        Assert.Empty(progress.Committable());
    }

    [Fact]
    public void Offsets_whose_commit_failed_are_offered_again_though_the_partition_does_not_move()
    {
        // Bug: offsets were marked committed when taken, so a failed commit was never retried unless more of
        // the partition settled later (a quiet partition stayed behind: redelivered after a restart).
        var progress = new PartitionProgress();
        progress.Consumed(new TopicPartitionOffset(P0, 7));
        progress.Settled(new TopicPartitionOffset(P0, 7));

        Assert.Equal(8, Assert.Single(progress.Committable()).Offset.Value);   // the commit fails: not marked
        var again = Assert.Single(progress.Committable());
        Assert.Equal(8, again.Offset.Value);
        progress.MarkCommitted([again]);
        Assert.Empty(progress.Committable());
    }

    [Fact]
    public void The_batch_body_is_the_events_bytes_as_they_are_with_sent_at()
    {
        var events = new[] { "{\"a\":1}", "{\"b\":\"\\u00e9\"}" }
            .Select((json, i) => new PendingEvent(new TopicPartitionOffset(P0, i), "acme", "m" + i, null, Encoding.UTF8.GetBytes(json), []))
            .ToList();
        var body = SegmentBatchClient.Body(events, new DateTimeOffset(2024, 3, 1, 12, 0, 0, 5, TimeSpan.Zero));
        Assert.Equal("{\"batch\":[{\"a\":1},{\"b\":\"\\u00e9\"}],\"sentAt\":\"2024-03-01T12:00:00.005Z\"}", Encoding.UTF8.GetString(body));
        Assert.Equal(body.Length, SegmentBatchClient.EnvelopeBytes(2) + events.Sum(e => e.TrackJson.Length));
        Assert.NotNull(JsonNode.Parse(body));
    }

    [Theory]
    [InlineData("us", null, "https://api.segment.io/")]
    [InlineData("eu", null, "https://events.eu1.segmentapis.com/")]
    [InlineData("eu", "http://127.0.0.1:9000", "http://127.0.0.1:9000/")]
    public void Batches_go_to_the_region_or_the_explicit_endpoint(string region, string? endpoint, string expected)
    {
        var source = SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "k", WriteKey = "w", Region = region, SegmentEndpoint = endpoint });
        Assert.Equal(new Uri(expected), new ConfiguredSegmentEndpoints().For(source));
    }
}
