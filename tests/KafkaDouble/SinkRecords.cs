using Avro.IO;
using Avro.Specific;
using CioSegment.Contracts;
using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>Sink records as plain Avro binary (no registry framing): the transformer's logic does not depend on the framing.</summary>
internal static class SinkRecords
{
    public static ISerializer<SegmentTrackRecord> Serializer { get; } = new AvroBinarySerializer();

    public static SegmentTrackRecord Read(byte[] value)
    {
        using var stream = new MemoryStream(value);
        return new SpecificDatumReader<SegmentTrackRecord>(SegmentTrackRecord.AvroSchema, SegmentTrackRecord.AvroSchema).Read(null!, new BinaryDecoder(stream));
    }

    private sealed class AvroBinarySerializer : ISerializer<SegmentTrackRecord>
    {
        public byte[] Serialize(SegmentTrackRecord data, SerializationContext context)
        {
            using var stream = new MemoryStream();
            new SpecificDatumWriter<SegmentTrackRecord>(SegmentTrackRecord.AvroSchema).Write(data, new BinaryEncoder(stream));
            return stream.ToArray();
        }
    }
}
