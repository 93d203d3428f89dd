using System.ComponentModel.DataAnnotations;
using CioSegment.Contracts;

namespace CioSegment.Processor.Publish;

/// <summary>Settings of the Segment batch publisher, section <c>CioSegment:Publisher</c>.</summary>
public sealed class PublisherOptions
{
    public const string SectionName = "CioSegment:Publisher";

    /// <summary>Segment refuses requests over 500 KB.</summary>
    public const int SegmentMaxBatchBytes = 500 * 1000;

    /// <summary>Segment refuses batches of more than 2500 events.</summary>
    public const int SegmentMaxBatchEvents = 2500;

    public bool Enabled { get; set; } = true;

    [Required]
    public string InputTopic { get; set; } = Topics.SegmentTrack;

    [Required]
    public string DeadLetterTopic { get; set; } = Topics.SegmentDeadLetter;

    [Required]
    public string GroupId { get; set; } = "cio-publisher";

    /// <summary>Where each Segment request is logged (<see cref="DeliveryLog"/>); empty: no log.</summary>
    public string DeliveriesTopic { get; set; } = Topics.SegmentDeliveries;

    /// <summary>Where a holding source's events are parked (partitioned like the sink topic, at least as many partitions).</summary>
    [Required]
    public string HeldTopic { get; set; } = Topics.SegmentHeld;

    /// <summary>The group under which held offsets are committed (its partitions are assigned by the publisher, never by the group).</summary>
    [Required]
    public string HeldGroupId { get; set; } = "cio-publisher-held";

    /// <summary>Park a source's events once Segment has refused or ignored its requests this long without a success in between.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan HoldAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes of track JSON one source may hold in memory on the sink path before its events are parked (hysteresis: back under half).</summary>
    [Range(1L << 16, 16L << 30)]
    public long MaxBufferedBytesPerSource { get; set; } = 64L << 20;

    /// <summary>Request body limit, including the envelope; at most Segment's 500 KB.</summary>
    [Range(1024, SegmentMaxBatchBytes)]
    public int MaxBatchBytes { get; set; } = SegmentMaxBatchBytes;

    [Range(1, SegmentMaxBatchEvents)]
    public int MaxBatchEvents { get; set; } = SegmentMaxBatchEvents;

    /// <summary>How long a partly filled batch may wait for more events.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(250);  // measured: docs/benchmarks.md

    /// <summary>
    /// Requests per second per source for all publisher instances together (Segment allows about 1000 per
    /// workspace): each instance takes the share of the sink partitions it owns (<see cref="RateBudget"/>).
    /// </summary>
    [Range(1, 1000)]
    public int MaxRequestsPerSecondPerSource { get; set; } = 200;

    [Range(1, 64)]
    public int MaxInFlightPerSource { get; set; } = 4;

    /// <summary>Events held in memory (buffered or in flight) before the consumer pauses its partitions.</summary>
    [Range(100, 10_000_000)]
    public int MaxBufferedEvents { get; set; } = 50_000;

    /// <summary>Bytes of track JSON held in memory before the consumer pauses its partitions (events are up to 32 KB each).</summary>
    [Range(1L << 20, 16L << 30)]
    public long MaxBufferedBytes { get; set; } = 256L << 20;

    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest wait between two attempts of a batch, a Retry-After included.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A source whose lane has held events this long without delivering or dead-lettering any makes the
    /// publisher's health check Degraded (the metric <c>cio.publisher.stalled</c> shows it from the first second).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00")]
    public TimeSpan StalledAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often delivered offsets are committed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromMilliseconds(500);
}
