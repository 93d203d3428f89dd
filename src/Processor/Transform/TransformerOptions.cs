using System.ComponentModel.DataAnnotations;
using CioSegment.Contracts;

namespace CioSegment.Processor.Transform;

/// <summary>The Kafka Streams name for what a stage promises about its output.</summary>
public enum ProcessingGuarantee
{
    /// <summary>Output, dedup changelog and input offsets commit in one Kafka transaction (needs a real broker).</summary>
    ExactlyOnce,

    /// <summary>Produce, wait for acks, then commit offsets: a crash can repeat output, never lose it.</summary>
    AtLeastOnce,
}

/// <summary>Settings of the transformer, section <c>CioSegment:Transformer</c>.</summary>
public sealed class TransformerOptions
{
    public const string SectionName = "CioSegment:Transformer";

    public bool Enabled { get; set; } = true;

    public ProcessingGuarantee ProcessingGuarantee { get; set; } = ProcessingGuarantee.ExactlyOnce;

    [Required]
    public string InputTopic { get; set; } = Topics.RawWebhooks;

    [Required]
    public string SinkTopic { get; set; } = Topics.SegmentTrack;

    [Required]
    public string DeadLetterTopic { get; set; } = Topics.WebhooksDeadLetter;

    /// <summary>Where filtered and deduplicated webhooks are recorded (<see cref="Topics.TransformOutcomes"/>); empty: not recorded.</summary>
    public string OutcomesTopic { get; set; } = Topics.TransformOutcomes;

    [Required]
    public string ChangelogTopic { get; set; } = Topics.DedupChangelog;

    [Required]
    public string GroupId { get; set; } = "cio-transformer";

    /// <summary>
    /// Stable per instance, so a restarted instance fences its predecessor's open transaction. Defaults to
    /// <c>cio-transformer-</c> + the host name (a StatefulSet pod name is stable across restarts).
    /// </summary>
    public string? TransactionalId { get; set; }

    /// <summary>Commit after this many input records...</summary>
    [Range(1, 1_000_000)]
    public int CommitEveryRecords { get; set; } = 2000;

    /// <summary>...or after this long, whichever comes first.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Retry dedup horizon: an event_id seen again within it is dropped (Customer.io retries for 7 days).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan DedupHorizon { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Send frequency <c>First</c>: how long a (delivery_id, metric) is remembered.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan FirstOccurrenceHorizon { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Dedup keys held per input partition (27–54 bytes each in memory). At the bound the oldest 1 % are
    /// evicted early (counted on <c>cio.transformer.dedup_evicted_early</c>); size it above the keys a
    /// partition sees within the horizons (events per partition per day × 7, plus × 30 under SendFrequency First).
    /// </summary>
    [Range(1000, 100_000_000)]
    public int MaxKeysPerPartition { get; set; } = 20_000_000;

    /// <summary>Transaction and flush timeout.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan KafkaTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The liveness check fails when the loop has made no progress (an iteration, or an attempt of a call it
    /// retries) for this long; keep it well above <see cref="KafkaTimeout"/>, the longest a single call may take.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:30", "01:00:00")]
    public TimeSpan LivenessTimeout { get; set; } = TimeSpan.FromMinutes(5);

    public string EffectiveTransactionalId => string.IsNullOrWhiteSpace(TransactionalId)
        ? "cio-transformer-" + Environment.MachineName
        : TransactionalId;
}
