namespace CioSegment.Contracts;

/// <summary>Kafka topic names of the pipeline. Deployments may prefix them; these are the defaults.</summary>
public static class Topics
{
    /// <summary>Raw reporting webhooks as received: key = person, value = the body bytes unchanged.</summary>
    public const string RawWebhooks = "cio.webhooks.raw";

    /// <summary>Ready-to-send Segment track events (Avro <see cref="SegmentTrackRecord"/>), key = person.</summary>
    public const string SegmentTrack = "cio.segment.track";

    /// <summary>Raw webhooks that could not be turned into a track event, with the reason in headers.</summary>
    public const string WebhooksDeadLetter = "cio.webhooks.dlq";

    /// <summary>Track events that Segment refused permanently, with Segment's answer in headers.</summary>
    public const string SegmentDeadLetter = "cio.segment.dlq";

    /// <summary>Track events of a source Segment refused or ignored for a while, parked by the publisher until it takes them again; partitioned like <see cref="SegmentTrack"/>.</summary>
    public const string SegmentHeld = "cio.segment.held";

    /// <summary>One JSON record per Segment request of the publisher: source, events (messageIds and coordinates), attempt, status, path, time.</summary>
    public const string SegmentDeliveries = "cio.segment.deliveries";

    /// <summary>
    /// One small JSON record per raw webhook the transformer dropped on purpose (filtered by its source's
    /// settings, or a duplicate), written in the same transaction as its offsets: with the sink and dead-letter
    /// topics, every raw webhook's transform outcome is in Kafka. Read by the event inspector.
    /// </summary>
    public const string TransformOutcomes = "cio.webhooks.outcomes";

    /// <summary>Compacted changelog of the transformer's dedup state (same partition number as the input).</summary>
    public const string DedupChangelog = "cio.processor.dedup-changelog";

    /// <summary>
    /// Every topic of the pipeline, in the order data flows: the one list the DevHost creates, the deployment
    /// scripts are checked against, and tools read. <see cref="TopicSpec.PartitionedLikeRaw"/> topics share
    /// the raw topic's partition count (the changelog must; the sink keeps a person on one partition as well).
    /// </summary>
    public static IReadOnlyList<TopicSpec> All { get; } =
    [
        new(RawWebhooks, PartitionedLikeRaw: true),
        new(DedupChangelog, PartitionedLikeRaw: true),
        new(SegmentTrack, PartitionedLikeRaw: true),
        new(SegmentHeld, PartitionedLikeRaw: true),
        new(WebhooksDeadLetter, PartitionedLikeRaw: false),
        new(TransformOutcomes, PartitionedLikeRaw: false),
        new(SegmentDeadLetter, PartitionedLikeRaw: false),
        new(SegmentDeliveries, PartitionedLikeRaw: false),
    ];
}

/// <summary>A topic of the pipeline.</summary>
/// <param name="Name">The topic name.</param>
/// <param name="PartitionedLikeRaw">True: as many partitions as <see cref="Topics.RawWebhooks"/>; false: a few (dead letters).</param>
public sealed record TopicSpec(string Name, bool PartitionedLikeRaw);
