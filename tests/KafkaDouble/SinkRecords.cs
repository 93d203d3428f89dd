using Avro.IO;
using Avro.Specific;
using CioSegment.Contracts;
using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>
/// Sink records in the Confluent wire format (magic byte 0, schema id <see cref="SchemaId"/> big-endian, Avro
/// binary), the schema known to <see cref="RegistryDouble"/>; no registry is asked when writing.
/// </summary>
internal static class SinkRecords
{
    public const int SchemaId = 1;

    public static ISerializer<SegmentTrackRecord> Serializer { get; } = new AvroBinarySerializer();

    public static SegmentTrackRecord Read(byte[] value)
    {
        if (value is not [0, 0, 0, 0, SchemaId, ..])
        {
            throw new InvalidDataException("Not a sink record of schema id " + SchemaId);
        }

        using var stream = new MemoryStream(value, 5, value.Length - 5);
        return new SpecificDatumReader<SegmentTrackRecord>(SegmentTrackRecord.AvroSchema, SegmentTrackRecord.AvroSchema).Read(null!, new BinaryDecoder(stream));
    }

    private sealed class AvroBinarySerializer : ISerializer<SegmentTrackRecord>
    {
        public byte[] Serialize(SegmentTrackRecord data, SerializationContext context)
        {
            using var stream = new MemoryStream();
            stream.Write([0, 0, 0, 0, SchemaId]);
            new SpecificDatumWriter<SegmentTrackRecord>(SegmentTrackRecord.AvroSchema).Write(data, new BinaryEncoder(stream));
            return stream.ToArray();
        }
    }
}
