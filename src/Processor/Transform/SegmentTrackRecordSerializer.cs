using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using CioSegment.Contracts;
using Confluent.Kafka;
using Confluent.SchemaRegistry;

namespace CioSegment.Processor.Transform;

/// <summary>
/// Serializes <see cref="SegmentTrackRecord"/> in the Confluent wire format (magic byte 0, the 4-byte
/// schema id, Avro binary) exactly as <c>AvroSerializer&lt;SegmentTrackRecord&gt;</c> does with its
/// default settings (topic name strategy, auto-registration), so that any Confluent Avro deserializer
/// reads it. Registration goes through the real registry client, once per topic; the per-record encoding
/// is written directly, because the generic serializer costs tens of microseconds per record on this path.
/// </summary>
public sealed class SegmentTrackRecordSerializer(ISchemaRegistryClient registry) : ISerializer<SegmentTrackRecord>
{
    private readonly ConcurrentDictionary<string, int> _schemaIds = new(StringComparer.Ordinal);
    private readonly string _schema = SegmentTrackRecord.AvroSchema.ToString();

    public byte[] Serialize(SegmentTrackRecord data, SerializationContext context)
    {
        var id = _schemaIds.GetOrAdd(context.Topic, topic =>
            registry.RegisterSchemaAsync(topic + "-value", new Schema(_schema, SchemaType.Avro)).GetAwaiter().GetResult());

        var size = 5 + StringSize(data.SourceId) + StringSize(data.MessageId) + StringSize(data.PersonKey) + StringSize(data.Event)
            + 10 + 10 + data.TrackJson.Length;
        var buffer = new byte[size];
        buffer[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(1), id);
        var n = 5;
        n += WriteString(buffer.AsSpan(n), data.SourceId);
        n += WriteString(buffer.AsSpan(n), data.MessageId);
        n += WriteString(buffer.AsSpan(n), data.PersonKey);
        n += WriteString(buffer.AsSpan(n), data.Event);
        n += WriteLong(buffer.AsSpan(n), new DateTimeOffset(DateTime.SpecifyKind(data.ReceivedAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds());
        n += WriteLong(buffer.AsSpan(n), data.TrackJson.Length);
        data.TrackJson.CopyTo(buffer.AsSpan(n));
        n += data.TrackJson.Length;
        return n == buffer.Length ? buffer : buffer.AsSpan(0, n).ToArray();
    }

    private static int StringSize(string value) => 10 + Encoding.UTF8.GetMaxByteCount(value.Length);

    private static int WriteString(Span<byte> destination, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var n = WriteLong(destination, length);
        Encoding.UTF8.GetBytes(value, destination[n..]);
        return n + length;
    }

    /// <summary>Avro long: zig-zag, then base-128 varint.</summary>
    private static int WriteLong(Span<byte> destination, long value)
    {
        var zigzag = (ulong)((value << 1) ^ (value >> 63));
        var n = 0;
        while (zigzag >= 0x80)
        {
            destination[n++] = (byte)(zigzag | 0x80);
            zigzag >>= 7;
        }

        destination[n++] = (byte)zigzag;
        return n;
    }
}
