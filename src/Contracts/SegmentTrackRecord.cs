using System.Reflection;
using Avro;
using Avro.Specific;

namespace CioSegment.Contracts;

/// <summary>
/// The value of a record on <see cref="Topics.SegmentTrack"/>; its Avro schema is
/// <c>Avro/SegmentTrackRecord.avsc</c> (embedded in this assembly). It never carries a write key.
/// </summary>
public sealed class SegmentTrackRecord : ISpecificRecord
{
    /// <summary>The Avro schema, parsed once from the embedded <c>.avsc</c>.</summary>
    public static readonly Schema AvroSchema = LoadSchema();

    public string SourceId { get; set; } = "";

    public string MessageId { get; set; } = "";

    public string PersonKey { get; set; } = "";

    public string Event { get; set; } = "";

    /// <summary>When the ingest received the webhook (UTC).</summary>
    public DateTime ReceivedAt { get; set; }

    /// <summary>UTF-8 JSON of one Segment track event.</summary>
    public byte[] TrackJson { get; set; } = [];

    public Schema Schema => AvroSchema;

    public object Get(int fieldPos) => fieldPos switch
    {
        0 => SourceId,
        1 => MessageId,
        2 => PersonKey,
        3 => Event,
        4 => ReceivedAt,
        5 => TrackJson,
        _ => throw new AvroRuntimeException($"Bad index {fieldPos} in {nameof(SegmentTrackRecord)}.Get()"),
    };

    public void Put(int fieldPos, object fieldValue)
    {
        switch (fieldPos)
        {
            case 0: SourceId = (string)fieldValue; break;
            case 1: MessageId = (string)fieldValue; break;
            case 2: PersonKey = (string)fieldValue; break;
            case 3: Event = (string)fieldValue; break;
            case 4: ReceivedAt = (DateTime)fieldValue; break;
            case 5: TrackJson = (byte[])fieldValue; break;
            default: throw new AvroRuntimeException($"Bad index {fieldPos} in {nameof(SegmentTrackRecord)}.Put()");
        }
    }

    private static Schema LoadSchema()
    {
        using var stream = typeof(SegmentTrackRecord).Assembly.GetManifestResourceStream("SegmentTrackRecord.avsc")
            ?? throw new InvalidOperationException("Embedded resource SegmentTrackRecord.avsc is missing.");
        using var reader = new StreamReader(stream);
        return Schema.Parse(reader.ReadToEnd());
    }
}
