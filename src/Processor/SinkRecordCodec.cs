using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using CioSegment.Contracts;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;

namespace CioSegment.Processor;

// The sink record's wire format, written by the transformer and read by the publisher: one codec, one file.

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

/// <summary>What the publisher needs of a sink record.</summary>
public sealed record SegmentTrackRecordView(string SourceId, string MessageId, string PersonKey, string Event, long ReceivedAtMs, byte[] TrackJson);

/// <summary>
/// Reads sink records in the Confluent wire format. When the writer's schema (fetched once per schema id
/// from the registry) is the schema this build knows, the Avro binary is decoded directly; any other
/// writer schema goes through Confluent's <c>AvroDeserializer</c>, which resolves it against ours.
/// </summary>
public sealed class SegmentTrackRecordViewDeserializer(ISchemaRegistryClient registry) : IDeserializer<SegmentTrackRecordView>
{
    private static readonly Avro.Schema Known = SegmentTrackRecord.AvroSchema;

    private readonly ConcurrentDictionary<int, bool> _direct = new();
    private readonly IDeserializer<SegmentTrackRecord> _generic = new AvroDeserializer<SegmentTrackRecord>(registry).AsSyncOverAsync();

    public SegmentTrackRecordView Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
    {
        if (isNull || data.Length < 5 || data[0] != 0)
        {
            throw new InvalidDataException("Not a Confluent-framed Avro record (magic byte 0 and a schema id).");
        }

        var id = BinaryPrimitives.ReadInt32BigEndian(data[1..]);
        var direct = _direct.GetOrAdd(id, schemaId =>
            Avro.Schema.Parse(registry.GetSchemaAsync(schemaId).GetAwaiter().GetResult().SchemaString).Equals(Known));
        if (!direct)
        {
            var r = _generic.Deserialize(data, isNull, context);
            return new SegmentTrackRecordView(r.SourceId, r.MessageId, r.PersonKey, r.Event, new DateTimeOffset(DateTime.SpecifyKind(r.ReceivedAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds(), r.TrackJson);
        }

        var reader = new AvroReader(data[5..]);
        var source = reader.String();
        var messageId = reader.String();
        var person = reader.String();
        var eventName = reader.String();
        var receivedAt = reader.Long();
        var track = reader.Bytes();
        return new SegmentTrackRecordView(source, messageId, person, eventName, receivedAt, track);
    }

    private ref struct AvroReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public long Long()
        {
            ulong value = 0;
            var shift = 0;
            while (true)
            {
                if (_position >= _data.Length || shift > 63)
                {
                    throw new InvalidDataException("Truncated or malformed Avro long.");
                }

                var b = _data[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    break;
                }

                shift += 7;
            }

            return (long)(value >> 1) ^ -(long)(value & 1);
        }

        public string String() => Encoding.UTF8.GetString(Take());

        public byte[] Bytes() => Take().ToArray();

        private ReadOnlySpan<byte> Take()
        {
            var length = Long();
            if (length < 0 || length > _data.Length - _position)
            {
                throw new InvalidDataException("Malformed Avro length.");
            }

            var slice = _data.Slice(_position, (int)length);
            _position += (int)length;
            return slice;
        }
    }
}
