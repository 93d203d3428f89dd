using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using CioSegment.Contracts;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;

namespace CioSegment.Processor.Publish;

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
