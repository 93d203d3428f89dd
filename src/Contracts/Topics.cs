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

    /// <summary>Compacted changelog of the transformer's dedup state (same partition number as the input).</summary>
    public const string DedupChangelog = "cio.processor.dedup-changelog";
}
