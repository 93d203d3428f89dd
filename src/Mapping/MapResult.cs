namespace CioSegment.Mapping;

public enum MapOutcome
{
    /// <summary>A track event was written.</summary>
    Mapped,

    /// <summary>The source's settings say not to send this event; not an error.</summary>
    Skipped,

    /// <summary>The webhook cannot become a track event; it belongs in the dead-letter topic.</summary>
    Failed,
}

/// <summary>Why the settings skip an event. Counted per reason, never an error.</summary>
public enum SkipReason
{
    None,

    /// <summary>The event's <c>object_type.metric</c> is not in the source's enabled events.</summary>
    EventNotEnabled,

    /// <summary>Version 1 sends email events only.</summary>
    Version1NonEmail,

    /// <summary>Version 1 skips people without an id.</summary>
    Version1NoPersonId,
}

public static class SkipReasons
{
    /// <summary>The machine-readable code of a skip reason (metric tag, CLI output).</summary>
    public static string Code(this SkipReason reason) => reason switch
    {
        SkipReason.EventNotEnabled => "event_not_enabled",
        SkipReason.Version1NonEmail => "version1_non_email",
        SkipReason.Version1NoPersonId => "version1_no_person_id",
        _ => "none",
    };
}

/// <summary>What <see cref="SegmentTrackMapper.Map(ReadOnlySpan{byte}, Settings.SourceSettings, DateTimeOffset, System.Buffers.IBufferWriter{byte})"/> did.</summary>
public readonly record struct MapResult
{
    public MapOutcome Outcome { get; private init; }

    public SkipReason SkipReason { get; private init; }

    /// <summary>Set when <see cref="Outcome"/> is <see cref="MapOutcome.Failed"/>.</summary>
    public MapError? Error { get; private init; }

    /// <summary>The webhook's timestamp was missing or invalid, so the received time was used.</summary>
    public bool UsedReceivedTime { get; private init; }

    /// <summary>
    /// The event was over Segment's per-event limit with its <c>properties.content</c>, so it was written
    /// with <c>"content": null, "content_omitted": "event_too_large"</c> instead (docs/mapping.md, "Segment's 32 KB limit").
    /// </summary>
    public bool ContentOmitted { get; private init; }

    /// <summary>Bytes of track JSON written to the output.</summary>
    public int BytesWritten { get; private init; }

    internal static MapResult Mapped(int bytes, bool usedReceivedTime, bool contentOmitted) =>
        new() { Outcome = MapOutcome.Mapped, BytesWritten = bytes, UsedReceivedTime = usedReceivedTime, ContentOmitted = contentOmitted };

    internal static MapResult Skipped(SkipReason reason) => new() { Outcome = MapOutcome.Skipped, SkipReason = reason };

    internal static MapResult Failed(MapError error) => new() { Outcome = MapOutcome.Failed, Error = error };
}
