namespace CioSegment.Contracts;

/// <summary>Kafka record header names. Values are UTF-8 text.</summary>
public static class HeaderNames
{
    /// <summary>The source id from the webhook URL (<c>/webhooks/customerio/{sourceId}</c>).</summary>
    public const string SourceId = "cio-source-id";

    /// <summary>When the ingest received the webhook: unix milliseconds, decimal text.</summary>
    public const string ReceivedAt = "cio-received-at";

    /// <summary>The HTTP Content-Type the webhook arrived with.</summary>
    public const string ContentType = "content-type";

    /// <summary>W3C trace context of the producing span.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>W3C trace state of the producing span, when there is one.</summary>
    public const string TraceState = "tracestate";

    /// <summary>What every dead-letter header name starts with.</summary>
    public const string DeadLetterPrefix = "cio-dlq-";

    /// <summary>Dead letters: machine-readable reason, for example <c>missing_field:object_type</c>.</summary>
    public const string DeadLetterReason = "cio-dlq-reason";

    /// <summary>Dead letters: human-readable detail of the reason.</summary>
    public const string DeadLetterDetail = "cio-dlq-detail";

    /// <summary>Dead letters: the pipeline stage that parked the record (<c>transform</c>, <c>publish</c>).</summary>
    public const string DeadLetterStage = "cio-dlq-stage";

    /// <summary>Dead letters: topic the original record was read from.</summary>
    public const string DeadLetterSourceTopic = "cio-dlq-source-topic";

    /// <summary>Dead letters: partition the original record was read from.</summary>
    public const string DeadLetterSourcePartition = "cio-dlq-source-partition";

    /// <summary>Dead letters: offset of the original record.</summary>
    public const string DeadLetterSourceOffset = "cio-dlq-source-offset";

    /// <summary>Dead letters: set when the record was too large for Kafka and was parked without its body (the why).</summary>
    public const string DeadLetterBodyOmitted = "cio-dlq-body-omitted";

    /// <summary>
    /// A raw webhook written back from the dead-letter topic (<c>replay</c>): <c>topic/partition/offset</c> of
    /// the dead letter. The transformer does not drop it as a retry of the event it was dead-lettered as.
    /// </summary>
    public const string ReplayedFrom = "cio-replayed-from";
}
