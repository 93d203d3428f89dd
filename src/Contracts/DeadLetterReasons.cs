namespace CioSegment.Contracts;

/// <summary>
/// Machine-readable reasons carried in <see cref="HeaderNames.DeadLetterReason"/> and printed by
/// the <c>map</c> command. Field-specific reasons are <c>missing_field:&lt;name&gt;</c> and
/// <c>invalid_field:&lt;name&gt;</c>.
/// </summary>
public static class DeadLetterReasons
{
    /// <summary>The body is not a single, well-formed UTF-8 JSON object.</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>Prefix: a required field is absent or null.</summary>
    public const string MissingFieldPrefix = "missing_field:";

    /// <summary>Prefix: a required field has the wrong JSON type or an unusable value.</summary>
    public const string InvalidFieldPrefix = "invalid_field:";

    /// <summary>No person id, email or cio_id to address the event to.</summary>
    public const string NoPersonIdentifier = "no_person_identifier";

    /// <summary>The track event is larger than Segment's 32 KB per-event limit.</summary>
    public const string EventTooLarge = "event_too_large";

    /// <summary>The record names a source that is not configured.</summary>
    public const string UnknownSource = "unknown_source";

    /// <summary>Segment refused the event (a 400 narrowed down to it by splitting its batch).</summary>
    public const string SegmentRejected = "segment_rejected";

    /// <summary>A sink record that is not a sink record of a schema the publisher can read.</summary>
    public const string InvalidSinkRecord = "invalid_sink_record";
}
